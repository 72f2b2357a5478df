//! The emulator over HTTP, with a function that misbehaves on request (src/bin/misbehaving_lambda.rs)
//! behind the routes of tests/fixtures/template.yaml.

use apigw_emulator::{Emulator, Options};
use base64::Engine;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SECRET: &str = "emulator-test-signing-secret-0123456789abcdef";

fn options() -> Options {
    let fixture = PathBuf::from(env!("CARGO_BIN_EXE_misbehaving-lambda"));
    let bin_dir = fixture.parent().expect("a directory").to_path_buf();
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/template.yaml");
    let mut options = Options::new(template, bin_dir, "the-table", "the-bucket");
    options.secret_value = Some(SECRET.into());
    options
}

async fn start(options: Options) -> Emulator {
    Emulator::start(options).await.expect("emulator starts")
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text).unwrap_or_else(|_| panic!("not JSON: {}", self.text))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// One of API Gateway's own answers.
    fn assert_gateway(&self, status: u16, message: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.json(), serde_json::json!({ "message": message }));
        assert_eq!(self.header("content-type"), Some("application/json"));
    }
}

async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("answered");
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        text: response.text().await.expect("a body"),
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn requests_become_payload_v2_events_and_answers_become_responses() {
    let emulator = start(options()).await;
    let body: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let reply = send(
        client()
            .post(format!("{}/echo/a%20b?x=1&x=2&y=%2F", emulator.url()))
            .header("content-type", "multipart/form-data; boundary=xyz")
            .header("x-repeated", "one")
            .header("X-Repeated", "two")
            .header("cookie", "a=1; b=2")
            .header("user-agent", "emulator-test")
            .body(body.clone()),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let event = reply.json();
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "POST /echo/{id}");
    assert_eq!(event["rawPath"], "/echo/a%20b");
    assert_eq!(event["rawQueryString"], "x=1&x=2&y=%2F");
    assert_eq!(
        event["queryStringParameters"],
        serde_json::json!({"x": "1,2", "y": "/"})
    );
    assert_eq!(event["pathParameters"], serde_json::json!({"id": "a b"}));
    assert_eq!(event["cookies"], serde_json::json!(["a=1", "b=2"]));
    assert_eq!(event["headers"]["x-repeated"], "one,two");
    assert_eq!(event["isBase64Encoded"], true, "multipart travels base64");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(event["body"].as_str().expect("body"))
        .expect("base64");
    assert_eq!(decoded, body);
    let context = &event["requestContext"];
    assert_eq!(context["routeKey"], "POST /echo/{id}");
    assert_eq!(context["stage"], "$default");
    assert_eq!(context["http"]["method"], "POST");
    assert_eq!(context["http"]["path"], "/echo/a%20b");
    assert_eq!(context["http"]["sourceIp"], "127.0.0.1");
    assert_eq!(context["http"]["userAgent"], "emulator-test");
    assert!(context["timeEpoch"].as_i64().expect("epoch") > 1_700_000_000_000);
    assert_eq!(
        reply.header("apigw-requestid"),
        context["requestId"].as_str()
    );

    // The response document: headers, multi-value headers, cookies.
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let multi: Vec<_> = reply.headers.get_all("x-multi").iter().collect();
    assert_eq!(multi, ["a", "b"]);
    assert_eq!(reply.header("set-cookie"), Some("flavour=oat; Path=/"));
    // The environment the template gives, with the table and the secret filled in.
    assert_eq!(reply.header("x-function"), Some("Misbehaving"));
    assert_eq!(reply.header("x-table"), Some("the-table"));
    assert_eq!(reply.header("x-secret"), Some(SECRET));

    // A JSON body travels as text.
    let reply = send(
        client()
            .post(format!("{}/echo/x", emulator.url()))
            .header("content-type", "application/json")
            .body("{\"k\":1}"),
    )
    .await;
    let event = reply.json();
    assert_eq!(event["isBase64Encoded"], false);
    assert_eq!(event["body"], "{\"k\":1}");
    emulator.stop().await;
}

#[tokio::test]
async fn routes_outside_the_template_are_not_found() {
    let emulator = start(options()).await;
    for (method, path) in [
        (reqwest::Method::GET, "/nope"),
        (reqwest::Method::DELETE, "/echo/x"),
        (reqwest::Method::GET, "/echo/x"),
        (reqwest::Method::POST, "/echo/"),
        (reqwest::Method::OPTIONS, "/echo/x"),
    ] {
        let reply =
            send(client().request(method.clone(), format!("{}{path}", emulator.url()))).await;
        reply.assert_gateway(404, "Not Found");
    }
    assert_eq!(emulator.processes(), 0, "no function ran");
    emulator.stop().await;
}

#[tokio::test]
async fn the_gateway_answers_preflights_and_owns_the_cors_headers() {
    let emulator = start(options()).await;
    let preflight = send(
        client()
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/echo/x", emulator.url()),
            )
            .header("origin", "https://app.example")
            .header("access-control-request-method", "POST"),
    )
    .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        Some("GET,POST")
    );
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("content-type,x-custom")
    );
    assert_eq!(preflight.header("access-control-max-age"), Some("600"));
    assert_eq!(emulator.processes(), 0, "no function ran for the preflight");
    // With an Origin, the configured origin replaces the function's own header.
    let cross = send(
        client()
            .post(format!("{}/echo/x", emulator.url()))
            .header("origin", "https://app.example"),
    )
    .await;
    assert_eq!(cross.header("access-control-allow-origin"), Some("*"));
    // Without one, no CORS headers at all (the function's are dropped too).
    let plain = send(client().post(format!("{}/echo/x", emulator.url()))).await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("access-control-allow-origin"), None);
    emulator.stop().await;

    // One allowed origin: others get no CORS headers.
    let mut options = options();
    options
        .parameters
        .insert("AllowedOrigin".into(), "https://app.example".into());
    let emulator = start(options).await;
    for (origin, allowed) in [
        ("https://app.example", Some("https://app.example")),
        ("https://evil.example", None),
    ] {
        let preflight = send(
            client()
                .request(
                    reqwest::Method::OPTIONS,
                    format!("{}/echo/x", emulator.url()),
                )
                .header("origin", origin)
                .header("access-control-request-method", "POST"),
        )
        .await;
        assert_eq!(preflight.header("access-control-allow-origin"), allowed);
        let cross = send(
            client()
                .post(format!("{}/echo/x", emulator.url()))
                .header("origin", origin),
        )
        .await;
        assert_eq!(cross.header("access-control-allow-origin"), allowed);
    }
    emulator.stop().await;
}

#[tokio::test]
async fn events_over_lambdas_limit_get_413() {
    let emulator = start(options()).await;
    let post = |len: usize| {
        client()
            .post(format!("{}/echo/x", emulator.url()))
            .header("content-type", "application/octet-stream")
            .body(vec![7u8; len])
    };
    // 4 MiB of binary is 5.6 MB of base64: it fits; 4.5 MiB (6.3 MB) does not.
    let fits = send(post(4 * 1024 * 1024)).await;
    assert_eq!(fits.status, 200);
    let over = send(post(4 * 1024 * 1024 + 512 * 1024)).await;
    over.assert_gateway(413, "Request Entity Too Large");
    // Over API Gateway's own 10 MB body limit.
    let huge = send(post(11 * 1024 * 1024)).await;
    huge.assert_gateway(413, "Request Entity Too Large");
    emulator.stop().await;
}

#[tokio::test]
async fn function_errors_and_malformed_answers_get_502() {
    let emulator = start(options()).await;
    for path in ["/garbage", "/big", "/bad-status", "/error", "/crash"] {
        let reply = send(client().get(format!("{}{path}", emulator.url()))).await;
        reply.assert_gateway(502, "Internal Server Error");
    }
    // The function still serves (a new process replaces the crashed one).
    let reply = send(client().get(format!("{}/echo", emulator.url()))).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    emulator.stop().await;

    let mut options = options();
    options.parameters.insert("FailInit".into(), "true".into());
    let failing = start(options).await;
    let reply = send(client().get(format!("{}/echo", failing.url()))).await;
    reply.assert_gateway(502, "Internal Server Error");
    failing.stop().await;
}

#[tokio::test]
async fn a_function_past_the_integration_timeout_gets_503_and_is_killed() {
    let mut options = options();
    options.integration_timeout = Duration::from_secs(2);
    let emulator = start(options).await;
    let started = Instant::now();
    let reply = send(client().get(format!("{}/sleep", emulator.url()))).await;
    let took = started.elapsed();
    reply.assert_gateway(503, "Service Unavailable");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(emulator.processes(), 0, "the stuck process was killed");
    let reply = send(client().get(format!("{}/echo", emulator.url()))).await;
    assert_eq!(reply.status, 200);
    emulator.stop().await;
}

fn pid(reply: &Reply) -> u32 {
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply
        .header("x-pid")
        .and_then(|p| p.parse().ok())
        .expect("x-pid")
}

/// Whether a process is still running (neither gone nor a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            let state = stat.rsplit(')').next().unwrap_or_default().trim_start();
            !state.starts_with('Z')
        })
        .unwrap_or(false)
}

#[tokio::test]
async fn one_invocation_per_process_and_more_processes_when_busy() {
    let mut options = options();
    options.max_instances = 2;
    let emulator = start(options).await;
    let url = format!("{}/slow", emulator.url());
    let (a, b, c) = tokio::join!(
        send(client().get(&url)),
        send(client().get(&url)),
        send(client().get(&url))
    );
    let mut pids = vec![pid(&a), pid(&b), pid(&c)];
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(
        pids.len(),
        2,
        "two processes at most, each busy with one: {pids:?}"
    );
    assert_eq!(emulator.processes(), 2);
    // An idle process is reused.
    let again = pid(&send(client().get(format!("{}/echo", emulator.url()))).await);
    assert!(pids.contains(&again));
    assert!(pids.iter().all(|p| alive(*p)));
    emulator.stop().await;
    assert!(pids.iter().all(|p| !alive(*p)), "stop kills every process");
}

#[tokio::test]
async fn dropping_the_handle_kills_the_functions() {
    let emulator = start(options()).await;
    let p = pid(&send(client().get(format!("{}/echo", emulator.url()))).await);
    assert!(alive(p));
    drop(emulator);
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(p) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!alive(p), "process {p} survived the handle");
}

#[tokio::test]
async fn only_loopback_addresses_and_present_binaries() {
    let mut options = options();
    options.addr = "0.0.0.0:0".parse().expect("an address");
    let e = Emulator::start(options).await.err().expect("refused");
    assert!(e.to_string().contains("loopback"), "{e}");
    let mut options = self::options();
    options.bin_dir = PathBuf::from("/nonexistent");
    let e = Emulator::start(options).await.err().expect("refused");
    assert!(e.to_string().contains("misbehaving-lambda"), "{e}");
}
