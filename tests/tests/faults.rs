//! Uploads through a failing backend (SPEC §4, "Integrity"): the local server on DynamoDB + S3
//! (moto) reaches them through a proxy that, for a share of the calls, answers 500 without
//! forwarding, forwards and then answers 500 (the call applied, its reply lost), forwards and
//! then resets the connection (also a lost reply), or forwards after a delay. A client that
//! retries a failed request with the same bytes, as the official clients do, must complete
//! every upload byte for byte, leave one video per file, and leave nothing staged under
//! `staging/` nor any incomplete multipart upload in the bucket.
//!
//! The server is the real `local-api` binary, a child process whose `AWS_ENDPOINT_URL` is the
//! proxy; the test reads the bucket and the table through moto directly. The proxy's random
//! choices come from a fixed seed (`UPLOAD_TOKENS_FAULT_SEED` overrides it): the sequence of
//! faults is reproducible, though which call draws which depends on how the concurrent
//! uploads interleave. Downloads go to moto directly: a client downloads from S3, not through
//! the server's failing path.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::child::{Config, Server};
use support::upload::{MIB, byte_range, data, is_problem, sha, token};
use support::{Api, Reply};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The share of backend calls that each kind of fault hits.
const RATE_PER_KIND: f64 = 0.05;

#[derive(Clone, Copy, Debug)]
enum Fault {
    Error500Before,
    Error500After,
    ResetAfter,
    Delay,
}

#[derive(Default)]
struct Counts {
    calls: AtomicUsize,
    error_before: AtomicUsize,
    error_after: AtomicUsize,
    reset_after: AtomicUsize,
    delayed: AtomicUsize,
}

impl Counts {
    fn summary(&self) -> String {
        format!(
            "{} calls; 500 before {}, 500 after {}, reset after {}, delayed {}",
            self.calls.load(Ordering::Relaxed),
            self.error_before.load(Ordering::Relaxed),
            self.error_after.load(Ordering::Relaxed),
            self.reset_after.load(Ordering::Relaxed),
            self.delayed.load(Ordering::Relaxed),
        )
    }

    /// Calls that failed or lost their reply (delays aside).
    fn faults(&self) -> usize {
        self.error_before.load(Ordering::Relaxed)
            + self.error_after.load(Ordering::Relaxed)
            + self.reset_after.load(Ordering::Relaxed)
    }
}

/// SplitMix64: small, seeded, good enough to pick faults.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Proxy {
    upstream: SocketAddr,
    armed: AtomicBool,
    rng: std::sync::Mutex<Rng>,
    counts: Counts,
}

impl Proxy {
    fn draw(&self) -> (Option<Fault>, Duration) {
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        let r = rng.unit();
        let delay = Duration::from_millis(500 + rng.next() % 1500);
        if !self.armed.load(Ordering::SeqCst) {
            return (None, delay);
        }
        let fault = match (r / RATE_PER_KIND) as u32 {
            0 => Some(Fault::Error500Before),
            1 => Some(Fault::Error500After),
            2 => Some(Fault::ResetAfter),
            3 => Some(Fault::Delay),
            _ => None,
        };
        (fault, delay)
    }
}

/// One HTTP/1.1 request as read from the client: its head (without `Connection`, `Expect`
/// and `Keep-Alive`) and its body exactly as framed (Content-Length or chunked).
struct Request {
    head: Vec<String>,
    body: Vec<u8>,
    dynamodb: bool,
}

async fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).await? == 0 {
        return Ok(None);
    }
    let mut head = vec![request_line.trim_end().to_owned()];
    let (mut length, mut chunked, mut expect, mut dynamodb) = (0usize, false, false, false);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end().to_owned();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((&line, ""));
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        match name.as_str() {
            "content-length" => length = value.parse().unwrap_or(0),
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "expect" => expect = value.eq_ignore_ascii_case("100-continue"),
            "x-amz-target" => dynamodb = true,
            _ => {}
        }
        if !matches!(name.as_str(), "connection" | "expect" | "keep-alive") {
            head.push(line);
        }
    }
    if expect {
        reader
            .get_mut()
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await?;
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line).await?;
            body.extend_from_slice(size_line.as_bytes());
            let size =
                usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("").trim(), 16)
                    .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidData))?;
            if size == 0 {
                loop {
                    let mut trailer = String::new();
                    reader.read_line(&mut trailer).await?;
                    body.extend_from_slice(trailer.as_bytes());
                    if trailer.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).await?;
            body.extend_from_slice(&chunk);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).await?;
    }
    Ok(Some(Request {
        head,
        body,
        dynamodb,
    }))
}

/// Sends the request to moto on a fresh connection (`Connection: close`) and returns the
/// whole reply, read to its end.
async fn forward(upstream: SocketAddr, request: &Request) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream).await?;
    let mut head = request.head.join("\r\n");
    head.push_str("\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&request.body).await?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await?;
    Ok(reply)
}

/// The reply with its own `Connection` header replaced by `Connection: close`.
fn closing(reply: &[u8]) -> Vec<u8> {
    let Some(end) = reply.windows(4).position(|w| w == b"\r\n\r\n") else {
        return reply.to_vec();
    };
    let head = String::from_utf8_lossy(&reply[..end]);
    let mut out: Vec<String> = head
        .split("\r\n")
        .filter(|l| {
            let name = l
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            name != "connection" && name != "keep-alive"
        })
        .map(str::to_owned)
        .collect();
    out.push("Connection: close".into());
    let mut bytes = out.join("\r\n").into_bytes();
    bytes.extend_from_slice(b"\r\n\r\n");
    bytes.extend_from_slice(&reply[end + 4..]);
    bytes
}

fn injected_500(dynamodb: bool) -> Vec<u8> {
    let (ty, body) = if dynamodb {
        (
            "application/x-amz-json-1.0",
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected fault"}"#
                .to_owned(),
        )
    } else {
        (
            "application/xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected fault</Message></Error>"#
                .to_owned(),
        )
    };
    format!(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Type: {ty}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves one request per connection, with the fault the dice choose.
async fn serve(proxy: Arc<Proxy>, stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    let Some(request) = read_request(&mut reader).await? else {
        return Ok(());
    };
    let mut stream = reader.into_inner();
    proxy.counts.calls.fetch_add(1, Ordering::Relaxed);
    let (fault, delay) = proxy.draw();
    match fault {
        Some(Fault::Error500Before) => {
            proxy.counts.error_before.fetch_add(1, Ordering::Relaxed);
            stream.write_all(&injected_500(request.dynamodb)).await?;
            return stream.shutdown().await;
        }
        Some(Fault::Delay) => {
            proxy.counts.delayed.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(delay).await;
        }
        _ => {}
    }
    let reply = match forward(proxy.upstream, &request).await {
        Ok(reply) => reply,
        Err(_) => {
            stream
                .write_all(
                    b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await?;
            return stream.shutdown().await;
        }
    };
    match fault {
        Some(Fault::Error500After) => {
            proxy.counts.error_after.fetch_add(1, Ordering::Relaxed);
            stream.write_all(&injected_500(request.dynamodb)).await?;
            stream.shutdown().await
        }
        Some(Fault::ResetAfter) => {
            proxy.counts.reset_after.fetch_add(1, Ordering::Relaxed);
            stream.set_zero_linger()?;
            drop(stream);
            Ok(())
        }
        _ => {
            stream.write_all(&closing(&reply)).await?;
            stream.shutdown().await
        }
    }
}

async fn start_proxy(upstream: SocketAddr, seed: u64) -> (Arc<Proxy>, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
    let url = format!("http://{}", listener.local_addr().expect("proxy address"));
    let proxy = Arc::new(Proxy {
        upstream,
        armed: AtomicBool::new(false),
        rng: std::sync::Mutex::new(Rng(seed)),
        counts: Counts::default(),
    });
    let p = proxy.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let p = p.clone();
            tokio::spawn(async move {
                let _ = serve(p, stream).await;
            });
        }
    });
    (proxy, url)
}

/// A local server on DynamoDB + S3 whose every backend call goes through a failing proxy
/// (disarmed until the test arms it).
struct Failing {
    seed: u64,
    proxy: Arc<Proxy>,
    proxy_url: String,
    table: String,
    config: Config,
    dir: tempfile::TempDir,
}

impl Failing {
    /// The proxy in front of `moto`, with `UPLOAD_TOKENS_FAULT_SEED` or `seed`, and the server's
    /// configuration (table `label`…) pointing at it.
    async fn start(moto: &str, seed: u64, label: &str) -> Self {
        let seed = std::env::var("UPLOAD_TOKENS_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(seed);
        let upstream: SocketAddr = moto
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("moto URL is http://<ip>:<port>");
        let (proxy, proxy_url) = start_proxy(upstream, seed).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let table = support::table_name(label);
        let mut config = Config::aws(dir.path(), &table);
        config.endpoint = Some(proxy_url.clone());
        Failing {
            seed,
            proxy,
            proxy_url,
            table,
            config,
            dir,
        }
    }
}

/// Whether video `id` holds `file`, read from the bucket directly (see [`download_direct`]).
async fn stored_as_sent(
    api: &Api,
    id: &str,
    file: &[u8],
    urls: &(String, String),
    what: &str,
) -> Result<(), String> {
    match download_direct(api, id, urls).await {
        Ok(stored) if sha(&stored) == sha(file) => Ok(()),
        Ok(stored) => Err(format!(
            "{what}: video {id} holds {} B that differ from the {} B sent",
            stored.len(),
            file.len()
        )),
        Err(e) => Err(format!("{what}: video {id}: {e}")),
    }
}

/// What the upload tasks reported as failed.
async fn failures_of(tasks: Vec<tokio::task::JoinHandle<Result<(), String>>>) -> Vec<String> {
    let mut failures = Vec::new();
    for task in tasks {
        if let Err(e) = task.await.expect("upload task") {
            failures.push(e);
        }
    }
    failures
}

/// The last 40 lines of a server's output.
fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Requests the client sent again, and the answers that made it do so.
static RETRIED: AtomicUsize = AtomicUsize::new(0);
static RETRIED_5XX: AtomicUsize = AtomicUsize::new(0);
static RETRIED_409: AtomicUsize = AtomicUsize::new(0);
static RETRIED_NO_ANSWER: AtomicUsize = AtomicUsize::new(0);

/// One chunk, retried with the same bytes while the answer is a 5xx, a 409 `video-busy` or no
/// answer at all (as the official clients retry). Returns the final answer and the attempts.
async fn send_with_retries(
    api: &Api,
    token: &str,
    bytes: &[u8],
    range: Option<&str>,
    video_id: Option<&str>,
) -> (Reply, usize) {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let request =
            support::upload::chunk_request(&api.http, &api.base, token, bytes, range, video_id)
                .timeout(Duration::from_secs(60));
        let reply = support::upload::reply_or_no_answer(request.send().await).await;
        let retry =
            reply.status == 0 || reply.status >= 500 || is_problem(&reply, 409, "video-busy");
        if !retry || attempt >= 25 {
            return (reply, attempt);
        }
        RETRIED.fetch_add(1, Ordering::Relaxed);
        match reply.status {
            0 => &RETRIED_NO_ANSWER,
            409 => &RETRIED_409,
            _ => &RETRIED_5XX,
        }
        .fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(100 * attempt.min(10) as u64)).await;
    }
}

struct Plan {
    size: usize,
    /// `None`: the whole file in one request, without Content-Range.
    chunk: Option<usize>,
}

/// Uploads one file chunk by chunk (byte ranges, total known), retrying each chunk; returns
/// the video id, or why it failed.
async fn upload(api: &Api, token: &str, file: &[u8], plan: &Plan) -> Result<String, String> {
    let mut id: Option<String> = None;
    let chunk = plan.chunk.unwrap_or(file.len());
    let mut from = 0;
    while from < file.len() {
        let len = chunk.min(file.len() - from);
        let range = plan.chunk.map(|_| byte_range(from, len, file.len()));
        let (reply, attempts) = send_with_retries(
            api,
            token,
            &file[from..from + len],
            range.as_deref(),
            id.as_deref(),
        )
        .await;
        if reply.status != 201 {
            return Err(format!(
                "chunk {} after {attempts} attempts: {} {}",
                range.as_deref().unwrap_or("(whole file)"),
                reply.status,
                reply.text.chars().take(300).collect::<String>()
            ));
        }
        let got = reply.json["videoId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if let Some(id) = &id
            && &got != id
        {
            return Err(format!("chunk at {from} answered video {got}, not {id}"));
        }
        id = Some(got);
        from += len;
    }
    id.ok_or_else(|| "empty file".into())
}

/// `GET path`, retried like a chunk while the server answers 5xx or not at all.
async fn get_with_retries(api: &Api, path: &str) -> Result<Reply, String> {
    let mut last = String::new();
    for attempt in 1..=25u64 {
        match api.request(reqwest::Method::GET, path).send().await {
            Ok(r) if r.status().as_u16() < 500 => {
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
                return Ok(Reply {
                    status,
                    content_type: None,
                    text,
                    json,
                });
            }
            Ok(r) => last = format!("{} {}", r.status(), r.text().await.unwrap_or_default()),
            Err(e) => last = format!("no answer: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100 * attempt.min(10))).await;
    }
    Err(format!("GET {path}: {last}"))
}

/// The completed video's file, from its `assets.mp4` link fetched from the bucket directly:
/// the link names the server's endpoint (the proxy), `(moto, proxy)` puts moto's in its place,
/// since a client downloads from S3, not through the server's failing path.
async fn download_direct(
    api: &Api,
    id: &str,
    (moto, proxy): &(String, String),
) -> Result<Vec<u8>, String> {
    let video = get_with_retries(api, &format!("/videos/{id}")).await?;
    if video.status != 200 {
        return Err(format!("GET /videos/{id}: {} {}", video.status, video.text));
    }
    let url = video.json["assets"]["mp4"]
        .as_str()
        .ok_or_else(|| format!("no assets.mp4 (upload not complete?) in {}", video.text))?
        .replacen(proxy.as_str(), moto, 1);
    let response = api
        .http
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("download: {e}"))?;
    if response.status() != 200 {
        return Err(format!("download of {url}: {}", response.status()));
    }
    Ok(response.bytes().await.map_err(|e| e.to_string())?.to_vec())
}

async fn count_videos(table: &str) -> usize {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let mut count = 0;
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan of the table through moto");
        count += page
            .items()
            .iter()
            .filter(|item| {
                item.get("pk")
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|pk| pk.starts_with("VIDEO#"))
            })
            .count();
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return count;
        }
    }
}

/// What is left in the bucket that no completed upload refers to.
async fn leftovers(bucket: &str) -> (Vec<String>, Vec<String>) {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let staged = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix("staging/")
        .send()
        .await
        .expect("list staging/ through moto");
    let staged = staged
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    let uploads = s3
        .list_multipart_uploads()
        .bucket(bucket)
        .send()
        .await
        .expect("list multipart uploads through moto");
    let uploads = uploads
        .uploads()
        .iter()
        .map(|u| {
            format!(
                "{} ({})",
                u.key().unwrap_or("?"),
                u.upload_id().unwrap_or("?")
            )
        })
        .collect();
    (staged, uploads)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uploads_survive_a_failing_backend() {
    let Some(moto) = test_gate::require_moto("uploads_survive_a_failing_backend") else {
        return;
    };
    let started = Instant::now();
    let Failing {
        seed,
        proxy,
        proxy_url,
        table,
        config,
        dir: _dir,
    } = Failing::start(&moto, 20261129, "faults").await;
    // The table and bucket are created before the faults start.
    let server = Server::start(&config);
    let api = Arc::new(server.api());

    // 30 files: whole files in one request, 1 MiB chunks (staged remainders, then a part),
    // 6 MiB chunks (parts).
    let mut plans = Vec::new();
    for i in 0..12 {
        plans.push(Plan {
            size: 100_000 + i * 25_000,
            chunk: None,
        });
    }
    for i in 0..12 {
        let mib = if i < 9 { 3 } else { 5 };
        plans.push(Plan {
            size: mib * MIB + MIB / 2 + i * 1000,
            chunk: Some(MIB),
        });
    }
    for i in 0..6 {
        plans.push(Plan {
            size: 7 * MIB + i * 1000,
            chunk: Some(6 * MIB),
        });
    }
    let files = plans.len();
    // One token per file, made before the faults start (this suite is about uploads).
    let mut tokens = Vec::new();
    for _ in 0..files {
        tokens.push(token(&api).await);
    }
    proxy.armed.store(true, Ordering::SeqCst);
    let limit = Arc::new(tokio::sync::Semaphore::new(8));
    let mut tasks = Vec::new();
    for ((i, plan), token) in plans.into_iter().enumerate().zip(tokens) {
        let (api, limit) = (api.clone(), limit.clone());
        let moto_url = (moto.trim_end_matches('/').to_owned(), proxy_url.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await.expect("semaphore");
            let file = data(plan.size, 7000 + i as u64);
            let what = match plan.chunk {
                None => format!("file {i} ({} B, whole)", plan.size),
                Some(c) => format!("file {i} ({} B in {} KiB chunks)", plan.size, c / 1024),
            };
            match upload(&api, &token, &file, &plan).await {
                Ok(id) => match download_direct(&api, &id, &moto_url).await {
                    Ok(stored) if sha(&stored) == sha(&file) => Ok(()),
                    Ok(stored) => Err(format!(
                        "{what}: video {id} downloads {} B that differ from the {} B sent",
                        stored.len(),
                        file.len()
                    )),
                    Err(e) => Err(format!("{what}: video {id}: {e}")),
                },
                Err(e) => Err(format!("{what}: {e}")),
            }
        }));
    }
    let failures = failures_of(tasks).await;
    proxy.armed.store(false, Ordering::SeqCst);
    let c = &proxy.counts;
    eprintln!(
        "faults (seed {seed}): {} backend calls; 500 before forwarding {}, 500 after forwarding {}, reset after forwarding {}, delayed {}; the client retried {} chunks ({} after a 5xx, {} after 409 video-busy, {} without answer); {:.1}s",
        c.calls.load(Ordering::Relaxed),
        c.error_before.load(Ordering::Relaxed),
        c.error_after.load(Ordering::Relaxed),
        c.reset_after.load(Ordering::Relaxed),
        c.delayed.load(Ordering::Relaxed),
        RETRIED.load(Ordering::Relaxed),
        RETRIED_5XX.load(Ordering::Relaxed),
        RETRIED_409.load(Ordering::Relaxed),
        RETRIED_NO_ANSWER.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    let videos = count_videos(&table).await;
    let (staged, uploads) = leftovers(&table.to_lowercase()).await;
    let output = server.output();
    server.kill();
    let mut problems = failures.clone();
    if videos != files {
        problems.push(format!("{videos} videos in the table for {files} files"));
    }
    if !staged.is_empty() {
        problems.push(format!("{} staged objects left: {staged:?}", staged.len()));
    }
    if !uploads.is_empty() {
        problems.push(format!(
            "{} incomplete multipart uploads left: {uploads:?}",
            uploads.len()
        ));
    }
    assert!(c.faults() > 0, "no fault was injected");
    assert!(
        problems.is_empty(),
        "{} problems ({} of {files} uploads failed):\n{}\n--- server output (tail) ---\n{}",
        problems.len(),
        failures.len(),
        problems.join("\n"),
        tail(&output)
    );
}

/// Any request of a direct upload, retried while the answer is a 5xx, a 409 or no answer at
/// all (as Uppy retries); the final answer. `make` builds the request afresh each time.
async fn retried(
    make: impl Fn() -> reqwest::RequestBuilder,
) -> (u16, String, reqwest::header::HeaderMap) {
    let mut last = (0, String::new(), reqwest::header::HeaderMap::new());
    for attempt in 1..=25u64 {
        match make().timeout(Duration::from_secs(60)).send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let headers = r.headers().clone();
                let text = r.text().await.unwrap_or_default();
                if status < 500 && status != 409 {
                    return (status, text, headers);
                }
                last = (status, text, headers);
            }
            Err(e) => {
                last = (
                    0,
                    format!("no answer: {e}"),
                    reqwest::header::HeaderMap::new(),
                )
            }
        }
        RETRIED.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(100 * attempt.min(10))).await;
    }
    last
}

/// One file straight to the store, as Uppy sends it: a multipart upload (create, per part a
/// signature and a PUT to it, complete) or one POST form, every request retried; its video.
async fn direct_upload(
    api: &Api,
    token: &str,
    file: &[u8],
    multipart: bool,
) -> Result<String, String> {
    let s3 = format!("{}/upload/{token}/s3", api.base);
    let json = |t: &str| -> serde_json::Value { serde_json::from_str(t).unwrap_or_default() };
    if !multipart {
        let (status, text, _) = retried(|| {
            api.http
                .get(format!("{s3}/params?filename=f.mp4&type=video/mp4"))
        })
        .await;
        if status != 200 {
            return Err(format!("params: {status} {text}"));
        }
        let form = json(&text);
        let (status, text, _) = retried(|| {
            let mut multipart = reqwest::multipart::Form::new();
            for (name, value) in form["fields"].as_object().into_iter().flatten() {
                multipart =
                    multipart.text(name.clone(), value.as_str().unwrap_or_default().to_owned());
            }
            multipart = multipart.part(
                "file",
                reqwest::multipart::Part::bytes(file.to_vec()).file_name("f.mp4"),
            );
            api.http
                .post(form["url"].as_str().unwrap_or_default())
                .multipart(multipart)
        })
        .await;
        if !(200..300).contains(&status) {
            return Err(format!("form POST: {status} {text}"));
        }
        return Ok(form["videoId"].as_str().unwrap_or_default().to_owned());
    }
    let (status, text, _) = retried(|| {
        api.http
            .post(format!("{s3}/multipart"))
            .header("Content-Type", "application/json")
            .body(r#"{"filename":"f.mp4","type":"video/mp4"}"#)
    })
    .await;
    if status != 200 {
        return Err(format!("create: {status} {text}"));
    }
    let created = json(&text);
    let key = created["key"]
        .as_str()
        .unwrap_or_default()
        .replace('/', "%2F");
    let upload_id = created["uploadId"].as_str().unwrap_or_default().to_owned();
    let mut parts = Vec::new();
    for (i, piece) in file.chunks(5 * MIB).enumerate() {
        let n = i + 1;
        let (status, text, _) = retried(|| {
            api.http
                .get(format!("{s3}/multipart/{upload_id}/{n}?key={key}"))
        })
        .await;
        if status != 200 {
            return Err(format!("sign part {n}: {status} {text}"));
        }
        let url = json(&text)["url"].as_str().unwrap_or_default().to_owned();
        let (status, text, headers) = retried(|| api.http.put(&url).body(piece.to_vec())).await;
        let etag = headers
            .get("etag")
            .and_then(|e| e.to_str().ok())
            .map(str::to_owned);
        match (status, etag) {
            (200, Some(etag)) => parts.push(serde_json::json!({"PartNumber": n, "ETag": etag})),
            _ => return Err(format!("part {n} PUT: {status} {text}")),
        }
    }
    let body = serde_json::json!({ "parts": parts }).to_string();
    let (status, text, _) = retried(|| {
        api.http
            .post(format!("{s3}/multipart/{upload_id}/complete?key={key}"))
            .header("Content-Type", "application/json")
            .body(body.clone())
    })
    .await;
    if status != 200 {
        return Err(format!("complete: {status} {text}"));
    }
    Ok(created["videoId"].as_str().unwrap_or_default().to_owned())
}

/// S3-direct through the same failing backend: the server's DynamoDB and S3 calls, and the
/// client's part PUTs and form POSTs to the presigned URLs (which name the server's endpoint,
/// the proxy), fail, lose their replies or stall; a client retrying each request as Uppy does
/// ends every upload byte for byte. (A create whose reply was lost and retried leaves an
/// unfinished video that the abandoned-upload rule removes: it holds no acknowledged byte.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn direct_uploads_survive_a_failing_backend() {
    let Some(moto) = test_gate::require_moto("direct_uploads_survive_a_failing_backend") else {
        return;
    };
    let Failing {
        seed,
        proxy,
        proxy_url,
        config,
        dir: _dir,
        ..
    } = Failing::start(&moto, 20261202, "faults-direct").await;
    let server = Server::start(&config);
    let api = Arc::new(server.api());
    // 8 multipart files (two or three parts) and 8 single POSTs, a token each.
    let plans: Vec<(usize, bool)> = (0..16)
        .map(|i| {
            if i % 2 == 0 {
                (5 * MIB + 1000 + i * MIB, true)
            } else {
                (200_000 + i * 10_000, false)
            }
        })
        .collect();
    let mut tokens = Vec::new();
    for _ in 0..plans.len() {
        tokens.push(token(&api).await);
    }
    proxy.armed.store(true, Ordering::SeqCst);
    let limit = Arc::new(tokio::sync::Semaphore::new(4));
    let mut tasks = Vec::new();
    for ((i, (size, multipart)), token) in plans.into_iter().enumerate().zip(tokens) {
        let (api, limit) = (api.clone(), limit.clone());
        let urls = (moto.trim_end_matches('/').to_owned(), proxy_url.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await.expect("semaphore");
            let file = data(size, 9000 + i as u64);
            let what = format!(
                "file {i} ({size} B, {})",
                if multipart { "multipart" } else { "POST" }
            );
            let id = direct_upload(&api, &token, &file, multipart)
                .await
                .map_err(|e| format!("{what}: {e}"))?;
            stored_as_sent(&api, &id, &file, &urls, &what).await
        }));
    }
    let failures = failures_of(tasks).await;
    proxy.armed.store(false, Ordering::SeqCst);
    let c = &proxy.counts;
    eprintln!(
        "direct faults (seed {seed}): {}; {} requests retried",
        c.summary(),
        RETRIED.load(Ordering::Relaxed)
    );
    let output = server.output();
    server.kill();
    assert!(c.faults() > 0, "no fault was injected");
    assert!(
        failures.is_empty(),
        "{} of 16 direct uploads failed:\n{}\n--- server output (tail) ---\n{}",
        failures.len(),
        failures.join("\n"),
        tail(&output)
    );
}

/// One file by tus, as tus-js-client sends it through a failing path: the creation retried
/// until it is answered; each PATCH at the server's offset, and after any failure (a 5xx, a
/// 409, no answer) a HEAD, retried, says where to go on. Its video.
async fn tus_upload(api: &Api, token: &str, file: &[u8], chunk: usize) -> Result<String, String> {
    let endpoint = format!("{}/upload/{token}/tus", api.base);
    let length = file.len().to_string();
    let (status, text, headers) = retried(|| {
        api.http
            .post(&endpoint)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", &length)
            .header("Upload-Metadata", "filename Zi5tcDQ=")
    })
    .await;
    let location = headers
        .get("location")
        .and_then(|l| l.to_str().ok())
        .filter(|_| status == 201)
        .ok_or_else(|| format!("create: {status} {text}"))?
        .to_owned();
    let mut offset = 0usize;
    let mut attempts = 0;
    while offset < file.len() {
        attempts += 1;
        if attempts > 200 {
            return Err(format!("stuck at offset {offset}"));
        }
        let end = (offset + chunk).min(file.len());
        let answer = api
            .http
            .patch(&location)
            .header("Tus-Resumable", "1.0.0")
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", offset.to_string())
            .body(file[offset..end].to_vec())
            .timeout(Duration::from_secs(60))
            .send()
            .await;
        let moved = match answer {
            Ok(r) if r.status().as_u16() == 204 => r
                .headers()
                .get("upload-offset")
                .and_then(|v| v.to_str().ok()?.parse::<usize>().ok()),
            Ok(r) if r.status().is_client_error() && r.status().as_u16() != 409 => {
                return Err(format!(
                    "PATCH at {offset}: {} {}",
                    r.status(),
                    r.text().await.unwrap_or_default()
                ));
            }
            _ => None,
        };
        offset = match moved {
            Some(next) => next,
            None => {
                RETRIED.fetch_add(1, Ordering::Relaxed);
                let (status, text, headers) =
                    retried(|| api.http.head(&location).header("Tus-Resumable", "1.0.0")).await;
                headers
                    .get("upload-offset")
                    .and_then(|v| v.to_str().ok()?.parse().ok())
                    .filter(|_| status == 200)
                    .ok_or_else(|| format!("HEAD after a failed PATCH: {status} {text}"))?
            }
        };
    }
    Ok(location.rsplit('/').next().unwrap_or_default().to_owned())
}

/// tus through the same failing backend: creations, PATCHes and HEADs whose backend calls fail,
/// lose their replies or stall. Every upload ends byte for byte from the server's offsets, and
/// nothing is left staged or half-uploaded in the bucket. (A creation whose reply was lost and
/// retried leaves an empty upload that the abandoned-upload rule removes: it holds no byte.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tus_uploads_survive_a_failing_backend() {
    let Some(moto) = test_gate::require_moto("tus_uploads_survive_a_failing_backend") else {
        return;
    };
    let Failing {
        seed,
        proxy,
        proxy_url,
        table,
        config,
        dir: _dir,
    } = Failing::start(&moto, 20261203, "faults-tus").await;
    let server = Server::start(&config);
    let api = Arc::new(server.api());
    // 12 files: 1 MiB PATCHes (staged remainders, then parts) and 6 MiB PATCHes (parts).
    let plans: Vec<(usize, usize)> = (0..12)
        .map(|i| {
            if i % 2 == 0 {
                (3 * MIB + MIB / 2 + i * 1000, MIB)
            } else {
                (7 * MIB + i * 1000, 6 * MIB)
            }
        })
        .collect();
    let mut tokens = Vec::new();
    for _ in 0..plans.len() {
        tokens.push(token(&api).await);
    }
    proxy.armed.store(true, Ordering::SeqCst);
    let limit = Arc::new(tokio::sync::Semaphore::new(6));
    let mut tasks = Vec::new();
    for ((i, (size, chunk)), token) in plans.into_iter().enumerate().zip(tokens) {
        let (api, limit) = (api.clone(), limit.clone());
        let urls = (moto.trim_end_matches('/').to_owned(), proxy_url.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await.expect("semaphore");
            let file = data(size, 11_000 + i as u64);
            let what = format!("file {i} ({size} B in {} KiB PATCHes)", chunk / 1024);
            let id = tus_upload(&api, &token, &file, chunk)
                .await
                .map_err(|e| format!("{what}: {e}"))?;
            stored_as_sent(&api, &id, &file, &urls, &what).await
        }));
    }
    let failures = failures_of(tasks).await;
    proxy.armed.store(false, Ordering::SeqCst);
    let c = &proxy.counts;
    eprintln!(
        "tus faults (seed {seed}): {}; {} requests retried",
        c.summary(),
        RETRIED.load(Ordering::Relaxed)
    );
    let (staged, uploads) = leftovers(&table.to_lowercase()).await;
    let output = server.output();
    server.kill();
    let mut problems = failures.clone();
    if !staged.is_empty() {
        problems.push(format!("{} staged objects left: {staged:?}", staged.len()));
    }
    if !uploads.is_empty() {
        problems.push(format!("incomplete multipart uploads left: {uploads:?}"));
    }
    assert!(c.faults() > 0, "no fault was injected");
    assert!(
        problems.is_empty(),
        "{} problems:\n{}\n--- server output (tail) ---\n{}",
        problems.len(),
        problems.join("\n"),
        tail(&output)
    );
}
