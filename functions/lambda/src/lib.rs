//! The Lambda functions: one binary per function (`src/bin/<function>.rs`, a few lines each),
//! serving the rows of the route table (`upload_tokens_core::http`) assigned to it. What they
//! share lives here: building the AWS clients once per execution environment, converting API
//! Gateway events to and from the handlers' `http` types, and JSON logs.
//!
//! Init (before the first `next` poll) only reads the environment: no network I/O. The SDK
//! clients are built on the first request, or during init when Lambda runs it ahead of requests
//! ([`first_use`]). The signing secret is read from Secrets Manager on the first request that
//! needs it (a failed read is retried by the next request), then again when its keys are 5
//! minutes old or a token names a key the function does not hold (at most every 30 s): see
//! [`SecretSource`].

mod aws;
mod event;
pub mod first_use;
mod object_created;
mod secret;

pub use aws::aws_config;
pub use lambda_http::Error;
pub use object_created::{handle as handle_object_created, keys_in, serve_object_created};
pub use secret::{SIGNING_SECRET_ARN_ENV, SIGNING_SECRET_ENV, SecretError, SecretSource};

use chrono::{DateTime, Utc};
use event::{into_lambda, into_request};
use first_use::{InitTiming, OnFirstUse};
use lambda_http::{Body, RequestExt, service_fn};
use std::sync::Arc;
use tokio::sync::OnceCell;
use upload_tokens_core::auth::{AccessTokenSigner, ReloadPolicy, SigningKey};
use upload_tokens_core::domain::{Clock, SystemClock};
use upload_tokens_core::http::{
    ApiError, App, AppWithBlobs, MEDIA_ROUTES, MediaSettings, Route, RouteSet, RouteState,
    TOKEN_ROUTES,
};
use upload_tokens_core::internal::InternalError;
use upload_tokens_core::store::Store;
use upload_tokens_core::store::blob::BlobStore;
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
/// Optional: days without a chunk after which an unfinished upload is abandoned (default 7;
/// the bucket's lifecycle rules use the same number).
pub const ABANDONED_UPLOAD_DAYS_ENV: &str = "ABANDONED_UPLOAD_DAYS";

/// The abandoned-upload period from `ABANDONED_UPLOAD_DAYS`, or the default.
fn abandon_after_from_env() -> Result<std::time::Duration, InitError> {
    match std::env::var(ABANDONED_UPLOAD_DAYS_ENV) {
        Err(_) => Ok(upload_tokens_core::store::DEFAULT_ABANDON_AFTER),
        Ok(days) => match days.parse::<u64>() {
            Ok(days @ 1..=3650) => Ok(std::time::Duration::from_secs(days * 24 * 3600)),
            _ => Err(InitError::Env {
                name: ABANDONED_UPLOAD_DAYS_ENV,
                problem: "must be a number of days from 1 to 3650",
            }),
        },
    }
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
    /// The binary names a function that serves no row of the route table.
    #[error("function {function} serves no route of the route table")]
    NoRoutes {
        /// The function's name.
        function: &'static str,
    },
}

fn required_env(name: &'static str) -> Result<String, InitError> {
    std::env::var(name).map_err(|_| InitError::Env {
        name,
        problem: "not set",
    })
}

/// The DynamoDB store on `TABLE_NAME`, its client built on first use ([`first_use`]).
pub fn store_from_env(
    config: &aws_config::SdkConfig,
) -> Result<OnFirstUse<Arc<dyn Store>>, InitError> {
    let table = required_env(TABLE_ENV)?;
    let abandon_after = abandon_after_from_env()?;
    let config = config.clone();
    Ok(OnFirstUse::new(InitTiming::from_env(), move || {
        Arc::new(
            DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table.clone())
                .abandoning_uploads_after(abandon_after),
        ) as Arc<dyn Store>
    }))
}

/// Where a function gets its signer: over keys from Secrets Manager or the environment
/// ([`SecretSource`]), or, for `/upload`, which never signs nor verifies access tokens, over no
/// secret at all ([`NoSecret`]). Generic rather than an enum, so that the upload binary does not
/// link the Secrets Manager client at all.
trait KeySource: Send + Sync {
    fn signer(
        &self,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<AccessTokenSigner, SecretError>> + Send;
}

impl KeySource for SecretSource {
    fn signer(
        &self,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<AccessTokenSigner, SecretError>> + Send {
        SecretSource::signer(self, now, ReloadPolicy::default())
    }
}

/// No secret: a random key nobody knows stands in (nothing is ever signed or verified with it).
struct NoSecret;

impl KeySource for NoSecret {
    fn signer(
        &self,
        _now: DateTime<Utc>,
    ) -> impl Future<Output = Result<AccessTokenSigner, SecretError>> + Send {
        std::future::ready(
            SigningKey::new(SigningKey::generate_text().into_bytes())
                .map(AccessTokenSigner::new)
                .ok_or_else(|| SecretError::Unusable("generated".into())),
        )
    }
}

/// The handlers' state, completed on first use with the store's client and the signing key.
struct LazyApp<K> {
    store: OnFirstUse<Arc<dyn Store>>,
    keys: K,
    app: OnceCell<App>,
}

impl<K: KeySource> LazyApp<K> {
    fn new(store: OnFirstUse<Arc<dyn Store>>, keys: K) -> Self {
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
                let clock = SystemClock;
                Ok(App {
                    store: self.store.get().clone(),
                    signer: self.keys.signer(clock.now()).await?,
                    clock: Arc::new(clock),
                })
            })
            .await
    }
}

/// A 500 problem for a request that could not get the signing secret (logged with its cause).
fn secret_unavailable(e: SecretError) -> lambda_http::Response<Body> {
    into_lambda(
        ApiError::Internal(InternalError::caused_by("signing secret unavailable", e))
            .into_response(),
    )
}

/// The route table's rows that `function` serves, or why it cannot start.
fn routes_of<S: RouteState>(
    table: &'static [Route<S>],
    function: &'static str,
) -> Result<RouteSet<S>, InitError> {
    RouteSet::for_function(table, function).ok_or(InitError::NoRoutes { function })
}

/// Runs a token-API function (its rows of [`TOKEN_ROUTES`]) until the runtime stops it.
pub async fn serve_tokens(function: &'static str) -> Result<(), Error> {
    init_tracing();
    let routes = routes_of(TOKEN_ROUTES, function)?;
    let config = aws_config().await;
    let lazy = LazyApp::new(store_from_env(&config)?, SecretSource::from_env(&config)?);
    let (lazy, routes) = (&lazy, &routes);
    lambda_http::run(service_fn(move |event: lambda_http::Request| async move {
        let response = match lazy.get().await {
            Ok(app) => invoke(routes, app, event).await,
            Err(e) => secret_unavailable(e),
        };
        Ok::<_, std::convert::Infallible>(response)
    }))
    .await
}

/// Runs a video function (its rows of [`MEDIA_ROUTES`], API-key authenticated) until the
/// runtime stops it.
pub async fn serve_videos(function: &'static str) -> Result<(), Error> {
    init_tracing();
    let config = aws_config().await;
    let keys = SecretSource::from_env(&config)?;
    serve_media(&config, function, keys).await
}

/// Runs an upload function (its rows of [`MEDIA_ROUTES`], upload-token authenticated) until the
/// runtime stops it. It reads no signing secret.
pub async fn serve_upload(function: &'static str) -> Result<(), Error> {
    init_tracing();
    let config = aws_config().await;
    serve_media(&config, function, NoSecret).await
}

async fn serve_media<K: KeySource>(
    config: &aws_config::SdkConfig,
    function: &'static str,
    keys: K,
) -> Result<(), Error> {
    let routes = routes_of(MEDIA_ROUTES, function)?;
    let lazy = LazyApp::new(store_from_env(config)?, keys);
    let settings = settings_from_env()?;
    let blobs = blobs_from_env(config, settings.max_file_bytes, Presigning::Yes)?;
    let state = OnceCell::new();
    let (lazy, blobs, settings, state, routes) = (&lazy, &blobs, &settings, &state, &routes);
    lambda_http::run(service_fn(move |event: lambda_http::Request| async move {
        let ready = state
            .get_or_try_init(|| async {
                lazy.get().await.map(|app| AppWithBlobs {
                    app: app.clone(),
                    blobs: blobs.get().clone(),
                    settings: settings.clone(),
                })
            })
            .await;
        let response = match ready {
            Ok(state) => invoke(routes, state, event).await,
            Err(e) => secret_unavailable(e),
        };
        Ok::<_, std::convert::Infallible>(response)
    }))
    .await
}

/// Whether an S3 blob store presigns (part URLs, POST policies) with the function's credentials.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presigning {
    Yes,
    No,
}

/// The S3 blob store on `BUCKET_NAME`, for files up to `max_file_bytes`, its client built on
/// first use ([`first_use`]).
pub(crate) fn blobs_from_env(
    config: &aws_config::SdkConfig,
    max_file_bytes: u64,
    presigning: Presigning,
) -> Result<OnFirstUse<Arc<dyn BlobStore>>, InitError> {
    let bucket = required_env(BUCKET_ENV)?;
    let config = config.clone();
    Ok(OnFirstUse::new(InitTiming::from_env(), move || {
        let blobs = S3BlobStore::new(aws_sdk_s3::Client::new(&config), bucket.clone())
            .for_files_up_to(max_file_bytes);
        Arc::new(match presigning {
            Presigning::Yes => blobs.signing_with(config.credentials_provider()),
            Presigning::No => blobs,
        }) as Arc<dyn BlobStore>
    }))
}

/// Media settings from `MAX_UPLOAD_BYTES`, `ALLOW_ORIGIN` and `ABANDONED_UPLOAD_DAYS`
/// (defaults otherwise).
pub fn settings_from_env() -> Result<MediaSettings, InitError> {
    let mut settings = MediaSettings::default();
    if let Ok(max) = std::env::var(MAX_UPLOAD_BYTES_ENV) {
        settings.max_file_bytes = max.parse().map_err(|_| InitError::Env {
            name: MAX_UPLOAD_BYTES_ENV,
            problem: "must be a number of bytes",
        })?;
    }
    if let Ok(origin) = std::env::var(ALLOW_ORIGIN_ENV) {
        settings.allow_origin = origin;
    }
    settings.abandon_after = abandon_after_from_env()?;
    Ok(settings)
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

/// One invocation: the API Gateway request in, served by `routes`, the API Gateway response
/// out.
pub async fn invoke<S: RouteState>(
    routes: &RouteSet<S>,
    state: &S,
    event: lambda_http::Request,
) -> lambda_http::Response<Body> {
    let request_id = event
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .unwrap_or_default();
    let request = into_request(event);
    into_lambda(routes.handle(state, request, &request_id).await)
}
