//! Specification of token policy (SPEC §7) on `POST /upload`, in-process over `dispatch`: each
//! limit refuses with its problem, names its field, and stores nothing; usage counts exactly.

mod http_support;

use http::Method;
use http_support::{Api, Key, Reply};
use serde_json::{Value, json};
use std::sync::Arc;

/// The first bytes of an MP4 file (an `ftyp` box of brand `isom`), then `len` bytes of filler.
fn mp4(len: usize) -> Vec<u8> {
    let mut bytes = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2".to_vec();
    bytes.resize(len.max(bytes.len()), 7);
    bytes
}

/// A PNG's first bytes, then filler.
fn png(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec();
    bytes.resize(len.max(bytes.len()), 7);
    bytes
}

impl Api {
    /// An api.video token with `policy` (camelCase fields).
    async fn token_with(&self, key: &Key, policy: Value) -> String {
        let reply = self.create(&key.basic(), &policy.to_string()).await;
        reply.ok()["token"].as_str().expect("token").to_owned()
    }

    async fn token_json(&self, key: &Key, token: &str) -> Value {
        self.get(&key.basic(), &format!("/upload-tokens/{token}"))
            .await
            .ok()
    }

    async fn chunk(&self, token: &str, range: &str, video: Option<&str>, file: &[u8]) -> Reply {
        let mut body = Vec::new();
        if let Some(video) = video {
            body.extend_from_slice(
                format!(
                    "--B0UNDARY\r\nContent-Disposition: form-data; name=\"videoId\"\r\n\r\n{video}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            b"--B0UNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.mp4\"\r\n\
              Content-Type: video/mp4\r\n\r\n",
        );
        body.extend_from_slice(file);
        body.extend_from_slice(b"\r\n--B0UNDARY--\r\n");
        self.send_with(
            Method::POST,
            &format!("/upload?token={token}"),
            &[
                ("content-type", "multipart/form-data; boundary=B0UNDARY"),
                ("content-range", range),
            ],
            body,
        )
        .await
    }
}

fn created(reply: &Reply) -> Value {
    assert_eq!(reply.status, 201, "{}", reply.text());
    reply.json()
}

#[tokio::test]
async fn max_file_bytes_refuses_an_announced_total_or_bytes_received_above_it() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let token = api.token_with(&key, json!({"maxFileBytes": 100})).await;
    // Whole, and an announced total.
    api.upload(&token, &[1u8; 101])
        .await
        .problem(413, "file-too-large", Some("maxFileBytes"));
    api.chunk(&token, "bytes 0-9/101", None, &[1u8; 10])
        .await
        .problem(413, "file-too-large", Some("maxFileBytes"));
    // Unknown total: refused by the chunk that passes the limit; the chunks before it stay.
    let first = created(&api.chunk(&token, "bytes 0-59/*", None, &[2u8; 60]).await);
    let video = first["videoId"].as_str().expect("videoId");
    api.chunk(&token, "bytes 60-100/*", Some(video), &[3u8; 41])
        .await
        .problem(413, "file-too-large", Some("maxFileBytes"));
    created(
        &api.chunk(&token, "bytes 60-99/100", Some(video), &[3u8; 40])
            .await,
    );
    let usage = api.token_json(&key, &token).await;
    assert_eq!(usage["uploads"], 1, "refused first chunks started no video");
    assert_eq!(usage["bytesReceived"], 100);
    assert_eq!(usage["completedUploads"], 1);
    // At the limit exactly: fine.
    created(&api.upload(&token, &[4u8; 100]).await);
}

#[tokio::test]
async fn allowed_content_types_checks_the_declared_type_and_the_magic_number() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let token = api
        .token_with(&key, json!({"allowedContentTypes": ["video/*"]}))
        .await;
    created(&api.upload_with(&token, &mp4(5000), "video/mp4", &[]).await);
    // What curl and the SDKs declare: the content decides.
    created(
        &api.upload_with(&token, &mp4(5000), "application/octet-stream", &[])
            .await,
    );
    for (file, declared) in [
        (png(5000), "video/mp4"),
        (mp4(5000), "image/png"),
        (vec![0u8; 5000], "video/mp4"),
    ] {
        api.upload_with(&token, &file, declared, &[]).await.problem(
            415,
            "content-type-not-allowed",
            Some("allowedContentTypes"),
        );
    }
    assert_eq!(api.token_json(&key, &token).await["uploads"], 2);
    // Later chunks are not sniffed: only the file's start tells its type.
    let first = created(&api.chunk(&token, "part 1/2", None, &mp4(100)).await);
    let video = first["videoId"].as_str().expect("videoId");
    created(&api.chunk(&token, "part 2/2", Some(video), &[0u8; 50]).await);
}

#[tokio::test]
async fn a_single_use_token_starts_one_video_and_finishes_it() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let token = api.token_with(&key, json!({"maxUploads": 1})).await;
    let first = created(&api.chunk(&token, "part 1/2", None, &[1u8; 10]).await);
    let video = first["videoId"].as_str().expect("videoId");
    api.upload(&token, b"another file").await.problem(
        403,
        "upload-limit-reached",
        Some("maxUploads"),
    );
    created(&api.chunk(&token, "part 2/2", Some(video), &[2u8; 10]).await);
    // The first chunk re-sent after a lost reply is the same video, not a second one.
    let token2 = api.token_with(&key, json!({"maxUploads": 1})).await;
    let a = created(&api.chunk(&token2, "part 1/3", None, &[5u8; 10]).await);
    let b = created(&api.chunk(&token2, "part 1/3", None, &[5u8; 10]).await);
    assert_eq!(a["videoId"], b["videoId"]);
}

#[tokio::test]
async fn ten_concurrent_first_chunks_on_a_max_uploads_3_token_start_exactly_3_videos() {
    let api = Arc::new(Api::new().await);
    let key = api.new_key().await;
    let token = api.token_with(&key, json!({"maxUploads": 3})).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let tasks: Vec<_> = (0..10u8)
        .map(|i| {
            let (api, token, barrier) = (Arc::clone(&api), token.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                api.upload(&token, &[i; 64]).await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        let reply = task.await.expect("task");
        if reply.status == 403 {
            reply.problem(403, "upload-limit-reached", Some("maxUploads"));
        }
        statuses.push(reply.status.as_u16());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 201, 201, 403, 403, 403, 403, 403, 403, 403]);
    let usage = api.token_json(&key, &token).await;
    assert_eq!(usage["uploads"], 3);
    assert_eq!(usage["completedUploads"], 3);
}

#[tokio::test]
async fn allowed_origins_refuses_other_pages_and_answers_cors_for_the_allowed_one() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let token = api
        .token_with(&key, json!({"allowedOrigins": ["https://app.example.com"]}))
        .await;
    let reply = api
        .upload_with(
            &token,
            b"x",
            "video/mp4",
            &[("origin", "https://evil.example.com")],
        )
        .await;
    reply.problem(403, "origin-not-allowed", Some("allowedOrigins"));
    // The refusal is readable by the page (the default CORS answer).
    assert!(reply.headers.contains_key("access-control-allow-origin"));
    let reply = api
        .upload_with(
            &token,
            b"x",
            "video/mp4",
            &[("origin", "https://app.example.com")],
        )
        .await;
    created(&reply);
    assert_eq!(
        reply.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(reply.headers["vary"], "Origin");
    // A server (no Origin) passes.
    created(&api.upload(&token, b"y").await);
    assert_eq!(api.token_json(&key, &token).await["uploads"], 2);
}

#[tokio::test]
async fn a_video_preset_is_applied_to_every_video_the_token_creates() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let token = api
        .token_with(
            &key,
            json!({"video": {"title": "From the app", "tags": ["web"], "public": false,
                             "metadata": [{"key": "source", "value": "browser"}]}}),
        )
        .await;
    let video = created(&api.upload(&token, b"bytes").await);
    assert_eq!(video["title"], "From the app");
    assert_eq!(video["tags"], json!(["web"]));
    assert_eq!(video["public"], false);
    assert_eq!(
        video["metadata"],
        json!([{"key": "source", "value": "browser"}])
    );
    // Without a preset title, the file name.
    let token = api
        .token_with(&key, json!({"video": {"description": "d"}}))
        .await;
    let video = created(&api.upload(&token, b"bytes").await);
    assert_eq!(video["title"], "clip.mp4");
    assert_eq!(video["description"], "d");
}

#[tokio::test]
async fn a_policy_shows_on_get_and_list_only_when_set() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let plain = api.token_with(&key, json!({"ttl": 60})).await;
    let limited = api
        .token_with(
            &key,
            json!({"name": "n", "maxFileBytes": 5, "allowedContentTypes": ["video/mp4"],
                   "maxUploads": 2, "allowedOrigins": ["https://a.example:8443"],
                   "video": {"title": "t"}}),
        )
        .await;
    let body = api.token_json(&key, &plain).await;
    let mut keys: Vec<_> = body.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["createdAt", "expiresAt", "token", "ttl"]);
    let body = api.token_json(&key, &limited).await;
    assert_eq!(body["name"], "n");
    assert_eq!(body["maxFileBytes"], 5);
    assert_eq!(body["allowedContentTypes"], json!(["video/mp4"]));
    assert_eq!(body["maxUploads"], 2);
    assert_eq!(body["allowedOrigins"], json!(["https://a.example:8443"]));
    assert_eq!(body["video"], json!({"title": "t"}));
    let listed = api.list(&key.basic(), "").await;
    assert_eq!(listed["data"][1], body);
}

#[tokio::test]
async fn bad_policy_fields_are_refused_by_name_on_create_and_patch() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let token = api.token_with(&key, json!({})).await;
    for (body, field) in [
        (json!({"maxFileBytes": -1}), "maxFileBytes"),
        (json!({"maxFileBytes": 0}), "maxFileBytes"),
        (json!({"maxUploads": 0}), "maxUploads"),
        (
            json!({"allowedContentTypes": ["video"]}),
            "allowedContentTypes",
        ),
        (json!({"allowedContentTypes": []}), "allowedContentTypes"),
        (
            json!({"allowedOrigins": ["app.example.com"]}),
            "allowedOrigins",
        ),
        (
            json!({"allowedOrigins": ["https://app.example.com/"]}),
            "allowedOrigins",
        ),
        (json!({"name": "x".repeat(51)}), "name"),
        (json!({"video": {"panoramic": true}}), "video.panoramic"),
        (json!({"unknown": 1}), "unknown"),
    ] {
        api.create(&key.basic(), &body.to_string()).await.problem(
            400,
            "invalid-attribute",
            Some(field),
        );
        api.send_with(
            Method::PATCH,
            &format!("/upload-tokens/{token}"),
            &[
                ("authorization", key.basic().as_str()),
                ("content-type", "application/json"),
            ],
            body.to_string(),
        )
        .await
        .problem(400, "invalid-attribute", Some(field));
    }
    assert_eq!(api.total(&key.basic()).await, 1);
    let body = api.token_json(&key, &token).await;
    assert_eq!(body.as_object().map(|o| o.len()), Some(3), "{body}");
}
