//! schemathesis (PyPI) against the local server: every operation of `docs/openapi.yaml`, with
//! positive and negative data, every check, authenticated with the default project's key;
//! `/upload` with a live token of that project (see `infra/schemathesis.toml`). Zero failures.
//!
//! The run's report (JUnit XML) and output stay under `target/schemathesis/` for humans.

mod support;

use local_api::StoreKind;
use std::process::Command;
use support::{Api, options, start, workspace};

/// Test cases per operation and phase; the README records how many this makes in total.
const MAX_EXAMPLES: &str = "100";

async fn schemathesis_against(kind: StoreKind, table: Option<String>, label: &str) {
    let st = workspace().join(".venv/bin/schemathesis");
    if !test_gate::require_tool(label, &st) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(options(dir.path(), kind, table)).await;
    let api = Api::new(&server);

    // What the server serves is the document in the repository.
    let served = api.get("/openapi.yaml").await;
    assert_eq!(served.status, 200);
    assert_eq!(served.content_type.as_deref(), Some("application/yaml"));
    let document =
        std::fs::read_to_string(workspace().join("docs/openapi.yaml")).expect("docs/openapi.yaml");
    assert_eq!(served.text, document);

    let token = api.create(r#"{"ttl":0}"#).await.json["token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let reports = workspace().join("target/schemathesis").join(label);
    let _ = std::fs::remove_dir_all(&reports);
    std::fs::create_dir_all(&reports).expect("report dir");
    let basic = base64_basic(server.project.api_key.expose());
    let output = tokio::task::block_in_place(|| {
        Command::new(&st)
            .arg("--config-file")
            .arg(workspace().join("infra/schemathesis.toml"))
            .arg("run")
            .arg(format!("{}/openapi.yaml", server.url()))
            .args(["--checks", "all", "--mode", "all"])
            .args(["--max-examples", MAX_EXAMPLES])
            .args(["--header", &format!("Authorization: Basic {basic}")])
            .args([
                "--report",
                "junit,har",
                "--output-sanitize",
                "false",
                "--report-dir",
            ])
            .arg(&reports)
            // One worker: with two, hypothesis 6 (schemathesis 4.32.5) sometimes fails its own
            // lambda-description cache ("AST constructor recursion depth mismatch").
            .args(["--no-color", "--workers", "1"])
            .env("UPLOAD_TOKENS_ST_TOKEN", &token)
            .env(
                "SCHEMATHESIS_HOOKS",
                workspace().join("infra/schemathesis_hooks.py"),
            )
            .current_dir(&reports)
            .output()
            .expect("schemathesis runs")
    });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    std::fs::write(reports.join("output.txt"), stdout.as_bytes()).expect("output kept");
    assert!(
        output.status.success(),
        "schemathesis found failures ({label})\n{stdout}\n{stderr}"
    );
    // Every operation ran, and the run generated cases (not a vacuous pass).
    let operations = upload_tokens_core::http::all_routes().count();
    assert!(
        stdout.contains(&format!("Tested: {operations}")),
        "{stdout}"
    );
    let summary = stdout
        .lines()
        .find(|l| l.contains(" generated, "))
        .unwrap_or_else(|| panic!("no summary line\n{stdout}"));
    let generated: u64 = summary
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unreadable summary {summary}"));
    assert!(generated > 1000, "{summary}");
    println!("schemathesis ({label}): {}", summary.trim());

    // Uploads went through, not only their refusals: the run reached the upload logic.
    let (requests, uploaded) = har_uploads(&reports);
    assert!(uploaded > 0, "no upload succeeded in {requests} requests");
    println!("schemathesis ({label}): {requests} requests, {uploaded} uploads accepted (201)");
    server.stop().await.expect("server stops");
}

/// (requests, `POST /upload` answered 201) in the newest HAR report of `dir`.
fn har_uploads(dir: &std::path::Path) -> (usize, usize) {
    let newest = std::fs::read_dir(dir)
        .expect("report dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json") && p.to_string_lossy().contains("har")
        })
        .max()
        .expect("a HAR report");
    let har: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&newest).expect("HAR readable")).expect("HAR JSON");
    let entries = har["log"]["entries"].as_array().expect("HAR entries");
    let uploaded = entries
        .iter()
        .filter(|e| {
            e["request"]["method"] == "POST"
                && e["request"]["url"]
                    .as_str()
                    .is_some_and(|u| u.contains("/upload?"))
                && e["response"]["status"] == 201
        })
        .count();
    (entries.len(), uploaded)
}

fn base64_basic(key: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_nothing_on_the_embedded_store() {
    schemathesis_against(StoreKind::Embedded, None, "embedded").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_nothing_on_dynamodb_and_s3() {
    if test_gate::require_moto("schemathesis_finds_nothing_on_dynamodb_and_s3").is_none() {
        return;
    }
    schemathesis_against(
        StoreKind::Aws,
        Some(support::table_name("schemathesis")),
        "dynamodb",
    )
    .await;
}
