//! S3-direct uploads (SPEC §9) over HTTP, the protocol of `@uppy/aws-s3` (Companion's), on every
//! form: the embedded store (the local server's own signed URLs), DynamoDB and S3 in moto (S3
//! presigned URLs), and behind the API Gateway emulator (the functions). The bytes go where the
//! signed URLs say, as a browser sends them (part PUTs without a Content-Type, a POST form with
//! the file last); what was stored is read back through `assets.mp4`.
//!
//! The real Uppy in Chromium is `browser_uppy.rs`; this suite is the protocol's rules: the
//! server's checks at completion, a deleted token, an abort, a foreign key or upload id.

mod support;

use local_api::StoreKind;
use reqwest::Method;
use serde_json::{Value, json};
use support::upload::{MIB, data, sha, stored_sha};
use support::{Api, Deployment, Reply, options};

/// An upload token's view of the `/upload/{token}/s3/` endpoints.
struct Direct<'a> {
    api: &'a Api,
    base: String,
}

impl<'a> Direct<'a> {
    fn new(api: &'a Api, token: &str) -> Self {
        Direct {
            api,
            base: format!("/upload/{token}/s3"),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = self
            .api
            .http
            .request(method, format!("{}{}{path}", self.api.base, self.base));
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        self.api.send(request).await
    }

    /// `POST multipart` → (key, uploadId, videoId).
    async fn create(&self, filename: &str, kind: &str) -> (String, String, String) {
        let reply = self
            .call(
                Method::POST,
                "/multipart",
                Some(json!({"filename": filename, "type": kind, "metadata": {}})),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let field = |n: &str| reply.json[n].as_str().expect(n).to_owned();
        (field("key"), field("uploadId"), field("videoId"))
    }

    async fn sign(&self, key: &str, upload_id: &str, number: u32) -> Reply {
        self.call(
            Method::GET,
            &format!("/multipart/{upload_id}/{number}?key={}", enc(key)),
            None,
        )
        .await
    }

    /// Signs part `number` and PUTs `bytes` to it as Uppy does (no Content-Type); its ETag.
    async fn put_part(&self, key: &str, upload_id: &str, number: u32, bytes: &[u8]) -> String {
        let signed = self.sign(key, upload_id, number).await;
        assert_eq!(signed.status, 200, "{}", signed.text);
        let url = signed.json["url"].as_str().expect("url");
        assert!(signed.json["expires"].as_u64().is_some(), "{}", signed.text);
        let response = self
            .api
            .http
            .put(url)
            .body(bytes.to_vec())
            .send()
            .await
            .expect("part PUT answers");
        assert_eq!(response.status(), 200, "part {number} PUT to {url}");
        response
            .headers()
            .get("etag")
            .and_then(|e| e.to_str().ok())
            .expect("the part PUT answers an ETag")
            .to_owned()
    }

    async fn list(&self, key: &str, upload_id: &str) -> Reply {
        self.call(
            Method::GET,
            &format!("/multipart/{upload_id}?key={}", enc(key)),
            None,
        )
        .await
    }

    async fn complete(&self, key: &str, upload_id: &str, parts: &[(u32, String)]) -> Reply {
        let parts: Vec<Value> = parts
            .iter()
            .map(|(n, e)| json!({"PartNumber": n, "ETag": e}))
            .collect();
        self.call(
            Method::POST,
            &format!("/multipart/{upload_id}/complete?key={}", enc(key)),
            Some(json!({ "parts": parts })),
        )
        .await
    }

    async fn abort(&self, key: &str, upload_id: &str) -> Reply {
        self.call(
            Method::DELETE,
            &format!("/multipart/{upload_id}?key={}", enc(key)),
            None,
        )
        .await
    }

    /// `GET params`, then the POST form with `file` last, as a browser sends it; the videoId.
    async fn post(&self, filename: &str, kind: &str, file: &[u8]) -> (String, u16) {
        let params = self
            .call(
                Method::GET,
                &format!("/params?filename={}&type={}", enc(filename), enc(kind)),
                None,
            )
            .await;
        assert_eq!(params.status, 200, "{}", params.text);
        assert_eq!(params.json["method"], "POST");
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in params.json["fields"].as_object().expect("fields") {
            form = form.text(name.clone(), value.as_str().expect("text").to_owned());
        }
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(file.to_vec())
                .file_name(filename.to_owned())
                .mime_str(kind)
                .expect("mime"),
        );
        let url = params.json["url"].as_str().expect("url");
        let response = self
            .api
            .http
            .post(url)
            .multipart(form)
            .send()
            .await
            .expect("the form POST answers");
        let status = response.status().as_u16();
        (
            params.json["videoId"].as_str().expect("videoId").to_owned(),
            status,
        )
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A token made with `body` (JSON).
async fn token_with(api: &Api, body: &str) -> String {
    let reply = api.create(body).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json["token"].as_str().expect("token").to_owned()
}

/// What the store still holds of video `id`: files under the data directory, or objects and
/// multipart uploads in the bucket.
enum Holdings {
    Files(std::path::PathBuf),
    Bucket(String),
    Unseen,
}

impl Holdings {
    async fn of(&self, id: &str) -> Vec<String> {
        match self {
            Holdings::Files(dir) => {
                let mut found = Vec::new();
                let mut dirs = vec![dir.clone()];
                while let Some(d) = dirs.pop() {
                    for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
                        let path = entry.path();
                        if path.is_dir() {
                            dirs.push(path);
                        } else if path.to_string_lossy().contains(id) {
                            found.push(path.display().to_string());
                        }
                    }
                }
                found
            }
            Holdings::Bucket(bucket) => {
                let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                let s3 = aws_sdk_s3::Client::from_conf(
                    aws_sdk_s3::config::Builder::from(&config)
                        .force_path_style(true)
                        .build(),
                );
                let objects = s3
                    .list_objects_v2()
                    .bucket(bucket)
                    .send()
                    .await
                    .expect("list objects");
                let uploads = s3
                    .list_multipart_uploads()
                    .bucket(bucket)
                    .send()
                    .await
                    .expect("list uploads");
                objects
                    .contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .chain(uploads.uploads().iter().filter_map(|u| u.key()))
                    .filter(|k| k.contains(id))
                    .map(str::to_owned)
                    .collect()
            }
            Holdings::Unseen => Vec::new(),
        }
    }
}

async fn scenarios(api: &Api, holdings: &Holdings) {
    let token = token_with(api, r#"{"ttl":3600}"#).await;
    let direct = Direct::new(api, &token);

    // Multipart: two 5 MiB parts and a short last one, sent out of order; listed; completed.
    let file = data(11 * MIB + 17, 1);
    let (key, upload_id, video) = direct.create("clip.mp4", "video/mp4").await;
    let pieces: Vec<&[u8]> = file.chunks(5 * MIB).collect();
    let mut parts = Vec::new();
    for n in [2u32, 1, 3] {
        let etag = direct
            .put_part(&key, &upload_id, n, pieces[n as usize - 1])
            .await;
        parts.push((n, etag));
    }
    let listed = direct.list(&key, &upload_id).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let listed = listed.json.as_array().expect("a bare array").clone();
    assert_eq!(
        listed
            .iter()
            .map(|p| p["PartNumber"].clone())
            .collect::<Vec<_>>(),
        [json!(1), json!(2), json!(3)]
    );
    assert_eq!(listed[2]["Size"], json!(MIB + 17));
    parts.sort();
    let done = direct.complete(&key, &upload_id, &parts).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.json["videoId"], video.as_str());
    assert!(done.json["location"].as_str().is_some(), "{}", done.text);
    assert_eq!(stored_sha(api, &video).await, sha(&file));
    let status = api.get(&format!("/videos/{video}/status")).await;
    assert_eq!(
        status.json["ingest"]["status"], "uploaded",
        "{}",
        status.text
    );
    assert_eq!(status.json["ingest"]["filesize"], json!(file.len()));
    let video_json = api.get(&format!("/videos/{video}")).await;
    assert_eq!(video_json.json["title"], "clip.mp4");
    // Completing again changes nothing; a late part URL is refused.
    let again = direct.complete(&key, &upload_id, &parts).await;
    assert!(again.status < 500, "{}", again.text);
    assert_eq!(stored_sha(api, &video).await, sha(&file));
    let late = direct.sign(&key, &upload_id, 4).await;
    assert!((400..500).contains(&late.status), "{}", late.text);

    // One request (a POST form): noticed when the video is next read.
    let small = data(3 * MIB, 2);
    let (posted, status) = direct.post("small.mp4", "video/mp4", &small).await;
    assert!((200..300).contains(&status), "form POST: {status}");
    assert_eq!(stored_sha(api, &posted).await, sha(&small));
    let video_json = api.get(&format!("/videos/{posted}")).await;
    assert_eq!(video_json.json["title"], "small.mp4");

    // Usage counts both, as /upload's would.
    let usage = api.get(&format!("/upload-tokens/{token}")).await;
    assert_eq!(usage.status, 200, "{}", usage.text);
    assert_eq!(usage.json["uploads"], 2, "{}", usage.text);
    assert_eq!(usage.json["completedUploads"], 2, "{}", usage.text);

    // The server's check at completion: maxFileBytes below the file refuses it, and removes it.
    let limited = token_with(api, r#"{"ttl":3600,"maxFileBytes":6000000}"#).await;
    let limited = Direct::new(api, &limited);
    let (key, upload_id, refused) = limited.create("big.mp4", "video/mp4").await;
    let mut parts = Vec::new();
    for (i, piece) in pieces.iter().enumerate().take(2) {
        let n = i as u32 + 1;
        parts.push((n, limited.put_part(&key, &upload_id, n, piece).await));
    }
    let reply = limited.complete(&key, &upload_id, &parts).await;
    assert_eq!(reply.status, 413, "{}", reply.text);
    assert!(reply.json["message"].as_str().is_some(), "{}", reply.text);
    assert_eq!(api.get(&format!("/videos/{refused}")).await.status, 404);
    assert_eq!(holdings.of(&refused).await, Vec::<String>::new());
    // ...and a posted file over it: refused by the form's policy (S3, the local server), or,
    // where the store ignores policies (moto), by the server's check when the video is read.
    let (refused, status) = limited
        .post("big.mp4", "video/mp4", &data(6_000_001, 3))
        .await;
    let video = api.get(&format!("/videos/{refused}")).await;
    if (200..300).contains(&status) {
        assert_eq!(video.status, 404, "{}", video.text);
        assert_eq!(holdings.of(&refused).await, Vec::<String>::new());
    } else {
        assert!((400..500).contains(&status), "form POST: {status}");
        assert!(video.json["assets"].get("mp4").is_none(), "{}", video.text);
    }

    // allowedContentTypes is checked on the file's first bytes, not only on the declared type.
    let typed = token_with(api, r#"{"ttl":3600,"allowedContentTypes":["video/*"]}"#).await;
    let typed = Direct::new(api, &typed);
    let refused = typed
        .call(
            Method::POST,
            "/multipart",
            Some(json!({"filename": "a.png", "type": "image/png"})),
        )
        .await;
    assert_eq!(refused.status, 415, "{}", refused.text);
    let (key, upload_id, lying) = typed.create("fake.mp4", "video/mp4").await;
    let etag = typed
        .put_part(&key, &upload_id, 1, b"#!/bin/sh\necho not a video\n")
        .await;
    let reply = typed.complete(&key, &upload_id, &[(1, etag)]).await;
    assert_eq!(reply.status, 415, "{}", reply.text);
    assert_eq!(api.get(&format!("/videos/{lying}")).await.status, 404);
    assert_eq!(holdings.of(&lying).await, Vec::<String>::new());

    // An abort leaves nothing.
    let (key, upload_id, aborted) = direct.create("gone.mp4", "video/mp4").await;
    direct.put_part(&key, &upload_id, 1, pieces[0]).await;
    let reply = direct.abort(&key, &upload_id).await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    assert_eq!(api.get(&format!("/videos/{aborted}")).await.status, 404);
    assert_eq!(holdings.of(&aborted).await, Vec::<String>::new());

    // Another token's key or upload id is refused, whatever it asks.
    let (key, upload_id, theirs) = direct.create("theirs.mp4", "video/mp4").await;
    let other = token_with(api, r#"{"ttl":3600}"#).await;
    let other = Direct::new(api, &other);
    assert_eq!(other.sign(&key, &upload_id, 1).await.status, 403);
    assert_eq!(other.list(&key, &upload_id).await.status, 403);
    assert_eq!(other.abort(&key, &upload_id).await.status, 403);
    assert_eq!(other.complete(&key, &upload_id, &[]).await.status, 403);
    // The right key with a made-up upload id, and the reverse.
    assert_eq!(direct.sign(&key, "made-up", 1).await.status, 403);
    assert_eq!(
        direct
            .sign("videos/vi000/source", &upload_id, 1)
            .await
            .status,
        403
    );
    assert!(api.get(&format!("/videos/{theirs}")).await.status == 200);

    // Bad input is a 4xx that names it.
    for (path, name) in [
        (
            format!("/multipart/{upload_id}/0?key={}", enc(&key)),
            "partNumber",
        ),
        (
            format!("/multipart/{upload_id}/10001?key={}", enc(&key)),
            "partNumber",
        ),
        (
            format!("/multipart/{upload_id}/x?key={}", enc(&key)),
            "partNumber",
        ),
        (format!("/multipart/{upload_id}/1"), "key"),
    ] {
        let reply = direct.call(Method::GET, &path, None).await;
        assert_eq!(reply.status, 400, "{path}: {}", reply.text);
        assert!(
            reply.json["message"]
                .as_str()
                .is_some_and(|m| m.contains(name)),
            "{path}: {}",
            reply.text
        );
    }
    let reply = direct
        .call(
            Method::POST,
            &format!("/multipart/{upload_id}/complete?key={}", enc(&key)),
            Some(json!({"parts": "no"})),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);

    // A deleted token stops a half-done upload at its next signature.
    let doomed = token_with(api, r#"{"ttl":3600}"#).await;
    let half = Direct::new(api, &doomed);
    let (key, upload_id, _) = half.create("half.mp4", "video/mp4").await;
    half.put_part(&key, &upload_id, 1, pieces[0]).await;
    assert_eq!(
        api.delete(&format!("/upload-tokens/{doomed}")).await.status,
        204
    );
    let reply = half.sign(&key, &upload_id, 2).await;
    assert!(
        reply.status == 401 || reply.status == 404,
        "{}: {}",
        reply.status,
        reply.text
    );
    let reply = half.complete(&key, &upload_id, &[]).await;
    assert!(reply.status == 401 || reply.status == 404, "{}", reply.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn direct_uploads_on_the_embedded_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let deployment = Deployment::local(options(dir.path(), StoreKind::Embedded, None)).await;
    let api = Api::new(&deployment);
    scenarios(&api, &Holdings::Files(dir.path().to_owned())).await;
    deployment.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn direct_uploads_on_dynamodb_and_s3() {
    if test_gate::require_moto("direct_uploads_on_dynamodb_and_s3").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let table = support::table_name("direct");
    let deployment =
        Deployment::local(options(dir.path(), StoreKind::Aws, Some(table.clone()))).await;
    let api = Api::new(&deployment);
    scenarios(&api, &Holdings::Bucket(table.to_lowercase())).await;
    deployment.stop().await;
}

/// The deployed form: each endpoint its own function behind API Gateway (emulated).
#[tokio::test(flavor = "multi_thread")]
async fn direct_uploads_behind_api_gateway() {
    let Some(deployment) = Deployment::gateway("direct_uploads_behind_api_gateway").await else {
        return;
    };
    let api = Api::new(&deployment);
    scenarios(&api, &Holdings::Unseen).await;
    deployment.stop().await;
}

/// Racing requests on one direct upload: completions of the same upload at once, and reads that
/// settle the same posted file at once (what a bucket event and a backend's read do together).
/// Each video ends uploaded once, with the file's bytes, counted once.
async fn races(api: &Api) {
    let token = token_with(api, r#"{"ttl":3600}"#).await;
    let direct = Direct::new(api, &token);
    let file = data(5 * MIB + 99, 41);
    let (key, upload_id, video) = direct.create("race.mp4", "video/mp4").await;
    let pieces: Vec<&[u8]> = file.chunks(5 * MIB).collect();
    let mut parts = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let n = i as u32 + 1;
        parts.push((n, direct.put_part(&key, &upload_id, n, piece).await));
    }
    let answers =
        futures_util::future::join_all((0..4).map(|_| direct.complete(&key, &upload_id, &parts)))
            .await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    assert!(statuses.contains(&200), "{statuses:?}");
    for reply in &answers {
        assert!(
            reply.status == 200 || reply.status == 409,
            "{}: {}",
            reply.status,
            reply.text
        );
    }
    assert_eq!(stored_sha(api, &video).await, sha(&file));

    let small = data(MIB + 5, 42);
    let (posted, status) = direct.post("posted.mp4", "video/mp4", &small).await;
    assert!((200..300).contains(&status), "form POST: {status}");
    let reads = {
        let path = format!("/videos/{posted}");
        futures_util::future::join_all((0..6).map(|_| api.get(&path))).await
    };
    for reply in &reads {
        assert!(
            reply.status == 200 || reply.status == 409,
            "{}: {}",
            reply.status,
            reply.text
        );
    }
    assert_eq!(stored_sha(api, &posted).await, sha(&small));
    let usage = api.get(&format!("/upload-tokens/{token}")).await;
    assert_eq!(usage.json["uploads"], 2, "{}", usage.text);
    assert_eq!(usage.json["completedUploads"], 2, "{}", usage.text);
    assert_eq!(
        usage.json["bytesReceived"],
        json!(file.len() + small.len()),
        "{}",
        usage.text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn racing_direct_requests_on_the_embedded_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let deployment = Deployment::local(options(dir.path(), StoreKind::Embedded, None)).await;
    races(&Api::new(&deployment)).await;
    deployment.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn racing_direct_requests_on_dynamodb_and_s3() {
    if test_gate::require_moto("racing_direct_requests_on_dynamodb_and_s3").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let table = support::table_name("direct-race");
    let deployment = Deployment::local(options(dir.path(), StoreKind::Aws, Some(table))).await;
    races(&Api::new(&deployment)).await;
    deployment.stop().await;
}

/// A multipart upload completed in the store by a request whose commit did not happen (a crash
/// after CompleteMultipartUpload, or its reply lost): listing its parts no longer removes it,
/// and the client's completion, sent again, commits exactly those bytes.
async fn lost_commit(api: &Api, complete_behind: impl AsyncFnOnce(&str, &str)) {
    let token = token_with(api, r#"{"ttl":3600}"#).await;
    let direct = Direct::new(api, &token);
    let file = data(5 * MIB + 321, 51);
    let (key, upload_id, video) = direct.create("lost.mp4", "video/mp4").await;
    let mut parts = Vec::new();
    for (i, piece) in file.chunks(5 * MIB).enumerate() {
        let n = i as u32 + 1;
        parts.push((n, direct.put_part(&key, &upload_id, n, piece).await));
    }
    complete_behind(&key, &upload_id).await;
    let listed = direct.list(&key, &upload_id).await;
    assert_eq!(listed.status, 400, "{}", listed.text);
    assert_eq!(api.get(&format!("/videos/{video}")).await.status, 200);
    // Other parts than those it was completed with are refused; the right ones commit it.
    let wrong = direct
        .complete(&key, &upload_id, &[(1, parts[0].1.clone())])
        .await;
    assert_eq!(wrong.status, 400, "{}", wrong.text);
    let done = direct.complete(&key, &upload_id, &parts).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(stored_sha(api, &video).await, sha(&file));
    let usage = api.get(&format!("/upload-tokens/{token}")).await;
    assert_eq!(usage.json["completedUploads"], 1, "{}", usage.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_completion_whose_commit_was_lost_commits_on_the_embedded_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let deployment = Deployment::local(options(dir.path(), StoreKind::Embedded, None)).await;
    let blobs = upload_tokens_core::store::blob_files::FileBlobStore::new(dir.path().join("blobs"))
        .expect("the server's blob directory");
    lost_commit(
        &Api::new(&deployment),
        async |key: &str, upload_id: &str| {
            use upload_tokens_core::store::blob::BlobStore;
            let parts = blobs.direct_parts(key, upload_id).await.expect("parts");
            blobs
                .finish_direct(key, upload_id, &parts)
                .await
                .expect("completed behind the server's back");
        },
    )
    .await;
    deployment.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_completion_whose_commit_was_lost_commits_on_s3() {
    if test_gate::require_moto("a_completion_whose_commit_was_lost_commits_on_s3").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let table = support::table_name("direct-lost");
    let bucket = table.to_lowercase();
    let deployment = Deployment::local(options(dir.path(), StoreKind::Aws, Some(table))).await;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    lost_commit(
        &Api::new(&deployment),
        async |key: &str, upload_id: &str| {
            use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
            let listed = s3
                .list_parts()
                .bucket(&bucket)
                .key(key)
                .upload_id(upload_id)
                .send()
                .await
                .expect("parts listed");
            let parts = listed
                .parts()
                .iter()
                .map(|p| {
                    CompletedPart::builder()
                        .set_part_number(p.part_number())
                        .set_e_tag(p.e_tag().map(str::to_owned))
                        .build()
                })
                .collect();
            s3.complete_multipart_upload()
                .bucket(&bucket)
                .key(key)
                .upload_id(upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .expect("completed behind the server's back");
        },
    )
    .await;
    deployment.stop().await;
}
