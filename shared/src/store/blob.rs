//! Where uploaded bytes go: assembled chunk by chunk, whatever size the chunks have.

use super::StoreError;
use super::chunk_data::ChunkData;
use async_trait::async_trait;
use bytes::Bytes;
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

/// A part a client wrote straight to the store (S3-direct), as the store lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectPart {
    /// Its number, from 1.
    pub number: u32,
    /// Its ETag, without quotes.
    pub etag: String,
    /// Its size in bytes.
    pub size: u64,
}

/// A form a client POSTs a whole file with, straight to the store: its URL and fields (the
/// file goes last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostForm {
    /// Where the form goes.
    pub url: String,
    /// Its fields, in order.
    pub fields: Vec<(String, String)>,
}

/// A single-request direct upload the server has taken to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectPost {
    /// Its size in bytes.
    pub size: u64,
    /// Its first bytes (up to what was asked).
    pub first: Bytes,
    /// What names exactly these bytes in the store (an S3 ETag, a local file name).
    pub claim: String,
}

/// Where a client's single-request upload (a POST form) lands before the server has checked
/// it: never the blob's own key, so that a form sent again after the check cannot replace
/// checked bytes.
pub fn direct_post_key(key: &str) -> String {
    format!("{DIRECT_PREFIX}{key}")
}

/// The video whose single-request upload is posted at `key` (`direct/videos/<id>/source`).
pub fn video_of_direct_post_key(key: &str) -> Option<crate::domain::VideoId> {
    let id = key
        .strip_prefix(DIRECT_PREFIX)?
        .strip_prefix("videos/")?
        .strip_suffix("/source")?;
    crate::domain::VideoId::parse(id).ok()
}

/// Prefix of the objects of single-request direct uploads awaiting their check (a bucket
/// lifecycle rule expires those of abandoned uploads).
pub const DIRECT_PREFIX: &str = "direct/";

/// Stores blobs assembled from chunks of any size (≥ 1 byte), and blobs whose bytes a client
/// sends to the store itself (S3-direct) while the server only signs and checks.
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

    /// Starts a multipart upload of `key` whose parts the client writes itself; its id.
    async fn start_direct(&self, key: &str, content_type: &str) -> Result<String, StoreError>;

    /// A presigned URL that writes part `number` of `upload_id` (a PUT, no content type signed),
    /// valid for `valid_for`; `None` when the store has no URLs of its own (the local server
    /// signs its own).
    async fn direct_part_url(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        valid_for: Duration,
    ) -> Result<Option<String>, StoreError>;

    /// A presigned POST form that writes a whole file of type `content_type` and of 1 to
    /// `max_bytes` bytes to [`direct_post_key`]`(key)`, valid for `valid_for`; `None` when the
    /// store has no URLs of its own.
    async fn direct_post_form(
        &self,
        key: &str,
        content_type: &str,
        max_bytes: u64,
        valid_for: Duration,
    ) -> Result<Option<PostForm>, StoreError>;

    /// Every part written to `upload_id` so far, in order ([`StoreError::BlobGone`] if the
    /// upload no longer exists).
    async fn direct_parts(&self, key: &str, upload_id: &str)
    -> Result<Vec<DirectPart>, StoreError>;

    /// Completes `upload_id` from `parts` (as [`Self::direct_parts`] listed them): the blob is
    /// then readable under `key`.
    async fn finish_direct(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[DirectPart],
    ) -> Result<(), StoreError>;

    /// Aborts `upload_id`; one already gone is not an error.
    async fn abort_direct(&self, key: &str, upload_id: &str) -> Result<(), StoreError>;

    /// Whether `upload_id`, no longer listable, was completed under `key` (a completion whose
    /// reply was lost, or a concurrent one): the blob's size if `key` holds its completion,
    /// from exactly `parts` (number, ETag) when they are given. `None`: the upload is gone
    /// (aborted), not completed.
    async fn completed_direct(
        &self,
        key: &str,
        upload_id: &str,
        parts: Option<&[(u32, &str)]>,
    ) -> Result<Option<u64>, StoreError>;

    /// Lets go of what a completion of `upload_id` kept to recognise itself, once the video
    /// records the blob.
    async fn forget_direct(&self, key: &str, upload_id: &str) -> Result<(), StoreError>;

    /// Takes the single-request upload waiting under [`direct_post_key`]`(key)`, if one was
    /// posted: its size, its first `sniff` bytes, and a claim that names exactly these bytes
    /// (a form posted again meanwhile makes other bytes, which the claim does not name).
    async fn claim_direct_post(
        &self,
        key: &str,
        sniff: usize,
    ) -> Result<Option<DirectPost>, StoreError>;

    /// Makes the claimed bytes the blob under `key`, and keeps the claim: done again after a
    /// crash, it writes the same bytes ([`Self::claim_direct_post`] finds the claim again until
    /// it is dropped). [`StoreError::BlobGone`] if they are no longer there (posted over since
    /// the claim: claim again).
    async fn accept_direct_post(&self, key: &str, claim: &DirectPost) -> Result<(), StoreError>;

    /// Deletes the claimed bytes: refused, or accepted and recorded as the video's.
    async fn drop_direct_post(&self, key: &str, claim: &DirectPost) -> Result<(), StoreError>;

    /// The first `len` bytes of the completed blob under `key` (fewer if it is shorter).
    async fn read_start(&self, key: &str, len: usize) -> Result<Bytes, StoreError>;
}
