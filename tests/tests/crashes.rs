//! Crashes of the real `local-api` binary (SPEC §4: "A crash at any point leaves a state that
//! the client's retry completes"), on the embedded store and on DynamoDB + S3 (moto).
//!
//! The crash hook, a contract of the server: with `UPLOAD_TOKENS_CRASH_AT=<point>` in its
//! environment, the server calls `std::process::abort()` the first time an upload reaches
//! `<point>`:
//!
//! - `after-bytes`: the chunk's bytes are written (file, staged object or part), before the
//!   conditional write that commits the chunk;
//! - `after-commit`: the chunk is committed, before the reply;
//! - `before-complete`: the last chunk's bytes are committed, before the file is made final;
//! - `after-complete-rename`: the file is final (the file store's last rename; S3's completed
//!   object), before the video's state records it.
//!
//! Each scenario uploads the chunks before the crash with a server without the hook, kills it
//! (SIGKILL), sends the target chunk to a server started with the hook, which must die of
//! SIGABRT without answering (a server that answers fails the test: the hook is missing), and
//! then, on a third server on the same data, retries: with the same bytes split the same way,
//! with the same bytes resumed from what `GET /videos/{id}/status` reports in chunks of
//! another size, or with different bytes (the crashed request was never acknowledged, so the
//! server may take them (201) or refuse them as a conflict (400), and the file must then hold
//! what it acknowledged). A last test kills the server at random moments (SIGKILL, seeded
//! timer) during a stream of chunks and resumes each time.

mod support;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::{Duration, Instant};
use support::Api;
use support::child::{Config, Server};
use support::upload::{
    MIB, byte_range, chunk, chunk_request, data, download, ingest, is_problem, sha, token, video_id,
};
use upload_tokens_core::domain::TokenId;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Retry {
    Same,
    Resplit,
    Different,
}

struct Layout {
    name: &'static str,
    chunk: usize,
    total: usize,
}

const EMBEDDED: Layout = Layout {
    name: "embedded, 1 MiB chunks",
    chunk: MIB,
    total: 2 * MIB + MIB / 2,
};
const S3_STAGED: Layout = Layout {
    name: "s3, 1 MiB chunks",
    chunk: MIB,
    total: 2 * MIB + MIB / 2,
};
const S3_PARTS: Layout = Layout {
    name: "s3, 6 MiB chunks",
    chunk: 6 * MIB,
    total: 12 * MIB + MIB / 2,
};

fn chunks(layout: &Layout) -> Vec<(usize, usize)> {
    (0..layout.total)
        .step_by(layout.chunk)
        .map(|from| (from, layout.chunk.min(layout.total - from)))
        .collect()
}

/// Sends chunks from `from` to the end of `file` in `size` chunks; the video id of the answers.
async fn send_rest(
    api: &Api,
    token: &str,
    file: &[u8],
    mut from: usize,
    size: usize,
    mut id: Option<String>,
) -> Result<String, String> {
    while from < file.len() {
        let len = size.min(file.len() - from);
        let range = byte_range(from, len, file.len());
        let reply = chunk(
            api,
            token,
            &file[from..from + len],
            Some(&range),
            id.as_deref(),
        )
        .await;
        if reply.status != 201 {
            return Err(format!("chunk {range}: {} {}", reply.status, reply.text));
        }
        id = Some(video_id(&reply));
        from += len;
    }
    id.ok_or_else(|| "nothing sent".into())
}

/// Videos of `token` still uploading, read from the store directly.
async fn uploading_of(config: &Config, token: &str) -> usize {
    let mut options = local_api::StoreOptions {
        data_dir: config.data_dir.clone(),
        store: local_api::StoreKind::Embedded,
        table: None,
        bucket: None,
        create_table: false,
        abandoned_upload_days: 7,
    };
    if let Some((table, _)) = &config.aws {
        options.store = local_api::StoreKind::Aws;
        options.table = Some(table.clone());
    }
    let store = local_api::open_store(&options).await.expect("store opens");
    let id = TokenId::parse(token).expect("token id");
    store
        .uploading_videos_of_token(&id)
        .await
        .expect("uploading videos")
        .len()
}

/// One scenario: crash at `point` while chunk `target` is sent, then `retry`.
async fn scenario(
    config: &Config,
    layout: &Layout,
    point: &str,
    target: usize,
    retry: Retry,
    seed: u64,
) -> Result<(), String> {
    let file = data(layout.total, seed);
    let cuts = chunks(layout);
    let (from, len) = cuts[target];
    let range = byte_range(from, len, layout.total);

    // Before the crash.
    let a = Server::start(config);
    let api = a.api();
    let token = token(&api).await;
    let mut id = None;
    for &(f, l) in &cuts[..target] {
        let r = chunk(
            &api,
            &token,
            &file[f..f + l],
            Some(&byte_range(f, l, layout.total)),
            id.as_deref(),
        )
        .await;
        if r.status != 201 {
            return Err(format!(
                "before the crash, chunk at {f}: {} {}",
                r.status, r.text
            ));
        }
        id = Some(video_id(&r));
    }
    a.kill();

    // The crash.
    let mut b = Server::start(&config.crashing_at(point));
    let api = b.api();
    let answer = chunk_request(
        &api.http,
        &api.base,
        &token,
        &file[from..from + len],
        Some(&range),
        id.as_deref(),
    )
    .send()
    .await
    .map(|r| r.status().as_u16());
    // A server that answered did not crash; one that did not answer must be gone by now.
    let wait = if answer.is_ok() { 1 } else { 10 };
    let status = b.exited_within(Duration::from_secs(wait));
    let aborted = status.is_some_and(|s| s.signal() == Some(6));
    if !aborted {
        let output = b.output();
        b.kill();
        return Err(format!(
            "UPLOAD_TOKENS_CRASH_AT={point} did not abort the server at chunk {range} (exit {status:?}, answer {answer:?}); the crash hook is missing or not reached. Server output:\n{}",
            output.lines().rev().take(10).collect::<Vec<_>>().join("\n")
        ));
    }
    drop(b);

    // The retry, on a fresh server on the same data.
    let c = Server::start(config);
    let api = c.api();
    let mut expected = file.clone();
    let result: Result<String, String> = async {
        match retry {
            Retry::Same => {
                let reply = chunk(
                    &api,
                    &token,
                    &file[from..from + len],
                    Some(&range),
                    id.as_deref(),
                )
                .await;
                if reply.status != 201 {
                    return Err(format!(
                        "{point}: the same chunk {range} retried got {} {}",
                        reply.status, reply.text
                    ));
                }
                let got = video_id(&reply);
                if let Some(id) = &id
                    && &got != id
                {
                    return Err(format!("{point}: the retry answered video {got}, not {id}"));
                }
                send_rest(&api, &token, &file, from + len, layout.chunk, Some(got)).await
            }
            Retry::Resplit => {
                // Resume from what the server reports, in chunks of another size.
                let resume_at = match &id {
                    Some(id) => {
                        let st = ingest(&api, id).await;
                        st["receivedBytes"]
                            .as_array()
                            .and_then(|r| r.last())
                            .and_then(|r| r["to"].as_u64())
                            .map(|to| to as usize + 1)
                            .unwrap_or(0)
                    }
                    None => 0,
                };
                if resume_at > from + len || resume_at < from {
                    return Err(format!(
                        "{point}: status says {resume_at} bytes received, sent {from} + maybe {len}"
                    ));
                }
                let size = (layout.chunk / 3).max(1);
                send_rest(&api, &token, &file, resume_at, size, id.clone()).await
            }
            Retry::Different => {
                let other = data(len, seed ^ 0xdead_beef);
                let reply = chunk(&api, &token, &other, Some(&range), id.as_deref()).await;
                if reply.status == 201 {
                    expected[from..from + len].copy_from_slice(&other);
                    let got = video_id(&reply);
                    send_rest(&api, &token, &expected, from + len, layout.chunk, Some(got)).await
                } else if is_problem(&reply, 400, "video-content-range-conflict") {
                    // The crashed request's bytes were kept: the upload must complete with them.
                    let reply = chunk(
                        &api,
                        &token,
                        &file[from..from + len],
                        Some(&range),
                        id.as_deref(),
                    )
                    .await;
                    if reply.status != 201 {
                        return Err(format!(
                            "{point}: different bytes were refused as a conflict, but the crashed bytes then got {} {}",
                            reply.status, reply.text
                        ));
                    }
                    let got = video_id(&reply);
                    send_rest(&api, &token, &file, from + len, layout.chunk, Some(got)).await
                } else {
                    Err(format!(
                        "{point}: different bytes for the never-acknowledged chunk {range} got {} (want 201 or 400 conflict): {}",
                        reply.status, reply.text
                    ))
                }
            }
        }
    }
    .await;
    let vid = result.map_err(|e| {
        format!(
            "{point} {retry:?}: completing after the crash: {e}\nServer output:\n{}",
            c.output()
        )
    })?;
    let stored = download(&api, &vid).await;
    if sha(&stored) != sha(&expected) {
        return Err(format!(
            "{point} {retry:?}: the stored file ({} B) is not the acknowledged bytes ({} B)",
            stored.len(),
            expected.len()
        ));
    }
    c.kill();
    let left = uploading_of(config, &token).await;
    if left != 0 {
        return Err(format!(
            "{point} {retry:?}: {left} other videos of the token are left uploading (a retry made a second video)"
        ));
    }
    Ok(())
}

async fn run(config: &Config, layout: &Layout, point: &str, target: Target) {
    let started = Instant::now();
    let n = chunks(layout).len();
    let target = match target {
        Target::First => 0,
        Target::Middle => n / 2,
        Target::Last => n - 1,
    };
    let retries: &[Retry] = if target == 0 {
        &[Retry::Same]
    } else {
        &[Retry::Same, Retry::Resplit, Retry::Different]
    };
    let mut failures = Vec::new();
    for (i, &retry) in retries.iter().enumerate() {
        if let Err(e) = scenario(config, layout, point, target, retry, 100 + i as u64).await {
            failures.push(format!("{} chunk {target}: {e}", layout.name));
        }
    }
    eprintln!(
        "crash {} at {point}, chunk {target}: {} of {} retries failed; {:.1}s",
        layout.name,
        failures.len(),
        retries.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[derive(Clone, Copy)]
enum Target {
    First,
    Middle,
    Last,
}

fn embedded(dir: &Path) -> Config {
    Config::embedded(dir)
}

fn aws(test: &str, dir: &Path) -> Option<Config> {
    test_gate::require_moto(test)?;
    Some(Config::aws(dir, &support::table_name("crash")))
}

macro_rules! crash_tests {
    ($($name:ident: $point:literal, $target:ident;)*) => {
        mod on_embedded {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().expect("temp dir");
                    run(&embedded(dir.path()), &EMBEDDED, $point, Target::$target).await;
                }
            )*
        }
        mod on_s3_staging {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().expect("temp dir");
                    let Some(config) = aws(stringify!($name), dir.path()) else { return };
                    run(&config, &S3_STAGED, $point, Target::$target).await;
                }
            )*
        }
        mod on_s3_parts {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().expect("temp dir");
                    let Some(config) = aws(stringify!($name), dir.path()) else { return };
                    run(&config, &S3_PARTS, $point, Target::$target).await;
                }
            )*
        }
    };
}

crash_tests! {
    first_chunk_after_commit: "after-commit", First;
    middle_chunk_after_bytes: "after-bytes", Middle;
    middle_chunk_after_commit: "after-commit", Middle;
    last_chunk_after_bytes: "after-bytes", Last;
    last_chunk_before_complete: "before-complete", Last;
    last_chunk_after_complete_rename: "after-complete-rename", Last;
}

/// SIGKILL at random moments (seeded) while 1 MiB chunks stream in; after each kill the
/// client restarts the server and resumes with the chunk it was sending.
async fn random_kills(config: &Config, seed: u64) {
    let started = Instant::now();
    let total = 9 * MIB + 321;
    let file = data(total, seed);
    let mut rng = seed;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut server = Server::start(config);
    let first_api = server.api();
    let token = token(&first_api).await;
    let mut id: Option<String> = None;
    let mut from = 0;
    let mut kills = 0;
    let mut interrupted = 0;
    while from < total {
        let len = MIB.min(total - from);
        let range = byte_range(from, len, total);
        let api = server.api();
        // A timer that kills the server during this chunk, some of the time.
        let killer = if kills < 4 && next() % 3 == 0 {
            let delay = Duration::from_millis(next() % 300);
            let handle = server.handle();
            Some(tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = handle.lock().unwrap_or_else(|e| e.into_inner()).kill();
            }))
        } else {
            None
        };
        let reply = support::upload::chunk_request(
            &api.http,
            &api.base,
            &token,
            &file[from..from + len],
            Some(&range),
            id.as_deref(),
        )
        .send()
        .await;
        if let Some(killer) = killer {
            let _ = killer.await;
            kills += 1;
            drop(server);
            server = Server::start(config);
        }
        match reply {
            Ok(r) if r.status() == 201 => {
                let json: serde_json::Value = r.json().await.unwrap_or_default();
                let got = json["videoId"].as_str().unwrap_or_default().to_owned();
                if let Some(id) = &id {
                    assert_eq!(&got, id, "chunk {range} answered another video");
                }
                id = Some(got);
                from += len;
            }
            Ok(r) => {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                panic!("chunk {range} (kills so far {kills}): {status} {text}");
            }
            Err(_) => {
                // No answer: the kill hit this request; retry the same bytes.
                interrupted += 1;
            }
        }
    }
    let api = server.api();
    let id = id.expect("video");
    let stored = download(&api, &id).await;
    eprintln!(
        "random kills ({}): {kills} kills, {interrupted} requests without answer; {:.1}s",
        if config.aws.is_some() {
            "s3"
        } else {
            "embedded"
        },
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        sha(&stored),
        sha(&file),
        "the stored file after {kills} kills"
    );
    drop(server);
    assert_eq!(
        uploading_of(config, &token).await,
        0,
        "videos of the token left uploading"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_kills_on_embedded() {
    let dir = tempfile::tempdir().expect("temp dir");
    random_kills(&embedded(dir.path()), 0x5eed_0001).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_kills_on_s3() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(config) = aws("random_kills_on_s3", dir.path()) else {
        return;
    };
    random_kills(&config, 0x5eed_0002).await;
}
