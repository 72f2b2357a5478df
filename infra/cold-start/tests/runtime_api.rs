//! The emulated Runtime API drives a real `lambda_http` binary through one invocation.

use cold_start_bench::runtime_api::RuntimeApi;
use std::time::Duration;

#[tokio::test]
async fn a_lambda_http_binary_polls_once_answers_and_waits_for_more() {
    let event = serde_json::json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "",
        "headers": {"host": "example.com"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "example.com",
            "domainPrefix": "api",
            "http": {"method": "GET", "path": "/", "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "test"},
            "requestId": "r", "routeKey": "$default", "stage": "$default",
            "time": "23/Nov/2026:09:00:00 +0000", "timeEpoch": 0
        },
        "isBase64Encoded": false
    });
    let api = RuntimeApi::start(event.to_string()).await.expect("listens");
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
    tokio::time::timeout(Duration::from_secs(20), api.finished())
        .await
        .expect("answered in time");
    // It polls again for the next invocation, which never comes: still running.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(child.try_wait().expect("status").is_none());
    child.kill().await.expect("killed");
    let observed = api.observed();
    assert!(observed.error.is_none(), "{:?}", observed.error);
    let poll = observed.first_poll.expect("polled");
    let response = observed.response.expect("answered");
    assert!(started < poll && poll <= response);
    let body: serde_json::Value =
        serde_json::from_slice(&observed.response_body.expect("a body")).expect("JSON");
    assert_eq!(body["statusCode"], 200);
    assert_eq!(body["body"], "hello");
}
