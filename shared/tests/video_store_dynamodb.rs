//! The video store suite over DynamoDB on moto (`UPLOAD_TOKENS_TEST_MOTO_URL`; required in CI).

mod video_suite;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::types::AttributeValue;
use std::sync::atomic::{AtomicU32, Ordering};
use upload_tokens_core::domain::TokenId;
use upload_tokens_core::store::VideoStore;
use upload_tokens_core::store::dynamodb::{DynamoStore, schema};

/// A store over a fresh table, or `None` (after saying so) outside CI without moto.
/// The store, seen through `Deref` as the suite sees every adapter.
struct Table(DynamoStore);

impl std::ops::Deref for Table {
    type Target = DynamoStore;

    fn deref(&self) -> &DynamoStore {
        &self.0
    }
}

async fn dynamodb() -> Option<Table> {
    let url = test_gate::require_moto("video_store_dynamodb")?;
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    static N: AtomicU32 = AtomicU32::new(0);
    let table = format!(
        "videos-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        chrono::Utc::now().timestamp_subsec_nanos()
    );
    schema::create_table(&client, &table).await.expect("table");
    Some(Table(DynamoStore::new(client, table)))
}

video_suite!(dynamodb);

/// The ids `UPLOADS#<token>` holds, read from the table itself.
async fn upload_set(store: &DynamoStore, token: &TokenId) -> Vec<String> {
    let out = store
        .client()
        .get_item()
        .table_name(store.table())
        .key(schema::PK, AttributeValue::S(format!("UPLOADS#{token}")))
        .consistent_read(true)
        .send()
        .await
        .expect("get");
    let mut ids = out
        .item()
        .and_then(|i| i.get("videoIds"))
        .and_then(|v| v.as_ss().ok())
        .cloned()
        .unwrap_or_default();
    ids.sort();
    ids
}

/// A token's per-token state holds only its unfinished uploads: the chunk that completes an
/// upload, and the deletion of an unfinished one, take it off in the same transaction.
#[tokio::test]
async fn only_unfinished_uploads_are_remembered_per_token() {
    let Some(store) = dynamodb().await else {
        return;
    };
    let token = video_suite::stored_token(&*store).await;
    let finishing = video_suite::video(Some(&token), 10);
    let deleted = video_suite::video(Some(&token), 5);
    let unfinished = video_suite::video(Some(&token), 1);
    for v in [&finishing, &deleted, &unfinished] {
        store.insert_video(v).await.expect("insert");
    }
    let mut all = vec![
        finishing.video.id.to_string(),
        deleted.video.id.to_string(),
        unfinished.video.id.to_string(),
    ];
    all.sort();
    assert_eq!(upload_set(&store, &token).await, all);

    let mut done = finishing.clone();
    done.version = 1;
    done.progress.completed = true;
    done.progress.chunk_count = 1;
    let last = video_suite::chunk(0, 10, "a");
    assert!(
        store
            .update_video(&done, Some((0, &last)))
            .await
            .expect("complete")
    );
    assert!(store.delete_video(&deleted).await.expect("delete"));
    assert_eq!(
        upload_set(&store, &token).await,
        [unfinished.video.id.to_string()]
    );
    // The latest video is still known after it completed (a lost reply's retry needs it).
    let mut last_done = unfinished.clone();
    last_done.version = 1;
    last_done.progress.completed = true;
    assert!(
        store
            .update_video(&last_done, Some((0, &last)))
            .await
            .expect("complete")
    );
    assert!(upload_set(&store, &token).await.is_empty());
    let latest = store.latest_video_of_token(&token).await.expect("latest");
    assert_eq!(
        latest.map(|r| r.video.id),
        Some(unfinished.video.id.clone())
    );
}

/// Sets written before completions took themselves off (or holding videos deleted since) are
/// pruned the first time they are read.
#[tokio::test]
async fn finished_uploads_left_in_the_set_are_pruned_when_read() {
    let Some(store) = dynamodb().await else {
        return;
    };
    let token = video_suite::stored_token(&*store).await;
    let old = video_suite::video(Some(&token), 10);
    let open = video_suite::video(Some(&token), 1);
    for v in [&old, &open] {
        store.insert_video(v).await.expect("insert");
    }
    // Completed the way an older version did: without touching the set.
    let mut done = old.clone();
    done.version = 1;
    done.progress.completed = true;
    assert!(store.update_video(&done, None).await.expect("complete"));
    // And an id whose video no longer exists.
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key(schema::PK, AttributeValue::S(format!("UPLOADS#{token}")))
        .update_expression("ADD videoIds :ids")
        .expression_attribute_values(
            ":ids",
            AttributeValue::Ss(vec!["viGoneGoneGoneGoneGone00".into()]),
        )
        .send()
        .await
        .expect("add");
    let found: Vec<_> = store
        .uploading_videos_of_token(&token)
        .await
        .expect("read")
        .into_iter()
        .map(|r| r.video.id)
        .collect();
    assert_eq!(found, std::slice::from_ref(&open.video.id));
    assert_eq!(
        upload_set(&store, &token).await,
        [open.video.id.to_string()]
    );
}
