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

async fn clients_against(kind: StoreKind, table: Option<String>) {
    let python = workspace().join(".venv/bin/python");
    let node_modules = workspace().join("tests/clients/node_modules/@api.video/nodejs-client");
    if !tool_available("python client", &python) || !tool_available("node client", &node_modules) {
        return;
    }
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
