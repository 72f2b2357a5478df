//! Token policy and `/v2/tokens` at scale, each against a baseline measured in the same run:
//!
//! - `policy`: an upload in 1 MiB chunks through the `/upload` handler in-process, with a token
//!   that has a policy (every limit set: size, types with the magic-number check, uploads,
//!   origins, a preset) against a token without one, rounds interleaved; on the embedded store
//!   and on DynamoDB + S3 (moto).
//! - `list`: `GET /v2/tokens` over HTTP (the local server) on a project of `LIST_TOKENS` tokens
//!   (seeded through the store API), the first page against the last, reached by its cursor;
//!   on SQLite and on DynamoDB (moto).
//!
//! `./infra/bench.sh tokens` runs it (starts moto, writes BENCHMARKS.md). Directly:
//! `cargo bench -p e2e-tests --bench tokens -- [policy|list]` with the variables of
//! `infra/moto.sh` set.

use bytes::Bytes;
use std::sync::Arc;
use std::time::Instant;
use upload_tokens_core::auth::{AccessTokenSigner, SigningKey};
use upload_tokens_core::domain::{
    FieldStyle, PolicyPatch, ProjectId, SystemClock, Ttl, UploadToken,
};
use upload_tokens_core::http::{App, AppWithBlobs, MediaSettings, dispatch};
use upload_tokens_core::store::Store;
use upload_tokens_core::store::blob::BlobStore;
use upload_tokens_core::store::blob_files::FileBlobStore;
use upload_tokens_core::store::dynamodb::{DynamoStore, schema};
use upload_tokens_core::store::embedded::EmbeddedStore;
use upload_tokens_core::store::s3::S3BlobStore;

mod support;

const MIB: usize = 1024 * 1024;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() % 1_000_000_000)
    )
}

/// The stores of one phase: SQLite and files, or DynamoDB and S3 on moto.
async fn stores(aws: bool, dir: &std::path::Path) -> (Arc<dyn Store>, Arc<dyn BlobStore>) {
    if !aws {
        return (
            Arc::new(EmbeddedStore::open(dir).expect("store")),
            Arc::new(FileBlobStore::new(dir.join("blobs")).expect("blobs")),
        );
    }
    let config = support::moto_config("tokens").await;
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let table = unique("bench-tokens");
    schema::create_table(&dynamo, &table).await.expect("table");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket(&table)
        .send()
        .await
        .expect("bucket");
    (
        Arc::new(DynamoStore::new(dynamo, table.clone())),
        Arc::new(S3BlobStore::new(s3, table)),
    )
}

/// A token of a new project, with the policy of a browser upload or none.
async fn token(store: &dyn Store, limited: bool) -> UploadToken {
    let mut token = UploadToken::create(ProjectId::generate(), Ttl::NEVER, chrono::Utc::now());
    if limited {
        let body = serde_json::json!({
            "maxFileBytes": 2_147_483_648u64, "allowedContentTypes": ["video/*"],
            "maxUploads": 1_000_000, "allowedOrigins": ["https://app.example.com"],
            "video": {"title": "bench", "tags": ["bench"]}
        });
        PolicyPatch::parse(body.as_object().expect("object"), FieldStyle::Camel, &[])
            .expect("valid")
            .apply(&mut token.policy, &mut token.name);
    }
    store.insert_token(&token).await.expect("token");
    token
}

/// Seconds an upload of `total` bytes in `chunk`-byte chunks takes through the handler.
async fn upload(media: &AppWithBlobs, token: &UploadToken, total: usize, chunk: usize) -> f64 {
    // An MP4's first bytes, so that the content check passes.
    let mut file = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2".to_vec();
    file.resize(total, 0x5a);
    let parts = total.div_ceil(chunk);
    let mut video: Option<String> = None;
    let started = Instant::now();
    for (i, piece) in file.chunks(chunk).enumerate() {
        let mut body = Vec::with_capacity(piece.len() + 400);
        if let Some(id) = &video {
            body.extend_from_slice(
                format!("--b\r\nContent-Disposition: form-data; name=\"videoId\"\r\n\r\n{id}\r\n")
                    .as_bytes(),
            );
        }
        body.extend_from_slice(
            b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.mp4\"\r\n\
              Content-Type: video/mp4\r\n\r\n",
        );
        body.extend_from_slice(piece);
        body.extend_from_slice(b"\r\n--b--\r\n");
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("/upload?token={}", token.id))
            .header("content-type", "multipart/form-data; boundary=b")
            .header("content-range", format!("part {}/{parts}", i + 1))
            .header("origin", "https://app.example.com")
            .body(Bytes::from(body))
            .expect("request");
        let response = dispatch(media, request).await;
        assert_eq!(
            response.status(),
            201,
            "{}",
            String::from_utf8_lossy(response.body())
        );
        if video.is_none() {
            let json: serde_json::Value =
                serde_json::from_slice(response.body()).expect("video json");
            video = json["videoId"].as_str().map(str::to_owned);
        }
    }
    started.elapsed().as_secs_f64()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

async fn policy() {
    let rounds = env_usize("POLICY_ROUNDS", 9);
    println!(
        "| store | chunks | without a policy, MiB/s (median) | with a policy, MiB/s (median) | \
         with ÷ without, per round: median (min–max) |"
    );
    println!("|---|---|---:|---:|---:|");
    for (aws, total) in [(false, 64 * MIB), (true, 16 * MIB)] {
        let dir = tempfile::tempdir().expect("dir");
        let (store, blobs) = stores(aws, dir.path()).await;
        let media = AppWithBlobs {
            app: App {
                store: store.clone(),
                clock: Arc::new(SystemClock),
                signer: AccessTokenSigner::new(SigningKey::new(vec![9u8; 32]).expect("key")),
            },
            blobs,
            settings: MediaSettings::default(),
        };
        let (plain, limited) = (token(&*store, false).await, token(&*store, true).await);
        // Warm-up.
        upload(&media, &plain, 4 * MIB, MIB).await;
        upload(&media, &limited, 4 * MIB, MIB).await;
        let (mut without, mut with, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            // Alternate which goes first, so that neither always meets a warmer machine.
            let (a, b) = if round % 2 == 0 {
                let a = upload(&media, &plain, total, MIB).await;
                (a, upload(&media, &limited, total, MIB).await)
            } else {
                let b = upload(&media, &limited, total, MIB).await;
                (upload(&media, &plain, total, MIB).await, b)
            };
            without.push(a);
            with.push(b);
            ratios.push(a / b);
        }
        let mibs = |s: f64| (total / MIB) as f64 / s;
        let r = median(ratios.clone());
        let (lo, hi) = ratios
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), &x| (l.min(x), h.max(x)));
        println!(
            "| {} | {} × 1 MiB | {:.0} | {:.0} | {r:.2}× ({lo:.2}–{hi:.2}) |",
            if aws {
                "DynamoDB + S3 (moto)"
            } else {
                "embedded (SQLite + files)"
            },
            total / MIB,
            mibs(median(without)),
            mibs(median(with)),
        );
    }
}

/// Milliseconds `GET <uri>` takes over HTTP (median of `runs`), and its JSON.
async fn timed_get(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    runs: usize,
) -> (f64, serde_json::Value) {
    let mut times = Vec::new();
    let mut body = serde_json::Value::Null;
    for _ in 0..runs {
        let started = Instant::now();
        let response = client.get(url).bearer_auth(key).send().await.expect("GET");
        assert_eq!(response.status(), 200);
        body = response.json().await.expect("json");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    (median(times), body)
}

async fn list() {
    let tokens = env_usize("LIST_TOKENS", 10_000);
    let runs = env_usize("LIST_RUNS", 15);
    println!(
        "| store | tokens | first page (ms, median) | last page (ms, median) | last ÷ first |"
    );
    println!("|---|---:|---:|---:|---:|");
    for aws in [false, true] {
        let dir = tempfile::tempdir().expect("dir");
        let mut options = local_api::Options::new(dir.path(), "127.0.0.1:0");
        if aws {
            support::moto_config("tokens").await;
            let table = unique("bench-list");
            options.store.store = local_api::StoreKind::Aws;
            options.store.bucket = Some(table.clone());
            options.store.table = Some(table);
            options.store.create_table = true;
        }
        let server = local_api::start(options.clone()).await.expect("server");
        let store = local_api::open_store(&options.store).await.expect("store");
        let project = server.project.project_id.clone();
        let started = Instant::now();
        // Seeded through the store, 16 at a time (moto answers one request at a time anyway).
        let now = chrono::Utc::now() - chrono::TimeDelta::seconds(10);
        let seeds: Vec<_> = (0..tokens)
            .map(|i| {
                let mut t = UploadToken::create(
                    project.clone(),
                    Ttl::NEVER,
                    now + chrono::TimeDelta::milliseconds(i as i64),
                );
                if i % 2 == 1 {
                    t.id = upload_tokens_core::auth::NamedTokenValue::generate().id();
                }
                t
            })
            .collect();
        for batch in seeds.chunks(16) {
            let inserts = batch.iter().map(|t| store.insert_token(t));
            for r in futures_util::future::join_all(inserts).await {
                r.expect("seeded");
            }
        }
        eprintln!("{} tokens seeded in {:?}", tokens, started.elapsed());
        let client = reqwest::Client::new();
        let key = server.project.api_key.expose().to_owned();
        let base = server.url();
        let first = format!("{base}/v2/tokens?limit=25");
        let (first_ms, _) = timed_get(&client, &first, &key, runs).await;
        // Walk to the last page once (its cursor is the one to time).
        let mut last = first.clone();
        let mut pages = 1;
        loop {
            let response: serde_json::Value = client
                .get(&last)
                .bearer_auth(&key)
                .send()
                .await
                .expect("GET")
                .json()
                .await
                .expect("json");
            match response["links"]["next"].as_str() {
                Some(next) => {
                    last = format!("{base}{next}");
                    pages += 1;
                }
                None => break,
            }
        }
        let (last_ms, body) = timed_get(&client, &last, &key, runs).await;
        assert_eq!(body["links"], serde_json::json!({}), "the last page");
        assert_eq!(pages, tokens.div_ceil(25), "every page walked");
        println!(
            "| {} | {tokens} | {first_ms:.2} | {last_ms:.2} | {:.2}× |",
            if aws { "DynamoDB (moto)" } else { "SQLite" },
            last_ms / first_ms
        );
        server.stop().await.expect("stops");
    }
}

fn main() {
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let all = which.is_empty();
    if all || which.iter().any(|w| w == "policy") {
        runtime.block_on(policy());
        println!();
    }
    if all || which.iter().any(|w| w == "list") {
        runtime.block_on(list());
    }
}
