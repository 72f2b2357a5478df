//! Concurrent requests carrying the same chunk of one video (SPEC §4, "Integrity"): with
//! different bytes exactly one is acknowledged (201) and the stored file holds its bytes; with
//! identical bytes every one is acknowledged and the bytes are stored once; either way the
//! upload then completes and downloads byte-identical.
//!
//! On the embedded store and on DynamoDB + S3 (moto), through each of S3's paths: a file that
//! never needs a multipart upload (its last chunk completes it with one PutObject), chunks
//! smaller than a part (the staged remainder), and chunks of 6 MiB (multipart parts). Each
//! scenario races a middle chunk and then the last chunk, in several trials, since a race need
//! not happen every time. Every violation of every trial is collected and reported at the end.

mod support;

use local_api::StoreKind;
use std::sync::Arc;
use std::time::Instant;
use support::upload::{
    MIB, byte_range, chunk, chunk_request, data, download, is_problem, sha, token, video_id,
};
use support::{Api, options, start};
use tokio::sync::Barrier;

/// How a file is cut.
#[derive(Clone, Copy, Debug)]
struct Path {
    name: &'static str,
    chunk: usize,
    total: usize,
    trials: usize,
}

/// Three 512 KiB chunks: never a multipart upload, completed by a single PutObject.
const SINGLE: Path = Path {
    name: "single-put",
    chunk: MIB / 2,
    total: 3 * MIB / 2,
    trials: 4,
};
/// 1 MiB chunks over 6.5 MiB: staged remainders, then a part, then completion.
const STAGED: Path = Path {
    name: "staged",
    chunk: MIB,
    total: 6 * MIB + MIB / 2,
    trials: 3,
};
/// 6 MiB chunks, the last one a full 6 MiB too: every chunk is a part.
const PARTS: Path = Path {
    name: "parts",
    chunk: 6 * MIB,
    total: 18 * MIB,
    trials: 2,
};

#[derive(Default)]
struct Tally {
    races: usize,
    overlapped: usize,
    /// Answers of the requests that did not win a different-bytes race, by status.
    losers: std::collections::BTreeMap<u16, usize>,
    violations: Vec<String>,
}

struct Outcome {
    winner: Option<usize>,
}

/// Sends `contenders` (each the bytes of the same chunk) at once. With `distinct`, checks
/// exactly one 201 and the others a conflict (400) or busy (409), never a 5xx; without, checks
/// every one gets 201. Returns the winner's index (the first 201).
async fn race(
    api: &Api,
    (token, id, range): (&str, Option<&str>, &str),
    contenders: &[Vec<u8>],
    distinct: bool,
    what: &str,
    tally: &mut Tally,
) -> Outcome {
    let barrier = Arc::new(Barrier::new(contenders.len()));
    let mut tasks = Vec::new();
    for bytes in contenders {
        let request = chunk_request(&api.http, &api.base, token, bytes, Some(range), id);
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let sent = Instant::now();
            let response = request.send().await;
            let answered = Instant::now();
            let reply = support::upload::reply_or_no_answer(response).await;
            (sent, answered, reply)
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("contender task"));
    }
    // A true overlap: every request was on its way before the first answer came back.
    let first_answer = results.iter().map(|r| r.1).min().expect("contenders");
    let overlapped = results.iter().all(|r| r.0 <= first_answer);
    tally.races += 1;
    if overlapped {
        tally.overlapped += 1;
    }
    let created: Vec<usize> = (0..results.len())
        .filter(|&i| results[i].2.status == 201)
        .collect();
    let summary = || {
        results
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r.2.status,
                    r.2.text.chars().take(160).collect::<String>()
                )
            })
            .collect::<Vec<_>>()
            .join(" | ")
    };
    if distinct {
        if created.len() != 1 {
            tally.violations.push(format!(
                "{what}: different bytes, {} answers 201 (want exactly 1): {}",
                created.len(),
                summary()
            ));
        }
        for (i, r) in results.iter().enumerate() {
            if created.first() == Some(&i) {
                continue;
            }
            *tally.losers.entry(r.2.status).or_default() += 1;
            let loser_ok = is_problem(&r.2, 400, "video-content-range-conflict")
                || is_problem(&r.2, 409, "video-busy");
            if r.2.status != 201 && !loser_ok {
                tally.violations.push(format!(
                    "{what}: a loser got {} (want 400 video-content-range-conflict or 409 video-busy): {}",
                    r.2.status,
                    r.2.text.chars().take(300).collect::<String>()
                ));
            }
        }
    } else if created.len() != results.len() {
        tally.violations.push(format!(
            "{what}: identical bytes, {} of {} answers 201 (want all): {}",
            created.len(),
            results.len(),
            summary()
        ));
    }
    Outcome {
        winner: created.first().copied(),
    }
}

/// One trial: an upload whose middle chunk and last chunk are each sent by several requests at
/// once; the rest one at a time. Then the download must be the file assembled from the
/// winners' bytes.
async fn trial(api: &Api, path: Path, trial: usize, distinct: bool, tally: &mut Tally) {
    let seed = (trial as u64) * 1000 + if distinct { 1 } else { 0 };
    let file = data(path.total, seed);
    let chunks: Vec<(usize, usize)> = (0..path.total)
        .step_by(path.chunk)
        .map(|from| (from, path.chunk.min(path.total - from)))
        .collect();
    let n = chunks.len();
    let middle = n / 2;
    let token = token(api).await;
    let mut expected = Vec::with_capacity(path.total);
    let mut id: Option<String> = None;
    let mode = if distinct { "different" } else { "identical" };
    for (k, &(from, len)) in chunks.iter().enumerate() {
        let range = byte_range(from, len, path.total);
        let mine = file[from..from + len].to_vec();
        if k == middle || k == n - 1 {
            let contenders: Vec<Vec<u8>> = if distinct {
                (0..3u64)
                    .map(|c| {
                        if c == 0 {
                            mine.clone()
                        } else {
                            data(len, seed * 31 + c * 7 + k as u64)
                        }
                    })
                    .collect()
            } else {
                vec![mine.clone(), mine.clone()]
            };
            let what = format!(
                "{} trial {trial} {mode} bytes, {} chunk {range}",
                path.name,
                if k == n - 1 { "last" } else { "middle" }
            );
            let outcome = race(
                api,
                (&token, id.as_deref(), &range),
                &contenders,
                distinct,
                &what,
                tally,
            )
            .await;
            match outcome.winner {
                Some(w) => {
                    expected.extend_from_slice(&contenders[w]);
                }
                None => {
                    // No winner: the chunk is not stored; send it alone (as a client would
                    // retry) so the rest of the trial can still check the file.
                    let reply = chunk(api, &token, &mine, Some(&range), id.as_deref()).await;
                    if reply.status != 201 {
                        tally.violations.push(format!(
                            "{what}: after a race without winner the chunk alone got {}: {}",
                            reply.status, reply.text
                        ));
                        return;
                    }
                    expected.extend_from_slice(&mine);
                }
            }
            if id.is_none() {
                unreachable!("the first chunk is never raced");
            }
        } else {
            let reply = chunk(api, &token, &mine, Some(&range), id.as_deref()).await;
            if reply.status != 201 {
                tally.violations.push(format!(
                    "{} trial {trial} {mode}: chunk {range} after the race got {}: {}",
                    path.name, reply.status, reply.text
                ));
                return;
            }
            id = Some(video_id(&reply));
            expected.extend_from_slice(&mine);
        }
    }
    let id = id.expect("video id");
    let stored = download(api, &id).await;
    if sha(&stored) != sha(&expected) {
        let which = if stored.len() != expected.len() {
            format!("{} bytes stored, {} expected", stored.len(), expected.len())
        } else {
            let at = stored
                .iter()
                .zip(&expected)
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            format!("first difference at byte {at}")
        };
        tally.violations.push(format!(
            "{} trial {trial} {mode}: the stored file is not the file with the winners' bytes ({which})",
            path.name
        ));
    }
    let st = support::upload::ingest(api, &id).await;
    if st["status"] != "uploaded" || st["filesize"] != path.total {
        tally.violations.push(format!(
            "{} trial {trial} {mode}: status after completion {st}",
            path.name
        ));
    }
}

async fn suite(api: &Api, store: &str, path: Path) {
    let started = Instant::now();
    let mut tally = Tally::default();
    for distinct in [true, false] {
        for t in 0..path.trials {
            trial(api, path, t, distinct, &mut tally).await;
        }
    }
    eprintln!(
        "races {store} {}: {} races in {} trials, {} with every request in flight before the first answer; losers' answers by status {:?}; {} violations; {:.1}s",
        path.name,
        tally.races,
        2 * path.trials,
        tally.overlapped,
        tally.losers,
        tally.violations.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        tally.violations.is_empty(),
        "{store} {}: {} violations:\n{}",
        path.name,
        tally.violations.len(),
        tally.violations.join("\n")
    );
}

async fn on_embedded(path: Path) {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(options(dir.path(), StoreKind::Embedded, None)).await;
    suite(&Api::new(&server), "embedded", path).await;
    server.stop().await.expect("server stops");
}

async fn on_aws(test: &str, path: Path) {
    if test_gate::require_moto(test).is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(options(
        dir.path(),
        StoreKind::Aws,
        Some(support::table_name("race")),
    ))
    .await;
    suite(&Api::new(&server), "dynamodb+s3", path).await;
    server.stop().await.expect("server stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_races_on_a_small_file() {
    on_embedded(SINGLE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_races_on_1_mib_chunks() {
    on_embedded(STAGED).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_races_on_6_mib_chunks() {
    on_embedded(PARTS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_races_on_the_single_put_path() {
    on_aws("s3_races_on_the_single_put_path", SINGLE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_races_on_the_staging_path() {
    on_aws("s3_races_on_the_staging_path", STAGED).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_races_on_the_part_path() {
    on_aws("s3_races_on_the_part_path", PARTS).await;
}
