//! The HTTP face of the service: the route table, request parsing and response rendering,
//! shared by every Lambda function and the local server. `http::Request` in, `http::Response`
//! out; no routing framework and nothing Lambda-specific. What a request *does* is a use case
//! ([`crate::usecases`]).

mod authn;
mod body;
mod cors;
mod direct;
mod error;
mod links;
mod multipart;
mod named_tokens;
mod problem;
mod respond;
mod routes;
mod sessions;
mod slug;
mod token_fields;
mod tokens;
mod tus;
mod upload;
mod videos;

use crate::auth::AccessTokenSigner;
use crate::domain::Clock;
use crate::store::Store;
use crate::store::blob::BlobStore;
use bytes::Bytes;
use std::sync::Arc;

pub use crate::auth::Principal;
pub use authn::authenticate;
pub use body::Body;
pub use direct::deps as direct_deps;
pub use error::{ApiError, ErrorFormat};
pub use links::parse_public_url;
pub use problem::Problem;
pub use routes::{
    Access, Admitted, Call, Caller, Handler, MEDIA_ROUTES, Route, RouteSet, RouteSpec, RouteState,
    TOKEN_ROUTES, admit, all_routes, dispatch,
};
pub use slug::Slug;
pub use videos::authorize_download;

/// A request as every handler sees it: the body read whole, or streamed for the rows that say
/// so ([`RouteSpec::streams_body`]).
pub type Request = http::Request<Body>;
/// A response as every handler returns it.
pub type Response = http::Response<Bytes>;

/// What the token routes need, built once per process and shared by every request.
#[derive(Clone)]
pub struct App {
    /// The store (DynamoDB on AWS, SQLite locally).
    pub store: Arc<dyn Store>,
    /// Where "now" comes from.
    pub clock: Arc<dyn Clock>,
    /// Signs and verifies access tokens (and local download links).
    pub signer: AccessTokenSigner,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

/// Settings of the routes that move bytes: size limit, download links, CORS.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    /// Largest file accepted, in bytes (default 50 GiB).
    pub max_file_bytes: u64,
    /// How long an `assets.mp4` link stays valid.
    pub download_valid_for: std::time::Duration,
    /// `Access-Control-Allow-Origin` of the upload routes (default `*`).
    pub allow_origin: String,
    /// The configured base URL of links (checked by [`parse_public_url`]); wins over the rest.
    pub public_url: Option<String>,
    /// Build links from valid `X-Forwarded-Proto` (http|https) and `X-Forwarded-Host` (or
    /// `Host`) headers: only behind a proxy that sets them.
    pub trust_proxy: bool,
    /// `scheme://address` the server listens on: links fall back to it (`http://127.0.0.1`
    /// when unset). Never taken from the request.
    pub listen_url: Option<String>,
    /// How long an unfinished upload may go without a chunk before it is abandoned and removed
    /// (default 7 days).
    pub abandon_after: std::time::Duration,
    /// Where chunks larger than a few MiB are spooled while they arrive (the local server's
    /// `<data-dir>/spool`); `None`: in memory (Lambda, whose bodies are at most 6 MB).
    pub spool_dir: Option<std::path::PathBuf>,
}

impl Default for MediaSettings {
    fn default() -> Self {
        Self {
            max_file_bytes: 50 * 1024 * 1024 * 1024,
            download_valid_for: std::time::Duration::from_secs(3600),
            allow_origin: "*".into(),
            public_url: None,
            trust_proxy: false,
            listen_url: None,
            abandon_after: crate::store::DEFAULT_ABANDON_AFTER,
            spool_dir: None,
        }
    }
}

/// What the media routes (uploads, videos) need: the token routes' [`App`], plus the blob store
/// the bytes go to and the [`MediaSettings`].
#[derive(Clone)]
pub struct AppWithBlobs {
    /// Store, clock, signer.
    pub app: App,
    /// Where uploaded bytes go (S3 on AWS, files locally).
    pub blobs: Arc<dyn BlobStore>,
    /// Limits and settings.
    pub settings: MediaSettings,
}

impl std::fmt::Debug for AppWithBlobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppWithBlobs").finish_non_exhaustive()
    }
}
