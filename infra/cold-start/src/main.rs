//! Cold-start benchmark. For each release function binary (and a hello-world `lambda_http`
//! binary built with the same profile, measured in the same run), over repeated runs: exec the
//! binary against a local Lambda Runtime API, and measure exec → first `next` poll (init) and
//! exec → first response, in two kinds of cold start:
//! - the event needs no store access (a request without credentials, so the handlers answer
//!   401/400 at once); `AWS_ENDPOINT_URL` points at a local listener that counts connections, so
//!   any network I/O before the first response shows up as a number, not a delay;
//! - the event needs the store (an API key in `Authorization: Basic`, or an upload token): the
//!   function makes its first AWS request, to a local stand-in that answers every request with
//!   an empty item (`{}`), so the key or token is unknown and the answer is 401 (400 from
//!   `auth`). This is the first response that pays for building the SDK client, wherever the
//!   function builds it.
//!
//! usage: cold-start [--bin-dir target/release] [--runs 30] [--lambda-dir target/lambda]
//!                   [--only get-token,upload] (hello-world and the named binaries only)
//!                   [--initialization-type on-demand|provisioned-concurrency]
//! Prints Markdown tables (`./infra/bench.sh cold-start` writes them into BENCHMARKS.md).
//! `cold-start --list` prints the function binaries it execs, one a line (what the script builds).

use apigw_emulator::runtime_api::{Outcome, RuntimeApi};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A first event: method, path, `Authorization` header (if any), JSON body (or none) and the
/// status it must answer.
type FirstEvent = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    u16,
);

/// `Authorization: Basic base64("bench-api-key:")`: a key the store stand-in does not know.
const BASIC: Option<&str> = Some("Basic YmVuY2gtYXBpLWtleTo=");

/// Each binary, the event of a cold start without store access, and the event of one with.
const BINARIES: &[(&str, FirstEvent, FirstEvent)] = &[
    (
        "hello-lambda",
        ("GET", "/", None, None, 200),
        ("GET", "/", None, None, 200),
    ),
    (
        "create-token",
        ("POST", "/upload-tokens", None, None, 401),
        ("POST", "/upload-tokens", BASIC, None, 401),
    ),
    (
        "list-tokens",
        ("GET", "/upload-tokens", None, None, 401),
        ("GET", "/upload-tokens", BASIC, None, 401),
    ),
    (
        "get-token",
        (
            "GET",
            "/upload-tokens/to1tcmSFHeYY5KzyhOqVKMKb",
            None,
            None,
            401,
        ),
        (
            "GET",
            "/upload-tokens/to1tcmSFHeYY5KzyhOqVKMKb",
            BASIC,
            None,
            401,
        ),
    ),
    (
        "delete-token",
        (
            "DELETE",
            "/upload-tokens/to1tcmSFHeYY5KzyhOqVKMKb",
            None,
            None,
            401,
        ),
        (
            "DELETE",
            "/upload-tokens/to1tcmSFHeYY5KzyhOqVKMKb",
            BASIC,
            None,
            401,
        ),
    ),
    (
        "auth",
        ("POST", "/auth/api-key", None, None, 400),
        (
            "POST",
            "/auth/api-key",
            None,
            Some(r#"{"apiKey":"bench-api-key"}"#),
            400,
        ),
    ),
    (
        "upload",
        ("POST", "/upload", None, None, 401),
        (
            "POST",
            "/upload?token=to1tcmSFHeYY5KzyhOqVKMKb",
            None,
            None,
            401,
        ),
    ),
    (
        "get-video",
        ("GET", "/videos/vi4blUQJFrYWbaG44NChkH27", None, None, 401),
        ("GET", "/videos/vi4blUQJFrYWbaG44NChkH27", BASIC, None, 401),
    ),
    (
        "update-video",
        ("PATCH", "/videos/vi4blUQJFrYWbaG44NChkH27", None, None, 401),
        (
            "PATCH",
            "/videos/vi4blUQJFrYWbaG44NChkH27",
            BASIC,
            None,
            401,
        ),
    ),
    (
        "delete-video",
        (
            "DELETE",
            "/videos/vi4blUQJFrYWbaG44NChkH27",
            None,
            None,
            401,
        ),
        (
            "DELETE",
            "/videos/vi4blUQJFrYWbaG44NChkH27",
            BASIC,
            None,
            401,
        ),
    ),
    (
        "video-status",
        (
            "GET",
            "/videos/vi4blUQJFrYWbaG44NChkH27/status",
            None,
            None,
            401,
        ),
        (
            "GET",
            "/videos/vi4blUQJFrYWbaG44NChkH27/status",
            BASIC,
            None,
            401,
        ),
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
    /// The binaries to measure besides hello-world (all when empty).
    only: Vec<String>,
    /// `AWS_LAMBDA_INITIALIZATION_TYPE`, as Lambda sets it.
    initialization_type: String,
    /// Only list the function binaries.
    list: bool,
}

fn parse_args() -> Result<Args, BenchError> {
    let mut args = Args {
        bin_dir: PathBuf::from("target/release"),
        lambda_dir: PathBuf::from("target/lambda"),
        runs: 30,
        only: Vec::new(),
        initialization_type: "on-demand".into(),
        list: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--list" {
            args.list = true;
            continue;
        }
        let value = it
            .next()
            .ok_or_else(|| BenchError::Usage(format!("{flag} needs a value")))?;
        match flag.as_str() {
            "--bin-dir" => args.bin_dir = value.into(),
            "--lambda-dir" => args.lambda_dir = value.into(),
            "--only" => args.only = value.split(',').map(str::to_owned).collect(),
            "--initialization-type" => args.initialization_type = value,
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

/// An API Gateway HTTP API (payload v2) event.
fn event(&(method, path_and_query, authorization, body, _): &FirstEvent) -> String {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut headers = serde_json::json!({
        "content-type": "application/json",
        "host": "abcdef1234.execute-api.us-east-1.amazonaws.com",
        "x-forwarded-proto": "https"
    });
    if let Some(authorization) = authorization {
        headers["authorization"] = authorization.into();
    }
    let mut event = serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
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
    });
    if !query.is_empty() {
        let parameters: serde_json::Map<String, serde_json::Value> =
            form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned().into()))
                .collect();
        event["queryStringParameters"] = parameters.into();
    }
    if let Some(body) = body {
        event["body"] = (*body).into();
    }
    event.to_string()
}

/// A listener standing in for every AWS endpoint: it counts connections and answers every
/// request on them with 200 and an empty JSON object (DynamoDB's answer for a missing item).
async fn aws_probe() -> std::io::Result<(String, Arc<AtomicUsize>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(answer_empty(socket));
        }
    });
    Ok((url, count))
}

/// Answers each HTTP/1.1 request of a keep-alive connection with `200 {}`, until it closes.
async fn answer_empty(mut socket: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const REPLY: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 2\r\n\r\n{}";
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        // One request: its head, then as many body bytes as its Content-Length says.
        let head_end = loop {
            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buffer.len() < head_end + length {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        buffer.drain(..head_end + length);
        if socket.write_all(REPLY).await.is_err() {
            return;
        }
    }
}

/// One cold start: (init, first response, AWS connections).
async fn cold_start(
    binary: &Path,
    first_event: &FirstEvent,
    initialization_type: &str,
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
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", initialization_type)
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
    let outcome = tokio::time::timeout(limit, api.invoke(event(first_event).into(), limit)).await;
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
    if body["statusCode"] != first_event.4 {
        return Err(fail(format!(
            "answered {body}, expected status {}",
            first_event.4
        )));
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

/// Every run of one binary: init and first response of the cold starts without store access,
/// their AWS connections, and first response of those with.
#[derive(Clone, Default)]
struct Samples {
    init: Vec<Duration>,
    first: Vec<Duration>,
    connections: usize,
    store_first: Vec<Duration>,
}

fn median_p90(v: &[Duration]) -> (Duration, Duration) {
    let mut v = v.to_vec();
    v.sort();
    (percentile(&v, 50.0), percentile(&v, 90.0))
}

#[tokio::main]
async fn main() -> Result<(), BenchError> {
    let args = parse_args()?;
    if args.list {
        for (name, ..) in BINARIES.iter().filter(|(name, ..)| *name != "hello-lambda") {
            println!("{name}");
        }
        return Ok(());
    }
    let measured = |name: &str| {
        name == "hello-lambda" || args.only.is_empty() || args.only.iter().any(|o| o == name)
    };
    let mut samples = vec![Samples::default(); BINARIES.len()];
    // One warm-up round (page cache), then rounds that take every binary in turn, so that
    // machine noise spreads over all of them alike.
    for round in 0..=args.runs {
        for (i, (name, without_store, with_store)) in BINARIES.iter().enumerate() {
            if !measured(name) {
                continue;
            }
            let binary = args.bin_dir.join(name);
            let (init, first, connections) =
                cold_start(&binary, without_store, &args.initialization_type).await?;
            let (_, store_first, _) =
                cold_start(&binary, with_store, &args.initialization_type).await?;
            if round > 0 {
                let s = &mut samples[i];
                s.init.push(init);
                s.first.push(first);
                s.connections += connections;
                s.store_first.push(store_first);
            }
        }
    }
    let (hello_init, _) = median_p90(&samples[0].init);
    let (hello_first, _) = median_p90(&samples[0].first);
    println!(
        "| binary | init median (ms) | init p90 | init vs hello-world | first response median (ms) | p90 | vs hello-world | AWS connections | first store response median (ms) | p90 | vs hello-world's first response | size x86_64 (MB) | size arm64 (MB) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (i, (name, ..)) in BINARIES.iter().enumerate() {
        if !measured(name) {
            continue;
        }
        let s = &samples[i];
        let (init_median, init_p90) = median_p90(&s.init);
        let (first_median, first_p90) = median_p90(&s.first);
        let (store_median, store_p90) = median_p90(&s.store_first);
        let arm = megabytes(&args.lambda_dir.join(name).join("bootstrap"))
            .map_or_else(|| "–".to_owned(), |mb| format!("{mb:.2}"));
        let host = megabytes(&args.bin_dir.join(name))
            .map_or_else(|| "–".to_owned(), |mb| format!("{mb:.2}"));
        let ratio = |d: Duration, base: Duration| d.as_secs_f64() / base.as_secs_f64();
        println!(
            "| {name} | {} | {} | {:.2}× | {} | {} | {:.2}× | {} | {} | {} | {:.2}× | {host} | {arm} |",
            ms(init_median),
            ms(init_p90),
            ratio(init_median, hello_init),
            ms(first_median),
            ms(first_p90),
            ratio(first_median, hello_first),
            s.connections,
            ms(store_median),
            ms(store_p90),
            ratio(store_median, hello_first),
        );
    }
    eprintln!("{} runs per binary after one warm-up round", args.runs);
    Ok(())
}
