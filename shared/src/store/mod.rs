//! Storage, split by capability so each handler asks only for what it uses, and its adapters:
//! [`dynamodb`] (production, native TTL) and [`embedded`] (SQLite on local disk).
//!
//! Every read takes `now` and filters out what has expired at that instant: neither DynamoDB's
//! native TTL (hours to days late) nor the embedded store's housekeeping is relied on for
//! correctness.

pub mod blob;
#[cfg(feature = "embedded")]
pub mod blob_files;
pub mod chunk_data;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "embedded")]
pub mod embedded;
#[cfg(feature = "embedded")]
pub mod key_cache;
pub mod private;
mod records;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(any(feature = "embedded", feature = "dynamodb"))]
mod stored;

use crate::auth::SecretHash;
use crate::domain::{
    CreationOrder, KeyId, ListQuery, ProjectId, ReceivedChunk, TokenId, UploadToken, VideoId,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use records::{
    ApiKeyRecord, DEFAULT_ABANDON_AFTER, RefreshRecord, TokenPage, VideoRecord, WriteLease,
};

/// The document both adapters keep for a video (SQLite's `record` column, DynamoDB's `record`
/// attribute). Not an API: for benchmarks that write many stored videos at once, bypassing the
/// stores' per-video transactions (`tests/benches/growth.rs`).
#[doc(hidden)]
#[cfg(any(feature = "embedded", feature = "dynamodb"))]
pub fn encode_video_document(record: &VideoRecord) -> Result<String, StoreError> {
    stored::encode_video(record)
}

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A create found an item with the same key: nothing was overwritten.
    #[error("an item with this key already exists")]
    AlreadyExists,
    /// An item read back from the store does not decode (corruption or an incompatible writer).
    #[error("stored item is malformed: {0}")]
    Corrupt(String),
    /// A broken invariant on our side (a caller's mistake, an impossible value), not bad stored
    /// data nor a backend failure.
    #[error(transparent)]
    Internal(#[from] crate::internal::InternalError),
    /// A video's creation was refused: its token already started `maxUploads` videos.
    #[error("the token's maxUploads is reached")]
    UploadLimitReached,
    /// A write that counts an upload in its token's usage found the token deleted or expired:
    /// nothing was written.
    #[error("the upload token is deleted or expired")]
    TokenGone,
    /// The stored bytes of an unfinished upload are gone: cleaned up (by the bucket's lifecycle
    /// rules or the abandoned-upload sweep) while its record was still there.
    #[error("the stored bytes of this upload are gone: {0}")]
    BlobGone(String),
    /// The backend failed (network, throttling, disk...). The source carries the details for the
    /// log; clients only ever see a generic 500.
    #[error("store backend failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Wraps a backend error.
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(e))
    }
}

/// Creates upload tokens.
#[async_trait]
pub trait TokenWriter: Send + Sync {
    /// Stores a new token; fails with [`StoreError::AlreadyExists`] rather than overwrite.
    async fn insert_token(&self, token: &UploadToken) -> Result<(), StoreError>;
}

/// Reads one upload token.
#[async_trait]
pub trait TokenReader: Send + Sync {
    /// The token if it exists, belongs to `project`, and is active at `now` (strongly consistent).
    async fn get_token(
        &self,
        project: &ProjectId,
        id: &TokenId,
        now: DateTime<Utc>,
    ) -> Result<Option<UploadToken>, StoreError>;

    /// The token if it exists and is active at `now`, whatever its project: how an upload,
    /// which carries only the token, learns its project. Strongly consistent.
    async fn find_token(
        &self,
        id: &TokenId,
        now: DateTime<Utc>,
    ) -> Result<Option<UploadToken>, StoreError>;
}

/// Changes upload tokens.
#[async_trait]
pub trait TokenUpdater: Send + Sync {
    /// Replaces the stored token's lifetime, name, policy and `updated_*` with `token`'s if it
    /// is still at version `token.version - 1`, belongs to `token.project_id` and is active at
    /// `now`; its usage is left as the store has it. `false` otherwise (nothing written).
    async fn update_token(
        &self,
        token: &UploadToken,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// Lists a project's upload tokens.
#[async_trait]
pub trait TokenLister: Send + Sync {
    /// One page of the project's api.video-face tokens (those whose value is their id) active
    /// at `now`, in the query's order, and how many such tokens there are in all. Ties are
    /// broken by token id.
    async fn list_tokens(
        &self,
        project: &ProjectId,
        query: &ListQuery,
        now: DateTime<Utc>,
    ) -> Result<TokenPage, StoreError>;

    /// Up to `limit` of the project's tokens of both faces active at `now`, newest first,
    /// created before `before` (from the newest without it). Costs reads for about `limit`
    /// tokens (and any expired ones among them) however deep `before` is.
    async fn list_newest(
        &self,
        project: &ProjectId,
        before: Option<&CreationOrder>,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<UploadToken>, StoreError>;
}

/// Deletes upload tokens.
#[async_trait]
pub trait TokenDeleter: Send + Sync {
    /// Deletes the token if it exists, belongs to `project` and is active at `now`; tells whether
    /// it did. Atomic: of two concurrent deletes exactly one returns `true`.
    async fn delete_token(
        &self,
        project: &ProjectId,
        id: &TokenId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// Looks up API keys.
#[async_trait]
pub trait ApiKeyReader: Send + Sync {
    /// The key whose secret hashes to `hash`. The caller still compares hashes in constant time.
    async fn api_key_by_hash(&self, hash: &SecretHash) -> Result<Option<ApiKeyRecord>, StoreError>;

    /// The key with this id, if not revoked.
    async fn api_key_by_id(&self, id: &KeyId) -> Result<Option<ApiKeyRecord>, StoreError>;
}

/// Administers API keys.
#[async_trait]
pub trait ApiKeyAdmin: Send + Sync {
    /// Registers a key; [`StoreError::AlreadyExists`] if its id or hash is taken.
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;

    /// Revokes a key; tells whether it existed. Access and refresh tokens obtained with it stop
    /// working at once.
    async fn revoke_api_key(&self, id: &KeyId) -> Result<bool, StoreError>;

    /// Every key of a project (or of all projects), oldest first. For operators, not hot paths.
    async fn list_api_keys(
        &self,
        project: Option<&ProjectId>,
    ) -> Result<Vec<ApiKeyRecord>, StoreError>;
}

/// Keeps refresh tokens, each usable once.
#[async_trait]
pub trait RefreshTokenStore: Send + Sync {
    /// Stores a new refresh token.
    async fn insert_refresh_token(&self, record: &RefreshRecord) -> Result<(), StoreError>;

    /// Removes and returns the refresh token with this hash if it is unexpired at `now`.
    /// Atomic: of two concurrent uses of one token, exactly one gets it.
    async fn take_refresh_token(
        &self,
        hash: &SecretHash,
        now: DateTime<Utc>,
    ) -> Result<Option<RefreshRecord>, StoreError>;
}

/// Keeps videos and the chunk records of their uploads.
#[async_trait]
pub trait VideoStore: Send + Sync {
    /// Stores a new video (version 0); [`StoreError::AlreadyExists`] rather than overwrite. A
    /// video of a token counts in the token's usage in the same write, which requires the token
    /// to be active at the video's creation ([`StoreError::TokenGone`]) and below its
    /// `maxUploads` ([`StoreError::UploadLimitReached`]).
    async fn insert_video(&self, record: &VideoRecord) -> Result<(), StoreError>;

    /// The video, strongly consistent, whatever its project (callers check ownership).
    async fn get_video(&self, id: &VideoId) -> Result<Option<VideoRecord>, StoreError>;

    /// Replaces the stored video if its version is still `record.version - 1`, and with `chunk`
    /// also records that chunk under its index and counts it in its token's usage (bytes, last
    /// use, and a completed upload if it completes the file), atomically. `false` when another
    /// writer got there first (the caller re-reads and decides again); nothing is written then.
    /// [`StoreError::TokenGone`] when a chunk's token was deleted meanwhile.
    async fn update_video(
        &self,
        record: &VideoRecord,
        chunk: Option<(u64, &ReceivedChunk)>,
    ) -> Result<bool, StoreError>;

    /// The chunk recorded under `index` (part number or byte offset) for this video.
    async fn get_chunk(
        &self,
        id: &VideoId,
        index: u64,
    ) -> Result<Option<ReceivedChunk>, StoreError>;

    /// Deletes the video (and its chunk records, and its place among its token's uploads) if
    /// its version is still `record.version`; `false` otherwise.
    async fn delete_video(&self, record: &VideoRecord) -> Result<bool, StoreError>;

    /// The video inserted last with `token`, complete or not (strongly consistent): how a first
    /// chunk re-sent after a lost reply finds the video it already made.
    async fn latest_video_of_token(
        &self,
        token: &TokenId,
    ) -> Result<Option<VideoRecord>, StoreError>;

    /// Videos created with `token` whose upload is not complete, oldest first. Its cost grows
    /// with the token's unfinished uploads only, never with its completed ones.
    async fn uploading_videos_of_token(
        &self,
        token: &TokenId,
    ) -> Result<Vec<VideoRecord>, StoreError>;
}

/// Everything an adapter provides; what the local server and tests hand to the handlers.
pub trait Store:
    TokenWriter
    + TokenReader
    + TokenUpdater
    + TokenLister
    + TokenDeleter
    + ApiKeyReader
    + ApiKeyAdmin
    + RefreshTokenStore
    + VideoStore
{
}

impl<T> Store for T where
    T: TokenWriter
        + TokenReader
        + TokenUpdater
        + TokenLister
        + TokenDeleter
        + ApiKeyReader
        + ApiKeyAdmin
        + RefreshTokenStore
        + VideoStore
{
}
