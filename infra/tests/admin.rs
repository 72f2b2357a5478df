//! The admin command, run as a user would, against the embedded store and against DynamoDB on
//! moto: a created key works over HTTP at once, and stops working when revoked.

use std::process::Command;

const ADMIN: &str = env!("CARGO_BIN_EXE_upload-tokens-admin");

fn admin(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(ADMIN).args(args).output().expect("admin runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn field(stdout: &str, name: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no {name} in {stdout}"))
}

async fn status_with_key(url: &str, key: &str) -> u16 {
    let (host, port) = url
        .trim_start_matches("http://")
        .split_once(':')
        .expect("host:port");
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{key}:"));
    let mut stream = tokio::net::TcpStream::connect((host, port.parse::<u16>().expect("port")))
        .await
        .expect("connect");
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request = format!(
        "GET /upload-tokens HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {auth}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line")
}

async fn lifecycle(store_args: &[&str], options: local_api::Options) {
    let created = admin(&[store_args, &["create-key"]].concat());
    assert!(created.0, "create-key failed: {}", created.2);
    let key = field(&created.1, "API key:");
    let key_id = field(&created.1, "key id:");
    let project = field(&created.1, "project:");
    assert!(created.2.contains("cannot be shown again"));

    let second = admin(&[store_args, &["create-key", "--project", &project]].concat());
    assert!(second.0, "{}", second.2);
    let listed = admin(&[store_args, &["list-keys", "--project", &project]].concat());
    assert!(listed.0);
    assert_eq!(listed.1.lines().count(), 2, "{}", listed.1);
    assert!(!listed.1.contains(&key), "list-keys never shows a key");

    let server = local_api::start(options).await.expect("server starts");
    assert_eq!(status_with_key(&server.url(), &key).await, 200);
    let revoked = admin(&[store_args, &["revoke-key", &key_id]].concat());
    assert!(revoked.0, "{}", revoked.2);
    // Within a second: the embedded store keeps a key it read for up to that long.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(status_with_key(&server.url(), &key).await, 401);
    let again = admin(&[store_args, &["revoke-key", &key_id]].concat());
    assert!(!again.0, "revoking twice is an error");
    let bad = admin(&[store_args, &["revoke-key", "nonsense"]].concat());
    assert!(!bad.0);
    server.stop().await.expect("server stops");
}

#[tokio::test]
async fn keys_created_and_revoked_on_the_embedded_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().to_str().expect("utf-8 path");
    lifecycle(
        &["--data-dir", data],
        local_api::Options::new(dir.path(), "127.0.0.1:0"),
    )
    .await;
}

#[tokio::test]
async fn table_created_and_keys_managed_on_dynamodb() {
    if test_gate::require_moto("table_created_and_keys_managed_on_dynamodb").is_none() {
        return;
    }
    let table = format!("admin-{}", std::process::id());
    let made = admin(&["--store", "aws", "--table", &table, "create-table"]);
    assert!(made.0, "create-table failed: {}", made.2);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut options = local_api::Options::new(dir.path(), "127.0.0.1:0");
    options.store.store = local_api::StoreKind::Aws;
    options.store.table = Some(table.clone());
    options.store.bucket = Some(format!("admin-{}", std::process::id()));
    options.store.create_table = true;
    lifecycle(&["--store", "aws", "--table", &table], options).await;
}
