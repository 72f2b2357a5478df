//! The workflows between HTTP and the stores: what a request does, over the narrow store
//! traits it needs. `http/` parses requests into these calls and renders what they return;
//! the Lambda glue and the local server only route to `http/`.
//!
//! - [`identity`]: who a credential stands for (API key, access token, upload token).
//! - [`tokens`]: create, list, get, delete upload tokens.
//! - [`sessions`]: access and refresh tokens for an API key.
//! - [`videos`]: read, edit, delete a video; its download link.
//! - [`chunks`]: the upload machinery (find the target video, judge a chunk, append its bytes,
//!   commit conditionally), shared by every way bytes come in.
//! - [`direct`]: uploads straight to the store (S3-direct): signing, and the completion check.
//! - [`tus`]: tus 1.0 (creation, HEAD, PATCH, termination) over the same upload machinery.
//! - [`lease`]: a video's write lease, under which its bytes move.
//! - [`abandoned`]: removing uploads abandoned midway.
//!
//! Every conditional write that can lose to a concurrent writer goes through one retry loop
//! ([`retry`]).

pub mod abandoned;
pub mod chunks;
pub mod direct;
mod error;
pub mod identity;
pub mod lease;
mod retry;
pub mod sessions;
pub mod tokens;
pub mod tus;
pub mod videos;

pub use error::UseCaseError;
pub use retry::WRITE_ATTEMPTS;
