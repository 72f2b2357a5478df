//! The HTTP server: axum only accepts connections and reads bodies; every request goes to the
//! shared router and handlers.

use crate::{DefaultProject, LocalError, Options, open_store, secret};
use axum::body::Body;
use axum::extract::State;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use upload_tokens_core::auth::AccessTokenSigner;
use upload_tokens_core::domain::SystemClock;
use upload_tokens_core::http::{self as handlers, ApiError, App};

/// Largest request body accepted: the official uploader's largest chunk (128 MiB) plus room for
/// the multipart envelope.
pub const MAX_BODY_BYTES: usize = 130 * 1024 * 1024;

/// A running local server.
#[derive(Debug)]
pub struct Server {
    /// The address it listens on (useful with port 0).
    pub addr: SocketAddr,
    /// The default project and its key.
    pub project: DefaultProject,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Base URL, e.g. `http://127.0.0.1:8080`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections, lets requests in flight finish, and returns.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(());
        self.task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

/// Opens the store, ensures the default project, binds `options.addr` and serves in the
/// background.
pub async fn start(options: Options) -> Result<Server, LocalError> {
    let store = open_store(&options.store).await?;
    let project = DefaultProject::ensure(
        &options.store.data_dir,
        store.as_ref(),
        options.api_key.as_deref(),
    )
    .await?;
    let app = App {
        store,
        clock: Arc::new(SystemClock),
        signer: AccessTokenSigner::new(secret::load_or_create(&options.store.data_dir)?),
    };
    let listener = tokio::net::TcpListener::bind(&options.addr)
        .await
        .map_err(|source| LocalError::Bind {
            addr: options.addr.clone(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| LocalError::Bind {
        addr: options.addr.clone(),
        source,
    })?;
    let router = axum::Router::new()
        .fallback(serve_request)
        .with_state(Arc::new(app));
    let (shutdown, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(Server {
        addr,
        project,
        shutdown,
        task,
    })
}

async fn serve_request(
    State(app): State<Arc<App>>,
    request: http::Request<Body>,
) -> http::Response<Body> {
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => return too_large(),
    };
    let response = handlers::dispatch(&app, &http::Request::from_parts(parts, bytes)).await;
    response.map(Body::from)
}

fn too_large() -> http::Response<Body> {
    ApiError::PayloadTooLarge(format!(
        "the local server accepts bodies up to {MAX_BODY_BYTES} bytes"
    ))
    .into_response()
    .map(Body::from)
}
