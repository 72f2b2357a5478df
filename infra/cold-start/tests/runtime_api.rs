//! The shared Runtime API drives a real `lambda_http` binary through two invocations: one
//! process, one invocation at a time, as in a Lambda execution environment.

use apigw_emulator::runtime_api::{Outcome, RuntimeApi};
use std::time::Duration;

fn event(path: &str) -> bytes::Bytes {
    serde_json::json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"host": "example.com"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "example.com",
            "domainPrefix": "api",
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "test"},
            "requestId": "r", "routeKey": "$default", "stage": "$default",
            "time": "23/Nov/2026:09:00:00 +0000", "timeEpoch": 0
        },
        "isBase64Encoded": false
    })
    .to_string()
    .into()
}

#[tokio::test]
async fn a_lambda_http_binary_answers_one_invocation_after_another() {
    let api = RuntimeApi::start("test").await.expect("listens");
    let started = std::time::Instant::now();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_hello-lambda"))
        .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "test")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "g")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "s")
        .kill_on_drop(true)
        .spawn()
        .expect("hello-lambda starts");
    let limit = Duration::from_secs(20);
    for round in 0..2 {
        let outcome = tokio::time::timeout(limit, api.invoke(event("/"), limit))
            .await
            .expect("answered in time")
            .expect("the API runs");
        let Outcome::Response { body, at } = outcome else {
            panic!("round {round}: {outcome:?}");
        };
        let poll = api.first_poll().expect("polled");
        assert!(started < poll && poll <= at);
        let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(body["statusCode"], 200);
        assert_eq!(body["body"], "hello");
    }
    // Still running, polling for the next invocation.
    assert!(child.try_wait().expect("status").is_none());
    child.kill().await.expect("killed");
}
