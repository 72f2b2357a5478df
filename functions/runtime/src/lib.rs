//! What every Lambda function binary shares: building the AWS clients once per execution
//! environment, converting API Gateway events to and from the shared handlers' `http` types,
//! and JSON logs. The handlers themselves live in `upload_tokens_core::http`.

pub use lambda_http::Error;

use bytes::Bytes;
use lambda_http::{Body, RequestExt, service_fn};
use std::sync::Arc;
use upload_tokens_core::auth::{AccessTokenSigner, SigningKey};
use upload_tokens_core::domain::SystemClock;
use upload_tokens_core::http::{self as handlers, App, Media, UploadLimits};
use upload_tokens_core::store::dynamodb::DynamoStore;
use upload_tokens_core::store::s3::S3BlobStore;

/// Environment variable naming the DynamoDB table.
pub const TABLE_ENV: &str = "TABLE_NAME";
/// Environment variable holding the access-token signing secret (≥ 32 bytes).
pub const SIGNING_SECRET_ENV: &str = "SIGNING_SECRET";
/// Environment variable naming the S3 bucket (upload and video functions).
pub const BUCKET_ENV: &str = "BUCKET_NAME";
/// Optional: largest accepted file in bytes (default 50 GiB).
pub const MAX_UPLOAD_BYTES_ENV: &str = "MAX_UPLOAD_BYTES";
/// Optional: `Access-Control-Allow-Origin` of /upload (default `*`).
pub const ALLOW_ORIGIN_ENV: &str = "ALLOW_ORIGIN";

/// Which endpoint a function binary serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /upload-tokens`.
    CreateToken,
    /// `GET /upload-tokens`.
    ListTokens,
    /// `GET /upload-tokens/{token}`.
    GetToken,
    /// `DELETE /upload-tokens/{token}`.
    DeleteToken,
    /// `POST /auth/api-key` and `POST /auth/refresh`.
    Auth,
    /// `POST /upload` and its `OPTIONS` preflight.
    Upload,
    /// `GET /videos/{videoId}`.
    GetVideo,
    /// `PATCH /videos/{videoId}`.
    UpdateVideo,
    /// `DELETE /videos/{videoId}`.
    DeleteVideo,
    /// `GET /videos/{videoId}/status`.
    VideoStatus,
}

impl Endpoint {
    /// Whether the endpoint reads or writes uploaded bytes (and so needs the S3 client).
    pub fn needs_blobs(self) -> bool {
        matches!(
            self,
            Endpoint::Upload
                | Endpoint::GetVideo
                | Endpoint::UpdateVideo
                | Endpoint::DeleteVideo
                | Endpoint::VideoStatus
        )
    }
}

/// What a function's handlers need: the token API alone, or with the blob store.
#[derive(Debug, Clone)]
pub enum Deps {
    /// Token and auth endpoints.
    Tokens(App),
    /// Upload and video endpoints.
    Media(Media),
}

/// Why a function could not start (reported by the runtime as an init error).
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A required environment variable is missing or unusable.
    #[error("environment variable {name}: {problem}")]
    Env {
        /// Variable name.
        name: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
}

/// Builds what `endpoint` needs from the environment, once per execution environment.
pub async fn deps_from_env(endpoint: Endpoint) -> Result<Deps, InitError> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let app = app_from_env(&config)?;
    if !endpoint.needs_blobs() {
        return Ok(Deps::Tokens(app));
    }
    let bucket = std::env::var(BUCKET_ENV).map_err(|_| InitError::Env {
        name: BUCKET_ENV,
        problem: "not set",
    })?;
    let mut limits = UploadLimits::default();
    if let Ok(max) = std::env::var(MAX_UPLOAD_BYTES_ENV) {
        limits.max_file_bytes = max.parse().map_err(|_| InitError::Env {
            name: MAX_UPLOAD_BYTES_ENV,
            problem: "must be a number of bytes",
        })?;
    }
    if let Ok(origin) = std::env::var(ALLOW_ORIGIN_ENV) {
        limits.allow_origin = origin;
    }
    let s3 = aws_sdk_s3::Client::new(&config);
    Ok(Deps::Media(Media {
        app,
        blobs: Arc::new(S3BlobStore::new(s3, bucket)),
        limits,
    }))
}

/// Builds the token API's state: one DynamoDB client, the signer, the clock. Does no network
/// I/O: credentials and endpoints resolve lazily on the first call.
pub fn app_from_env(config: &aws_config::SdkConfig) -> Result<App, InitError> {
    let table = std::env::var(TABLE_ENV).map_err(|_| InitError::Env {
        name: TABLE_ENV,
        problem: "not set",
    })?;
    let secret = std::env::var(SIGNING_SECRET_ENV).map_err(|_| InitError::Env {
        name: SIGNING_SECRET_ENV,
        problem: "not set",
    })?;
    let key = SigningKey::new(secret.into_bytes()).ok_or(InitError::Env {
        name: SIGNING_SECRET_ENV,
        problem: "must be at least 32 bytes",
    })?;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(config), table);
    Ok(App {
        store: Arc::new(store),
        clock: Arc::new(SystemClock),
        signer: AccessTokenSigner::new(key),
    })
}

/// JSON logs (what CloudWatch and Lambda's JSON log format expect); level from `RUST_LOG`.
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .with_target(false)
        .init();
}

/// Runs `endpoint` as a Lambda function until the runtime stops it.
pub async fn serve(endpoint: Endpoint) -> Result<(), Error> {
    init_tracing();
    let deps = deps_from_env(endpoint).await?;
    let deps = &deps;
    lambda_http::run(service_fn(move |event: lambda_http::Request| async move {
        Ok::<_, std::convert::Infallible>(handle(deps, endpoint, event).await)
    }))
    .await
}

/// One invocation: the API Gateway request in, the API Gateway response out.
pub async fn handle(
    deps: &Deps,
    endpoint: Endpoint,
    event: lambda_http::Request,
) -> lambda_http::Response<Body> {
    let started = std::time::Instant::now();
    let request_id = event
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .unwrap_or_default();
    let name = if endpoint.needs_blobs() {
        "videoId"
    } else {
        "token"
    };
    let param = path_parameter(&event, name);
    let request = into_request(event);
    let method = request.method().clone();
    let response = match (deps, endpoint) {
        (Deps::Tokens(app), Endpoint::CreateToken) => handlers::create_token(app, &request).await,
        (Deps::Tokens(app), Endpoint::ListTokens) => handlers::list_tokens(app, &request).await,
        (Deps::Tokens(app), Endpoint::GetToken) => handlers::get_token(app, &request, &param).await,
        (Deps::Tokens(app), Endpoint::DeleteToken) => {
            handlers::delete_token(app, &request, &param).await
        }
        (Deps::Tokens(app), Endpoint::Auth) if request.uri().path().ends_with("/refresh") => {
            handlers::refresh_session(app, &request).await
        }
        (Deps::Tokens(app), Endpoint::Auth) => handlers::exchange_api_key(app, &request).await,
        (Deps::Media(media), Endpoint::Upload) if request.method() == http::Method::OPTIONS => {
            handlers::upload_preflight(media)
        }
        (Deps::Media(media), Endpoint::Upload) => handlers::upload(media, request).await,
        (Deps::Media(media), Endpoint::GetVideo) => {
            handlers::get_video(media, &request, &param).await
        }
        (Deps::Media(media), Endpoint::UpdateVideo) => {
            handlers::update_video(media, &request, &param).await
        }
        (Deps::Media(media), Endpoint::DeleteVideo) => {
            handlers::delete_video(media, &request, &param).await
        }
        (Deps::Media(media), Endpoint::VideoStatus) => {
            handlers::video_status(media, &request, &param).await
        }
        // `deps_from_env` builds the kind each endpoint needs; this cannot happen.
        _ => handlers::ApiError::Store(upload_tokens_core::store::StoreError::Corrupt(
            "function built without the dependencies of its endpoint".into(),
        ))
        .into_response(),
    };
    // Never the path (it may hold a token) nor credentials: the endpoint names the route.
    tracing::info!(
        request_id,
        endpoint = ?endpoint,
        method = %method,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    into_lambda(response)
}

/// A path parameter (`{token}`, `{videoId}`), or, when the event has none, the path segment
/// after `upload-tokens` or `videos`.
fn path_parameter(event: &lambda_http::Request, name: &str) -> String {
    if let Some(value) = event.path_parameters_ref().and_then(|p| p.first(name)) {
        return value.to_owned();
    }
    let segments: Vec<&str> = event.uri().path().split('/').collect();
    segments
        .iter()
        .position(|s| *s == "upload-tokens" || *s == "videos")
        .and_then(|i| segments.get(i + 1))
        .map_or_else(String::new, |s| (*s).to_owned())
}

/// API Gateway's body (text, or binary already decoded from base64) as bytes, without copying.
fn into_request(event: lambda_http::Request) -> handlers::Request {
    let (parts, body) = event.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(binary) => Bytes::from(binary),
        // `Body` is non-exhaustive upstream; nothing else is produced for API Gateway events.
        _ => Bytes::new(),
    };
    http::Request::from_parts(parts, bytes)
}

/// JSON and problem bodies go back as text; an empty body as no body.
fn into_lambda(response: handlers::Response) -> lambda_http::Response<Body> {
    let (parts, body) = response.into_parts();
    let body = if body.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(body.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    lambda_http::Response::from_parts(parts, body)
}
