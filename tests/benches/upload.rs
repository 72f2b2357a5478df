//! Upload throughput: 256 MiB through the `/upload` handler in 4 MiB and 16 MiB chunks, to the
//! embedded store and to S3 + DynamoDB on moto, each against a baseline measured in the same
//! run: the same bytes written straight to disk, and a plain SDK multipart upload to the same
//! moto. Each phase runs in its own process so its peak RSS is its own.
//!
//! `./infra/bench.sh` runs it (starts moto, writes BENCHMARKS.md). Directly:
//! `cargo bench -p e2e-tests --bench upload` with `UPLOAD_TOKENS_TEST_MOTO_URL` and the AWS
//! variables of `infra/test.sh` set.

use bytes::Bytes;
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;
use upload_tokens_core::auth::{AccessTokenSigner, SigningKey};
use upload_tokens_core::domain::{ProjectId, SystemClock, Ttl, UploadToken};
use upload_tokens_core::http::{App, AppWithBlobs, Body, MediaSettings, dispatch};
use upload_tokens_core::store::Store;
use upload_tokens_core::store::blob::BlobStore;
use upload_tokens_core::store::blob_files::FileBlobStore;
use upload_tokens_core::store::dynamodb::{DynamoStore, schema};
use upload_tokens_core::store::embedded::EmbeddedStore;
use upload_tokens_core::store::s3::S3BlobStore;

mod support;

const MIB: usize = 1024 * 1024;
const TOTAL: usize = 256 * MIB;

fn data() -> Vec<u8> {
    let mut x: u64 = 42;
    (0..TOTAL)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            (x >> 56) as u8
        })
        .collect()
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    )
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    )
}

/// Sends the bytes through the upload handler in `chunk`-sized requests, each body streamed in
/// 256 KiB frames as the local server hands it over (chunks past 8 MiB spooled to a temporary
/// directory); returns seconds spent in the handler.
async fn through_handler(store: Arc<dyn Store>, blobs: Arc<dyn BlobStore>, chunk: usize) -> f64 {
    let spool = tempfile::tempdir().expect("spool dir");
    let media = AppWithBlobs {
        app: App {
            store: store.clone(),
            clock: Arc::new(SystemClock),
            signer: AccessTokenSigner::new(SigningKey::new(vec![9u8; 32]).expect("long")),
        },
        blobs,
        settings: MediaSettings {
            spool_dir: Some(spool.path().to_owned()),
            ..MediaSettings::default()
        },
    };
    let token = UploadToken::create(ProjectId::generate(), Ttl::NEVER, chrono::Utc::now());
    store.insert_token(&token).await.expect("token stored");
    let bytes = data();
    let parts = TOTAL.div_ceil(chunk);
    let mut video_id: Option<String> = None;
    let mut spent = 0.0;
    for (i, piece) in bytes.chunks(chunk).enumerate() {
        let boundary = "bench-boundary-7d1f";
        let mut body = Vec::with_capacity(piece.len() + 512);
        if let Some(id) = &video_id {
            write!(
                body,
                "--{boundary}\r\nContent-Disposition: form-data; name=\"videoId\"\r\n\r\n{id}\r\n"
            )
            .expect("write");
        }
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bench.mp4\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .expect("write");
        body.extend_from_slice(piece);
        write!(body, "\r\n--{boundary}--\r\n").expect("write");
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("/upload?token={}", token.id))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header("content-range", format!("part {}/{parts}", i + 1))
            .body(streamed(Bytes::from(body)))
            .expect("request");
        let started = Instant::now();
        let response = dispatch(&media, request).await;
        spent += started.elapsed().as_secs_f64();
        assert_eq!(
            response.status(),
            201,
            "{:?}",
            String::from_utf8_lossy(response.body())
        );
        if video_id.is_none() {
            let json: serde_json::Value =
                serde_json::from_slice(response.body()).expect("video json");
            video_id = json["videoId"].as_str().map(str::to_owned);
        }
    }
    spent
}

/// `body` as a stream of 256 KiB frames.
fn streamed(body: Bytes) -> Body {
    let frames: Vec<Result<Bytes, std::io::Error>> = (0..body.len())
        .step_by(256 * 1024)
        .map(|at| Ok(body.slice(at..body.len().min(at + 256 * 1024))))
        .collect();
    Body::streamed(futures_util::stream::iter(frames))
}

async fn phase(name: &str) -> f64 {
    match name {
        "disk" => {
            let dir = tempfile::tempdir().expect("temp dir");
            let bytes = data();
            let started = Instant::now();
            let mut file = std::fs::File::create(dir.path().join("plain")).expect("create");
            for piece in bytes.chunks(4 * MIB) {
                file.write_all(piece).expect("write");
            }
            file.sync_all().expect("fsync");
            started.elapsed().as_secs_f64()
        }
        "embedded-4" | "embedded-16" => {
            let dir = tempfile::tempdir().expect("temp dir");
            let store = Arc::new(EmbeddedStore::open(dir.path()).expect("store"));
            let blobs = Arc::new(FileBlobStore::new(dir.path().join("blobs")).expect("blobs"));
            let chunk = if name.ends_with("-4") {
                4 * MIB
            } else {
                16 * MIB
            };
            through_handler(store, blobs, chunk).await
        }
        "sdk-multipart" => {
            let config = support::moto_config("upload").await;
            let s3 = s3_client(&config);
            let bucket = unique("bench-sdk");
            s3.create_bucket()
                .bucket(&bucket)
                .send()
                .await
                .expect("bucket");
            let bytes = data();
            let started = Instant::now();
            let upload = s3
                .create_multipart_upload()
                .bucket(&bucket)
                .key("plain")
                .send()
                .await
                .expect("create");
            let id = upload.upload_id().expect("upload id").to_owned();
            let mut parts = Vec::new();
            for (i, piece) in bytes.chunks(16 * MIB).enumerate() {
                let n = i as i32 + 1;
                let out = s3
                    .upload_part()
                    .bucket(&bucket)
                    .key("plain")
                    .upload_id(&id)
                    .part_number(n)
                    .body(Bytes::copy_from_slice(piece).into())
                    .send()
                    .await
                    .expect("part");
                parts.push(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(n)
                        .set_e_tag(out.e_tag().map(str::to_owned))
                        .build(),
                );
            }
            s3.complete_multipart_upload()
                .bucket(&bucket)
                .key("plain")
                .upload_id(&id)
                .multipart_upload(
                    aws_sdk_s3::types::CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .expect("complete");
            started.elapsed().as_secs_f64()
        }
        "s3-4" | "s3-16" => {
            let config = support::moto_config("upload").await;
            let dynamo = aws_sdk_dynamodb::Client::new(&config);
            let table = unique("bench");
            schema::create_table(&dynamo, &table).await.expect("table");
            let s3 = s3_client(&config);
            let bucket = unique("bench-up");
            s3.create_bucket()
                .bucket(&bucket)
                .send()
                .await
                .expect("bucket");
            let chunk = if name.ends_with("-4") {
                4 * MIB
            } else {
                16 * MIB
            };
            through_handler(
                Arc::new(DynamoStore::new(dynamo, table)),
                Arc::new(S3BlobStore::new(s3, bucket)),
                chunk,
            )
            .await
        }
        other => panic!("unknown phase {other}"),
    }
}

const PHASES: &[(&str, &str, &str)] = &[
    (
        "disk",
        "(a') bytes straight to disk, 4 MiB writes + fsync",
        "disk",
    ),
    (
        "embedded-4",
        "(a) /upload → embedded store, 4 MiB chunks",
        "disk",
    ),
    (
        "embedded-16",
        "(a) /upload → embedded store, 16 MiB chunks",
        "disk",
    ),
    (
        "sdk-multipart",
        "(b') plain SDK multipart to moto, 16 MiB parts",
        "sdk-multipart",
    ),
    (
        "s3-4",
        "(b) /upload → DynamoDB + S3 on moto, 4 MiB chunks",
        "sdk-multipart",
    ),
    (
        "s3-16",
        "(b) /upload → DynamoDB + S3 on moto, 16 MiB chunks",
        "sdk-multipart",
    ),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--phase") {
        let name = args.get(i + 1).expect("phase name").clone();
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let seconds = runtime.block_on(phase(&name));
        println!("{seconds} {}", peak_rss_mib());
        return;
    }
    let me = std::env::current_exe().expect("own path");
    let mut results: Vec<(&str, f64, f64)> = Vec::new();
    for (name, _, _) in PHASES {
        let out = std::process::Command::new(&me)
            .args(["--phase", name])
            .output()
            .expect("phase runs");
        assert!(
            out.status.success(),
            "phase {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let mut fields = text.split_whitespace();
        let seconds: f64 = fields.next().and_then(|s| s.parse().ok()).expect("seconds");
        let rss: f64 = fields.next().and_then(|s| s.parse().ok()).expect("rss");
        eprintln!("{name}: {seconds:.2} s, peak RSS {rss:.0} MiB");
        results.push((name, seconds, rss));
    }
    let mibs = |s: f64| (TOTAL / MIB) as f64 / s;
    println!("| phase | MiB/s | ratio to its baseline | peak RSS (MiB) |");
    println!("|---|---:|---:|---:|");
    for (name, label, baseline) in PHASES {
        let (_, seconds, rss) = results.iter().find(|r| r.0 == *name).copied().expect("ran");
        let (_, base, _) = results
            .iter()
            .find(|r| r.0 == *baseline)
            .copied()
            .expect("ran");
        println!(
            "| {label} | {:.0} | {:.2}× | {rss:.0} |",
            mibs(seconds),
            base / seconds
        );
    }
}
