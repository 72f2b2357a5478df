//! The HTTP server: axum only accepts connections and reads bodies; every request goes to the
//! shared router and handlers. It also serves the files of the embedded blob store through
//! signed `/downloads/{videoId}` links.

use crate::tls::Identity;
use crate::{Blobs, DefaultProject, LocalError, Options, assets, open_stores, secret};
use axum::body::Body;
use axum::extract::State;
use http::{HeaderValue, header};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use upload_tokens_core::auth::AccessTokenSigner;
use upload_tokens_core::domain::SystemClock;
use upload_tokens_core::http::{self as handlers, ApiError, App, AppWithBlobs, MediaSettings};

/// Largest request body accepted: the official uploader's largest chunk (128 MiB) plus room for
/// the multipart envelope.
pub const MAX_BODY_BYTES: usize = 130 * 1024 * 1024;

/// What API Gateway hands Lambda at most: 6 MiB of event JSON, binary bodies in base64.
pub const LAMBDA_EVENT_LIMIT: usize = 6_291_456;

/// A running local server.
#[derive(Debug)]
pub struct Server {
    /// The address it listens on (useful with port 0).
    pub addr: SocketAddr,
    /// The default project and its key.
    pub project: DefaultProject,
    /// With HTTPS: the PEM certificate clients should trust.
    pub certificate: Option<PathBuf>,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Base URL, e.g. `http://127.0.0.1:8080` (or `https://` with TLS).
    pub fn url(&self) -> String {
        let scheme = if self.certificate.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// Stops accepting connections, lets requests in flight finish, and returns.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(());
        self.task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

struct Shared {
    media: AppWithBlobs,
    blobs: Blobs,
    lambda_limits: bool,
    https: bool,
}

/// Opens the stores, ensures the default project, binds `options.addr` and serves in the
/// background.
pub async fn start(options: Options) -> Result<Server, LocalError> {
    let (store, blobs) = open_stores(&options.store, true).await?;
    let blobs = blobs.ok_or_else(|| LocalError::Usage("no blob store".into()))?;
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
    let media = AppWithBlobs {
        app,
        blobs: blobs.as_store(),
        settings: MediaSettings {
            max_file_bytes: options.max_upload_bytes,
            allow_origin: options.allow_origin.clone(),
            ..MediaSettings::default()
        },
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
    let identity = match (&options.tls_cert, &options.tls_key) {
        (Some(cert), Some(key)) => Some(Identity::from_files(cert, key)?),
        (None, None) if options.tls => Some(Identity::self_signed(&options.store.data_dir, addr)?),
        (None, None) => None,
        _ => {
            return Err(LocalError::Usage(
                "--tls-cert and --tls-key go together".into(),
            ));
        }
    };
    let certificate = identity.as_ref().map(|i| i.certificate.clone());
    let shared = Arc::new(Shared {
        media,
        blobs,
        lambda_limits: options.lambda_limits,
        https: identity.is_some(),
    });
    // The local server's own extras (signed downloads of the file store, the demo page and the
    // OpenAPI document) beside the API, which the route table serves.
    let router = axum::Router::new()
        .route(
            "/downloads/{video}",
            axum::routing::get(download).fallback(serve_request),
        )
        .fallback(serve_request)
        .with_state(shared);
    let (shutdown, stopped) = oneshot::channel::<()>();
    let task = match identity {
        None => tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        }),
        Some(identity) => {
            let config = identity.server_config()?;
            let listener = listener.into_std().map_err(|source| LocalError::Bind {
                addr: options.addr.clone(),
                source,
            })?;
            let handle = axum_server::Handle::new();
            let stopper = handle.clone();
            tokio::spawn(async move {
                let _ = stopped.await;
                stopper.graceful_shutdown(Some(GRACE));
            });
            let server = axum_server::from_tcp_rustls(listener, config).map_err(|source| {
                LocalError::Bind {
                    addr: options.addr.clone(),
                    source,
                }
            })?;
            tokio::spawn(async move {
                server
                    .handle(handle)
                    .serve(router.into_make_service())
                    .await
            })
        }
    };
    Ok(Server {
        addr,
        project,
        certificate,
        shutdown,
        task,
    })
}

/// How long requests in flight may take to finish once an HTTPS server is asked to stop.
const GRACE: std::time::Duration = std::time::Duration::from_secs(30);

async fn serve_request(
    State(shared): State<Arc<Shared>>,
    request: http::Request<Body>,
) -> http::Response<Body> {
    let (mut parts, body) = request.into_parts();
    if parts.method == http::Method::GET
        && let Some(response) = assets::serve(parts.uri.path())
    {
        return response;
    }
    if shared.https {
        // Links the handlers build (assets.mp4) must say https, whatever the client claimed.
        parts.headers.insert(
            http::HeaderName::from_static("x-forwarded-proto"),
            HeaderValue::from_static("https"),
        );
    }
    // Route and caller from the head alone: an unauthenticated request is refused before its
    // body is read.
    let admitted = match handlers::admit(&shared.media, &parts).await {
        Ok(admitted) => admitted,
        Err(refusal) => {
            discard(body).await;
            return refusal.map(Body::from);
        }
    };
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return too_large(format!(
                "the local server accepts bodies up to {MAX_BODY_BYTES} bytes"
            ));
        }
    };
    if shared.lambda_limits {
        let event = lambda_event_size(&parts.headers, parts.uri.to_string().len(), bytes.len());
        if event > LAMBDA_EVENT_LIMIT {
            return too_large(format!(
                "behind API Gateway and Lambda this request would be a {event}-byte event, over \
                 the {LAMBDA_EVENT_LIMIT}-byte limit: send chunks of at most 4 MiB"
            ));
        }
    }
    let request = http::Request::from_parts(parts, bytes);
    admitted.run(&shared.media, request).await.map(Body::from)
}

/// Most of a refused request's body read (and dropped) so that its client, which sends the
/// whole body before it reads an answer, gets to read the refusal rather than a reset.
const DISCARD_BYTES: usize = MAX_BODY_BYTES;
/// Most time spent discarding a refused request's body.
const DISCARD_TIME: std::time::Duration = std::time::Duration::from_secs(30);

/// Reads and drops a refused request's body, in constant memory, up to [`DISCARD_BYTES`] and
/// [`DISCARD_TIME`]; past either the connection is closed instead.
async fn discard(body: Body) {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut seen = 0usize;
    let _ = tokio::time::timeout(DISCARD_TIME, async {
        while let Some(Ok(frame)) = stream.next().await {
            seen += frame.len();
            if seen > DISCARD_BYTES {
                break;
            }
        }
    })
    .await;
}

/// Size of the API Gateway (payload v2) event for a request: the body base64-encoded, the
/// headers, the URI, and about a kilobyte of request context.
fn lambda_event_size(headers: &http::HeaderMap, uri_len: usize, body_len: usize) -> usize {
    let headers: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 6)
        .sum();
    body_len.div_ceil(3) * 4 + headers + 2 * uri_len + 1024
}

fn too_large(detail: String) -> http::Response<Body> {
    ApiError::PayloadTooLarge(detail)
        .into_response()
        .map(Body::from)
}

/// `GET /downloads/{video}?expires&signature`: streams a completed file of the embedded blob
/// store behind a signed link.
async fn download(
    State(shared): State<Arc<Shared>>,
    axum::extract::Path(video): axum::extract::Path<String>,
    uri: http::Uri,
) -> http::Response<Body> {
    let record = match handlers::authorize_download(&shared.media, &video, uri.query()).await {
        Ok(record) => record,
        Err(e) => return e.into_response().map(Body::from),
    };
    let Blobs::Files(files) = &shared.blobs else {
        return ApiError::NotFound("video").into_response().map(Body::from);
    };
    let file = match tokio::fs::File::open(files.path(&record.blob_key())).await {
        Ok(file) => file,
        Err(e) => {
            tracing::error!(error = %e, "stored file unreadable");
            return ApiError::NotFound("video").into_response().map(Body::from);
        }
    };
    let length = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let mut response =
        http::Response::new(Body::from_stream(tokio_util::io::ReaderStream::new(file)));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    let name: String = record
        .video
        .title
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '"' || *c == ' ')
        .collect();
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
