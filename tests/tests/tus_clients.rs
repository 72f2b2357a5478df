//! The real tus-js-client (npm 4.3.1, unchanged, under Node) on an upload token's tus endpoint
//! (SPEC §10), against the local server on the embedded store and on DynamoDB + S3 (moto), and
//! behind the API Gateway emulator. `tests/clients/node_tus.mjs` runs one upload and reports
//! every request it sent and every answer; this checks them exactly, then what was stored:
//! - a 64 MiB file in 4 MiB PATCHes, aborted in the middle of a PATCH, resumed by a new
//!   `tus.Upload` in a new process given the upload's URL: it asks (HEAD) and goes on from the
//!   last acknowledged offset; the stored file is the file, byte for byte;
//! - creation with data and `X-HTTP-Method-Override: PATCH`: the metadata's `filename` becomes
//!   the video's title;
//! - the token deleted between two chunks: the next PATCH is refused with 401, and the video
//!   holds only the acknowledged chunk;
//! - a token with `maxFileBytes` refuses a larger `Upload-Length` at creation with 413, and no
//!   video is made.

mod support;

use local_api::StoreKind;
use serde_json::{Value, json};
use support::upload::{MIB, ingest, stored_sha, token, write_file};
use support::{Api, Deployment, options, workspace};

const CHUNK: usize = 4 * MIB;

/// Whether tus-js-client is installed (in CI a missing one fails).
fn clients_installed(label: &str) -> bool {
    let clients = workspace().join("tests/clients");
    test_gate::require_tool(label, &clients.join("node_modules/tus-js-client"))
}

/// Runs one upload of node_tus.mjs with `config`; its report.
fn tus_js(config: &Value, label: &str) -> Value {
    let config = config.to_string();
    support::node_report("node_tus.mjs", &[config.as_ref()], "", label)
}

/// The requests of a report as (method, X-HTTP-Method-Override, Upload-Offset, status), the
/// status null for a request that got no answer.
fn requests(report: &Value) -> Vec<(String, Value, Value, Value)> {
    report["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| {
            (
                r["method"].as_str().expect("method").to_owned(),
                r["override"].clone(),
                r["offset"].clone(),
                r["status"].clone(),
            )
        })
        .collect()
}

fn patch_at(offset: usize, status: Option<u16>) -> (String, Value, Value, Value) {
    ("PATCH".into(), Value::Null, json!(offset), json!(status))
}

/// Every answer says `Tus-Resumable: 1.0.0`, refusals included.
fn assert_tus_resumable(report: &Value) {
    for r in report["requests"].as_array().expect("requests") {
        if !r["status"].is_null() {
            assert_eq!(r["tusResumable"], "1.0.0", "{r}");
        }
    }
}

/// The upload's video id, from its URL; checks the URL and the creation's `Location`: absolute
/// on the local server, the path behind API Gateway (tus-js-client resolves it).
fn video_id(api: &Api, token: &str, report: &Value) -> String {
    let url = report["url"].as_str().expect("an upload URL");
    let prefix = format!("{}/upload/{token}/tus/", api.base);
    let id = url
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("upload URL {url}, want {prefix}…"));
    assert!(!id.is_empty() && !id.contains('/'), "{url}");
    let creation = &report["requests"][0];
    assert_eq!(creation["method"], "POST", "{report}");
    let location = if api.behind_gateway {
        format!("/upload/{token}/tus/{id}")
    } else {
        url.to_owned()
    };
    assert_eq!(creation["location"], location.as_str(), "{report}");
    id.to_owned()
}

/// `receivedBytes` of the video's status: the one range `0..len`.
async fn assert_received(api: &Api, id: &str, len: usize, total: usize, status: &str) {
    let ingest = ingest(api, id).await;
    assert_eq!(ingest["status"], status, "{ingest}");
    assert_eq!(
        ingest["receivedBytes"],
        json!([{ "from": 0, "to": len - 1, "total": total }]),
        "{ingest}"
    );
}

/// (a) 64 MiB in 4 MiB chunks, aborted mid-PATCH past 24 MiB, resumed by a new upload.
async fn resumes_after_an_abort(deployment: &Deployment, label: &str) {
    let api = Api::new(deployment);
    let token = token(&api).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("big.mp4");
    let total = 64 * MIB;
    let digest = write_file(&file, total, 41);
    let base = deployment.url();
    let common = json!({
        "base": base, "token": token, "file": file, "source": "path", "chunkSize": CHUNK,
    });
    let with = |extra: Value| {
        let mut config = common.clone();
        if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
            config.extend(extra.clone());
        }
        config
    };
    let acknowledged = 24 * MIB;
    let first = tus_js(
        &with(json!({
            "metadata": { "filename": "big.mp4", "filetype": "video/mp4" },
            "abortAbove": acknowledged,
        })),
        &format!("{label}, aborted"),
    );
    assert_eq!(first["outcome"], "aborted", "{first}");
    let id = video_id(&api, &token, &first);
    assert_eq!(first["requests"][0]["length"], total, "{first}");
    // POST, the PATCHes acknowledged up to 24 MiB, and the one aborted while sending.
    let mut expected = vec![("POST".into(), Value::Null, Value::Null, json!(201))];
    expected.extend(
        (0..acknowledged)
            .step_by(CHUNK)
            .map(|o| patch_at(o, Some(204))),
    );
    expected.push(patch_at(acknowledged, None));
    assert_eq!(requests(&first), expected, "{first}");
    let acks: Vec<usize> = (1..=acknowledged / CHUNK).map(|k| k * CHUNK).collect();
    assert_eq!(first["acknowledged"], json!(acks), "{first}");
    assert!(
        first["progressMax"].as_u64().expect("progress") > acknowledged as u64,
        "the abort came mid-PATCH: {first}"
    );
    assert_tus_resumable(&first);
    // What the server holds: the acknowledged bytes, none of the aborted PATCH.
    assert_received(&api, &id, acknowledged, total, "uploading").await;

    let url = first["url"].clone();
    let second = tus_js(
        &with(json!({ "uploadUrl": url })),
        &format!("{label}, resumed"),
    );
    assert_eq!(second["outcome"], "success", "{second}");
    assert_eq!(second["url"], url, "{second}");
    let head = &second["requests"][0];
    assert_eq!(head["method"], "HEAD", "{second}");
    assert_eq!(head["status"], 200, "{second}");
    assert_eq!(head["responseOffset"], acknowledged, "{second}");
    assert_eq!(head["responseLength"], total, "{second}");
    let mut expected = vec![("HEAD".into(), Value::Null, Value::Null, json!(200))];
    expected.extend(
        (acknowledged..total)
            .step_by(CHUNK)
            .map(|o| patch_at(o, Some(204))),
    );
    assert_eq!(requests(&second), expected, "{second}");
    let acks: Vec<usize> = (acknowledged / CHUNK + 1..=total / CHUNK)
        .map(|k| k * CHUNK)
        .collect();
    assert_eq!(second["acknowledged"], json!(acks), "{second}");
    assert_tus_resumable(&second);

    assert_eq!(stored_sha(&api, &id).await, digest, "{label}");
    assert_received(&api, &id, total, total, "uploaded").await;
    let video = api.get(&format!("/videos/{id}")).await;
    assert_eq!(video.json["title"], "big.mp4", "{}", video.text);
    let usage = api.get(&format!("/upload-tokens/{token}")).await;
    assert_eq!(usage.json["uploads"], 1, "{}", usage.text);
    assert_eq!(usage.json["completedUploads"], 1, "{}", usage.text);
}

/// (b) Creation with data, PATCH as POST with `X-HTTP-Method-Override`, a Buffer source: the
/// metadata's `filename` is the title.
async fn takes_the_title_from_the_metadata(deployment: &Deployment, label: &str) {
    let api = Api::new(deployment);
    let token = token(&api).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("upload.bin");
    let total = 2 * CHUNK + 12_345;
    let digest = write_file(&file, total, 42);
    let name = "Résumé clip #2.mp4";
    let report = tus_js(
        &json!({
            "base": deployment.url(), "token": token, "file": file, "source": "buffer",
            "chunkSize": CHUNK, "uploadDataDuringCreation": true, "overridePatchMethod": true,
            "metadata": { "filename": name, "filetype": "video/mp4" },
        }),
        &format!("{label}, title"),
    );
    assert_eq!(report["outcome"], "success", "{report}");
    let id = video_id(&api, &token, &report);
    let over = |offset: usize| ("POST".into(), json!("PATCH"), json!(offset), json!(204));
    assert_eq!(
        requests(&report),
        vec![
            ("POST".into(), Value::Null, Value::Null, json!(201)),
            over(CHUNK),
            over(2 * CHUNK),
        ],
        "{report}"
    );
    assert_eq!(report["requests"][0]["responseOffset"], CHUNK, "{report}");
    assert_eq!(
        report["acknowledged"],
        json!([CHUNK, 2 * CHUNK, total]),
        "{report}"
    );
    assert_tus_resumable(&report);
    let video = api.get(&format!("/videos/{id}")).await;
    assert_eq!(video.json["title"], name, "{}", video.text);
    assert_eq!(stored_sha(&api, &id).await, digest, "{label}");
}

/// (c) The token deleted after the first chunk: the next PATCH gets 401, nothing more is stored.
async fn stops_when_the_token_is_deleted(deployment: &Deployment, label: &str) {
    let api = Api::new(deployment);
    let token = token(&api).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("revoked.mp4");
    let total = 3 * CHUNK;
    write_file(&file, total, 43);
    let report = tus_js(
        &json!({
            "base": deployment.url(), "token": token, "file": file, "source": "path",
            "chunkSize": CHUNK, "deleteTokenAfter": 1, "apiKey": deployment.api_key(),
            "metadata": { "filename": "revoked.mp4" },
        }),
        &format!("{label}, token deleted"),
    );
    assert_eq!(report["outcome"], "error", "{report}");
    assert_eq!(report["status"], 401, "{report}");
    assert_eq!(
        report["deletion"],
        json!({ "status": 204, "beforeOffset": CHUNK }),
        "{report}"
    );
    let id = video_id(&api, &token, &report);
    assert_eq!(
        requests(&report),
        vec![
            ("POST".into(), Value::Null, Value::Null, json!(201)),
            patch_at(0, Some(204)),
            patch_at(CHUNK, Some(401)),
        ],
        "{report}"
    );
    assert_eq!(report["acknowledged"], json!([CHUNK]), "{report}");
    assert_tus_resumable(&report);
    assert_received(&api, &id, CHUNK, total, "uploading").await;
    let video = api.get(&format!("/videos/{id}")).await;
    assert_eq!(video.status, 200, "{}", video.text);
    assert!(video.json["assets"]["mp4"].is_null(), "{}", video.text);
    // Asking where the upload stands is refused the same way.
    let url = report["url"].as_str().expect("url");
    let head = api
        .http
        .head(url)
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .expect("HEAD answered");
    assert_eq!(head.status(), 401, "HEAD {url}");
    api.get(&format!("/upload-tokens/{token}"))
        .await
        .assert_problem(404, "resource-not-found", Some("uploadToken"));
}

/// (d) `maxFileBytes` 1 MiB: a 2 MiB upload is refused at creation with 413; no video.
async fn refuses_a_file_over_max_file_bytes(deployment: &Deployment, label: &str) {
    let api = Api::new(deployment);
    let created = api.create("{\"ttl\":3600,\"maxFileBytes\":1048576}").await;
    assert_eq!(created.status, 200, "{}", created.text);
    let token = created.json["token"].as_str().expect("token").to_owned();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("large.mp4");
    write_file(&file, 2 * MIB, 44);
    let report = tus_js(
        &json!({
            "base": deployment.url(), "token": token, "file": file, "source": "path",
            "chunkSize": CHUNK, "metadata": { "filename": "large.mp4" },
        }),
        &format!("{label}, too large"),
    );
    assert_eq!(report["outcome"], "error", "{report}");
    assert_eq!(report["status"], 413, "{report}");
    assert_eq!(report["url"], Value::Null, "{report}");
    assert_eq!(
        requests(&report),
        vec![("POST".into(), Value::Null, Value::Null, json!(413))],
        "{report}"
    );
    assert_eq!(report["requests"][0]["length"], 2 * MIB, "{report}");
    assert_eq!(report["requests"][0]["location"], Value::Null, "{report}");
    assert_eq!(report["acknowledged"], json!([]), "{report}");
    assert_tus_resumable(&report);
    let usage = api.get(&format!("/upload-tokens/{token}")).await;
    assert_eq!(usage.status, 200, "{}", usage.text);
    // Usage keys are shown once set (SPEC §7): no video was started, no byte received.
    for key in ["uploads", "bytesReceived"] {
        let value = &usage.json[key];
        assert!(value.is_null() || *value == 0, "{key}: {}", usage.text);
    }
    // What the server advertises for this token.
    let options = api
        .http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/upload/{token}/tus", api.base),
        )
        .send()
        .await
        .expect("OPTIONS answered");
    assert_eq!(
        options
            .headers()
            .get("tus-max-size")
            .and_then(|v| v.to_str().ok()),
        Some("1048576"),
        "{:?}",
        options.headers()
    );
}

async fn every_case(deployment: Deployment, label: &str) {
    if !clients_installed(label) {
        return;
    }
    resumes_after_an_abort(&deployment, label).await;
    takes_the_title_from_the_metadata(&deployment, label).await;
    stops_when_the_token_is_deleted(&deployment, label).await;
    refuses_a_file_over_max_file_bytes(&deployment, label).await;
    deployment.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tus_js_client_on_the_embedded_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let deployment = Deployment::local(options(dir.path(), StoreKind::Embedded, None)).await;
    every_case(deployment, "tus-js-client on the embedded store").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tus_js_client_on_dynamodb_and_s3() {
    if test_gate::require_moto("tus_js_client_on_dynamodb_and_s3").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let table = support::table_name("tusjs");
    let deployment = Deployment::local(options(dir.path(), StoreKind::Aws, Some(table))).await;
    every_case(deployment, "tus-js-client on DynamoDB and S3 (moto)").await;
}

/// The deployed form: API Gateway's limits (4 MiB PATCHes fit a Lambda request, ≈ 5.6 MB of
/// base64 in 6 MB of event) and its relative `Location`, which tus-js-client resolves.
#[tokio::test(flavor = "multi_thread")]
async fn tus_js_client_behind_api_gateway() {
    let test = "tus_js_client_behind_api_gateway";
    // The emulator needs every function of template.yaml, the tus ones included.
    if !test_gate::require_tool(test, &support::lambda_bin_dir().join("tus-patch")) {
        return;
    }
    if let Some(deployment) = Deployment::gateway(test).await {
        every_case(deployment, "tus-js-client behind API Gateway").await;
    }
}
