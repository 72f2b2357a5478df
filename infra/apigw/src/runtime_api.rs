//! A local Lambda Runtime API (the `2018-06-01` interface a function's runtime client polls), for
//! one function process: an execution environment, which handles one invocation at a time.
//!
//! [`RuntimeApi::invoke`] queues an event; the process takes it with `GET …/invocation/next` and
//! answers with `POST …/invocation/{id}/response` or `…/{id}/error`; an `…/init/error` fails the
//! environment. The instants are recorded by the handlers themselves (the cold-start benchmark
//! measures them), so how the caller waits does not affect them.
//!
//! Used by the API Gateway emulator (one per function process) and by the cold-start benchmark.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

/// How an invocation ended, as the function reported it.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// `POST …/invocation/{id}/response`: the function's answer, and when it came.
    Response {
        /// The posted body (for API Gateway: a payload-v2 response document).
        body: Bytes,
        /// When it was posted.
        at: Instant,
    },
    /// `POST …/invocation/{id}/error`: the function reported a failed invocation.
    Error {
        /// The error document it posted.
        body: String,
        /// When it was posted.
        at: Instant,
    },
    /// `POST …/init/error`: the function could not start (this environment is unusable).
    InitError(String),
}

/// Why [`RuntimeApi::invoke`] returned without an outcome.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The listener is gone (the API was dropped).
    #[error("the runtime API stopped")]
    Stopped,
}

struct Invocation {
    event: Bytes,
    deadline: SystemTime,
    reply: oneshot::Sender<Outcome>,
}

struct Shared {
    function_arn: String,
    queue: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    first_poll: OnceLock<Instant>,
    init_error: watch::Sender<Option<String>>,
}

/// Request ids are unique across every Runtime API of this process, as Lambda's are.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One Runtime API, serving one function process.
pub struct RuntimeApi {
    /// Where the function must be pointed (`AWS_LAMBDA_RUNTIME_API`).
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    queue: mpsc::Sender<Invocation>,
    task: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    /// Listens on a free loopback port, for a function named `function_name`.
    pub async fn start(function_name: &str) -> std::io::Result<Self> {
        let (queue, receiver) = mpsc::channel(1);
        let shared = Arc::new(Shared {
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
            queue: tokio::sync::Mutex::new(receiver),
            pending: Mutex::new(HashMap::new()),
            first_poll: OnceLock::new(),
            init_error: watch::channel(None).0,
        });
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            // Function responses go up to Lambda's 6 MB (and a little more, so that an oversized
            // answer reaches the caller, which judges it).
            .layer(axum::extract::DefaultBodyLimit::max(8 * 1024 * 1024))
            .with_state(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            addr,
            shared,
            queue,
            task,
        })
    }

    /// Hands `event` to the function's next poll and waits for its outcome. `deadline` is what
    /// the function is told (`Lambda-Runtime-Deadline-Ms`); enforcing it is the caller's job
    /// (drop this future and kill the process). Returns at once if the function reported an
    /// init error.
    pub async fn invoke(&self, event: Bytes, deadline: Duration) -> Result<Outcome, InvokeError> {
        let mut init_error = self.shared.init_error.subscribe();
        if let Some(e) = init_error.borrow_and_update().clone() {
            return Ok(Outcome::InitError(e));
        }
        let (reply, outcome) = oneshot::channel();
        let invocation = Invocation {
            event,
            deadline: SystemTime::now() + deadline,
            reply,
        };
        tokio::select! {
            sent = self.queue.send(invocation) => sent.map_err(|_| InvokeError::Stopped)?,
            _ = init_error.changed() => {
                let message = init_error.borrow().clone().unwrap_or_default();
                return Ok(Outcome::InitError(message));
            }
        }
        tokio::select! {
            outcome = outcome => outcome.map_err(|_| InvokeError::Stopped),
            changed = init_error.changed() => match (changed, init_error.borrow().clone()) {
                (Ok(()), Some(e)) => Ok(Outcome::InitError(e)),
                _ => Err(InvokeError::Stopped),
            },
        }
    }

    /// When the function first asked for work (the end of its init), if it has.
    pub fn first_poll(&self) -> Option<Instant> {
        self.shared.first_poll.get().copied()
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

async fn next(State(shared): State<Arc<Shared>>) -> Result<(HeaderMap, Bytes), StatusCode> {
    shared.first_poll.get_or_init(Instant::now);
    // One poller at a time takes the next invocation; later polls wait for later ones.
    let invocation = {
        let mut queue = shared.queue.lock().await;
        queue.recv().await
    };
    let Some(invocation) = invocation else {
        // The emulator is gone: nothing will ever come.
        std::future::pending::<()>().await;
        return Err(StatusCode::GONE);
    };
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let id = format!("{:08x}-0000-4000-8000-{n:012x}", std::process::id());
    lock(&shared.pending).insert(id.clone(), invocation.reply);
    let mut headers = HeaderMap::new();
    let deadline = invocation
        .deadline
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let values = [
        ("lambda-runtime-aws-request-id", id),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            shared.function_arn.clone(),
        ),
        (
            "lambda-runtime-trace-id",
            format!("Root=1-{:08x}-{n:024x};Sampled=0", std::process::id()),
        ),
    ];
    for (name, value) in values {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    Ok((headers, invocation.event))
}

fn complete(shared: &Shared, id: &str, outcome: Outcome) -> StatusCode {
    match lock(&shared.pending).remove(id) {
        Some(reply) => {
            // The caller may have given up (timeout): then nobody is listening, which is fine.
            let _ = reply.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let at = Instant::now();
    complete(&shared, &id, Outcome::Response { body, at })
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let at = Instant::now();
    let body = String::from_utf8_lossy(&body).into_owned();
    complete(&shared, &id, Outcome::Error { body, at })
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    let message = String::from_utf8_lossy(&body).into_owned();
    shared.init_error.send_replace(Some(message));
    StatusCode::ACCEPTED
}
