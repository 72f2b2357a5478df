//! The `/demo` page in headless Chromium over HTTPS: the official `@api.video/video-uploader`
//! uploads a generated 12 MiB file in 5 MiB chunks, then again progressively; the stored bytes
//! must be the file's (read from the store and downloaded through the page's link). Screenshots
//! of the finished page are kept in `target/browser-demo/`.

mod support;

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use support::{options, start, workspace};
use upload_tokens_core::store::blob_files::FileBlobStore;

const CHROMIUM: &str = "/usr/bin/chromium";

/// What the script reports.
#[derive(Debug)]
struct Uploaded {
    video_id: String,
    sha256: String,
    bytes: u64,
    intermediate: u64,
    console_errors: usize,
}

fn drive_page(
    base: &str,
    cert: &Path,
    token: &str,
    file: &Path,
    mode: &str,
    shot: &Path,
) -> Uploaded {
    let clients = workspace().join("tests/clients");
    let output = tokio::task::block_in_place(|| {
        Command::new("node")
            .arg(clients.join("browser_demo.mjs"))
            .args([base, token])
            .arg(file)
            .args([mode, "5"])
            .arg(shot)
            .env("NODE_EXTRA_CA_CERTS", cert)
            .env("CHROMIUM", CHROMIUM)
            .current_dir(&clients)
            .output()
            .expect("node runs")
    });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser_demo.mjs {mode} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let line = stdout.lines().last().unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(line).expect("a JSON result line");
    println!("{mode}: {line}");
    Uploaded {
        video_id: v["videoId"].as_str().expect("videoId").to_owned(),
        sha256: v["sha256"].as_str().unwrap_or_default().to_owned(),
        bytes: v["bytes"].as_u64().expect("bytes"),
        intermediate: v["intermediate"].as_u64().expect("intermediate"),
        console_errors: v["consoleErrors"].as_array().map_or(0, Vec::len),
    }
}

fn twelve_mib(dir: &Path) -> (PathBuf, Vec<u8>) {
    let mut x: u32 = 12_345;
    let bytes: Vec<u8> = (0..12 * 1024 * 1024 + 777)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect();
    let path = dir.join("clip.mp4");
    std::fs::write(&path, &bytes).expect("file written");
    (path, bytes)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_page_uploads_with_the_official_uploader_in_chromium_over_https() {
    let playwright = workspace().join("tests/clients/node_modules/playwright-core");
    if !test_gate::require_tool("browser demo", Path::new(CHROMIUM))
        || !test_gate::require_tool("browser demo", &playwright)
    {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut opts = options(dir.path(), local_api::StoreKind::Embedded, None);
    opts.tls = true;
    let server = start(opts).await;
    assert!(server.url().starts_with("https://"));
    let cert = server.certificate.clone().expect("a certificate");
    let (file, bytes) = twelve_mib(dir.path());
    let expected = hex(&Sha256::digest(&bytes));
    let shots = workspace().join("target/browser-demo");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let blobs = FileBlobStore::new(dir.path().join("blobs")).expect("blob dir");

    // A token is created on the backend (here: by the test, with the API key) and handed over.
    let token = https_create_token(&server, &cert);
    for mode in ["chunked", "progressive"] {
        let shot = shots.join(format!("demo-{mode}.png"));
        let _ = std::fs::remove_file(&shot);
        let up = drive_page(&server.url(), &cert, &token, &file, mode, &shot);
        assert_eq!(up.bytes, bytes.len() as u64, "{mode}: downloaded size");
        assert_eq!(up.sha256, expected, "{mode}: downloaded bytes");
        let stored = std::fs::read(blobs.path(&format!("videos/{}/source", up.video_id)))
            .expect("the stored file");
        assert_eq!(
            hex(&Sha256::digest(&stored)),
            expected,
            "{mode}: stored bytes"
        );
        assert!(up.intermediate > 0, "{mode}: the progress bar never moved");
        assert_eq!(up.console_errors, 0, "{mode}: errors in the page's console");
        assert!(
            std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0) > 10_000,
            "{mode}: screenshot kept at {}",
            shot.display()
        );
    }
    // Uppy's mode: straight to the store, the 12 MiB file as one POST form to the server's own
    // signed URL; reading the video (with the API key, as a backend would) checks and completes
    // it.
    let shot = shots.join("demo-uppy.png");
    let up = drive_page(&server.url(), &cert, &token, &file, "uppy", &shot);
    assert_eq!(up.console_errors, 0, "uppy: errors in the page's console");
    assert!(up.intermediate > 0, "uppy: the progress bar never moved");
    let video = https_get(&server, &cert, &format!("/videos/{}", up.video_id));
    assert_eq!(video["title"], "clip.mp4", "{video}");
    let stored = std::fs::read(blobs.path(&format!("videos/{}/source", up.video_id)))
        .expect("the stored file");
    assert_eq!(
        hex(&Sha256::digest(&stored)),
        expected,
        "uppy: stored bytes"
    );
    server.stop().await.expect("server stops");
}

/// `GET <path>` over HTTPS with curl and the API key; the JSON answer.
fn https_get(server: &local_api::Server, cert: &Path, path: &str) -> serde_json::Value {
    let output = Command::new("curl")
        .args(["-sS", "--fail-with-body", "--cacert"])
        .arg(cert)
        .args(["-u", &format!("{}:", server.project.api_key.expose())])
        .arg(format!("{}{path}", server.url()))
        .output()
        .expect("curl runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

/// A token whose `allowedOrigins` leaves out the page: the upload is refused in the browser
/// (Chromium sends the page's `Origin` with the uploader's POST), and the page shows why; a
/// token that names the page's origin uploads.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_whose_allowed_origins_exclude_the_page_is_refused_in_the_browser() {
    let playwright = workspace().join("tests/clients/node_modules/playwright-core");
    if !test_gate::require_tool("browser origins", Path::new(CHROMIUM))
        || !test_gate::require_tool("browser origins", &playwright)
    {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut opts = options(dir.path(), local_api::StoreKind::Embedded, None);
    opts.tls = true;
    let server = start(opts).await;
    let cert = server.certificate.clone().expect("a certificate");
    let file = dir.path().join("small.mp4");
    std::fs::write(&file, vec![3u8; 100_000]).expect("file");
    let shots = workspace().join("target/browser-demo");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let elsewhere = https_create_token_with(
        &server,
        &cert,
        r#"{"ttl":3600,"allowedOrigins":["https://elsewhere.example"]}"#,
    );
    let refused = drive_page_expecting_refusal(
        &server.url(),
        &cert,
        &elsewhere,
        &file,
        &shots.join("demo-origin-refused.png"),
    );
    assert!(
        refused.contains("origin"),
        "the page says why it was refused: {refused}"
    );
    let here = https_create_token_with(
        &server,
        &cert,
        &serde_json::json!({"ttl": 3600, "allowedOrigins": [server.url()]}).to_string(),
    );
    let up = drive_page(
        &server.url(),
        &cert,
        &here,
        &file,
        "chunked",
        &shots.join("demo-origin-allowed.png"),
    );
    assert_eq!(up.bytes, 100_000);
    server.stop().await.expect("server stops");
}

fn drive_page_expecting_refusal(
    base: &str,
    cert: &Path,
    token: &str,
    file: &Path,
    shot: &Path,
) -> String {
    let clients = workspace().join("tests/clients");
    let output = tokio::task::block_in_place(|| {
        Command::new("node")
            .arg(clients.join("browser_demo.mjs"))
            .args([base, token])
            .arg(file)
            .args(["chunked", "5"])
            .arg(shot)
            .arg("expect-refusal")
            .env("NODE_EXTRA_CA_CERTS", cert)
            .env("CHROMIUM", CHROMIUM)
            .current_dir(&clients)
            .output()
            .expect("node runs")
    });
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "browser_demo.mjs refusal failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("a JSON line");
    v["refused"].as_str().expect("refused").to_owned()
}

/// `POST /upload-tokens` over HTTPS with curl (the tests' reqwest is built without TLS),
/// trusting the generated certificate: proves the certificate is valid for 127.0.0.1.
fn https_create_token(server: &local_api::Server, cert: &Path) -> String {
    https_create_token_with(server, cert, r#"{"ttl":3600}"#)
}

fn https_create_token_with(server: &local_api::Server, cert: &Path, body: &str) -> String {
    let output = Command::new("curl")
        .args(["-sS", "--fail-with-body", "--cacert"])
        .arg(cert)
        .args(["-u", &format!("{}:", server.project.api_key.expose())])
        .args(["-H", "Content-Type: application/json", "-d", body])
        .arg(format!("{}/upload-tokens", server.url()))
        .output()
        .expect("curl runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    v["token"].as_str().expect("token").to_owned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_vendored_uppy_bundle_is_built_from_the_npm_packages() {
    let clients = workspace().join("tests/clients");
    let npm = clients.join("node_modules/@uppy/aws-s3/package.json");
    if !test_gate::require_tool("vendored Uppy", &npm) {
        return;
    }
    for package in ["@uppy/core", "@uppy/aws-s3"] {
        let manifest: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(clients.join(format!("node_modules/{package}/package.json")))
                .expect("package.json"),
        )
        .expect("JSON");
        assert_eq!(manifest["version"], local_api::UPPY_VERSION, "{package}");
    }
    let output = Command::new("node")
        .args(["build_demo_uppy.mjs", "--print"])
        .current_dir(&clients)
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout) == local_api::UPPY_JS,
        "functions/local-api/assets/vendor/uppy-6.3.1.js is not what build_demo_uppy.mjs builds: \
         run `node tests/clients/build_demo_uppy.mjs functions/local-api/assets/vendor/uppy-6.3.1.js`"
    );
}

#[test]
fn the_vendored_uploader_is_the_npm_package_byte_for_byte() {
    let npm =
        workspace().join("tests/clients/node_modules/@api.video/video-uploader/dist/index.js");
    if !test_gate::require_tool("vendored uploader", &npm) {
        return;
    }
    let package: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            workspace().join("tests/clients/node_modules/@api.video/video-uploader/package.json"),
        )
        .expect("package.json"),
    )
    .expect("JSON");
    assert_eq!(package["version"], local_api::VIDEO_UPLOADER_VERSION);
    assert_eq!(
        std::fs::read_to_string(&npm).expect("npm dist"),
        local_api::VIDEO_UPLOADER_JS
    );
}
