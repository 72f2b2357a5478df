//! Where uploaded bytes go: assembled chunk by chunk, whatever size the chunks have.

use super::StoreError;
use super::chunk_data::ChunkData;
use async_trait::async_trait;
use std::time::Duration;

/// Smallest S3 part other than the last (5 MiB): smaller remainders are staged until they grow.
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;

/// Most parts an S3 multipart upload may have.
pub const MAX_BLOB_PARTS: u64 = 10_000;

/// The part size that fits a file of `max_file_bytes` into [`MAX_BLOB_PARTS`] parts: 5 MiB, or
/// more for a maximum above 10,000 × 5 MiB (≈ 48.8 GiB; 5.12 MiB for the default 50 GiB).
pub fn part_bytes_for(max_file_bytes: u64) -> u64 {
    MIN_PART_BYTES.max(max_file_bytes.div_ceil(MAX_BLOB_PARTS))
}

/// How far the assembly of one blob has got. Stored with the video (and changed only by
/// conditional writes): the adapter reads it, never keeps it in memory.
///
/// Appends are made only by the holder of the video's write lease, and write to locations the
/// committed progress does not refer to (a new part number, a staged object named after the
/// offset it ends at), so an append that is never committed leaves the committed progress
/// intact; [`BlobStore::release`] removes what the committed progress no longer needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlobProgress {
    /// S3 multipart upload id, once one was started.
    pub upload_id: Option<String>,
    /// ETags of the parts written to the multipart upload, without their quotes: part `n` is
    /// `parts[n - 1]`. About 35 bytes a part, so S3's maximum of 10,000 parts still fits a
    /// DynamoDB item (400 KB). (Listing them from S3 at completion would keep the item smaller,
    /// but moto's ListParts answer does not parse, so that path could not be tested.)
    pub parts: Vec<String>,
    /// Bytes received but not yet in a part: they follow the parts.
    pub staged: u64,
    /// Bytes accepted in all (parts + staged, or the whole blob once complete).
    pub written: u64,
    /// The blob is complete and readable under its key.
    pub completed: bool,
}

/// Stores blobs assembled from chunks of any size (≥ 1 byte).
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Appends `chunk` to the blob under `key`, which `progress` (the last committed progress)
    /// describes; with `last`, completes the blob. Returns the new progress, to be committed by
    /// the caller with a conditional write. Must not disturb what `progress` refers to.
    async fn append(
        &self,
        key: &str,
        progress: &BlobProgress,
        chunk: &ChunkData,
        last: bool,
    ) -> Result<BlobProgress, StoreError>;

    /// After `new` was committed in place of `old`: removes what only `old` needed (such as
    /// the previous staged remainder). Failures here leave garbage, never lose data.
    async fn release(
        &self,
        key: &str,
        old: &BlobProgress,
        new: &BlobProgress,
    ) -> Result<(), StoreError>;

    /// Removes everything stored for `key`: the completed blob, an unfinished multipart upload,
    /// staged remainders. Idempotent.
    async fn remove(&self, key: &str, progress: &BlobProgress) -> Result<(), StoreError>;

    /// A time-limited URL that downloads the completed blob (`None`: the store has no URLs of
    /// its own and the server serves the bytes, as the local server does).
    async fn download_url(
        &self,
        key: &str,
        valid_for: Duration,
    ) -> Result<Option<String>, StoreError>;
}
