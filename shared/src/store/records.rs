//! What the stores hold besides upload tokens.

use super::blob::BlobProgress;
use crate::auth::SecretHash;
use crate::domain::{KeyId, ProjectId, UploadProgress, UploadToken, Video};
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

/// A video as stored: its attributes, what was received of its file, where the bytes are, and a
/// version that every change increments (changes are conditional on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoRecord {
    /// Attributes.
    pub video: Video,
    /// Received chunks, summarised.
    pub progress: UploadProgress,
    /// Assembly state of the blob.
    pub blob: BlobProgress,
    /// Version of this record: 0 when inserted, +1 on every update.
    pub version: u64,
    /// Who may write the blob's bytes right now, if anyone: taken by a conditional write before
    /// any byte moves, so a writer that loses a race never writes where the winner did.
    pub lease: Option<WriteLease>,
}

/// The right to write a video's bytes, until a time. Held by one chunk request (`holder` is
/// random per request); released by the commit that records the chunk, or left to expire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteLease {
    /// Who holds it.
    pub holder: String,
    /// When it lapses: after the longest a holder can take to write and commit.
    pub until: DateTime<Utc>,
}

impl VideoRecord {
    /// Key of the video's blob in the blob store.
    pub fn blob_key(&self) -> String {
        format!("videos/{}/source", self.video.id)
    }

    /// Whether an upload is under way (some chunks, not complete).
    pub fn is_uploading(&self) -> bool {
        !self.progress.completed
    }

    /// Whether this is an abandoned upload at `now`: unfinished, nobody writing it, and no
    /// change (no chunk) for `after`. Such an upload is cleaned up and never resumed.
    pub fn is_abandoned(&self, now: DateTime<Utc>, after: std::time::Duration) -> bool {
        let after = chrono::TimeDelta::from_std(after).unwrap_or(chrono::TimeDelta::MAX);
        self.is_uploading()
            && self.lease.as_ref().is_none_or(|l| l.until <= now)
            && self
                .video
                .updated_at
                .checked_add_signed(after)
                .is_some_and(|deadline| deadline <= now)
    }

    /// When this upload becomes abandoned if nothing happens to it (`None` once complete).
    pub fn abandoned_at(&self, after: std::time::Duration) -> Option<DateTime<Utc>> {
        let after = chrono::TimeDelta::from_std(after).ok()?;
        self.is_uploading()
            .then(|| self.video.updated_at.checked_add_signed(after))
            .flatten()
    }
}

/// How long an unfinished upload may go without a chunk before it is abandoned (7 days).
pub const DEFAULT_ABANDON_AFTER: std::time::Duration =
    std::time::Duration::from_secs(7 * 24 * 3600);
