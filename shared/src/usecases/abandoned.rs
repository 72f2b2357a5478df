//! Abandoned uploads: unfinished, nobody writing them, and no chunk for the configured period
//! (7 days by default). Whoever meets one (a chunk naming it, a chunk looking for the token's
//! uploads, the local server's sweep) removes it: the record first, by a write conditional on
//! the version read, so a chunk that committed meanwhile keeps it; then its bytes (staged
//! remainder, parts, partial file). On AWS, DynamoDB's TTL and the bucket's lifecycle rules
//! remove what nobody meets, on the same period.

use super::UseCaseError;
use crate::domain::Clock;
use crate::internal::ErrorChain;
use crate::store::blob::BlobStore;
use crate::store::{VideoRecord, VideoStore};
use std::time::Duration;

/// What a resumed abandoned upload is told.
pub const GONE: &str = "this upload was abandoned (no chunk for the abandoned-upload period, or its stored \
     parts expired) and has been removed: start a new upload";

/// Removes `record`, an abandoned upload (or one whose bytes are gone), and its bytes. `false`
/// when it changed since it was read (a chunk came): then it is kept.
pub async fn remove(
    videos: &dyn VideoStore,
    blobs: &dyn BlobStore,
    record: &VideoRecord,
) -> Result<bool, UseCaseError> {
    if !videos.delete_video(record).await? {
        return Ok(false);
    }
    // The record is gone first: nothing can reach the bytes any more; a failure here leaves
    // garbage for the lifecycle rules, never data.
    if let Err(e) = blobs.remove(&record.blob_key(), &record.blob).await {
        tracing::warn!(error = %ErrorChain(&e), video = %record.video.id, "bytes of an abandoned upload not removed");
    }
    tracing::info!(video = %record.video.id, "abandoned upload removed");
    Ok(true)
}

/// Removes those of `candidates` abandoned at the clock's now; how many were removed. One that
/// fails is logged and skipped (the next sweep tries again).
pub async fn sweep(
    videos: &dyn VideoStore,
    blobs: &dyn BlobStore,
    clock: &dyn Clock,
    after: Duration,
    candidates: Vec<VideoRecord>,
) -> usize {
    let now = clock.now();
    let mut removed = 0;
    for record in candidates.iter().filter(|r| r.is_abandoned(now, after)) {
        match remove(videos, blobs, record).await {
            Ok(true) => removed += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %ErrorChain(&e), video = %record.video.id, "abandoned upload not removed");
            }
        }
    }
    removed
}
