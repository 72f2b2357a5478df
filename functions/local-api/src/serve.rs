//! The HTTP server: axum only accepts connections and reads bodies; every request goes to the
//! shared router and handlers. It also serves the files of the embedded blob store through
//! signed `/downloads/{videoId}` links.

use crate::tls::Identity;
use crate::{Blobs, DefaultProject, LocalError, Options, assets, open_stores, secret};
use axum::body::Body;
use axum::extract::State;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::{HeaderValue, header};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use upload_tokens_core::auth::AccessTokenSigner;
use upload_tokens_core::domain::SystemClock;
use upload_tokens_core::http::{self as handlers, ApiError, App, AppWithBlobs, MediaSettings};

/// Room for the multipart envelope around the largest file, in an upload body.
pub const ENVELOPE_BYTES: u64 = 1024 * 1024;

/// Largest body of every route but `/upload` (they take JSON).
pub const MAX_JSON_BODY_BYTES: usize = 64 * 1024;

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
    sweeper: Option<JoinHandle<()>>,
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
        if let Some(sweeper) = &self.sweeper {
            sweeper.abort();
        }
        let _ = self.shutdown.send(());
        self.task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

pub(crate) struct Shared {
    pub(crate) media: AppWithBlobs,
    pub(crate) blobs: Blobs,
    lambda_limits: bool,
    /// Permits of the requests whose bodies are streamed (uploads) being read or processed.
    pub(crate) uploads: Arc<Semaphore>,
    /// Largest streamed body: the largest file and its envelope.
    max_streamed_body: u64,
    /// How long a body may stay silent (and a JSON body take in all).
    pub(crate) body_idle: Duration,
}

/// Opens the stores, ensures the default project, binds `options.addr` and serves in the
/// background.
pub async fn start(options: Options) -> Result<Server, LocalError> {
    let opened = open_stores(&options.store, Some(options.max_upload_bytes)).await?;
    // Chunks larger than a few MiB wait there (in files without a name) until they are whole.
    let spool_dir = options.store.data_dir.join("spool");
    upload_tokens_core::store::chunk_data::prepare_spool_dir(&spool_dir).map_err(|source| {
        LocalError::DataDir {
            path: spool_dir.clone(),
            source,
        }
    })?;
    let store = opened.store;
    let blobs = opened
        .blobs
        .ok_or_else(|| LocalError::Usage("no blob store".into()))?;
    let public_url = match &options.public_url {
        Some(url) => Some(
            handlers::parse_public_url(url)
                .map_err(|e| LocalError::Usage(format!("--public-url: {e}")))?,
        ),
        None => None,
    };
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
            public_url,
            trust_proxy: options.trust_proxy,
            listen_url: None,
            abandon_after: options.store.abandon_after(),
            spool_dir: Some(spool_dir),
            ..MediaSettings::default()
        },
    };
    let sweeper = opened.embedded.map(|embedded| {
        tokio::spawn(sweep_abandoned(
            embedded,
            blobs.as_store(),
            options.store.abandon_after(),
        ))
    });
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
    let mut media = media;
    media.settings.listen_url = Some(listen_url(identity.is_some(), addr));
    let shared = Arc::new(Shared {
        media,
        blobs,
        lambda_limits: options.lambda_limits,
        max_streamed_body: options.max_upload_bytes.saturating_add(ENVELOPE_BYTES),
        uploads: Arc::new(Semaphore::new(options.max_concurrent_uploads as usize)),
        body_idle: Duration::from_secs(options.body_idle_timeout),
    });
    let header_timeout = Duration::from_secs(options.header_timeout);
    // The local server's own extras (signed downloads of the file store, the demo page and the
    // OpenAPI document) beside the API, which the route table serves.
    let router = axum::Router::new()
        .route(
            "/downloads/{video}",
            axum::routing::get(download).fallback(serve_request),
        )
        // The local server plays the bucket of S3-direct uploads (`crate::direct`).
        .route(
            "/direct/{video}/parts/{number}",
            axum::routing::put(crate::direct::put_part).options(crate::direct::preflight),
        )
        .route(
            "/direct/{video}/post",
            axum::routing::post(crate::direct::post_form).options(crate::direct::preflight),
        )
        .fallback(serve_request)
        .with_state(shared);
    let (shutdown, stopped) = oneshot::channel::<()>();
    let listener = listener.into_std().map_err(|source| LocalError::Bind {
        addr: options.addr.clone(),
        source,
    })?;
    let bind_error = |source| LocalError::Bind {
        addr: options.addr.clone(),
        source,
    };
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        let _ = stopped.await;
        stopper.graceful_shutdown(Some(GRACE));
    });
    // Slow clients: hyper closes a connection whose request head has not arrived within
    // `header_timeout` of its start or of the previous response (the keep-alive idle time);
    // bodies are read under `body_idle` (see `read_body`). A client may shut its side down
    // once its body is sent and wait for the answer (half-close): without `half_close`, hyper
    // would drop the connection, answer unsent, whenever that end arrives before the answer.
    let task = match identity {
        None => {
            let mut server = axum_server::from_tcp(listener)
                .map_err(bind_error)?
                .handle(handle);
            server
                .http_builder()
                .http1()
                .header_read_timeout(header_timeout)
                .half_close(true);
            tokio::spawn(async move { server.serve(router.into_make_service()).await })
        }
        Some(identity) => {
            let config = identity.server_config()?;
            let mut server = axum_server::from_tcp_rustls(listener, config)
                .map_err(bind_error)?
                .handle(handle)
                .first_request_timeout(header_timeout);
            server
                .http_builder()
                .http1()
                .header_read_timeout(header_timeout)
                .half_close(true);
            tokio::spawn(async move { server.serve(router.into_make_service()).await })
        }
    };
    Ok(Server {
        addr,
        project,
        certificate,
        shutdown,
        task,
        sweeper,
    })
}

/// How often the embedded store is swept for abandoned uploads (and once at start).
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// Removes the embedded store's abandoned uploads and folds its expired token counts, now and
/// every [`SWEEP_EVERY`].
async fn sweep_abandoned(
    store: Arc<upload_tokens_core::store::embedded::EmbeddedStore>,
    blobs: Arc<dyn upload_tokens_core::store::blob::BlobStore>,
    after: Duration,
) {
    loop {
        match store.unfinished_uploads().await {
            Ok(candidates) => {
                let removed = upload_tokens_core::usecases::abandoned::sweep(
                    store.as_ref(),
                    blobs.as_ref(),
                    &SystemClock,
                    after,
                    candidates,
                )
                .await;
                if removed > 0 {
                    tracing::info!(removed, "abandoned uploads removed");
                }
            }
            Err(e) => {
                tracing::warn!(error = %upload_tokens_core::internal::ErrorChain(&e), "abandoned uploads not swept");
            }
        }
        if let Err(e) = store.fold_expired_counts(chrono::Utc::now()).await {
            tracing::warn!(error = %upload_tokens_core::internal::ErrorChain(&e), "expired token counts not folded");
        }
        tokio::time::sleep(SWEEP_EVERY).await;
    }
}

/// `scheme://address` links fall back to; an unspecified address (0.0.0.0, ::) becomes the
/// loopback one (give `--public-url` to serve other machines).
fn listen_url(https: bool, addr: SocketAddr) -> String {
    let scheme = if https { "https" } else { "http" };
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("{scheme}://{addr}")
}

/// How long requests in flight may take to finish once the server is asked to stop.
const GRACE: std::time::Duration = std::time::Duration::from_secs(30);

async fn serve_request(
    State(shared): State<Arc<Shared>>,
    request: http::Request<Body>,
) -> http::Response<Body> {
    let (parts, body) = request.into_parts();
    if parts.method == http::Method::GET
        && let Some(response) = assets::serve(parts.uri.path())
    {
        return response;
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
    if admitted.spec().streams_body {
        return serve_streamed(&shared, admitted, parts, body).await;
    }
    let bytes = match read_body(
        &parts.headers,
        body,
        MAX_JSON_BODY_BYTES,
        shared.body_idle,
        Some(shared.body_idle),
    )
    .await
    {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => {
            return closing(too_large(
                format!(
                    "the local server accepts JSON bodies up to {MAX_JSON_BODY_BYTES} bytes on \
                     this route"
                ),
                admitted.spec().errors,
            ));
        }
        Err(BodyError::TooSlow) => return closing(timed_out()),
        Err(BodyError::Broken) => return closing(bad_body()),
    };
    if let Some(refusal) =
        shared.over_lambda_limit(&parts, bytes.len() as u64, admitted.spec().errors)
    {
        return refusal;
    }
    let request = http::Request::from_parts(parts, handlers::Body::from(bytes));
    admitted.run(&shared.media, request).await.map(Body::from)
}

impl Shared {
    /// With `--lambda-limits`, the 413 API Gateway would answer a request with a body of
    /// `body_len` bytes.
    fn over_lambda_limit(
        &self,
        parts: &http::request::Parts,
        body_len: u64,
        format: handlers::ErrorFormat,
    ) -> Option<http::Response<Body>> {
        if !self.lambda_limits {
            return None;
        }
        let event = lambda_event_size(&parts.headers, parts.uri.to_string().len(), body_len);
        (event > LAMBDA_EVENT_LIMIT as u64).then(|| too_large(lambda_detail(event), format))
    }
}

fn lambda_detail(event: u64) -> String {
    format!(
        "behind API Gateway and Lambda this request would be a {event}-byte event, over the \
         {LAMBDA_EVENT_LIMIT}-byte limit: send chunks of at most 4 MiB"
    )
}

/// A route that streams its body (uploads): at most `--max-concurrent-uploads` at once, the
/// others waiting with their bodies unread. The handler reads the body as it arrives, under the
/// idle timeout and the size limit; when it fails to arrive, the server's answer (408, 413)
/// replaces the handler's.
async fn serve_streamed(
    shared: &Shared,
    admitted: handlers::Admitted,
    parts: http::request::Parts,
    body: Body,
) -> http::Response<Body> {
    let format = admitted.spec().errors;
    let announced = content_length(&parts.headers);
    let limit = if shared.lambda_limits {
        // The largest body whose event fits: base64 makes 3 bytes 4.
        let overhead = lambda_event_size(&parts.headers, parts.uri.to_string().len(), 0);
        (LAMBDA_EVENT_LIMIT as u64).saturating_sub(overhead) / 4 * 3
    } else {
        shared.max_streamed_body
    };
    if let Some(announced) = announced.filter(|&n| n > limit) {
        let refusal = shared
            .over_lambda_limit(&parts, announced, format)
            .unwrap_or_else(|| too_large(streamed_too_large(limit), format));
        // A client that sends its whole body before it reads (most do) gets to read the
        // refusal rather than a reset, if the body is one worth reading through.
        if announced <= DISCARD_BYTES as u64 {
            discard(body).await;
        }
        return closing(refusal);
    }
    let _permit = match Arc::clone(&shared.uploads).acquire_owned().await {
        Ok(permit) => permit,
        Err(_) => return closing(too_busy()),
    };
    let watch = Arc::new(BodyWatch::default());
    let source = Arc::new(tokio::sync::Mutex::new(body.into_data_stream()));
    let stream = watched(
        Arc::clone(&source),
        limit,
        shared.body_idle,
        Arc::clone(&watch),
    );
    let request = http::Request::from_parts(parts, handlers::Body::streamed(stream));
    let response = admitted.run(&shared.media, request).await.map(Body::from);
    if watch.failure().is_none() && !watch.ended() {
        // Refused before its body ended: read the rest, so that a client that sends its whole
        // body before it reads gets to read the refusal rather than a reset.
        if drain(&mut *source.lock().await).await {
            return response;
        }
    }
    match watch.failure() {
        Some(BodyError::TooLarge) if shared.lambda_limits => {
            closing(too_large(lambda_detail(limit * 4 / 3), format))
        }
        Some(BodyError::TooLarge) => closing(too_large(streamed_too_large(limit), format)),
        Some(BodyError::TooSlow) => closing(timed_out()),
        Some(BodyError::Broken) => closing(bad_body()),
        // Answered before its body ended (a refusal): the rest is not read.
        None if !watch.ended() => closing(response),
        None => response,
    }
}

fn streamed_too_large(limit: u64) -> String {
    format!(
        "the local server accepts upload bodies up to {limit} bytes (the largest file plus its \
         multipart envelope)"
    )
}

/// What became of a streamed body, for the server to answer once the handler is done.
#[derive(Default)]
pub(crate) struct BodyWatch {
    failure: std::sync::Mutex<Option<BodyError>>,
    ended: std::sync::atomic::AtomicBool,
}

impl BodyWatch {
    fn fail(&self, e: BodyError) {
        let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        failure.get_or_insert(e);
    }

    pub(crate) fn failure(&self) -> Option<BodyError> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn ended(&self) -> bool {
        self.ended.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// `body` as a stream of its frames, each due within `idle`, at most `limit` bytes in all
/// (counted as they arrive, whatever `Content-Length` said); the first failure ends it and is
/// noted in `watch`.
pub(crate) fn watched(
    source: Arc<tokio::sync::Mutex<axum::body::BodyDataStream>>,
    limit: u64,
    idle: Duration,
    watch: Arc<BodyWatch>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    futures_util::stream::unfold(
        (source, 0u64, watch, false),
        move |(stream, seen, watch, done)| async move {
            if done {
                return None;
            }
            let failed = |watch: Arc<BodyWatch>, e: BodyError, stream| {
                watch.fail(e.clone());
                let error = std::io::Error::other(format!("request body: {e:?}"));
                Some((Err(error), (stream, seen, watch, true)))
            };
            let next = tokio::time::timeout(idle, async { stream.lock().await.next().await }).await;
            match next {
                Err(_) => failed(watch, BodyError::TooSlow, stream),
                Ok(None) => {
                    watch
                        .ended
                        .store(true, std::sync::atomic::Ordering::Release);
                    None
                }
                Ok(Some(Err(_))) => failed(watch, BodyError::Broken, stream),
                Ok(Some(Ok(frame))) if seen + frame.len() as u64 > limit => {
                    failed(watch, BodyError::TooLarge, stream)
                }
                Ok(Some(Ok(frame))) => {
                    let seen = seen + frame.len() as u64;
                    Some((Ok(frame), (stream, seen, watch, false)))
                }
            }
        },
    )
}

fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Most of a refused request's body read (and dropped) so that its client, which sends the
/// whole body before it reads an answer, gets to read the refusal rather than a reset: the
/// official uploader's largest chunk (128 MiB) and its envelope.
const DISCARD_BYTES: usize = 130 * 1024 * 1024;
/// Most time spent discarding a refused request's body.
const DISCARD_TIME: std::time::Duration = std::time::Duration::from_secs(30);

/// Reads and drops a refused request's body, in constant memory, up to [`DISCARD_BYTES`] and
/// [`DISCARD_TIME`]; past either the connection is closed instead.
async fn discard(body: Body) -> bool {
    drain(&mut body.into_data_stream()).await
}

/// Reads and drops what is left of `stream`, within [`DISCARD_BYTES`] and [`DISCARD_TIME`];
/// whether it reached the end.
async fn drain(stream: &mut axum::body::BodyDataStream) -> bool {
    let mut seen = 0usize;
    tokio::time::timeout(DISCARD_TIME, async {
        while let Some(Ok(frame)) = stream.next().await {
            seen += frame.len();
            if seen > DISCARD_BYTES {
                return false;
            }
        }
        true
    })
    .await
    .unwrap_or(false)
}

/// Size of the API Gateway (payload v2) event for a request: the body base64-encoded, the
/// headers, the URI, and about a kilobyte of request context.
fn lambda_event_size(headers: &http::HeaderMap, uri_len: usize, body_len: u64) -> u64 {
    let headers: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 6)
        .sum();
    body_len.div_ceil(3) * 4 + (headers + 2 * uri_len + 1024) as u64
}

/// Why a body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// Over the route's limit (announced by `Content-Length`, or counted).
    TooLarge,
    /// Silent for `idle`, or not whole by the deadline.
    TooSlow,
    /// The connection failed mid-body.
    Broken,
}

/// Reads a body of at most `limit` bytes: refused from `Content-Length` alone when it announces
/// more, otherwise counted as it arrives (never more than `limit` bytes buffered). Each frame
/// must come within `idle`; with `whole_within`, the whole body too.
async fn read_body(
    headers: &http::HeaderMap,
    body: Body,
    limit: usize,
    idle: Duration,
    whole_within: Option<Duration>,
) -> Result<Bytes, BodyError> {
    let announced = content_length(headers);
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    // No body at all (a GET, or `Content-Length: 0`): nothing to wait for, no timer to set.
    if axum::body::HttpBody::is_end_stream(&body) {
        return Ok(Bytes::new());
    }
    let deadline = whole_within.map(|d| tokio::time::Instant::now() + d);
    let mut stream = body.into_data_stream();
    let mut buffer = BytesMut::with_capacity(announced.map_or(0, |n| n as usize));
    loop {
        let wait = match deadline {
            Some(deadline) => {
                idle.min(deadline.saturating_duration_since(tokio::time::Instant::now()))
            }
            None => idle,
        };
        let frame = match tokio::time::timeout(wait, stream.next()).await {
            Err(_) => return Err(BodyError::TooSlow),
            Ok(None) => return Ok(buffer.freeze()),
            Ok(Some(Err(_))) => return Err(BodyError::Broken),
            Ok(Some(Ok(frame))) => frame,
        };
        if buffer.len() + frame.len() > limit {
            return Err(BodyError::TooLarge);
        }
        buffer.extend_from_slice(&frame);
    }
}

/// The response asks the client to close: its body was not read to the end.
pub(crate) fn closing(mut response: http::Response<Body>) -> http::Response<Body> {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A body too slow to arrive: 408, no problem document (the client is not listening).
pub(crate) fn timed_out() -> http::Response<Body> {
    let mut response = http::Response::new(Body::empty());
    *response.status_mut() = http::StatusCode::REQUEST_TIMEOUT;
    response
}

/// A connection that broke mid-body: nobody reads the answer.
fn bad_body() -> http::Response<Body> {
    let mut response = http::Response::new(Body::empty());
    *response.status_mut() = http::StatusCode::BAD_REQUEST;
    response
}

/// The upload permits are gone (only while stopping).
fn too_busy() -> http::Response<Body> {
    let mut response = http::Response::new(Body::empty());
    *response.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
    response
}

/// 413, in the errors' format of the route it was sent to (vidbeo's envelope on `/v2`).
fn too_large(detail: String, format: handlers::ErrorFormat) -> http::Response<Body> {
    ApiError::PayloadTooLarge(detail)
        .into_response_as(format)
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
