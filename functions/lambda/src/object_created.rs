//! The function the bucket's `Object Created` events (through EventBridge, for keys under
//! `direct/`) invoke when a single-request direct upload lands: it checks and completes the
//! video at once, as reading the video would later (`usecases::direct::settle_post`). A refused
//! file is removed with its video. A failure of the store makes the invocation fail, so that
//! the asynchronous invocation is tried again.

use crate::{Error, Presigning, aws_config, blobs_from_env, init_tracing};
use crate::{settings_from_env, store_from_env};
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use serde_json::Value;
use upload_tokens_core::auth::{AccessTokenSigner, SigningKey};
use upload_tokens_core::domain::SystemClock;
use upload_tokens_core::store::blob::BlobStore;
use upload_tokens_core::store::{Store, StoreError};
use upload_tokens_core::usecases::direct::{self, DirectDeps};

/// The object keys an event names: an EventBridge "Object Created" event (`detail.object.key`,
/// what the template subscribes to), or an S3 notification (`Records[].s3.object.key`,
/// URL-encoded with `+` for spaces).
pub fn keys_in(event: &Value) -> Vec<String> {
    let bridged = event["detail"]["object"]["key"].as_str().map(str::to_owned);
    let notified = event["Records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|record| record["s3"]["object"]["key"].as_str())
        .filter_map(|key| {
            form_urlencoded::parse(format!("k={key}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        });
    bridged.into_iter().chain(notified).collect()
}

/// Settles every video `event` names; how many were completed.
pub async fn handle(
    event: &Value,
    store: &dyn Store,
    blobs: &dyn BlobStore,
    signer: &AccessTokenSigner,
    max_file_bytes: u64,
) -> Result<usize, StoreError> {
    let deps = DirectDeps {
        videos: store,
        tokens: store,
        blobs,
        clock: &SystemClock,
        // Nothing here signs: the S3 store makes its own URLs.
        signer,
        max_file_bytes,
    };
    let keys = keys_in(event);
    direct::settle_posted_keys(deps, keys.iter().map(String::as_str)).await
}

/// Runs the `direct-object-created` function until the runtime stops it.
pub async fn serve_object_created() -> Result<(), Error> {
    init_tracing();
    let config = aws_config().await;
    let store = store_from_env(&config)?;
    let settings = settings_from_env()?;
    // Nothing here presigns: the events name objects already posted.
    let blobs = blobs_from_env(&config, settings.max_file_bytes, Presigning::No)?;
    // Nothing here signs (the S3 store makes its own URLs): a key of its own, never used.
    let signer = SigningKey::new(SigningKey::generate_text().into_bytes())
        .map(AccessTokenSigner::new)
        .ok_or("no signing key")?;
    let (store, blobs, signer, max) = (&store, &blobs, &signer, settings.max_file_bytes);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let (store, blobs) = (store.get().as_ref(), blobs.get().as_ref());
        let completed = handle(&event.payload, store, blobs, signer, max).await?;
        tracing::info!(completed, "object-created event handled");
        Ok::<_, Error>(())
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use upload_tokens_core::domain::VideoId;
    use upload_tokens_core::store::blob::video_of_direct_post_key;

    #[test]
    fn events_name_the_keys_of_their_objects() {
        let id = VideoId::generate();
        let key = format!("direct/videos/{id}/source");
        let bridged = serde_json::json!({"detail-type": "Object Created", "source": "aws.s3",
            "detail": {"bucket": {"name": "b"}, "object": {"key": key, "size": 10}}});
        assert_eq!(keys_in(&bridged), vec![key.clone()]);
        let notified = serde_json::json!({"Records": [
            {"eventName": "ObjectCreated:Post", "s3": {"object": {"key": key, "size": 10}}},
            {"s3": {"object": {"key": "staging/videos/x/source.5"}}},
            {"s3": {"object": {"key": "direct/videos/a+b%2F/source"}}},
        ]});
        let keys = keys_in(&notified);
        assert_eq!(keys[2], "direct/videos/a b//source");
        let ids: Vec<_> = keys
            .iter()
            .filter_map(|k| video_of_direct_post_key(k))
            .collect();
        assert_eq!(ids, vec![id]);
        assert!(keys_in(&serde_json::json!({})).is_empty());
    }
}
