//! HTTP handlers shared by every Lambda function and the local server: `http::Request` in,
//! `http::Response` out, no routing framework and nothing Lambda-specific.

mod authn;
mod body;
mod error;
mod problem;
mod respond;
mod router;
mod session;
mod tokens;

use crate::auth::AccessTokenSigner;
use crate::domain::Clock;
use crate::store::Store;
use bytes::Bytes;
use std::sync::Arc;

pub use authn::{Principal, authenticate};
pub use error::ApiError;
pub use problem::Problem;
pub use router::{Route, dispatch};
pub use session::{exchange_api_key, refresh_session};
pub use tokens::{create_token, delete_token, get_token, list_tokens};

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
