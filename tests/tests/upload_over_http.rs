//! Delegated upload over real HTTP (SPEC §4–5), on SQLite + files and on DynamoDB + S3 (moto):
//! every scenario checks the stored bytes are identical (sha256) to what was sent, by
//! downloading `assets.mp4`.

mod support;

use local_api::StoreKind;
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use support::upload::{MIB, data, sha, stored_sha};
use support::{Api, Deployment, Reply, options, start};

struct Uploader<'a> {
    api: &'a Api,
    token: String,
}

impl<'a> Uploader<'a> {
    async fn new(api: &'a Api) -> Self {
        let reply = api.create("{\"ttl\":3600}").await;
        Self {
            api,
            token: reply.json["token"].as_str().expect("token").to_owned(),
        }
    }

    async fn send(
        &self,
        bytes: &[u8],
        range: Option<&str>,
        video_id: Option<&str>,
        field: &str,
    ) -> Reply {
        let mut form = Form::new();
        if let Some(id) = video_id {
            form = form.text("videoId", id.to_owned());
        }
        form = form.part(
            field.to_owned(),
            Part::bytes(bytes.to_vec()).file_name("clip.mp4"),
        );
        let mut request = self
            .api
            .http
            .post(format!("{}/upload?token={}", self.api.base, self.token))
            .multipart(form);
        if let Some(range) = range {
            request = request.header("Content-Range", range);
        }
        self.api.send(request).await
    }

    async fn chunk(&self, bytes: &[u8], range: Option<&str>, video_id: Option<&str>) -> Reply {
        self.send(bytes, range, video_id, "file").await
    }
}

fn video_id(reply: &Reply) -> String {
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));
    reply.json["videoId"].as_str().expect("videoId").to_owned()
}

async fn status(api: &Api, id: &str) -> Value {
    let reply = api.get(&format!("/videos/{id}/status")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json
}

async fn scenarios(api: &Api) {
    let up = Uploader::new(api).await;

    // One-shot small file, no Content-Range, file part named after the file (as Node does).
    let small = data(1000, 1);
    let reply = up.send(&small, None, None, "clip.mp4").await;
    let id = video_id(&reply);
    assert_eq!(reply.json["title"], "clip.mp4");
    assert_eq!(reply.json["source"]["uri"], format!("/videos/{id}/source"));
    assert_eq!(stored_sha(api, &id).await, sha(&small));
    assert_eq!(status(api, &id).await["ingest"]["status"], "uploaded");

    // 12 MiB in three parts: of 5 MiB (S3's part size); behind API Gateway of 4 MiB, as a
    // 5 MiB part is a ~7 MB event there (base64), over Lambda's 6,291,456 bytes: refused with
    // 413 (checked in `uploads_behind_api_gateway_are_byte_identical`).
    let file = data(12 * MIB, 2);
    let part_size = if api.behind_gateway { 4 * MIB } else { 5 * MIB };
    let parts: Vec<&[u8]> = file.chunks(part_size).collect();
    assert_eq!(parts.len(), 3);
    let first = up.chunk(parts[0], Some("part 1/3"), None).await;
    let id = video_id(&first);
    assert!(
        first.json["assets"].get("mp4").is_none(),
        "not complete yet"
    );
    assert_eq!(
        video_id(&up.chunk(parts[1], Some("part 2/3"), Some(&id)).await),
        id
    );
    let st = status(api, &id).await;
    assert_eq!(st["ingest"]["status"], "uploading");
    assert_eq!(
        st["ingest"]["receivedParts"]["parts"],
        serde_json::json!([1, 2])
    );
    video_id(&up.chunk(parts[2], Some("part 3/3"), Some(&id)).await);
    assert_eq!(stored_sha(api, &id).await, sha(&file));

    // 11 MiB + 123 B in 1 MiB chunks as byte ranges, `*` total until the last: the staging
    // path (no chunk is a valid S3 part by itself).
    let file = data(11 * MIB + 123, 3);
    let total = file.len();
    let mut id = None::<String>;
    let mut offset = 0;
    for chunk in file.chunks(MIB) {
        let end = offset + chunk.len() - 1;
        let range = if end + 1 == total {
            format!("bytes {offset}-{end}/{total}")
        } else {
            format!("bytes {offset}-{end}/*")
        };
        let reply = up.chunk(chunk, Some(&range), id.as_deref()).await;
        id = Some(video_id(&reply));
        offset = end + 1;
    }
    let id = id.expect("uploaded");
    let st = status(api, &id).await;
    assert_eq!(st["ingest"]["filesize"], total);
    assert_eq!(st["ingest"]["receivedBytes"][0]["to"], total - 1);
    assert_eq!(stored_sha(api, &id).await, sha(&file));

    // `part n/*` then `part n/n`, with a retried chunk in the middle (stored once).
    let file = data(3 * MIB + 17, 4);
    let parts: Vec<&[u8]> = file.chunks(MIB + 5).collect();
    let n = parts.len();
    let id = video_id(&up.chunk(parts[0], Some("part 1/*"), None).await);
    for (i, part) in parts.iter().enumerate().skip(1) {
        let range = if i + 1 == n {
            format!("part {}/{n}", i + 1)
        } else {
            format!("part {}/*", i + 1)
        };
        video_id(&up.chunk(part, Some(&range), Some(&id)).await);
        if i == 1 {
            let again = up.chunk(part, Some(&range), Some(&id)).await;
            assert_eq!(video_id(&again), id, "a retried chunk is acknowledged");
        }
    }
    assert_eq!(
        status(api, &id).await["ingest"]["receivedParts"]["parts"]
            .as_array()
            .map(Vec::len),
        Some(n)
    );
    assert_eq!(stored_sha(api, &id).await, sha(&file));
    // The final chunk retried after completion: acknowledged, nothing changes.
    let last = format!("part {n}/{n}");
    assert_eq!(
        video_id(&up.chunk(parts[n - 1], Some(&last), Some(&id)).await),
        id
    );
    assert_eq!(stored_sha(api, &id).await, sha(&file));

    // The clients' one-shot chunked methods: `part k/N`, no videoId after the first.
    let other = Uploader::new(api).await;
    let file = data(2 * MIB + 99, 5);
    let parts: Vec<&[u8]> = file.chunks(MIB).collect();
    let id = video_id(&other.chunk(parts[0], Some("part 1/3"), None).await);
    assert_eq!(
        video_id(&other.chunk(parts[1], Some("part 2/3"), None).await),
        id
    );
    assert_eq!(
        video_id(&other.chunk(parts[2], Some("part 3/3"), None).await),
        id
    );
    assert_eq!(stored_sha(api, &id).await, sha(&file));

    rejections(api).await;
}

/// Every bad request: a 4xx problem with a video-content-range-* / uploaded-file-* slug (or the
/// token's 401), and the upload stays as it was, resumable.
async fn rejections(api: &Api) {
    let up = Uploader::new(api).await;
    let one = data(10, 6);
    let id = video_id(&up.chunk(&one, Some("bytes 0-9/30"), None).await);
    let before = status(api, &id).await;

    let cases: Vec<(Option<&str>, Vec<u8>, &str)> = vec![
        (
            Some("bytes 5-2/10"),
            one.clone(),
            "video-content-range-invalid",
        ),
        (Some("part 0/3"), one.clone(), "video-content-range-invalid"),
        (Some("part 4/3"), one.clone(), "video-content-range-invalid"),
        (Some("part 1/0"), one.clone(), "video-content-range-invalid"),
        (
            Some("bytes 0-9/5"),
            one.clone(),
            "video-content-range-invalid",
        ),
        (
            Some("bytes x-y/z"),
            one.clone(),
            "video-content-range-invalid",
        ),
        (
            Some("bytes 10-19/30"),
            data(9, 7),
            "video-content-range-length-mismatch",
        ),
        (
            Some("bytes 10-19/31"),
            data(10, 7),
            "video-content-range-total-changed",
        ),
        (Some("part 2/3"), data(10, 7), "video-content-range-mixed"),
        (
            Some("bytes 20-29/30"),
            data(10, 7),
            "video-content-range-out-of-order",
        ),
        (
            Some("bytes 0-9/30"),
            data(10, 8),
            "video-content-range-conflict",
        ),
        (Some("bytes 10-19/30"), Vec::new(), "uploaded-file-empty"),
    ];
    for (range, bytes, slug) in cases {
        let reply = up.chunk(&bytes, range, Some(&id)).await;
        assert!(
            (400..500).contains(&reply.status),
            "{range:?}: {} {}",
            reply.status,
            reply.text
        );
        reply.assert_problem(reply.status, slug, None);
    }
    // Not multipart, two file parts, no file part, unknown video.
    let url = format!("{}/upload?token={}", api.base, up.token);
    let raw = api
        .send(
            api.http
                .post(&url)
                .header("content-type", "application/octet-stream")
                .body(one.clone()),
        )
        .await;
    raw.assert_problem(400, "uploaded-file-not-multipart", None);
    let two = Form::new()
        .part("a", Part::bytes(one.clone()).file_name("a.mp4"))
        .part("b", Part::bytes(one.clone()).file_name("b.mp4"));
    api.send(api.http.post(&url).multipart(two))
        .await
        .assert_problem(400, "uploaded-file-multiple", None);
    // A text part without a field name (RFC 7578 requires one), and videoId sent twice: both
    // malformed, whatever the other parts say.
    let unnamed = Form::new()
        .text("", "null")
        .part("file", Part::bytes(one.clone()).file_name("a.mp4"));
    api.send(api.http.post(&url).multipart(unnamed))
        .await
        .assert_problem(400, "uploaded-file-malformed", Some("file"));
    let twice = Form::new()
        .text("videoId", id.clone())
        .text("videoId", id.clone())
        .part("file", Part::bytes(data(10, 7)).file_name("a.mp4"));
    api.send(
        api.http
            .post(&url)
            .header("content-range", "bytes 10-19/30")
            .multipart(twice),
    )
    .await
    .assert_problem(400, "uploaded-file-malformed", Some("videoId"));
    let none = Form::new().text("videoId", id.clone());
    api.send(api.http.post(&url).multipart(none))
        .await
        .assert_problem(400, "uploaded-file-missing", None);
    let truncated = api
        .send(
            api.http
                .post(&url)
                .header("content-type", "multipart/form-data; boundary=XYZ")
                .body("--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nabc"),
        )
        .await;
    assert_eq!(truncated.status, 400, "{}", truncated.text);
    up.chunk(
        &one,
        Some("bytes 10-19/30"),
        Some("vi0000000000000000000000"),
    )
    .await
    .assert_problem(404, "uploaded-file-video-not-found", Some("videoId"));
    // A chunk without videoId that continues nothing.
    up.chunk(&one, Some("part 5/9"), None).await.assert_problem(
        400,
        "uploaded-file-video-id-required",
        Some("videoId"),
    );
    // A first chunk announcing a total beyond the maximum: refused before a video is made.
    up.chunk(&one, Some("bytes 0-9/9999999999999999999"), None)
        .await
        .assert_problem(400, "uploaded-file-too-large", Some("file"));
    // Token problems: all three are the same 401.
    for token in ["", "tonope", "to0000000000000000000000"] {
        let reply = api
            .send(
                api.http
                    .post(format!("{}/upload?token={token}", api.base))
                    .multipart(Form::new().part("file", Part::bytes(one.clone()).file_name("a"))),
            )
            .await;
        assert_eq!(reply.status, 401, "{token}: {}", reply.text);
    }
    assert_eq!(
        status(api, &id).await,
        before,
        "rejected requests change nothing"
    );

    // Still resumable after all that; a deleted token then refuses the next chunk, and what was
    // stored stays.
    video_id(
        &up.chunk(&data(10, 9), Some("bytes 10-19/30"), Some(&id))
            .await,
    );
    assert_eq!(
        api.delete(&format!("/upload-tokens/{}", up.token))
            .await
            .status,
        204
    );
    let refused = up
        .chunk(&data(10, 10), Some("bytes 20-29/30"), Some(&id))
        .await;
    refused.assert_problem(401, "authentication-invalid-upload-token", None);
    assert_eq!(
        status(api, &id).await["ingest"]["receivedBytes"][0]["to"],
        19
    );
}

async fn videos_api(api: &Api) {
    let up = Uploader::new(api).await;
    let id = video_id(&up.chunk(&data(100, 11), None, None).await);
    let patched = api
        .send(
            api.request(reqwest::Method::PATCH, &format!("/videos/{id}"))
                .header("content-type", "application/json")
                .body(r#"{"title":"Renamed","description":"d","tags":["a","b"],"metadata":[{"key":"k","value":"v"}],"public":false}"#),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.json["title"], "Renamed");
    assert_eq!(patched.json["tags"], serde_json::json!(["a", "b"]));
    assert_eq!(patched.json["metadata"][0]["key"], "k");
    assert_eq!(patched.json["public"], false);
    let bad = api
        .send(
            api.request(reqwest::Method::PATCH, &format!("/videos/{id}"))
                .body(r#"{"tags":"nope"}"#),
        )
        .await;
    bad.assert_problem(400, "invalid-attribute", Some("tags"));
    let url = api.get(&format!("/videos/{id}")).await.json["assets"]["mp4"]
        .as_str()
        .expect("mp4")
        .to_owned();
    assert_eq!(api.delete(&format!("/videos/{id}")).await.status, 204);
    api.get(&format!("/videos/{id}")).await.assert_problem(
        404,
        "resource-not-found",
        Some("videoId"),
    );
    let gone = api.http.get(&url).send().await.expect("answered");
    assert!(
        gone.status().is_client_error(),
        "deleted file is not downloadable"
    );
}

#[tokio::test]
async fn uploads_on_the_embedded_store_are_byte_identical() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(options(dir.path(), StoreKind::Embedded, None)).await;
    let api = Api::new(&server);
    scenarios(&api).await;
    videos_api(&api).await;
    server.stop().await.expect("server stops");
}

#[tokio::test]
async fn uploads_on_dynamodb_and_s3_are_byte_identical() {
    if test_gate::require_moto("uploads_on_dynamodb_and_s3_are_byte_identical").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(options(
        dir.path(),
        StoreKind::Aws,
        Some(support::table_name("up")),
    ))
    .await;
    let api = Api::new(&server);
    scenarios(&api).await;
    videos_api(&api).await;
    server.stop().await.expect("server stops");
}

/// The deployed form: API Gateway (emulated), the upload and video functions, DynamoDB and S3.
#[tokio::test]
async fn uploads_behind_api_gateway_are_byte_identical() {
    let Some(deployment) =
        Deployment::gateway("uploads_behind_api_gateway_are_byte_identical").await
    else {
        return;
    };
    let api = Api::new(&deployment);
    scenarios(&api).await;
    videos_api(&api).await;
    // A 5 MiB chunk makes a ~7 MB event: API Gateway refuses it before any function runs (the
    // local server's --lambda-limits answers a problem+json 413 instead).
    let up = Uploader::new(&api).await;
    up.chunk(&data(5 * MIB, 15), Some("part 1/*"), None)
        .await
        .assert_gateway(413, "Request Entity Too Large");
    deployment.stop().await;
}

#[tokio::test]
async fn a_token_that_expires_mid_upload_refuses_the_next_chunk_and_keeps_the_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(options(dir.path(), StoreKind::Embedded, None)).await;
    let api = Api::new(&server);
    let token = api.create("{\"ttl\":2}").await.json["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let up = Uploader { api: &api, token };
    let id = video_id(&up.chunk(&data(10, 13), Some("bytes 0-9/20"), None).await);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    up.chunk(&data(10, 14), Some("bytes 10-19/20"), Some(&id))
        .await
        .assert_problem(401, "authentication-invalid-upload-token", None);
    let st = status(&api, &id).await;
    assert_eq!(st["ingest"]["status"], "uploading");
    assert_eq!(st["ingest"]["receivedBytes"][0]["to"], 9);
    server.stop().await.expect("server stops");
}

/// Browsers' CORS: the preflight of `/upload` and the allowed origin on its answers. Locally
/// the upload handler answers both; behind API Gateway the gateway does, from the template's
/// CorsConfiguration (the function's own headers are replaced), and only for requests that
/// carry an `Origin`, as browsers' do.
async fn cors_on_upload(api: &Api) {
    let pre = api
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/upload", api.base))
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .expect("answered");
    assert!(pre.status().is_success());
    let h = pre.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap_or("")
            .contains("POST")
    );
    assert!(
        h["access-control-allow-headers"]
            .to_str()
            .unwrap_or("")
            .contains("content-range")
    );
    let up = Uploader::new(api).await;
    let response = api
        .http
        .post(format!("{}/upload?token={}", api.base, up.token))
        .header("Origin", "https://app.example")
        .multipart(Form::new().part("file", Part::bytes(vec![1, 2, 3]).file_name("a")))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn cors_preflight_and_headers_on_upload() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(options(dir.path(), StoreKind::Embedded, None)).await;
    cors_on_upload(&Api::new(&server)).await;
    server.stop().await.expect("server stops");
}

#[tokio::test]
async fn cors_on_upload_behind_api_gateway() {
    if let Some(deployment) = Deployment::gateway("cors_on_upload_behind_api_gateway").await {
        cors_on_upload(&Api::new(&deployment)).await;
        deployment.stop().await;
    }
}

#[tokio::test]
async fn lambda_limits_refuse_what_api_gateway_would() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut opts = options(dir.path(), StoreKind::Embedded, None);
    opts.lambda_limits = true;
    let server = start(opts).await;
    let api = Api::new(&server);
    let up = Uploader::new(&api).await;
    let too_big = up.chunk(&data(5 * MIB, 12), Some("part 1/*"), None).await;
    too_big.assert_problem(413, "payload-too-large", None);
    let fits = up.chunk(&data(4 * MIB, 12), Some("part 1/*"), None).await;
    video_id(&fits);
    server.stop().await.expect("server stops");
}
