//! Cold-start benchmark. For each release function binary (and a hello-world `lambda_http`
//! binary built with the same profile, measured in the same run), over repeated runs: exec the
//! binary against a local Lambda Runtime API, and measure exec → first `next` poll (init) and
//! exec → first response. The event needs no store access (a request without credentials, so the
//! handlers answer 401/400 at once); `AWS_ENDPOINT_URL` points at a local listener that counts
//! connections, so any network I/O before the first response shows up as a number, not a delay.
//!
//! usage: cold-start [--bin-dir target/release] [--runs 30] [--lambda-dir target/lambda]
//! Prints Markdown tables (`./infra/bench.sh cold-start` writes them into BENCHMARKS.md).

use apigw_emulator::runtime_api::{Outcome, RuntimeApi};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Each binary, the request its first event carries, and the status it must answer.
const BINARIES: &[(&str, &str, &str, u16)] = &[
    ("hello-lambda", "GET", "/", 200),
    ("create-token", "POST", "/upload-tokens", 401),
    ("list-tokens", "GET", "/upload-tokens", 401),
    (
        "get-token",
        "GET",
        "/upload-tokens/to1tcmSFHeYY5KzyhOqVKMKb",
        401,
    ),
    (
        "delete-token",
        "DELETE",
        "/upload-tokens/to1tcmSFHeYY5KzyhOqVKMKb",
        401,
    ),
    ("auth", "POST", "/auth/api-key", 400),
    ("upload", "POST", "/upload", 401),
    ("get-video", "GET", "/videos/vi4blUQJFrYWbaG44NChkH27", 401),
    (
        "update-video",
        "PATCH",
        "/videos/vi4blUQJFrYWbaG44NChkH27",
        401,
    ),
    (
        "delete-video",
        "DELETE",
        "/videos/vi4blUQJFrYWbaG44NChkH27",
        401,
    ),
    (
        "video-status",
        "GET",
        "/videos/vi4blUQJFrYWbaG44NChkH27/status",
        401,
    ),
];

#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error("{0}")]
    Usage(String),
    #[error("{binary}: {detail}")]
    Run { binary: String, detail: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

struct Args {
    bin_dir: PathBuf,
    lambda_dir: PathBuf,
    runs: usize,
}

fn parse_args() -> Result<Args, BenchError> {
    let mut args = Args {
        bin_dir: PathBuf::from("target/release"),
        lambda_dir: PathBuf::from("target/lambda"),
        runs: 30,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| BenchError::Usage(format!("{flag} needs a value")))?;
        match flag.as_str() {
            "--bin-dir" => args.bin_dir = value.into(),
            "--lambda-dir" => args.lambda_dir = value.into(),
            "--runs" => {
                args.runs = value
                    .parse()
                    .map_err(|_| BenchError::Usage("--runs takes a number".into()))?
            }
            _ => return Err(BenchError::Usage(format!("unknown flag {flag}"))),
        }
    }
    Ok(args)
}

/// An API Gateway HTTP API (payload v2) event without credentials.
fn event(method: &str, path: &str) -> String {
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "host": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "x-forwarded-proto": "https"
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abcdef1234",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "cold-start-bench"
            },
            "requestId": "bench-request",
            "routeKey": "$default",
            "stage": "$default",
            "time": "23/Nov/2026:09:00:00 +0000",
            "timeEpoch": 1_795_424_400_000u64
        },
        "isBase64Encoded": false
    })
    .to_string()
}

/// A listener standing in for every AWS endpoint: it counts connections and answers none.
async fn aws_probe() -> std::io::Result<(String, Arc<AtomicUsize>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    Ok((url, count))
}

/// One cold start: (init, first response, AWS connections).
async fn cold_start(
    binary: &Path,
    method: &str,
    path: &str,
    status: u16,
) -> Result<(Duration, Duration, usize), BenchError> {
    let name = binary.display().to_string();
    let fail = |detail: String| BenchError::Run {
        binary: name.clone(),
        detail,
    };
    let api = RuntimeApi::start("bench").await?;
    let (aws_url, connections) = aws_probe().await?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_SESSION_TOKEN", "bench")
        .env("AWS_ENDPOINT_URL", &aws_url)
        .env("TABLE_NAME", "bench")
        .env("BUCKET_NAME", "bench")
        .env(
            "SIGNING_SECRET",
            "cold-start-bench-signing-secret-0123456789",
        )
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let limit = Duration::from_secs(10);
    let outcome = tokio::time::timeout(limit, api.invoke(event(method, path).into(), limit)).await;
    let _ = child.kill().await;
    let outcome = outcome
        .map_err(|_| fail("no response within 10 s".into()))?
        .map_err(|e| fail(e.to_string()))?;
    let (body, response) = match outcome {
        Outcome::Response { body, at } => (body, at),
        Outcome::Error { body, .. } => return Err(fail(format!("invocation error: {body}"))),
        Outcome::InitError(e) => return Err(fail(format!("init error: {e}"))),
    };
    let body: serde_json::Value =
        serde_json::from_slice(&body).map_err(|_| fail("unreadable response".into()))?;
    if body["statusCode"] != status {
        return Err(fail(format!("answered {body}, expected status {status}")));
    }
    let Some(poll) = api.first_poll() else {
        return Err(fail("no poll recorded".into()));
    };
    Ok((
        poll - started,
        response - started,
        connections.load(Ordering::SeqCst),
    ))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn megabytes(path: &Path) -> Option<f64> {
    std::fs::metadata(path)
        .ok()
        .map(|m| m.len() as f64 / 1_000_000.0)
}

#[tokio::main]
async fn main() -> Result<(), BenchError> {
    let args = parse_args()?;
    let mut init: Vec<Vec<Duration>> = vec![Vec::new(); BINARIES.len()];
    let mut first: Vec<Vec<Duration>> = vec![Vec::new(); BINARIES.len()];
    let mut connections = vec![0usize; BINARIES.len()];
    // One warm-up round (page cache), then rounds that take every binary in turn, so that
    // machine noise spreads over all of them alike.
    for round in 0..=args.runs {
        for (i, (name, method, path, status)) in BINARIES.iter().enumerate() {
            let binary = args.bin_dir.join(name);
            let (a, b, c) = cold_start(&binary, method, path, *status).await?;
            if round > 0 {
                init[i].push(a);
                first[i].push(b);
                connections[i] += c;
            }
        }
    }
    let stats = |v: &mut Vec<Duration>| {
        v.sort();
        (percentile(v, 50.0), percentile(v, 90.0))
    };
    let (hello_init, _) = stats(&mut init[0].clone());
    let (hello_first, _) = stats(&mut first[0].clone());
    println!(
        "| binary | init median (ms) | init p90 | init vs hello-world | first response median (ms) | p90 | vs hello-world | AWS connections | size x86_64 (MB) | size arm64 (MB) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (i, (name, ..)) in BINARIES.iter().enumerate() {
        let (init_median, init_p90) = stats(&mut init[i]);
        let (first_median, first_p90) = stats(&mut first[i]);
        let arm = megabytes(&args.lambda_dir.join(name).join("bootstrap"))
            .map_or_else(|| "–".to_owned(), |mb| format!("{mb:.2}"));
        let host = megabytes(&args.bin_dir.join(name))
            .map_or_else(|| "–".to_owned(), |mb| format!("{mb:.2}"));
        println!(
            "| {name} | {} | {} | {:.2}× | {} | {} | {:.2}× | {} | {host} | {arm} |",
            ms(init_median),
            ms(init_p90),
            init_median.as_secs_f64() / hello_init.as_secs_f64(),
            ms(first_median),
            ms(first_p90),
            first_median.as_secs_f64() / hello_first.as_secs_f64(),
            connections[i],
        );
    }
    eprintln!("{} runs per binary after one warm-up round", args.runs);
    Ok(())
}
