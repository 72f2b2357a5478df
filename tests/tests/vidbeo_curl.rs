//! `/v2/tokens` driven with curl exactly as vidbeo's documentation writes its examples
//! (`curl -H "Authorization: Bearer YOUR-API-KEY" "https://api.vidbeo.com/v2/tokens"`, and
//! `-g -H … -H "Content-Type: application/json" -X PATCH -d '{…}' URL` for writes), with only the
//! base URL and the key replaced: on the local server (SQLite, and DynamoDB on moto) and behind
//! the API Gateway emulator.

mod support;

use local_api::StoreKind;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use support::{Deployment, options};

/// What curl printed (the body) and the status it reported, for a documented-style call.
fn curl(args: &[&str]) -> (u16, Value) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs");
    assert!(out.status.success(), "curl failed: {out:?}");
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let (body, status) = text.rsplit_once('\n').expect("status line");
    let json = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (status.parse().expect("status"), json)
}

/// The vidbeo-documented calls, in order: create, list, get, PATCH, list with a cursor, delete.
fn documented_examples(base: &str, key: &str) {
    let bearer = format!("Authorization: Bearer {key}");
    let v2 = format!("{base}/v2");
    // POST, in the style of the documented uploads example.
    let mut ids = Vec::new();
    for name in ["First", "Second", "Third"] {
        let (status, body) = curl(&[
            "-g",
            "-H",
            &bearer,
            "-H",
            "Content-Type: application/json",
            "-X",
            "POST",
            "-d",
            &json!({"type": "upload", "name": name}).to_string(),
            &format!("{v2}/tokens"),
        ]);
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["success"], true);
        assert_eq!(body["errors"], json!([]));
        assert!(
            body["result"]["value"]
                .as_str()
                .is_some_and(|v| v.starts_with("ut_"))
        );
        ids.push(body["result"]["id"].as_str().expect("id").to_owned());
    }
    // The documented list example, verbatim but for the host and key.
    let (status, body) = curl(&["-H", &bearer, &format!("{v2}/tokens")]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["links"], json!({}));
    let listed: Vec<&str> = body["result"]
        .as_array()
        .expect("result")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(listed, newest_first);
    for token in body["result"].as_array().expect("result") {
        for field in [
            "id",
            "name",
            "type",
            "created_by",
            "created_time",
            "updated_by",
            "updated_time",
        ] {
            assert!(token.get(field).is_some(), "{field} in {token}");
        }
        assert!(token.get("value").is_none(), "a value is shown once");
    }
    // The documented get example.
    let (status, body) = curl(&["-H", &bearer, &format!("{v2}/tokens/{}", ids[0])]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["links"], Value::Null);
    assert_eq!(body["result"]["name"], "First");
    // The documented PATCH example's form.
    let (status, body) = curl(&[
        "-g",
        "-H",
        &bearer,
        "-H",
        "Content-Type: application/json",
        "-X",
        "PATCH",
        "-d",
        r#"{"name":"New name"}"#,
        &format!("{v2}/tokens/{}", ids[0]),
    ]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["name"], "New name");
    // A page at a time, following links.next.
    let (_, page) = curl(&["-H", &bearer, &format!("{v2}/tokens?limit=2")]);
    let next = page["links"]["next"].as_str().expect("links.next");
    let (status, rest) = curl(&["-g", "-H", &bearer, &format!("{base}{next}")]);
    assert_eq!(status, 200, "{rest}");
    assert_eq!(rest["result"][0]["id"], ids[0].as_str());
    assert_eq!(rest["links"], json!({}));
    // Delete, in the same style; then 404 in the envelope.
    for id in &ids {
        let (status, body) = curl(&["-H", &bearer, "-X", "DELETE", &format!("{v2}/tokens/{id}")]);
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body,
            json!({"success": true, "result": {}, "links": null, "errors": []})
        );
    }
    let (status, body) = curl(&["-H", &bearer, &format!("{v2}/tokens/{}", ids[0])]);
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(body["errors"][0]["code"], "resource-not-found");
}

async fn run(test: &str, deployment: Deployment) {
    if !test_gate::require_tool(test, Path::new("/usr/bin/curl")) {
        return;
    }
    let (base, key) = (deployment.url(), deployment.api_key().to_owned());
    tokio::task::spawn_blocking(move || documented_examples(&base, &key))
        .await
        .expect("the examples run");
    deployment.stop().await;
}

#[tokio::test]
async fn vidbeo_examples_on_the_embedded_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = options(dir.path(), StoreKind::Embedded, None);
    run(
        "vidbeo_examples_on_the_embedded_store",
        Deployment::local(options).await,
    )
    .await;
}

#[tokio::test]
async fn vidbeo_examples_on_dynamodb() {
    if test_gate::require_moto("vidbeo_examples_on_dynamodb").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let options = options(
        dir.path(),
        StoreKind::Aws,
        Some(support::table_name("vidbeo")),
    );
    run(
        "vidbeo_examples_on_dynamodb",
        Deployment::local(options).await,
    )
    .await;
}

#[tokio::test]
async fn vidbeo_examples_behind_api_gateway() {
    if let Some(deployment) = Deployment::gateway("vidbeo_examples_behind_api_gateway").await {
        run("vidbeo_examples_behind_api_gateway", deployment).await;
    }
}
