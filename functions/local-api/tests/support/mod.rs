//! Helpers of the local server's tests: the real `local-api` binary as a child process, and a
//! bare HTTP/1.1 client over a TCP socket (hostile clients need to control every byte).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The `local-api` binary, running until dropped.
pub struct Server {
    child: Child,
    /// `127.0.0.1:port`.
    pub addr: String,
    /// What it printed up to "Ctrl-C stops it.".
    pub banner: String,
    /// Reads what it prints after the banner, and returns those lines once stdout closes.
    output: Option<std::thread::JoinHandle<Vec<String>>>,
}

impl Server {
    /// Starts the binary on a free port of 127.0.0.1 with `data_dir` and `args`, logging
    /// warnings only.
    pub fn start(data_dir: &Path, args: &[&str]) -> Self {
        Self::start_logging(data_dir, args, "warn")
    }

    /// [`Server::start`] with `RUST_LOG` set to `log_level`.
    pub fn start_logging(data_dir: &Path, args: &[&str], log_level: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_local-api"))
            .args(["--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env("RUST_LOG", log_level)
            .env_remove("UPLOAD_TOKENS_API_KEY")
            .env_remove("SIGNING_SECRET")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("local-api starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut banner = String::new();
        let mut addr = None;
        for line in lines.by_ref() {
            let line = line.expect("banner line");
            if let Some(rest) = line.strip_prefix("upload-tokens local API on http://") {
                addr = rest.split_whitespace().next().map(str::to_owned);
            }
            banner.push_str(&line);
            banner.push('\n');
            if line.starts_with("Ctrl-C stops it.") {
                break;
            }
        }
        // Keep reading its output so it never blocks on a full pipe.
        let output = std::thread::spawn(move || lines.map_while(Result::ok).collect());
        let addr = addr.unwrap_or_else(|| panic!("no address in the banner:\n{banner}"));
        Self {
            child,
            addr,
            banner,
            output: Some(output),
        }
    }

    /// Stops it as a container runtime does (SIGTERM), waits for it to exit, and returns what
    /// it printed after the banner.
    pub fn stop(mut self) -> Vec<String> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM failed");
        let exit = self.child.wait().expect("local-api exits");
        assert!(exit.success(), "local-api exited with {exit}");
        self.output
            .take()
            .expect("output read once")
            .join()
            .expect("output reader")
    }

    /// A field of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`).
    pub fn status_kib(&self, field: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response: status, head and body as text.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// Sends `raw` (a whole request, with `Connection: close`) and reads the answer to its end.
pub fn send(addr: &str, raw: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    stream.write_all(raw).expect("request sent");
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).expect("response read");
    parse(&bytes).unwrap_or_else(|| panic!("not an HTTP response: {bytes:?}"))
}

/// Sends `raw` and returns every byte of the answer, unparsed (binary bodies).
pub fn send_bytes(addr: &str, raw: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    stream.write_all(raw).expect("request sent");
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).expect("response read");
    bytes
}

/// Parses a complete response.
pub fn parse(bytes: &[u8]) -> Option<Response> {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some(Response {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    })
}

/// `Authorization: Basic` of an API key.
pub fn basic(key: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{key}:").into_bytes();
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

/// Creates an upload token with `key`; returns its value.
pub fn create_token(addr: &str, key: &str) -> String {
    let body = r#"{"ttl":3600}"#;
    let response = send(
        addr,
        format!(
            "POST /upload-tokens HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            basic(key),
            body.len()
        )
        .as_bytes(),
    );
    assert_eq!(response.status, 200, "{response:?}");
    let json: serde_json::Value = serde_json::from_str(&response.body).expect("json");
    json["token"].as_str().expect("token").to_owned()
}

/// A multipart `/upload` request carrying `file` whole, with `extra` header lines.
pub fn upload_request(addr: &str, token: &str, file: &[u8], extra: &str) -> Vec<u8> {
    let mut body = b"--XBOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; \
                     filename=\"clip.mp4\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        .to_vec();
    body.extend_from_slice(file);
    body.extend_from_slice(b"\r\n--XBOUNDARY--\r\n");
    let mut request = format!(
        "POST /upload?token={token} HTTP/1.1\r\nHost: {addr}\r\n{extra}\
         Content-Type: multipart/form-data; boundary=XBOUNDARY\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    request
}
