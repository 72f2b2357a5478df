//! HTTP handlers shared by every Lambda function and the local server: `http::Request` in,
//! `http::Response` out, no routing framework and nothing Lambda-specific.

mod authn;
mod body;
mod cors;
mod error;
mod multipart;
mod problem;
mod respond;
mod router;
mod session;
mod tokens;
mod upload;
mod videos;

use crate::auth::AccessTokenSigner;
use crate::domain::Clock;
use crate::store::Store;
use crate::store::blob::BlobStore;
use bytes::Bytes;
use std::sync::Arc;

pub use authn::{Principal, authenticate};
pub use error::ApiError;
pub use problem::Problem;
pub use router::{ROUTES, Route, dispatch};
pub use session::{exchange_api_key, refresh_session};
pub use tokens::{create_token, delete_token, get_token, list_tokens};
pub use upload::{upload, upload_preflight};
pub use videos::{authorize_download, delete_video, get_video, update_video, video_status};

/// A request as every handler sees it: the body fully read.
pub type Request = http::Request<Bytes>;
/// A response as every handler returns it.
pub type Response = http::Response<Bytes>;

/// What handlers need, built once per process and shared by every request.
#[derive(Clone)]
pub struct App {
    /// The store (DynamoDB on AWS, SQLite locally).
    pub store: Arc<dyn Store>,
    /// Where "now" comes from.
    pub clock: Arc<dyn Clock>,
    /// Signs and verifies access tokens.
    pub signer: AccessTokenSigner,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

/// Limits and settings of uploads and videos.
#[derive(Debug, Clone)]
pub struct UploadLimits {
    /// Largest file accepted, in bytes (default 50 GiB).
    pub max_file_bytes: u64,
    /// How long an `assets.mp4` link stays valid.
    pub download_valid_for: std::time::Duration,
    /// `Access-Control-Allow-Origin` of `/upload` (default `*`).
    pub allow_origin: String,
}

impl Default for UploadLimits {
    fn default() -> Self {
        Self {
            max_file_bytes: 50 * 1024 * 1024 * 1024,
            download_valid_for: std::time::Duration::from_secs(3600),
            allow_origin: "*".into(),
        }
    }
}

/// What upload and video handlers need: the token API's [`App`] plus where bytes go.
#[derive(Clone)]
pub struct Media {
    /// Store, clock, signer.
    pub app: App,
    /// Where uploaded bytes go (S3 on AWS, files locally).
    pub blobs: Arc<dyn BlobStore>,
    /// Limits and settings.
    pub limits: UploadLimits,
}

impl std::fmt::Debug for Media {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Media").finish_non_exhaustive()
    }
}
