//! The real Uppy (`@uppy/core` + `@uppy/aws-s3` 6.3.1 from npm, bundled by esbuild) in headless
//! Chromium uploads straight to the store on an upload token (SPEC §9): a 200 MiB file as a
//! multipart upload through presigned part URLs and a 3 MiB file as one POST form, from a page on
//! another origin. On the embedded store the URLs are the local server's own; on `--store aws`
//! they are S3's (moto). What `assets.mp4` then serves must be each file, byte for byte.

mod support;

use local_api::StoreKind;
use std::path::Path;
use support::upload::{MIB, stored_sha, write_file};
use support::{Api, Deployment, options, workspace};

const CHROMIUM: &str = "/usr/bin/chromium";

async fn uppy_uploads(deployment: Deployment, label: &str) {
    let clients = workspace().join("tests/clients");
    if !test_gate::require_tool(label, Path::new(CHROMIUM))
        || !test_gate::require_tool(label, &clients.join("node_modules/@uppy/aws-s3"))
    {
        return;
    }
    let api = Api::new(&deployment);
    let token = support::upload::token(&api).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let big = dir.path().join("big.mp4");
    let small = dir.path().join("small.mp4");
    let files = [
        ("big.mp4", write_file(&big, 200 * MIB + 123, 31), true),
        ("small.mp4", write_file(&small, 3 * MIB, 32), false),
    ];
    let url = deployment.url();
    let report = support::node_report(
        "browser_uppy.mjs",
        &[url.as_ref(), token.as_ref(), big.as_ref(), small.as_ref()],
        CHROMIUM,
        label,
    );
    let line = report.to_string();
    let started = report["started"].as_array().expect("started");
    assert_eq!(started.len(), 2, "{line}");
    for (name, digest, multipart) in files {
        let upload = started
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no upload of {name}: {line}"));
        assert_eq!(upload["multipart"], multipart, "{name}: {line}");
        let id = upload["videoId"].as_str().expect("videoId");
        let video = api.get(&format!("/videos/{id}")).await;
        assert_eq!(video.json["title"], name, "{}", video.text);
        assert_eq!(stored_sha(&api, id).await, digest, "{name} ({label})");
    }
    let usage = api.get(&format!("/upload-tokens/{token}")).await;
    assert_eq!(usage.json["completedUploads"], 2, "{}", usage.text);
    deployment.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn uppy_uploads_straight_to_the_embedded_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let deployment = Deployment::local(options(dir.path(), StoreKind::Embedded, None)).await;
    uppy_uploads(deployment, "uppy on the embedded store").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn uppy_uploads_straight_to_s3() {
    if test_gate::require_moto("uppy_uploads_straight_to_s3").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let table = support::table_name("uppy");
    let deployment = Deployment::local(options(dir.path(), StoreKind::Aws, Some(table))).await;
    uppy_uploads(deployment, "uppy on S3 (moto)").await;
}
