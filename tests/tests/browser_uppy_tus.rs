//! The real Uppy Tus plugin (`@uppy/core` 6.3.1 + `@uppy/tus` 6.0.0 from npm, bundled by
//! esbuild) in headless Chromium uploads to an upload token's tus endpoint (SPEC §10) from a
//! page on another origin: a 20 MiB file in 4 MiB PATCHes and a small one in one PATCH, at the
//! same time. Each upload must be a POST and PATCHes at the offsets acknowledged, the stored
//! bytes each file's, the title each file's name. On the local server (embedded store, and
//! DynamoDB + S3 on moto) and behind the API Gateway emulator (its preflights, the functions'
//! answers, 4 MiB PATCHes within a Lambda request).

mod support;

use local_api::StoreKind;
use serde_json::{Value, json};
use std::path::Path;
use support::upload::{MIB, stored_sha, write_file};
use support::{Api, Deployment, options, workspace};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHUNK: usize = 4 * MIB;

async fn uppy_tus_uploads(deployment: Deployment, on_moto: bool, label: &str) {
    let clients = workspace().join("tests/clients");
    if !test_gate::require_tool(label, Path::new(CHROMIUM))
        || !test_gate::require_tool(label, &clients.join("node_modules/@uppy/tus"))
    {
        return;
    }
    let api = Api::new(&deployment);
    let token = support::upload::token(&api).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let big = dir.path().join("tus big clip.mp4");
    let small = dir.path().join("small.mp4");
    let files = [
        (
            "tus big clip.mp4",
            20 * MIB + 77,
            write_file(&big, 20 * MIB + 77, 51),
        ),
        ("small.mp4", 300 * 1024, write_file(&small, 300 * 1024, 52)),
    ];
    let files_len: usize = files.iter().map(|(_, len, _)| len).sum();
    let (url, chunk) = (deployment.url(), CHUNK.to_string());
    let report: Value = support::node_report(
        "browser_uppy_tus.mjs",
        &[
            url.as_ref(),
            token.as_ref(),
            chunk.as_ref(),
            big.as_ref(),
            small.as_ref(),
        ],
        CHROMIUM,
        label,
    );
    let line = report.to_string();
    let uploaded = report["files"].as_array().expect("files");
    assert_eq!(uploaded.len(), 2, "{line}");
    let requests = report["requests"].as_array().expect("requests");
    let prefix = format!("{}/upload/{token}/tus/", api.base);
    let mut creations = 0;
    for (name, len, digest) in files {
        let upload = uploaded
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("no upload of {name}: {line}"));
        assert_eq!(upload["size"], len, "{name}: {line}");
        let url = upload["uploadURL"].as_str().expect("uploadURL");
        let id = url
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{name}: upload URL {url}, want {prefix}…"));
        // This upload's PATCHes, in order: one per chunk, each at the offset acknowledged.
        let path = format!("/{id}");
        let patches: Vec<Value> = requests
            .iter()
            .filter(|r| r["path"] == path.as_str())
            .map(|r| json!([r["method"], r["offset"], r["status"], r["responseOffset"]]))
            .collect();
        let expected: Vec<Value> = (0..len)
            .step_by(CHUNK)
            .map(|o| json!(["PATCH", o, 204, (o + CHUNK).min(len)]))
            .collect();
        assert_eq!(patches, expected, "{name}: {line}");
        creations += requests
            .iter()
            .filter(|r| r["method"] == "POST" && r["path"] == "" && r["length"] == len)
            .inspect(|r| assert_eq!(r["status"], 201, "{name}: {line}"))
            .count();
        let video = api.get(&format!("/videos/{id}")).await;
        assert_eq!(video.json["title"], name, "{}", video.text);
        assert_eq!(stored_sha(&api, id).await, digest, "{name} ({label})");
    }
    assert_eq!(creations, 2, "one creation per file: {line}");
    // The token's usage counts both. Not on moto: its DynamoDB applies concurrent writes of one
    // item without isolation (an update reads the item, then writes it, unlocked; a cancelled
    // transaction restores a copy of the whole table), so two uploads of one token at the same
    // time can lose an increment there, which DynamoDB itself serialises. The tus-js-client
    // suite checks these counters on moto with one upload at a time.
    if !on_moto {
        let usage = api.get(&format!("/upload-tokens/{token}")).await;
        assert_eq!(usage.json["uploads"], 2, "{}", usage.text);
        assert_eq!(usage.json["completedUploads"], 2, "{}", usage.text);
        assert_eq!(usage.json["bytesReceived"], files_len, "{}", usage.text);
    }
    deployment.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn uppy_tus_uploads_to_the_embedded_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let deployment = Deployment::local(options(dir.path(), StoreKind::Embedded, None)).await;
    uppy_tus_uploads(deployment, false, "uppy tus on the embedded store").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn uppy_tus_uploads_to_s3() {
    if test_gate::require_moto("uppy_tus_uploads_to_s3").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let table = support::table_name("uppytus");
    let deployment = Deployment::local(options(dir.path(), StoreKind::Aws, Some(table))).await;
    uppy_tus_uploads(deployment, true, "uppy tus on S3 (moto)").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn uppy_tus_uploads_behind_api_gateway() {
    let test = "uppy_tus_uploads_behind_api_gateway";
    // The emulator needs every function of template.yaml, the tus ones included.
    if !test_gate::require_tool(test, &support::lambda_bin_dir().join("tus-patch")) {
        return;
    }
    if let Some(deployment) = Deployment::gateway(test).await {
        uppy_tus_uploads(deployment, true, "uppy tus behind API Gateway").await;
    }
}
