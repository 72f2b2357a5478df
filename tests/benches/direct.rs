//! S3-direct throughput (SPEC §9): 256 MiB uploaded through the local server's signing endpoints
//! (`--store aws`, DynamoDB and S3 on moto) as Uppy does it, each part PUT to its presigned URL,
//! against a plain SDK multipart upload of the same bytes in the same part size to the same moto,
//! in the same run; rounds interleaved (alternating which goes first), the ratio the median of
//! the rounds' ratios. Also: the signing calls per GiB (at
//! Uppy's default 5 MiB parts and at the 16 MiB parts measured) and their latency.
//!
//! `./infra/bench.sh direct` runs it (starts moto, writes BENCHMARKS.md). Directly:
//! `cargo bench -p e2e-tests --bench direct` with `UPLOAD_TOKENS_TEST_MOTO_URL` and the AWS
//! variables of `infra/test.sh` set.

use bytes::Bytes;
use local_api::{Options, StoreKind};
use std::time::{Duration, Instant};

const MIB: usize = 1024 * 1024;
const TOTAL: usize = 256 * MIB;
const PART: usize = 16 * MIB;
const ROUNDS: usize = 5;

fn data() -> Bytes {
    let mut x: u64 = 7;
    Bytes::from(
        (0..TOTAL)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                (x >> 56) as u8
            })
            .collect::<Vec<u8>>(),
    )
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    )
}

async fn s3_client() -> aws_sdk_s3::Client {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    )
}

/// The baseline: CreateMultipartUpload, the parts, CompleteMultipartUpload; seconds.
async fn sdk_multipart(s3: &aws_sdk_s3::Client, bucket: &str, bytes: &Bytes) -> f64 {
    let started = Instant::now();
    let upload = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key("plain")
        .send()
        .await
        .expect("create");
    let id = upload.upload_id().expect("upload id").to_owned();
    let mut parts = Vec::new();
    for (i, at) in (0..TOTAL).step_by(PART).enumerate() {
        let n = i as i32 + 1;
        let out = s3
            .upload_part()
            .bucket(bucket)
            .key("plain")
            .upload_id(&id)
            .part_number(n)
            .body(bytes.slice(at..(at + PART).min(TOTAL)).into())
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
        .bucket(bucket)
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

/// Uppy's calls against the server at `base` with `token`: create, per part a signature and a
/// PUT to it, complete (the server lists and checks); seconds, and each signature's latency.
async fn direct(http: &reqwest::Client, base: &str, token: &str, bytes: &Bytes) -> (f64, Vec<f64>) {
    let s3 = format!("{base}/upload/{token}/s3");
    let started = Instant::now();
    let created: serde_json::Value = http
        .post(format!("{s3}/multipart"))
        .header("Content-Type", "application/json")
        .body(r#"{"filename":"bench.mp4","type":"video/mp4","metadata":{}}"#)
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("create JSON");
    let key = created["key"].as_str().expect("key").replace('/', "%2F");
    let upload_id = created["uploadId"].as_str().expect("uploadId").to_owned();
    let mut parts = Vec::new();
    let mut signing = Vec::new();
    for (i, at) in (0..TOTAL).step_by(PART).enumerate() {
        let n = i + 1;
        let asked = Instant::now();
        let signed: serde_json::Value = http
            .get(format!("{s3}/multipart/{upload_id}/{n}?key={key}"))
            .send()
            .await
            .expect("sign")
            .json()
            .await
            .expect("sign JSON");
        signing.push(asked.elapsed().as_secs_f64());
        let put = http
            .put(signed["url"].as_str().expect("url"))
            .body(bytes.slice(at..(at + PART).min(TOTAL)))
            .send()
            .await
            .expect("part PUT");
        assert_eq!(put.status(), 200, "part {n}");
        let etag = put
            .headers()
            .get("etag")
            .and_then(|e| e.to_str().ok())
            .expect("ETag")
            .to_owned();
        parts.push(serde_json::json!({"PartNumber": n, "ETag": etag}));
    }
    let done = http
        .post(format!("{s3}/multipart/{upload_id}/complete?key={key}"))
        .header("Content-Type", "application/json")
        .body(serde_json::json!({ "parts": parts }).to_string())
        .send()
        .await
        .expect("complete");
    assert_eq!(
        done.status(),
        200,
        "{}",
        done.text().await.unwrap_or_default()
    );
    (started.elapsed().as_secs_f64(), signing)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    std::env::var("UPLOAD_TOKENS_TEST_MOTO_URL")
        .expect("UPLOAD_TOKENS_TEST_MOTO_URL: run ./infra/bench.sh");
    let bytes = data();
    let s3 = s3_client().await;
    let baseline_bucket = unique("bench-sdk");
    s3.create_bucket()
        .bucket(&baseline_bucket)
        .send()
        .await
        .expect("bucket");

    let dir = tempfile::tempdir().expect("temp dir");
    let table = unique("bench-direct");
    let mut options = Options::new(dir.path(), "127.0.0.1:0");
    options.store.store = StoreKind::Aws;
    options.store.bucket = Some(table.to_lowercase());
    options.store.table = Some(table);
    options.store.create_table = true;
    let server = local_api::start(options).await.expect("server starts");
    let base = server.url();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .expect("client");
    let token: serde_json::Value = http
        .post(format!("{base}/upload-tokens"))
        .basic_auth(server.project.api_key.expose(), Some(""))
        .header("Content-Type", "application/json")
        .body(r#"{"ttl":3600}"#)
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token JSON");
    let token = token["token"].as_str().expect("token").to_owned();

    let (mut sdk, mut ours, mut ratios, mut signing) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (s, (d, signed)) = if round % 2 == 0 {
            let s = sdk_multipart(&s3, &baseline_bucket, &bytes).await;
            (s, direct(&http, &base, &token, &bytes).await)
        } else {
            let d = direct(&http, &base, &token, &bytes).await;
            (sdk_multipart(&s3, &baseline_bucket, &bytes).await, d)
        };
        eprintln!("round {round}: sdk {s:.2} s, direct {d:.2} s");
        sdk.push(s);
        ours.push(d);
        ratios.push(s / d);
        signing.extend(signed);
    }
    server.stop().await.expect("server stops");
    let mibs = |s: f64| (TOTAL / MIB) as f64 / s;
    let (sdk, ours, ratio) = (median(sdk), median(ours), median(ratios));
    let gib_parts = |part: usize| 1024 * MIB / part;
    println!("| upload of 256 MiB, 16 MiB parts, to moto | MiB/s | ratio to the SDK |");
    println!("|---|---:|---:|");
    println!("| (b') plain SDK multipart | {:.0} | 1.00× |", mibs(sdk));
    println!(
        "| S3-direct: signed by the local server (DynamoDB + S3 on moto), parts PUT to presigned URLs, completed and checked by the server | {:.0} | {:.2}× |",
        mibs(ours),
        ratio
    );
    println!();
    println!("| signing | value |");
    println!("|---|---:|");
    println!(
        "| signing calls per GiB at Uppy's 5 MiB parts (+ create, complete) | {} |",
        gib_parts(5 * MIB) + 1
    );
    println!(
        "| signing calls per GiB at 16 MiB parts (+ create, complete) | {} |",
        gib_parts(PART)
    );
    println!(
        "| part signature latency, median / p90 ({} calls) | {:.1} / {:.1} ms |",
        signing.len(),
        median(signing.clone()) * 1000.0,
        percentile(signing, 0.9) * 1000.0
    );
}
