//! Hostile clients against the real `local-api` binary: large bodies must not grow its memory,
//! and slow or idle connections are closed within the configured timeouts.

#![cfg(target_os = "linux")]

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};
use support::Server;

const MIB: usize = 1024 * 1024;

/// Sends a request head, then up to `body_bytes` of body in 256 KiB writes (or chunked frames)
/// until the server stops taking them; returns the status it answered, if one could be read.
fn push_large_body(addr: &str, head: &str, body_bytes: usize, chunked: bool) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream
        .set_write_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream.write_all(head.as_bytes()).expect("head sent");
    let block = vec![b'a'; 256 * 1024];
    let mut sent = 0;
    while sent < body_bytes {
        let result = if chunked {
            stream
                .write_all(format!("{:x}\r\n", block.len()).as_bytes())
                .and_then(|()| stream.write_all(&block))
                .and_then(|()| stream.write_all(b"\r\n"))
        } else {
            stream.write_all(&block)
        };
        if result.is_err() {
            break;
        }
        sent += block.len();
    }
    let _ = stream.shutdown(Shutdown::Write);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    support::parse(&answer).map(|r| r.status)
}

#[test]
fn memory_stays_bounded_while_large_bodies_arrive_unauthenticated_or_on_json_routes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path(), &["--max-concurrent-uploads", "2"]);
    let addr = server.addr.clone();
    // Warm up (first requests allocate the runtime's buffers and a store connection).
    for _ in 0..3 {
        let r = support::send(
            &addr,
            format!("GET /upload-tokens HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        assert_eq!(r.status, 401);
    }
    let before = server.status_kib("VmRSS");
    let body = 100 * MIB;
    let mut clients = Vec::new();
    for i in 0..12 {
        let addr = addr.clone();
        clients.push(std::thread::spawn(move || {
            let (head, chunked, expected) = match i % 3 {
                // An unknown upload token: refused from the head.
                0 => (
                    format!(
                        "POST /upload?token=to1nvalidTokenValue00000 HTTP/1.1\r\nHost: {addr}\r\n\
                         Content-Type: multipart/form-data; boundary=X\r\n\
                         Content-Length: {body}\r\n\r\n"
                    ),
                    false,
                    401,
                ),
                // A JSON route announcing a huge body: refused from Content-Length.
                1 => (
                    format!(
                        "POST /auth/api-key HTTP/1.1\r\nHost: {addr}\r\n\
                         Content-Type: application/json\r\nContent-Length: {body}\r\n\r\n"
                    ),
                    false,
                    413,
                ),
                // A JSON route with a chunked body that never ends: cut at 64 KiB.
                _ => (
                    format!(
                        "POST /auth/api-key HTTP/1.1\r\nHost: {addr}\r\n\
                         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                    ),
                    true,
                    413,
                ),
            };
            (expected, push_large_body(&addr, &head, body, chunked))
        }));
    }
    let mut answered = 0;
    for client in clients {
        let (expected, status) = client.join().expect("client");
        if let Some(status) = status {
            assert_eq!(status, expected, "refused, not read");
            answered += 1;
        }
    }
    let peak = server.status_kib("VmHWM");
    let after = server.status_kib("VmRSS");
    eprintln!(
        "RSS before {before} KiB, peak {peak} KiB, after {after} KiB; \
         12 clients x {} MiB; {answered} read their refusal",
        body / MIB
    );
    assert!(answered > 0, "at least some clients read the refusal");
    // 12 x 100 MiB were offered; buffering even one would add 100 MiB.
    assert!(
        peak < before + 48 * 1024,
        "peak RSS {peak} KiB grew more than 48 MiB over {before} KiB"
    );
    // Still serving.
    let r = support::send(
        &addr,
        format!("GET /upload-tokens HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(r.status, 401);
}

/// The bytes of client `seed`'s file, generated block by block (never held whole).
fn file_block(seed: u8, index: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2654435761)
                .wrapping_add(u32::from(seed) * 7 + index as u32) as u8
        })
        .collect()
}

/// Streams one whole-file upload of `size` bytes (in 256 KiB writes; chunked transfer encoding
/// with `chunked`) and returns the status and body of the answer.
fn stream_upload(addr: &str, token: &str, seed: u8, size: usize, chunked: bool) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    let open = b"--XBOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"big.mp4\"\r\nContent-Type: video/mp4\r\n\r\n";
    let close = b"\r\n--XBOUNDARY--\r\n";
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_owned()
    } else {
        format!("Content-Length: {}", open.len() + size + close.len())
    };
    let head = format!(
        "POST /upload?token={token} HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: multipart/form-data; boundary=XBOUNDARY\r\n{framing}\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).expect("head");
    let mut send = |bytes: &[u8]| {
        if chunked {
            stream
                .write_all(format!("{:x}\r\n", bytes.len()).as_bytes())
                .expect("frame");
        }
        stream.write_all(bytes).expect("body");
        if chunked {
            stream.write_all(b"\r\n").expect("frame end");
        }
    };
    send(open);
    const BLOCK: usize = 256 * 1024;
    for (index, from) in (0..size).step_by(BLOCK).enumerate() {
        send(&file_block(seed, index, BLOCK.min(size - from)));
    }
    send(close);
    if chunked {
        stream.write_all(b"0\r\n\r\n").expect("last frame");
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let response = support::parse(&answer).expect("an HTTP answer");
    (response.status, response.body)
}

/// Four concurrent authenticated uploads of 100 MiB each (two with chunked transfer encoding)
/// against a server started with `store_args`: each is 201, the server's peak memory grows by
/// less than 32 MiB a request, and `stored(videoId)` is the file byte for byte.
fn uploads_stream_in_bounded_memory(
    dir: &std::path::Path,
    store_args: &[&str],
    stored: impl Fn(&str, &str) -> Vec<u8>,
) {
    let key = "hostile-test-key-0123456789";
    let mut args = vec!["--api-key", key, "--max-concurrent-uploads", "4"];
    args.extend_from_slice(store_args);
    let server = Server::start(dir, &args);
    let addr = server.addr.clone();
    let token = support::create_token(&addr, key);
    // Warm up: one small upload allocates the runtime's and the store's buffers.
    let (status, _) = stream_upload(&addr, &token, 0, 1024, false);
    assert_eq!(status, 201);
    let before = server.status_kib("VmRSS");
    const SIZE: usize = 100 * MIB;
    let clients: Vec<_> = (1..=4u8)
        .map(|seed| {
            let (addr, token) = (addr.clone(), token.clone());
            std::thread::spawn(move || stream_upload(&addr, &token, seed, SIZE, seed % 2 == 0))
        })
        .collect();
    let mut videos = Vec::new();
    for (seed, client) in (1..=4u8).zip(clients) {
        let (status, body) = client.join().expect("client");
        assert_eq!(status, 201, "upload {seed}: {body}");
        let json: serde_json::Value = serde_json::from_str(&body).expect("video json");
        videos.push((seed, json["videoId"].as_str().expect("videoId").to_owned()));
    }
    let peak = server.status_kib("VmHWM");
    eprintln!(
        "{store_args:?}: RSS before {before} KiB, peak {peak} KiB: 4 concurrent authenticated \
         uploads of {} MiB",
        SIZE / MIB
    );
    // Reading one body whole would add 100 MiB; each request may use up to 32 MiB.
    assert!(
        peak < before + 4 * 32 * 1024,
        "peak RSS {peak} KiB grew more than 4 x 32 MiB over {before} KiB"
    );
    for (seed, video) in videos {
        let stored = stored(&addr, &video);
        assert_eq!(stored.len(), SIZE, "upload {seed}: size");
        for (index, block) in stored.chunks(256 * 1024).enumerate() {
            assert!(
                block == file_block(seed, index, block.len()).as_slice(),
                "upload {seed}: block {index} differs"
            );
        }
    }
    let spool = std::fs::read_dir(dir.join("spool"))
        .expect("spool dir")
        .count();
    assert_eq!(spool, 0, "no spooled chunk is left behind");
}

#[test]
fn authenticated_upload_bodies_are_streamed_in_bounded_memory_to_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blobs = dir.path().join("blobs");
    uploads_stream_in_bounded_memory(dir.path(), &[], |_, video| {
        std::fs::read(blobs.join(format!("videos/{video}/source"))).expect("the stored file")
    });
}

#[test]
fn authenticated_upload_bodies_are_streamed_in_bounded_memory_to_s3() {
    let Some(moto) = test_gate::require_moto("streamed uploads to S3") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let suffix = std::process::id();
    let (table, bucket) = (format!("streamed-{suffix}"), format!("streamed-{suffix}"));
    let store = [
        "--store",
        "aws",
        "--table",
        &table,
        "--bucket",
        &bucket,
        "--create-table",
    ];
    uploads_stream_in_bounded_memory(dir.path(), &store, |_, video| {
        // Straight from the bucket, as a client of moto.
        let host = moto.trim_start_matches("http://").trim_end_matches('/');
        let answer = support::send_bytes(
            host,
            format!(
                "GET /{bucket}/videos/{video}/source HTTP/1.1\r\nHost: {host}\r\n\
                 Connection: close\r\n\r\n"
            )
            .as_bytes(),
        );
        assert!(answer.starts_with(b"HTTP/1.1 200"), "GET from moto");
        let at = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("head end");
        answer[at + 4..].to_vec()
    });
}

#[test]
fn an_upload_refused_before_its_body_ends_is_answered_after_the_body_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = "hostile-test-key-0123456789";
    let server = Server::start(dir.path(), &["--api-key", key]);
    let addr = server.addr.clone();
    let token = support::create_token(&addr, key);
    // A bad Content-Range is refused from the head, but the client sends all 40 MiB first and
    // only then reads: it must read the 400, not a reset.
    for chunked in [false, true] {
        let framing = if chunked {
            "Transfer-Encoding: chunked".to_owned()
        } else {
            format!("Content-Length: {}", 40 * MIB)
        };
        let head = format!(
            "POST /upload?token={token} HTTP/1.1\r\nHost: {addr}\r\n\
             Content-Range: bytes nonsense\r\n\
             Content-Type: multipart/form-data; boundary=X\r\n{framing}\r\n\r\n"
        );
        let status = push_large_body(&addr, &head, 40 * MIB, chunked);
        assert_eq!(status, Some(400), "chunked: {chunked}");
    }
}

/// Reads until the server closes the connection; returns what it sent and when it closed,
/// or fails after `limit`.
fn until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, Instant) {
    stream.set_read_timeout(Some(limit)).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (got, Instant::now()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return (got, Instant::now()),
            Err(e) => panic!("the server did not close the connection within {limit:?}: {e}"),
        }
    }
}

const TIMEOUT_S: u64 = 2;
/// How late after the timeout a close still counts (scheduling, timer granularity).
const SLACK: Duration = Duration::from_secs(3);

fn assert_closed_after(what: &str, elapsed: Duration) {
    eprintln!("{what}: closed after {elapsed:?} (timeout {TIMEOUT_S} s)");
    let timeout = Duration::from_secs(TIMEOUT_S);
    assert!(
        elapsed >= timeout - Duration::from_millis(300),
        "{what}: closed after {elapsed:?}, before the timeout"
    );
    assert!(
        elapsed <= timeout + SLACK,
        "{what}: closed after {elapsed:?}"
    );
}

#[test]
fn slow_and_idle_connections_are_closed_within_the_timeouts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = "hostile-test-key-0123456789";
    let server = Server::start(
        dir.path(),
        &[
            "--api-key",
            key,
            "--header-timeout",
            "2",
            "--body-idle-timeout",
            "2",
        ],
    );
    let addr = server.addr.clone();
    let token = support::create_token(&addr, key);
    let wait = Duration::from_secs(15);

    let headers_never_end = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(&addr).expect("connect");
            let start = Instant::now();
            s.write_all(b"POST /auth/api-key HTTP/1.1\r\nHost: x\r\n")
                .expect("sent");
            let (_, closed) = until_closed(&mut s, wait);
            closed - start
        })
    };
    let json_trickle = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(&addr).expect("connect");
            s.write_all(
                b"POST /auth/api-key HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                  Content-Length: 1000\r\n\r\n{",
            )
            .expect("sent");
            let start = Instant::now();
            // One byte every 300 ms: never idle for long, but never done either.
            let writer = s.try_clone().expect("clone");
            std::thread::spawn(move || {
                let mut writer = writer;
                for _ in 0..100 {
                    std::thread::sleep(Duration::from_millis(300));
                    if writer.write_all(b" ").is_err() {
                        break;
                    }
                }
            });
            let (got, closed) = until_closed(&mut s, wait);
            (support::parse(&got).map(|r| r.status), closed - start)
        })
    };
    let upload_stalls = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(&addr).expect("connect");
            let request = support::upload_request(&addr, &token, &[7u8; 4096], "");
            // The head and a few bytes of the body, then silence.
            let cut = request.len() - 2000;
            s.write_all(&request[..cut]).expect("sent");
            let start = Instant::now();
            let (got, closed) = until_closed(&mut s, wait);
            (support::parse(&got).map(|r| r.status), closed - start)
        })
    };
    let idle_keep_alive = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(&addr).expect("connect");
            s.write_all(b"GET /upload-tokens HTTP/1.1\r\nHost: x\r\n\r\n")
                .expect("sent");
            // The 401 answer arrives at once; then the connection idles.
            let mut first = [0u8; 16];
            s.read_exact(&mut first).expect("an answer");
            let start = Instant::now();
            let (_, closed) = until_closed(&mut s, wait);
            (first, closed - start)
        })
    };

    assert_closed_after(
        "request head never finished",
        headers_never_end.join().expect("thread"),
    );
    let (status, elapsed) = json_trickle.join().expect("thread");
    assert_closed_after("JSON body trickled", elapsed);
    assert_eq!(status, Some(408), "a trickled body is answered 408");
    let (status, elapsed) = upload_stalls.join().expect("thread");
    assert_closed_after("upload body stalled", elapsed);
    assert_eq!(status, Some(408), "a stalled upload is answered 408");
    let (first, elapsed) = idle_keep_alive.join().expect("thread");
    assert!(first.starts_with(b"HTTP/1.1 401"), "{first:?}");
    assert_closed_after("idle keep-alive connection", elapsed);
}

#[test]
fn uploads_beyond_the_cap_wait_their_turn_unread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = "hostile-test-key-0123456789";
    let server = Server::start(
        dir.path(),
        &[
            "--api-key",
            key,
            "--max-concurrent-uploads",
            "1",
            "--body-idle-timeout",
            "2",
        ],
    );
    let addr = server.addr.clone();
    let token = support::create_token(&addr, key);
    // The first upload takes the only permit and stalls mid-body.
    let mut first = TcpStream::connect(&addr).expect("connect");
    let request = support::upload_request(&addr, &token, &[1u8; 4096], "");
    first
        .write_all(&request[..request.len() - 2000])
        .expect("sent");
    std::thread::sleep(Duration::from_millis(300));
    // The second waits for it: served only once the first has been closed for stalling.
    let started = Instant::now();
    let second = support::send(
        &addr,
        &support::upload_request(&addr, &token, &[2u8; 4096], ""),
    );
    let waited = started.elapsed();
    assert_eq!(second.status, 201, "{second:?}");
    let (got, _) = until_closed(&mut first, Duration::from_secs(10));
    assert_eq!(support::parse(&got).map(|r| r.status), Some(408));
    eprintln!("second upload waited {waited:?} for the permit");
    assert!(
        waited >= Duration::from_millis(1400),
        "the second upload did not wait for the first: {waited:?}"
    );
}
