//! Uploading over HTTP as the official clients do, and checking what was stored.

use super::{Api, Reply};
use reqwest::multipart::{Form, Part};
use sha2::{Digest, Sha256};

pub const MIB: usize = 1024 * 1024;

/// Deterministic bytes that are not all alike, so misplaced chunks show.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u8
        })
        .collect()
}

pub fn sha(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// `bytes <from>-<to>/<total>` for `len` bytes at `from`.
pub fn byte_range(from: usize, len: usize, total: usize) -> String {
    format!("bytes {from}-{}/{total}", from + len - 1)
}

/// Writes `len` pseudo-random bytes (`data(len, seed)`) to `path`; their sha256.
pub fn write_file(path: &std::path::Path, len: usize, seed: u64) -> String {
    let bytes = data(len, seed);
    std::fs::write(path, &bytes).expect("file written");
    sha(&bytes)
}

/// Creates an upload token valid for an hour.
pub async fn token(api: &Api) -> String {
    let reply = api.create("{\"ttl\":3600}").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json["token"].as_str().expect("token").to_owned()
}

/// The multipart request of one chunk, not yet sent.
pub fn chunk_request(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    bytes: &[u8],
    range: Option<&str>,
    video_id: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut form = Form::new();
    if let Some(id) = video_id {
        form = form.text("videoId", id.to_owned());
    }
    form = form.part("file", Part::bytes(bytes.to_vec()).file_name("clip.mp4"));
    let mut request = http
        .post(format!("{base}/upload?token={token}"))
        .multipart(form);
    if let Some(range) = range {
        request = request.header("Content-Range", range);
    }
    request
}

/// Sends one chunk and reads the whole answer.
pub async fn chunk(
    api: &Api,
    token: &str,
    bytes: &[u8],
    range: Option<&str>,
    video_id: Option<&str>,
) -> Reply {
    api.send(chunk_request(
        &api.http, &api.base, token, bytes, range, video_id,
    ))
    .await
}

/// The `videoId` of a 201 answer (panics with the answer otherwise).
pub fn video_id(reply: &Reply) -> String {
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.json["videoId"].as_str().expect("videoId").to_owned()
}

/// Whether a problem answer carries `slug`.
pub fn is_problem(reply: &Reply, status: u16, slug: &str) -> bool {
    reply.status == status
        && reply.json["type"]
            .as_str()
            .is_some_and(|t| t.ends_with(&format!("/{slug}")))
}

/// Downloads the completed video's file through `assets.mp4`.
pub async fn download(api: &Api, id: &str) -> Vec<u8> {
    let video = api.get(&format!("/videos/{id}")).await;
    assert_eq!(video.status, 200, "{}", video.text);
    let url = video.json["assets"]["mp4"]
        .as_str()
        .unwrap_or_else(|| panic!("no assets.mp4 (upload not complete?) in {}", video.text))
        .to_owned();
    let response = api.http.get(&url).send().await.expect("download answers");
    assert_eq!(response.status(), 200, "download of {url}");
    response.bytes().await.expect("download body").to_vec()
}

/// The video's upload status (`ingest`).
pub async fn ingest(api: &Api, id: &str) -> serde_json::Value {
    let reply = api.get(&format!("/videos/{id}/status")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json["ingest"].clone()
}

/// The reply to a request, or a `Reply` of status 0 saying why there was none (a reset, a
/// timeout): what a retrying client sees.
pub async fn reply_or_no_answer(response: reqwest::Result<reqwest::Response>) -> Reply {
    match response {
        Ok(r) => {
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
            Reply {
                status,
                content_type: None,
                text,
                json,
            }
        }
        Err(e) => Reply {
            status: 0,
            content_type: None,
            text: format!("no answer: {e}"),
            json: serde_json::Value::Null,
        },
    }
}

/// Downloads the completed video's file through `assets.mp4` and returns its sha256.
pub async fn stored_sha(api: &Api, id: &str) -> String {
    let video = api.get(&format!("/videos/{id}")).await;
    assert_eq!(video.status, 200, "{}", video.text);
    let url = video.json["assets"]["mp4"]
        .as_str()
        .unwrap_or_else(|| panic!("no assets.mp4 in {}", video.text));
    let response = api.http.get(url).send().await.expect("download answers");
    assert_eq!(response.status(), 200, "download of {url}");
    sha(&response.bytes().await.expect("download body"))
}
