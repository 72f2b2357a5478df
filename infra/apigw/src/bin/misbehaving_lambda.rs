//! A test fixture for the emulator: a Lambda function that speaks the Runtime API by hand (so it
//! can answer anything) and behaves according to the request path:
//!
//! - `/garbage`: a response that is not JSON; `/big`: a 7 MB response; `/bad-status`: a status
//!   code that is not one;
//! - `/error`: an invocation error; `/crash`: exits mid-invocation; `/sleep`: never answers;
//! - `/slow`: answers after 700 ms; anything else: answers at once. Both answer 200 with the
//!   event they received as the body, this process's id in `x-pid`, a multi-valued header, a
//!   cookie, a CORS header of its own (API Gateway must replace it), and its function name,
//!   `TABLE_NAME` and `SIGNING_SECRET` in `x-function`, `x-table` and `x-secret`.
//!
//! With `FAIL_INIT=true` it reports an init error and exits instead.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

type Error = Box<dyn std::error::Error>;

/// One HTTP/1.1 exchange with the Runtime API; returns the response headers and body.
fn exchange(api: &str, method: &str, path: &str, body: &[u8]) -> Result<(String, Vec<u8>), Error> {
    let mut stream = TcpStream::connect(api)?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    Ok((head, response[split + 4..].to_vec()))
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn main() -> Result<(), Error> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API")?;
    if std::env::var("FAIL_INIT").is_ok_and(|v| v == "true") {
        let body = br#"{"errorMessage":"failing at init on purpose","errorType":"Test"}"#;
        exchange(&api, "POST", "/2018-06-01/runtime/init/error", body)?;
        std::process::exit(1);
    }
    loop {
        let (head, event) = exchange(&api, "GET", "/2018-06-01/runtime/invocation/next", b"")?;
        let id = header(&head, "lambda-runtime-aws-request-id")
            .ok_or("no request id")?
            .to_owned();
        let respond = format!("/2018-06-01/runtime/invocation/{id}/response");
        let parsed: serde_json::Value = serde_json::from_slice(&event)?;
        let path = parsed["rawPath"].as_str().unwrap_or_default();
        match path {
            "/garbage" => {
                exchange(&api, "POST", &respond, b"this is not json")?;
            }
            "/big" => {
                let body = serde_json::json!({"statusCode": 200, "body": "x".repeat(7_000_000)});
                exchange(&api, "POST", &respond, body.to_string().as_bytes())?;
            }
            "/bad-status" => {
                exchange(&api, "POST", &respond, br#"{"statusCode":"teapot"}"#)?;
            }
            "/error" => {
                let body = br#"{"errorMessage":"failing on purpose","errorType":"Test"}"#;
                let path = format!("/2018-06-01/runtime/invocation/{id}/error");
                exchange(&api, "POST", &path, body)?;
            }
            "/crash" => std::process::exit(3),
            "/sleep" => std::thread::sleep(Duration::from_secs(3600)),
            _ => {
                if path == "/slow" {
                    std::thread::sleep(Duration::from_millis(700));
                }
                let body = serde_json::json!({
                    "statusCode": 200,
                    "headers": {
                        "content-type": "application/json",
                        "x-pid": std::process::id().to_string(),
                        "access-control-allow-origin": "https://function.example",
                        "x-function": std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default(),
                        "x-table": std::env::var("TABLE_NAME").unwrap_or_default(),
                        "x-secret": std::env::var("SIGNING_SECRET").unwrap_or_default(),
                    },
                    "multiValueHeaders": {"x-multi": ["a", "b"]},
                    "cookies": ["flavour=oat; Path=/"],
                    "body": String::from_utf8_lossy(&event),
                });
                exchange(&api, "POST", &respond, body.to_string().as_bytes())?;
            }
        }
    }
}
