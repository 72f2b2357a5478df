//! The official api.video clients, unchanged, against the local server: PyPI `api.video` 1.4.7
//! (Bearer via /auth/api-key) and npm `@api.video/nodejs-client` 2.6.8 (Basic).

mod support;

use local_api::StoreKind;
use std::process::Command;
use support::{options, start, tool_available, workspace};

fn run(program: &std::path::Path, script: &str, server: &local_api::Server) {
    let clients = workspace().join("tests/clients");
    let output = Command::new(program)
        .arg(clients.join(script))
        .arg(server.url())
        .arg(server.project.api_key.expose())
        .current_dir(&clients)
        .output()
        .expect("client script runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    println!("{stdout}");
}

/// The venv's Python, if both official clients are installed (in CI, missing ones fail).
fn installed_clients() -> Option<std::path::PathBuf> {
    let python = workspace().join(".venv/bin/python");
    let node_modules = workspace().join("tests/clients/node_modules/@api.video/nodejs-client");
    (tool_available("python client", &python) && tool_available("node client", &node_modules))
        .then_some(python)
}

async fn clients_against(kind: StoreKind, table: Option<String>) {
    let Some(python) = installed_clients() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(options(dir.path(), kind, table)).await;
    let url_server = &server;
    // Both clients block on their own processes: run them off the async runtime.
    tokio::task::block_in_place(|| {
        run(&python, "python_tokens.py", url_server);
        run(std::path::Path::new("node"), "node_tokens.mjs", url_server);
    });
    server.stop().await.expect("server stops");
}

#[tokio::test(flavor = "multi_thread")]
async fn official_clients_work_against_the_embedded_store() {
    clients_against(StoreKind::Embedded, None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn official_clients_work_against_dynamodb() {
    if !support::moto_available("official_clients_work_against_dynamodb") {
        return;
    }
    clients_against(StoreKind::Aws, Some(support::table_name("clients"))).await;
}

/// The clients' token uploads: one-shot chunked (12 MiB in 5 MiB chunks, no videoId after the
/// first) and progressive sessions; each stored file must be byte-identical.
async fn uploads_against(kind: StoreKind, table: Option<String>) {
    use sha2::{Digest, Sha256};
    let Some(python) = installed_clients() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(options(dir.path(), kind, table)).await;
    let api = support::Api::new(&server);
    let mut x: u32 = 7;
    let whole: Vec<u8> = (0..12 * 1024 * 1024 + 321)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    let (part1, part2) = whole.split_at(6 * 1024 * 1024);
    let files = tempfile::tempdir().expect("temp dir");
    let paths = [
        ("clip.mp4", &whole[..]),
        ("part1.mp4", part1),
        ("part2.mp4", part2),
    ]
    .map(|(name, bytes)| {
        let path = files.path().join(name);
        std::fs::write(&path, bytes).expect("file written");
        path
    });
    let sha = |b: &[u8]| format!("{:x}", Sha256::digest(b));
    for (program, script) in [
        (python.clone(), "python_upload.py"),
        (std::path::PathBuf::from("node"), "node_upload.mjs"),
    ] {
        let token = api.create("{\"ttl\":600}").await.json["token"]
            .as_str()
            .expect("token")
            .to_owned();
        let clients = workspace().join("tests/clients");
        let output = tokio::task::block_in_place(|| {
            Command::new(&program)
                .arg(clients.join(script))
                .arg(server.url())
                .arg(&token)
                .args(&paths)
                .current_dir(&clients)
                .output()
                .expect("client script runs")
        });
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(
            output.status.success(),
            "{script} failed\nstdout:\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let lines: Vec<serde_json::Value> = stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        assert_eq!(lines.len(), 2, "{stdout}");
        for line in lines {
            let id = line["videoId"].as_str().expect("videoId");
            let video = api.get(&format!("/videos/{id}")).await;
            let url = video.json["assets"]["mp4"].as_str().unwrap_or_else(|| {
                panic!("{script} {}: not complete: {}", line["method"], video.text)
            });
            let bytes = api
                .http
                .get(url)
                .send()
                .await
                .expect("download")
                .bytes()
                .await
                .expect("body");
            assert_eq!(sha(&bytes), sha(&whole), "{script} {}", line["method"]);
        }
    }
    server.stop().await.expect("server stops");
}

#[tokio::test(flavor = "multi_thread")]
async fn official_clients_upload_with_tokens_on_the_embedded_store() {
    uploads_against(StoreKind::Embedded, None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn official_clients_upload_with_tokens_on_s3() {
    if !support::moto_available("official_clients_upload_with_tokens_on_s3") {
        return;
    }
    uploads_against(StoreKind::Aws, Some(support::table_name("clientup"))).await;
}
