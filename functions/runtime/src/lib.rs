//! What every Lambda function binary shares: building the AWS clients once per execution
//! environment, converting API Gateway events to and from the shared handlers' `http` types,
//! and JSON logs. The handlers themselves live in `upload_tokens_core::http`.
//!
//! Init (before the first `next` poll) only reads the environment and builds clients: no network
//! I/O. The signing secret is read from Secrets Manager on the first request that needs it, once
//! per execution environment (a failed read is retried by the next request).

mod aws;
mod endpoint;
mod event;
mod secret;

pub use aws::aws_config;
pub use endpoint::{MediaEndpoint, TokenEndpoint, VideoEndpoint};
pub use lambda_http::Error;
pub use secret::{SIGNING_SECRET_ARN_ENV, SIGNING_SECRET_ENV, SecretError, SecretSource};

use event::{into_lambda, into_request, path_parameter};
use lambda_http::{Body, RequestExt, service_fn};
use std::sync::Arc;
use tokio::sync::OnceCell;
use upload_tokens_core::auth::{AccessTokenSigner, SigningKey};
use upload_tokens_core::domain::SystemClock;
use upload_tokens_core::http::{self as handlers, ApiError, App, Media, UploadLimits};
use upload_tokens_core::store::Store;
use upload_tokens_core::store::dynamodb::DynamoStore;
use upload_tokens_core::store::s3::S3BlobStore;

/// Environment variable naming the DynamoDB table.
pub const TABLE_ENV: &str = "TABLE_NAME";
/// Environment variable naming the S3 bucket (upload and video functions).
pub const BUCKET_ENV: &str = "BUCKET_NAME";
/// Optional: largest accepted file in bytes (default 50 GiB).
pub const MAX_UPLOAD_BYTES_ENV: &str = "MAX_UPLOAD_BYTES";
/// Optional: `Access-Control-Allow-Origin` of /upload (default `*`).
pub const ALLOW_ORIGIN_ENV: &str = "ALLOW_ORIGIN";

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

fn required_env(name: &'static str) -> Result<String, InitError> {
    std::env::var(name).map_err(|_| InitError::Env {
        name,
        problem: "not set",
    })
}

/// The DynamoDB store on `TABLE_NAME`.
pub fn store_from_env(config: &aws_config::SdkConfig) -> Result<Arc<dyn Store>, InitError> {
    let table = required_env(TABLE_ENV)?;
    Ok(Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(config),
        table,
    )))
}

/// Where a function gets its signing key: Secrets Manager or the environment ([`SecretSource`]),
/// or, for `/upload`, which never signs nor verifies access tokens, nowhere ([`NoSecret`]).
/// Generic rather than an enum, so that the upload binary does not link the Secrets Manager
/// client at all.
trait KeySource: Send + Sync {
    fn signing_key(&self) -> impl Future<Output = Result<SigningKey, SecretError>> + Send;
}

impl KeySource for SecretSource {
    fn signing_key(&self) -> impl Future<Output = Result<SigningKey, SecretError>> + Send {
        self.key()
    }
}

/// No secret: a random key nobody knows stands in (nothing is ever signed or verified with it).
struct NoSecret;

impl KeySource for NoSecret {
    fn signing_key(&self) -> impl Future<Output = Result<SigningKey, SecretError>> + Send {
        std::future::ready(
            SigningKey::new(SigningKey::generate_text().into_bytes())
                .ok_or_else(|| SecretError::Unusable("generated".into())),
        )
    }
}

/// The handlers' state, completed on first use with the signing key.
struct LazyApp<K> {
    store: Arc<dyn Store>,
    keys: K,
    app: OnceCell<App>,
}

impl<K: KeySource> LazyApp<K> {
    fn new(store: Arc<dyn Store>, keys: K) -> Self {
        Self {
            store,
            keys,
            app: OnceCell::new(),
        }
    }

    /// The state, reading the signing secret the first time.
    async fn get(&self) -> Result<&App, SecretError> {
        self.app
            .get_or_try_init(|| async {
                Ok(App {
                    store: self.store.clone(),
                    clock: Arc::new(SystemClock),
                    signer: AccessTokenSigner::new(self.keys.signing_key().await?),
                })
            })
            .await
    }
}

/// A 500 problem for a request that could not get the signing secret (logged with its cause).
fn secret_unavailable(e: SecretError) -> handlers::Response {
    tracing::error!(error = %e, "signing secret unavailable");
    ApiError::Store(upload_tokens_core::store::StoreError::Corrupt(
        "signing secret unavailable".into(),
    ))
    .into_response()
}

/// Runs a token-API function until the runtime stops it.
pub async fn serve_tokens(endpoint: TokenEndpoint) -> Result<(), Error> {
    init_tracing();
    let config = aws_config().await;
    let lazy = LazyApp::new(store_from_env(&config)?, SecretSource::from_env(&config)?);
    let lazy = &lazy;
    lambda_http::run(service_fn(move |event: lambda_http::Request| async move {
        let response = match lazy.get().await {
            Ok(app) => handle_tokens(app, endpoint, event).await,
            Err(e) => into_lambda(secret_unavailable(e)),
        };
        Ok::<_, std::convert::Infallible>(response)
    }))
    .await
}

/// Runs a video function (get, update, delete, status) until the runtime stops it.
pub async fn serve_videos(endpoint: VideoEndpoint) -> Result<(), Error> {
    init_tracing();
    let config = aws_config().await;
    let keys = SecretSource::from_env(&config)?;
    serve_media(&config, MediaEndpoint::Video(endpoint), keys).await
}

/// Runs the `/upload` function until the runtime stops it. It reads no signing secret.
pub async fn serve_upload() -> Result<(), Error> {
    init_tracing();
    let config = aws_config().await;
    serve_media(&config, MediaEndpoint::Upload, NoSecret).await
}

async fn serve_media<K: KeySource>(
    config: &aws_config::SdkConfig,
    endpoint: MediaEndpoint,
    keys: K,
) -> Result<(), Error> {
    let lazy = LazyApp::new(store_from_env(config)?, keys);
    let blobs = Arc::new(S3BlobStore::new(
        aws_sdk_s3::Client::new(config),
        required_env(BUCKET_ENV)?,
    ));
    let limits = limits_from_env()?;
    let media = OnceCell::new();
    let (lazy, blobs, limits, media) = (&lazy, &blobs, &limits, &media);
    lambda_http::run(service_fn(move |event: lambda_http::Request| async move {
        let ready = media
            .get_or_try_init(|| async {
                lazy.get().await.map(|app| Media {
                    app: app.clone(),
                    blobs: blobs.clone(),
                    limits: limits.clone(),
                })
            })
            .await;
        let response = match ready {
            Ok(media) => handle_media(media, endpoint, event).await,
            Err(e) => into_lambda(secret_unavailable(e)),
        };
        Ok::<_, std::convert::Infallible>(response)
    }))
    .await
}

/// Upload limits from `MAX_UPLOAD_BYTES` and `ALLOW_ORIGIN` (defaults otherwise).
pub fn limits_from_env() -> Result<UploadLimits, InitError> {
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
    Ok(limits)
}

/// JSON logs (what CloudWatch and Lambda's JSON log format expect) at the level Lambda's log
/// settings give (`AWS_LAMBDA_LOG_LEVEL`), else `RUST_LOG` (a plain level), else info. A plain
/// level rather than an `EnvFilter`: no regex engine to link and compile at every cold start.
pub fn init_tracing() {
    let level = ["AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
        .iter()
        .find_map(|name| std::env::var(name).ok()?.parse().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .with_current_span(false)
        .with_target(false)
        .init();
}

/// One token-API invocation: the API Gateway request in, the API Gateway response out.
pub async fn handle_tokens(
    app: &App,
    endpoint: TokenEndpoint,
    event: lambda_http::Request,
) -> lambda_http::Response<Body> {
    let started = std::time::Instant::now();
    let request_id = request_id(&event);
    let token = path_parameter(&event, "token");
    let request = into_request(event);
    let method = request.method().clone();
    let response = match endpoint {
        TokenEndpoint::CreateToken => handlers::create_token(app, &request).await,
        TokenEndpoint::ListTokens => handlers::list_tokens(app, &request).await,
        TokenEndpoint::GetToken => handlers::get_token(app, &request, &token).await,
        TokenEndpoint::DeleteToken => handlers::delete_token(app, &request, &token).await,
        TokenEndpoint::Auth if request.uri().path().ends_with("/refresh") => {
            handlers::refresh_session(app, &request).await
        }
        TokenEndpoint::Auth => handlers::exchange_api_key(app, &request).await,
    };
    log_request(&request_id, &endpoint, &method, &response, started);
    into_lambda(response)
}

/// One upload or video invocation.
pub async fn handle_media(
    media: &Media,
    endpoint: MediaEndpoint,
    event: lambda_http::Request,
) -> lambda_http::Response<Body> {
    let started = std::time::Instant::now();
    let request_id = request_id(&event);
    let video = path_parameter(&event, "videoId");
    let request = into_request(event);
    let method = request.method().clone();
    let response = match endpoint {
        MediaEndpoint::Upload if method == http::Method::OPTIONS => {
            handlers::upload_preflight(media)
        }
        MediaEndpoint::Upload => handlers::upload(media, request).await,
        MediaEndpoint::Video(VideoEndpoint::Get) => {
            handlers::get_video(media, &request, &video).await
        }
        MediaEndpoint::Video(VideoEndpoint::Update) => {
            handlers::update_video(media, &request, &video).await
        }
        MediaEndpoint::Video(VideoEndpoint::Delete) => {
            handlers::delete_video(media, &request, &video).await
        }
        MediaEndpoint::Video(VideoEndpoint::Status) => {
            handlers::video_status(media, &request, &video).await
        }
    };
    log_request(&request_id, &endpoint, &method, &response, started);
    into_lambda(response)
}

fn request_id(event: &lambda_http::Request) -> String {
    event
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .unwrap_or_default()
}

/// Never the path (it may hold a token) nor credentials: the endpoint names the route.
fn log_request(
    request_id: &str,
    endpoint: &dyn std::fmt::Debug,
    method: &http::Method,
    response: &handlers::Response,
    started: std::time::Instant,
) {
    tracing::info!(
        request_id,
        endpoint = ?endpoint,
        method = %method,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
}
