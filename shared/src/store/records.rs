//! What the stores hold besides upload tokens.

use crate::auth::SecretHash;
use crate::domain::{KeyId, ProjectId, UploadToken};
use chrono::{DateTime, Utc};

/// A project API key, as stored: never the key, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Public identifier (shown to operators, carried by access tokens).
    pub key_id: KeyId,
    /// Project the key acts for.
    pub project_id: ProjectId,
    /// SHA-256 of the key.
    pub hash: SecretHash,
    /// When it was created (millisecond precision).
    pub created_at: DateTime<Utc>,
}

/// A refresh token, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    /// SHA-256 of the token.
    pub hash: SecretHash,
    /// Key the session started from.
    pub key_id: KeyId,
    /// Project it acts for.
    pub project_id: ProjectId,
    /// When it stops being usable (millisecond precision).
    pub expires_at: DateTime<Utc>,
}

/// One page of a token listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPage {
    /// The page's tokens, in order.
    pub tokens: Vec<UploadToken>,
    /// Active tokens of the project in all.
    pub total: u64,
}
