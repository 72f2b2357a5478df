//! The official api.video clients, unchanged, against the local server and behind the API
//! Gateway emulator (the function binaries on moto): PyPI `api.video` 1.4.7 (Bearer via
//! /auth/api-key) and npm `@api.video/nodejs-client` 2.6.8 (Basic). Each script in
//! `tests/clients` asserts what it sees, checks it used every method of its client for these
//! endpoints, and prints a summary; this driver checks the result again over plain HTTP.

mod support;

use local_api::StoreKind;
use sha2::{Digest, Sha256};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::{Api, Deployment, options, workspace};

/// Set for the scripts when they run behind API Gateway (they then expect its limits).
const BEHIND_GATEWAY_ENV: &str = "UPLOAD_TOKENS_BEHIND_API_GATEWAY";

/// Runs one client script with `args`, off the async runtime (it blocks on its own process);
/// fails unless it exits 0 and prints its summary. Returns its stdout.
fn run(program: &Path, script: &str, args: &[&OsStr], deployment: &Deployment) -> String {
    let clients = workspace().join("tests/clients");
    let output = tokio::task::block_in_place(|| {
        let mut command = Command::new(program);
        command
            .arg(clients.join(script))
            .args(args)
            .current_dir(&clients)
            // Python would leave tests/clients/__pycache__ behind in the source tree.
            .env("PYTHONDONTWRITEBYTECODE", "1");
        if deployment.behind_gateway() {
            command.env(BEHIND_GATEWAY_ENV, "1");
        }
        command.output().expect("client script runs")
    });
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let Some(summary) = stdout.lines().find(|l| l.contains(" checks passed")) else {
        panic!("{script} printed no summary\nstdout:\n{stdout}");
    };
    println!("{script}: {summary}");
    stdout
}

/// The JSON lines a script printed (its other lines are prose).
fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(serde_json::Value::is_object)
        .collect()
}

/// The venv's Python, if both official clients are installed (in CI, missing ones fail).
fn installed_clients() -> Option<PathBuf> {
    let python = workspace().join(".venv/bin/python");
    let node_modules = workspace().join("tests/clients/node_modules/@api.video/nodejs-client");
    (test_gate::require_tool("python client", &python)
        && test_gate::require_tool("node client", &node_modules))
    .then_some(python)
}

/// The scripts of one kind, with the interpreter of each.
fn scripts(
    python: &Path,
    python_script: &'static str,
    node_script: &'static str,
) -> [(PathBuf, &'static str); 2] {
    [
        (python.to_path_buf(), python_script),
        (PathBuf::from("node"), node_script),
    ]
}

fn sha(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The files the upload scripts send: `small` fits in one 5 MiB chunk; `whole` takes more and
/// is `part1` + `part2`. Locally `whole` is 12 MiB (three chunks) in two 6 MiB parts; behind API
/// Gateway, where a request carries about 4.5 MiB of file at most (6,291,456 bytes of event,
/// base64), it is 8 MiB in two 4 MiB parts, each one request of a progressive session.
struct Files {
    _dir: tempfile::TempDir,
    small: Vec<u8>,
    whole: Vec<u8>,
    small_path: PathBuf,
    whole_path: PathBuf,
    part1_path: PathBuf,
    part2_path: PathBuf,
}

impl Files {
    fn new(behind_gateway: bool) -> Self {
        let mut x: u32 = 7;
        let mut bytes = |len: usize| -> Vec<u8> {
            (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect()
        };
        let (whole_mib, part1_mib) = if behind_gateway { (8, 4) } else { (12, 6) };
        let whole = bytes(whole_mib * 1024 * 1024 + 321);
        let small = bytes(100 * 1024 + 7);
        let (part1, part2) = whole.split_at(part1_mib * 1024 * 1024);
        let dir = tempfile::tempdir().expect("temp dir");
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).expect("file written");
            path
        };
        let small_path = write("small.mp4", &small);
        let whole_path = write("clip.mp4", &whole);
        let part1_path = write("part1.mp4", part1);
        let part2_path = write("part2.mp4", part2);
        Self {
            _dir: dir,
            small,
            whole,
            small_path,
            whole_path,
            part1_path,
            part2_path,
        }
    }

    /// The bytes a script's `"file"` names.
    fn named(&self, line: &serde_json::Value) -> &[u8] {
        match line["file"].as_str() {
            Some("small") => &self.small,
            Some("whole") => &self.whole,
            other => panic!("unknown file {other:?} in {line}"),
        }
    }
}

/// `assets.mp4` of a complete video, downloaded.
async fn stored(api: &Api, id: &str, context: &str) -> (serde_json::Value, Vec<u8>) {
    let video = api.get(&format!("/videos/{id}")).await;
    assert_eq!(video.status, 200, "{context}: {}", video.text);
    let url = video.json["assets"]["mp4"]
        .as_str()
        .unwrap_or_else(|| panic!("{context}: not complete: {}", video.text));
    let response = api.http.get(url).send().await.expect("download");
    assert_eq!(response.status().as_u16(), 200, "{context}: download");
    let bytes = response.bytes().await.expect("body").to_vec();
    (video.json, bytes)
}

/// Every upload-token method of both clients (create, list and its pages, get, delete, errors).
async fn clients_against(deployment: Deployment) {
    let Some(python) = installed_clients() else {
        return;
    };
    let url = deployment.url();
    let args = [OsStr::new(&url), OsStr::new(deployment.api_key())];
    for (program, script) in scripts(&python, "python_tokens.py", "node_tokens.mjs") {
        run(&program, script, &args, &deployment);
    }
    // Each script deletes what it created.
    let api = Api::new(&deployment);
    let list = api.get("/upload-tokens").await;
    assert_eq!(list.json["pagination"]["itemsTotal"], 0, "{}", list.text);
    deployment.stop().await;
}

async fn local(kind: StoreKind, table: Option<String>) -> (tempfile::TempDir, Deployment) {
    let dir = tempfile::tempdir().expect("temp dir");
    let deployment = Deployment::local(options(dir.path(), kind, table)).await;
    (dir, deployment)
}

#[tokio::test(flavor = "multi_thread")]
async fn official_clients_work_against_the_embedded_store() {
    let (_dir, deployment) = local(StoreKind::Embedded, None).await;
    clients_against(deployment).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn official_clients_work_against_dynamodb() {
    if test_gate::require_moto("official_clients_work_against_dynamodb").is_none() {
        return;
    }
    let table = Some(support::table_name("clients"));
    let (_dir, deployment) = local(StoreKind::Aws, table).await;
    clients_against(deployment).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn official_clients_work_behind_api_gateway() {
    if let Some(deployment) = Deployment::gateway("official_clients_work_behind_api_gateway").await
    {
        clients_against(deployment).await;
    }
}

/// The clients' token uploads: one-shot (a small file in one request; 12 MiB in 5 MiB chunks, no
/// videoId after the first) and progressive sessions; each stored file must be byte-identical.
/// Behind API Gateway the scripts expect the clients' 5 MiB chunks to be refused with 413 (their
/// smallest chunk size is over what one request can carry there), and upload through sessions
/// of 4 MiB parts.
async fn uploads_against(deployment: Deployment) {
    let Some(python) = installed_clients() else {
        return;
    };
    let api = Api::new(&deployment);
    let files = Files::new(deployment.behind_gateway());
    let url = deployment.url();
    // Python: small, chunked, session, resumed session; Node: small, chunked twice, two
    // sessions. Behind API Gateway the chunked ones are refused (Node then sends its second
    // one-shot upload with the small file).
    let uploads = if deployment.behind_gateway() {
        [3, 4]
    } else {
        [4, 5]
    };
    for ((program, script), uploads) in scripts(&python, "python_upload.py", "node_upload.mjs")
        .into_iter()
        .zip(uploads)
    {
        let token = api.create("{\"ttl\":600}").await.json["token"]
            .as_str()
            .expect("token")
            .to_owned();
        let args = [
            OsStr::new(&url),
            OsStr::new(&token),
            files.small_path.as_os_str(),
            files.whole_path.as_os_str(),
            files.part1_path.as_os_str(),
            files.part2_path.as_os_str(),
        ];
        let stdout = run(&program, script, &args, &deployment);
        let lines = json_lines(&stdout);
        assert_eq!(lines.len(), uploads, "{script}: uploads\n{stdout}");
        let mut ids = std::collections::BTreeSet::new();
        for line in &lines {
            let id = line["videoId"].as_str().expect("videoId");
            assert!(ids.insert(id.to_owned()), "{script}: {id} twice");
            let context = format!("{script} {}", line["method"]);
            let (_, bytes) = stored(&api, id, &context).await;
            assert_eq!(sha(&bytes), sha(files.named(line)), "{context}");
        }
        assert!(
            lines.iter().any(|l| l["file"] == "small"),
            "{script}: no small upload"
        );
        assert!(
            lines.iter().any(|l| l["file"] == "whole"),
            "{script}: no whole upload"
        );
    }
    deployment.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn official_clients_upload_with_tokens_on_the_embedded_store() {
    let (_dir, deployment) = local(StoreKind::Embedded, None).await;
    uploads_against(deployment).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn official_clients_upload_with_tokens_on_s3() {
    if test_gate::require_moto("official_clients_upload_with_tokens_on_s3").is_none() {
        return;
    }
    let table = Some(support::table_name("clientup"));
    let (_dir, deployment) = local(StoreKind::Aws, table).await;
    uploads_against(deployment).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn official_clients_upload_with_tokens_behind_api_gateway() {
    let test = "official_clients_upload_with_tokens_behind_api_gateway";
    if let Some(deployment) = Deployment::gateway(test).await {
        uploads_against(deployment).await;
    }
}

/// The clients' video methods (get, update, getStatus, delete) on videos they upload with a
/// token: the video each keeps has its bytes and its last PATCH; the ones each deletes are gone.
async fn videos_against(deployment: Deployment) {
    let Some(python) = installed_clients() else {
        return;
    };
    let api = Api::new(&deployment);
    let files = Files::new(deployment.behind_gateway());
    let url = deployment.url();
    let args = [
        OsStr::new(&url),
        OsStr::new(deployment.api_key()),
        files.small_path.as_os_str(),
        files.part1_path.as_os_str(),
        files.part2_path.as_os_str(),
    ];
    for (program, script) in scripts(&python, "python_videos.py", "node_videos.mjs") {
        let stdout = run(&program, script, &args, &deployment);
        let lines = json_lines(&stdout);
        let kept: Vec<_> = lines.iter().filter(|l| l.get("kept").is_some()).collect();
        let deleted: Vec<_> = lines
            .iter()
            .filter(|l| l.get("deleted").is_some())
            .collect();
        assert_eq!((kept.len(), deleted.len()), (1, 2), "{script}\n{stdout}");
        for line in kept {
            let id = line["kept"].as_str().expect("videoId");
            let (video, bytes) = stored(&api, id, script).await;
            assert_eq!(sha(&bytes), sha(files.named(line)), "{script} {id}");
            assert_eq!(video["title"], "Retitled", "{script}: {video}");
            assert_eq!(video["tags"], serde_json::json!([]), "{script}: {video}");
            assert_eq!(video["panoramic"], true, "{script}: {video}");
        }
        for line in deleted {
            let id = line["deleted"].as_str().expect("videoId");
            api.get(&format!("/videos/{id}"))
                .await
                .assert_problem(404, "resource-not-found", None);
        }
    }
    deployment.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn official_clients_manage_videos_on_the_embedded_store() {
    let (_dir, deployment) = local(StoreKind::Embedded, None).await;
    videos_against(deployment).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn official_clients_manage_videos_on_s3() {
    if test_gate::require_moto("official_clients_manage_videos_on_s3").is_none() {
        return;
    }
    let table = Some(support::table_name("clientvid"));
    let (_dir, deployment) = local(StoreKind::Aws, table).await;
    videos_against(deployment).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn official_clients_manage_videos_behind_api_gateway() {
    let test = "official_clients_manage_videos_behind_api_gateway";
    if let Some(deployment) = Deployment::gateway(test).await {
        videos_against(deployment).await;
    }
}
