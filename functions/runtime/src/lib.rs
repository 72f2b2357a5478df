//! What every Lambda function binary shares: building the AWS clients once per execution
//! environment, converting API Gateway events to and from the shared handlers' `http` types,
//! and JSON logs. The handlers themselves live in `upload_tokens_core::http`.

pub use lambda_http::Error;

use bytes::Bytes;
use lambda_http::{Body, RequestExt, service_fn};
use std::sync::Arc;
use upload_tokens_core::auth::{AccessTokenSigner, SigningKey};
use upload_tokens_core::domain::SystemClock;
use upload_tokens_core::http::{self as handlers, App};
use upload_tokens_core::store::dynamodb::DynamoStore;

/// Environment variable naming the DynamoDB table.
pub const TABLE_ENV: &str = "TABLE_NAME";
/// Environment variable holding the access-token signing secret (≥ 32 bytes).
pub const SIGNING_SECRET_ENV: &str = "SIGNING_SECRET";

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

/// Builds the shared state from the environment: one DynamoDB client, the signer, the clock.
/// Does no network I/O: credentials and endpoints resolve lazily on the first call.
pub async fn app_from_env() -> Result<App, InitError> {
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
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), table);
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
    let app = app_from_env().await?;
    let app = &app;
    lambda_http::run(service_fn(move |event: lambda_http::Request| async move {
        Ok::<_, std::convert::Infallible>(handle(app, endpoint, event).await)
    }))
    .await
}

/// One invocation: the API Gateway request in, the API Gateway response out.
pub async fn handle(
    app: &App,
    endpoint: Endpoint,
    event: lambda_http::Request,
) -> lambda_http::Response<Body> {
    let token = path_token(&event);
    let request = into_request(event);
    let response = match endpoint {
        Endpoint::CreateToken => handlers::create_token(app, &request).await,
        Endpoint::ListTokens => handlers::list_tokens(app, &request).await,
        Endpoint::GetToken => handlers::get_token(app, &request, &token).await,
        Endpoint::DeleteToken => handlers::delete_token(app, &request, &token).await,
        Endpoint::Auth if request.uri().path().ends_with("/refresh") => {
            handlers::refresh_session(app, &request).await
        }
        Endpoint::Auth => handlers::exchange_api_key(app, &request).await,
    };
    into_lambda(response)
}

/// The `{token}` path parameter, or the last path segment when the event has no parameters.
fn path_token(event: &lambda_http::Request) -> String {
    event
        .path_parameters_ref()
        .and_then(|p| p.first("token"))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            event
                .uri()
                .path()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
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
