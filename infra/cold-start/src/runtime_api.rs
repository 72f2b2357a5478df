//! A minimal Lambda Runtime API (the `2018-06-01` interface a function's runtime client polls):
//! hands out one invocation, records when the function first asked for work and when it
//! answered, and parks later polls until the process is killed.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::net::TcpListener;

/// What the function did, with the instants it did it.
#[derive(Debug, Default, Clone)]
pub struct Observed {
    /// First `GET …/invocation/next`: the function finished its init.
    pub first_poll: Option<Instant>,
    /// `POST …/invocation/{id}/response`: the first response.
    pub response: Option<Instant>,
    /// The response body posted (API Gateway response JSON).
    pub response_body: Option<Bytes>,
    /// An init or invocation error the function reported.
    pub error: Option<String>,
}

struct Inner {
    event: String,
    observed: Mutex<Observed>,
    handed_out: Mutex<bool>,
}

/// One emulator, serving one function process.
pub struct RuntimeApi {
    /// Where the function must be pointed (`AWS_LAMBDA_RUNTIME_API`).
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

impl RuntimeApi {
    /// Listens on a free loopback port; `event` is the invocation payload to hand out.
    pub async fn start(event: String) -> std::io::Result<Self> {
        let inner = Arc::new(Inner {
            event,
            observed: Mutex::new(Observed::default()),
            handed_out: Mutex::new(false),
        });
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(inner.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self { addr, inner, task })
    }

    /// Waits until the function answered or reported an error (the instants are recorded by
    /// the handlers, so this polling does not affect them).
    pub async fn finished(&self) {
        loop {
            {
                let o = lock(&self.inner.observed);
                if o.response.is_some() || o.error.is_some() {
                    return;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    /// What was observed so far.
    pub fn observed(&self) -> Observed {
        lock(&self.inner.observed).clone()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn next(State(inner): State<Arc<Inner>>) -> (HeaderMap, String) {
    let now = Instant::now();
    let first = {
        let mut o = lock(&inner.observed);
        o.first_poll.get_or_insert(now);
        let mut handed = lock(&inner.handed_out);
        !std::mem::replace(&mut *handed, true)
    };
    if !first {
        // One invocation per process: later polls wait until the process is killed.
        std::future::pending::<()>().await;
    }
    let mut headers = HeaderMap::new();
    headers.insert(
        "lambda-runtime-aws-request-id",
        HeaderValue::from_static(REQUEST_ID),
    );
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() + 30_000)
        .unwrap_or(0);
    if let Ok(v) = HeaderValue::from_str(&deadline.to_string()) {
        headers.insert("lambda-runtime-deadline-ms", v);
    }
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_static("arn:aws:lambda:us-east-1:123456789012:function:bench"),
    );
    headers.insert(
        "lambda-runtime-trace-id",
        HeaderValue::from_static("Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1"),
    );
    (headers, inner.event.clone())
}

async fn response(
    State(inner): State<Arc<Inner>>,
    Path(_id): Path<String>,
    body: Bytes,
) -> StatusCode {
    {
        let mut o = lock(&inner.observed);
        o.response.get_or_insert(Instant::now());
        o.response_body = Some(body);
    }
    StatusCode::ACCEPTED
}

async fn error(
    State(inner): State<Arc<Inner>>,
    Path(_id): Path<String>,
    body: Bytes,
) -> StatusCode {
    record_error(&inner, "invocation error", &body);
    StatusCode::ACCEPTED
}

async fn init_error(State(inner): State<Arc<Inner>>, body: Bytes) -> StatusCode {
    record_error(&inner, "init error", &body);
    StatusCode::ACCEPTED
}

fn record_error(inner: &Inner, kind: &str, body: &[u8]) {
    lock(&inner.observed).error = Some(format!("{kind}: {}", String::from_utf8_lossy(body)));
}
