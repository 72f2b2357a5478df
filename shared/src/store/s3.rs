//! The S3 blob store: one multipart upload per blob, whatever the chunk sizes.
//!
//! S3 parts must be ≥ 5 MiB except the last, but behind API Gateway a request carries ≈ 4.5 MiB.
//! So (tusd's `.part` approach) a remainder too small for a part is staged as an object,
//! `staging/<key>.<end>`, and prepended to the next chunk; once what has arrived
//! reaches 5 MiB it becomes a part, and the last chunk completes the upload (or, for a blob that
//! never needed a multipart upload, is a single PutObject).
//!
//! Only the holder of the video's write lease appends (`usecases::chunks`): a part number or a
//! staged object is never written by two requests at once, so the bytes the commit records are
//! the bytes S3 holds. Every append writes somewhere the committed progress does not refer to
//! (the next part number, or a staged object named after the offset it ends at), so an append
//! whose commit never happened leaves the committed progress intact and its retry overwrites
//! it. Staged objects sit under `staging/`, where a bucket lifecycle rule expires those of
//! abandoned uploads.
//!
//! Bytes go to S3 with an unsigned payload (`UNSIGNED-PAYLOAD`, what the AWS SDKs, this one
//! included, send with any body they stream rather than hold): the signature covers the request's
//! headers, among them the CRC32 checksum of the body that the SDK computes and S3 verifies, and
//! TLS covers the rest. Signing the payload too would hash every byte once more with SHA-256,
//! after the upload rules already hashed it (BENCHMARKS.md, "Unsigned payloads").

mod direct;
pub mod post_policy;

use super::StoreError;
use super::blob::{
    BlobProgress, BlobStore, DirectPart, DirectPost, MIN_PART_BYTES, PostForm, part_bytes_for,
};
use super::chunk_data::ChunkData;
use crate::internal::{InternalError, crash_point};
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use std::time::Duration;

/// Prefix of staged remainders.
pub const STAGING_PREFIX: &str = "staging/";

/// Blobs in one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: Client,
    /// The same client, computing no request checksums: what part URLs are presigned with
    /// (`direct.rs`).
    presigner: Client,
    /// What POST forms are signed with (the SDK's client does not expose its credentials).
    credentials: Option<aws_sdk_s3::config::SharedCredentialsProvider>,
    bucket: String,
    /// Smallest part but the last: staged remainders grow to this before they become a part.
    part_bytes: u64,
}

impl S3BlobStore {
    /// A store over `bucket`, through an already configured client (built once per process),
    /// for files of up to 10,000 × 5 MiB; see [`Self::for_files_up_to`].
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        use aws_sdk_s3::config::RequestChecksumCalculation::{WhenRequired, WhenSupported};
        // Bodies go unsigned (see the module), so their CRC32 is what S3 checks them by: sent
        // whatever the shared configuration says (`AWS_REQUEST_CHECKSUM_CALCULATION`).
        let client = if client.config().request_checksum_calculation() == Some(&WhenRequired) {
            Client::from_conf(
                client
                    .config()
                    .to_builder()
                    .request_checksum_calculation(WhenSupported)
                    .build(),
            )
        } else {
            client
        };
        let presigner = Client::from_conf(
            client
                .config()
                .to_builder()
                .request_checksum_calculation(WhenRequired)
                .build(),
        );
        Self {
            client,
            presigner,
            credentials: None,
            bucket: bucket.into(),
            part_bytes: MIN_PART_BYTES,
        }
    }

    /// Signs direct-upload POST forms with these credentials (the ones the client was
    /// configured with: `SdkConfig::credentials_provider`).
    pub fn signing_with(
        mut self,
        credentials: Option<aws_sdk_s3::config::SharedCredentialsProvider>,
    ) -> Self {
        self.credentials = credentials;
        self
    }

    /// Parts grown so that a file of `max_file_bytes` fits S3's 10,000 parts.
    pub fn for_files_up_to(mut self, max_file_bytes: u64) -> Self {
        self.part_bytes = part_bytes_for(max_file_bytes);
        self
    }

    /// Smallest part but the last.
    pub fn part_bytes(&self) -> u64 {
        self.part_bytes
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The object holding the staged remainder `progress` refers to, if it has one: named
    /// after the offset where the remainder ends, `staging/<key>.<written>`.
    pub fn staged_key(key: &str, progress: &BlobProgress) -> Option<String> {
        (progress.staged > 0).then(|| format!("{STAGING_PREFIX}{key}.{}", progress.written))
    }

    /// The staged remainder `progress` refers to (empty if none), read with a ranged GET of
    /// exactly its recorded size.
    async fn read_staged(&self, key: &str, progress: &BlobProgress) -> Result<Bytes, StoreError> {
        let Some(staged_key) = Self::staged_key(key, progress) else {
            return Ok(Bytes::new());
        };
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&staged_key)
            .range(format!("bytes=0-{}", progress.staged - 1))
            .send()
            .await
            .map_err(|e| {
                // Expired by the bucket's lifecycle rule while the upload's record remained.
                if e.as_service_error().is_some_and(|s| s.is_no_such_key()) {
                    StoreError::BlobGone(format!("staged remainder {staged_key}"))
                } else {
                    StoreError::backend(e)
                }
            })?;
        let bytes = out
            .body
            .collect()
            .await
            .map_err(StoreError::backend)?
            .into_bytes();
        if bytes.len() as u64 != progress.staged {
            return Err(StoreError::Corrupt(format!(
                "staged remainder {staged_key}: {} bytes, expected {}",
                bytes.len(),
                progress.staged
            )));
        }
        Ok(bytes)
    }

    /// Writes `body` as the object `key` (unsigned payload, with its CRC32: see the module).
    async fn put(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .customize()
            .disable_payload_signing()
            .send()
            .await
            .map_err(StoreError::backend)?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(StoreError::backend)?;
        Ok(())
    }

    /// Starts a multipart upload of `key` (of `content_type`, if given); its id.
    async fn create_upload(
        &self,
        key: &str,
        content_type: Option<&str>,
    ) -> Result<String, StoreError> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .set_content_type(content_type.map(str::to_owned))
            .send()
            .await
            .map_err(StoreError::backend)?;
        out.upload_id().map(str::to_owned).ok_or_else(|| {
            StoreError::backend(InternalError::new(
                "CreateMultipartUpload returned no UploadId",
            ))
        })
    }

    /// Uploads part `number` of `upload_id` (unsigned payload, with its CRC32); its ETag.
    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        body: Bytes,
    ) -> Result<String, PartError> {
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(part_number(number).map_err(Failed)?)
            .body(ByteStream::from(body))
            .customize()
            .disable_payload_signing()
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .and_then(|s| s.meta().code())
                    .is_some_and(|c| c == "NoSuchUpload")
                {
                    UploadGone
                } else {
                    Failed(StoreError::backend(e))
                }
            })?;
        let etag = out.e_tag().ok_or_else(|| {
            Failed(StoreError::backend(InternalError::new(
                "UploadPart returned no ETag",
            )))
        })?;
        Ok(etag.trim_matches('"').to_owned())
    }

    /// Aborts every unfinished multipart upload of exactly `key`.
    async fn abort_uploads_of(&self, key: &str) -> Result<(), StoreError> {
        let listed = self
            .client
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .prefix(key)
            .send()
            .await
            .map_err(StoreError::backend)?;
        for upload in listed.uploads() {
            if let (Some(k), Some(id)) = (upload.key(), upload.upload_id())
                && k == key
            {
                self.abort_upload(key, id).await?;
            }
        }
        Ok(())
    }

    /// Whether the multipart upload `upload_id` of `key` no longer exists (completed or
    /// aborted).
    async fn upload_is_gone(&self, key: &str, upload_id: &str) -> Result<bool, StoreError> {
        match self
            .client
            .list_parts()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .max_parts(1)
            .send()
            .await
        {
            Ok(_) => Ok(false),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.code() == Some("NoSuchUpload")) =>
            {
                Ok(true)
            }
            Err(e) => Err(StoreError::backend(e)),
        }
    }

    /// Whether an object exists under `key`.
    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
            Err(e) => Err(StoreError::backend(e)),
        }
    }

    /// A new multipart upload for `key` holding the bytes of `progress`'s committed parts, copied
    /// from the completed object an uncommitted write left under `key`; its id and part ETags.
    async fn reopen(
        &self,
        key: &str,
        progress: &BlobProgress,
    ) -> Result<(String, Vec<String>), StoreError> {
        let committed = progress.written - progress.staged;
        let id = self.create_upload(key, None).await?;
        let mut parts = Vec::new();
        let mut from = 0;
        while from < committed {
            // UploadPartCopy takes at most 5 GiB a part.
            let to = committed.min(from + 5 * 1024 * 1024 * 1024) - 1;
            let number = u32::try_from(parts.len() + 1)
                .map_err(|_| InternalError::new(format!("too many parts in {key}")))?;
            let out = self
                .client
                .upload_part_copy()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&id)
                .part_number(part_number(number)?)
                .copy_source(format!("{}/{key}", self.bucket))
                .copy_source_range(format!("bytes={from}-{to}"))
                .send()
                .await
                .map_err(StoreError::backend)?;
            let etag = out
                .copy_part_result()
                .and_then(|r| r.e_tag())
                .ok_or_else(|| {
                    StoreError::backend(InternalError::new("UploadPartCopy returned no ETag"))
                })?;
            parts.push(etag.trim_matches('"').to_owned());
            from = to + 1;
        }
        tracing::warn!(
            key,
            bytes = committed,
            "multipart upload reopened from its completed object"
        );
        Ok((id, parts))
    }

    /// Completes `upload_id` from its parts' (number, ETag), in order.
    async fn complete_upload<'a>(
        &self,
        key: &str,
        upload_id: &str,
        parts: impl IntoIterator<Item = (u32, &'a str)>,
    ) -> Result<(), StoreError> {
        let parts = parts
            .into_iter()
            .map(|(number, etag)| {
                Ok(CompletedPart::builder()
                    .part_number(part_number(number)?)
                    .e_tag(format!("\"{etag}\""))
                    .build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(StoreError::backend)?;
        Ok(())
    }

    /// Aborts a multipart upload; one that is already gone is not an error.
    async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        let aborted = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await;
        match aborted {
            Err(e) if !e.as_service_error().is_some_and(|s| s.is_no_such_upload()) => {
                Err(StoreError::backend(e))
            }
            _ => Ok(()),
        }
    }
}

/// Why a part could not be uploaded.
enum PartError {
    /// The multipart upload no longer exists.
    UploadGone,
    /// Anything else.
    Failed(StoreError),
}

use PartError::{Failed, UploadGone};

impl PartError {
    fn into_store_error(self) -> StoreError {
        match self {
            UploadGone => StoreError::Corrupt("a reopened multipart upload is gone".into()),
            Failed(e) => e,
        }
    }
}

/// A part number as the SDK wants it.
fn part_number(number: u32) -> Result<i32, StoreError> {
    i32::try_from(number)
        .map_err(|_| InternalError::new(format!("part number {number} out of range")).into())
}

/// Parts an append cuts a large chunk into are this big (or the store's part size, if larger),
/// but the last, which is between one and two of them: so memory per request stays bounded
/// whatever the chunk size, and the chunk still becomes few parts. See [`piece_size`] for the
/// chunk held in memory that is one part.
pub const PIECE_BYTES: u64 = 8 * 1024 * 1024;

/// The size of the pieces an append of `total` bytes is cut into: [`cut`]'s `piece`. A chunk
/// held in memory with no staged bytes before it (at most `chunk_data::IN_MEMORY_BYTES`) is one
/// part, one request to S3 as a plain multipart upload of that part size makes: it is in memory
/// already, and its part costs at most one copy of it (the pieces of 8 MiB cost as much). With
/// staged bytes before it, or spooled to disk, it is cut into `piece`s so no more than one piece
/// is held beside the chunk.
fn piece_size(total: u64, staged: u64, spooled: bool, piece: u64) -> u64 {
    if spooled || staged > 0 {
        piece
    } else {
        total.max(piece)
    }
}

/// What an append writes: the staged remainder followed by the chunk, read in ranges.
struct Joined<'a> {
    staged: Bytes,
    chunk: &'a ChunkData,
}

impl Joined<'_> {
    fn len(&self) -> u64 {
        self.staged.len() as u64 + self.chunk.len()
    }

    /// `len` bytes from `from`: a view of the staged bytes or of a chunk in memory where it can
    /// be, one copy where a range spans both.
    async fn read(&self, from: u64, len: u64) -> Result<Bytes, StoreError> {
        let staged = self.staged.len() as u64;
        let end = from + len;
        if end <= staged {
            return Ok(self.staged.slice(from as usize..end as usize));
        }
        if from >= staged {
            return self.chunk.read(from - staged, len as usize).await;
        }
        let tail = self.chunk.read(0, (end - staged) as usize).await?;
        let mut joined = BytesMut::with_capacity(len as usize);
        joined.extend_from_slice(&self.staged[from as usize..]);
        joined.extend_from_slice(&tail);
        Ok(joined.freeze())
    }
}

/// The `(from, len)` ranges of the parts `total` bytes are cut into: pieces of `piece` bytes,
/// the last taking the rest (so it has between `piece` and `2 × piece` bytes), or one part when
/// `total` is below two pieces.
fn cut(total: u64, piece: u64) -> Vec<(u64, u64)> {
    // Nothing to cut: a 0-byte end of an upload whose parts are all written (tus tells a
    // deferred length with an empty PATCH) completes with the parts there are.
    if total == 0 {
        return Vec::new();
    }
    let n = (total / piece).max(1);
    (0..n)
        .map(|i| {
            let from = i * piece;
            let len = if i + 1 == n { total - from } else { piece };
            (from, len)
        })
        .collect()
}

impl S3BlobStore {
    /// Bytes a part cut from a chunk has, but the last of them.
    fn piece_bytes(&self) -> u64 {
        self.part_bytes.max(PIECE_BYTES)
    }

    /// Uploads `pieces` of `data` as parts `first + 1`, `first + 2`… of `upload_id`, in order;
    /// their ETags.
    async fn upload_pieces(
        &self,
        key: &str,
        upload_id: &str,
        first: usize,
        data: &Joined<'_>,
        pieces: &[(u64, u64)],
    ) -> Result<Vec<String>, PartError> {
        let mut etags = Vec::with_capacity(pieces.len());
        for (i, &(from, len)) in pieces.iter().enumerate() {
            let number = u32::try_from(first + i + 1).map_err(|_| {
                Failed(InternalError::new(format!("too many parts in {key}")).into())
            })?;
            let body = data.read(from, len).await.map_err(Failed)?;
            etags.push(self.upload_part(key, upload_id, number, body).await?);
        }
        Ok(etags)
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn append(
        &self,
        key: &str,
        progress: &BlobProgress,
        chunk: &ChunkData,
        last: bool,
    ) -> Result<BlobProgress, StoreError> {
        if progress.completed {
            return Err(InternalError::new(format!("append to completed blob {key}")).into());
        }
        let data = Joined {
            staged: self.read_staged(key, progress).await?,
            chunk,
        };
        let total = data.len();
        let mut next = BlobProgress {
            upload_id: progress.upload_id.clone(),
            parts: progress.parts.clone(),
            staged: 0,
            written: progress.written + chunk.len(),
            completed: last,
        };
        if last && next.parts.is_empty() && total < 2 * self.piece_bytes() {
            // Never needed a multipart upload: the whole blob in one PutObject.
            crash_point("before-complete");
            self.put(key, data.read(0, total).await?).await?;
            crash_point("after-complete-rename");
            return Ok(next);
        }
        if !last && total < self.part_bytes {
            next.staged = total;
            if let Some(staged_key) = Self::staged_key(key, &next) {
                self.put(&staged_key, data.read(0, total).await?).await?;
            }
            return Ok(next);
        }
        let upload_id = match &next.upload_id {
            Some(id) => id.clone(),
            None => {
                // Only this request writes the blob (it holds the lease) and no upload is
                // committed yet: any upload of the key is left from a failed attempt.
                self.abort_uploads_of(key).await?;
                let id = self.create_upload(key, None).await?;
                next.upload_id = Some(id.clone());
                id
            }
        };
        let piece = piece_size(
            total,
            data.staged.len() as u64,
            chunk.is_spooled(),
            self.piece_bytes(),
        );
        let pieces = cut(total, piece);
        let etags = match self
            .upload_pieces(key, &upload_id, next.parts.len(), &data, &pieces)
            .await
        {
            Ok(etags) => etags,
            Err(refused) => {
                // The multipart upload was completed by a write whose commit never happened (a
                // crash between the completion and the state write): S3 says NoSuchUpload,
                // moto a 500, and the object is in place. Its first bytes are the committed
                // parts: copy them into a new upload and go on from there.
                if !self.exists(key).await? {
                    // Aborted by the bucket's lifecycle rule while the upload's record
                    // remained: its parts are lost. (moto answers such a part with a 500
                    // rather than NoSuchUpload: ask about the upload itself.)
                    let gone = match &refused {
                        UploadGone => true,
                        Failed(_) => self.upload_is_gone(key, &upload_id).await?,
                    };
                    return Err(match refused {
                        Failed(e) if !gone => e,
                        _ => StoreError::BlobGone(format!("the multipart upload of {key}")),
                    });
                }
                if let Failed(e) = &refused {
                    tracing::warn!(error = %crate::internal::ErrorChain(e), key, "part refused; the object exists");
                }
                let (id, parts) = self.reopen(key, progress).await?;
                next.upload_id = Some(id.clone());
                next.parts = parts;
                self.upload_pieces(key, &id, next.parts.len(), &data, &pieces)
                    .await
                    .map_err(PartError::into_store_error)?
            }
        };
        next.parts.extend(etags);
        if last {
            crash_point("before-complete");
            let upload_id = next.upload_id.clone().unwrap_or(upload_id);
            let parts = next
                .parts
                .iter()
                .zip(1..)
                .map(|(etag, n)| (n, etag.as_str()));
            self.complete_upload(key, &upload_id, parts).await?;
            crash_point("after-complete-rename");
            // A create whose reply was lost and which the SDK retried left an upload behind.
            if let Err(e) = self.abort_uploads_of(key).await {
                tracing::warn!(error = %crate::internal::ErrorChain(&e), key, "stray uploads not aborted");
            }
        }
        Ok(next)
    }

    async fn release(
        &self,
        key: &str,
        old: &BlobProgress,
        new: &BlobProgress,
    ) -> Result<(), StoreError> {
        match Self::staged_key(key, old) {
            Some(old_staged) if Self::staged_key(key, new).as_ref() != Some(&old_staged) => {
                self.delete(&old_staged).await
            }
            _ => Ok(()),
        }
    }

    async fn remove(&self, key: &str, progress: &BlobProgress) -> Result<(), StoreError> {
        // A completed upload is no longer an upload: aborting it would only be refused.
        if let (Some(upload_id), false) = (&progress.upload_id, progress.completed) {
            self.abort_upload(key, upload_id).await?;
        }
        if let Some(staged_key) = Self::staged_key(key, progress) {
            self.delete(&staged_key).await?;
        }
        self.delete(&super::blob::direct_post_key(key)).await?;
        self.delete(key).await
    }

    async fn download_url(
        &self,
        key: &str,
        valid_for: Duration,
    ) -> Result<Option<String>, StoreError> {
        let config = PresigningConfig::expires_in(valid_for).map_err(StoreError::backend)?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(StoreError::backend)?;
        Ok(Some(request.uri().to_owned()))
    }

    async fn start_direct(&self, key: &str, content_type: &str) -> Result<String, StoreError> {
        self.start_direct_upload(key, content_type).await
    }

    async fn direct_part_url(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        valid_for: Duration,
    ) -> Result<Option<String>, StoreError> {
        self.presign_part(key, upload_id, number, valid_for)
            .await
            .map(Some)
    }

    async fn direct_post_form(
        &self,
        key: &str,
        content_type: &str,
        max_bytes: u64,
        valid_for: Duration,
    ) -> Result<Option<PostForm>, StoreError> {
        self.post_form(key, content_type, max_bytes, valid_for)
            .await
            .map(Some)
    }

    async fn direct_parts(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<DirectPart>, StoreError> {
        match self.list_direct_parts(key, upload_id).await {
            // moto answers a ListParts of an unknown upload with a 500, S3 NoSuchUpload.
            Err(StoreError::Backend(e)) if self.upload_is_gone(key, upload_id).await? => {
                tracing::debug!(error = %e, key, "parts of an upload that is gone");
                Err(StoreError::BlobGone(format!(
                    "the multipart upload of {key}"
                )))
            }
            other => other,
        }
    }

    async fn finish_direct(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[DirectPart],
    ) -> Result<(), StoreError> {
        self.complete_direct(key, upload_id, parts).await
    }

    async fn abort_direct(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        self.abort_upload(key, upload_id).await
    }

    async fn completed_direct(
        &self,
        key: &str,
        _upload_id: &str,
        parts: Option<&[(u32, &str)]>,
    ) -> Result<Option<u64>, StoreError> {
        self.completed_object(key, parts).await
    }

    async fn forget_direct(&self, _key: &str, _upload_id: &str) -> Result<(), StoreError> {
        // S3 keeps nothing of a completed upload but the object.
        Ok(())
    }

    async fn claim_direct_post(
        &self,
        key: &str,
        sniff: usize,
    ) -> Result<Option<DirectPost>, StoreError> {
        self.claim_post(key, sniff).await
    }

    async fn accept_direct_post(&self, key: &str, claim: &DirectPost) -> Result<(), StoreError> {
        self.accept_post(key, claim).await
    }

    async fn drop_direct_post(&self, key: &str, _claim: &DirectPost) -> Result<(), StoreError> {
        self.delete(&super::blob::direct_post_key(key)).await
    }

    async fn read_start(&self, key: &str, len: usize) -> Result<Bytes, StoreError> {
        self.read_first(key, len).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_in_memory_with_nothing_staged_is_one_part() {
        const P: u64 = PIECE_BYTES;
        const MIB: u64 = 1024 * 1024;
        assert_eq!(
            cut(16 * MIB, piece_size(16 * MIB, 0, false, P)),
            vec![(0, 16 * MIB)]
        );
        assert_eq!(
            cut(6 * MIB, piece_size(6 * MIB, 0, false, P)),
            vec![(0, 6 * MIB)]
        );
        // Staged bytes before it, or spooled: pieces of 8 MiB, the rest in the last.
        assert_eq!(piece_size(20 * MIB, 4 * MIB, false, P), P);
        assert_eq!(
            cut(20 * MIB, piece_size(20 * MIB, 4 * MIB, false, P)),
            vec![(0, P), (P, 12 * MIB)]
        );
        assert_eq!(piece_size(100 * MIB, 0, true, P), P);
    }

    #[test]
    fn chunks_are_cut_into_pieces_with_the_rest_in_the_last() {
        const P: u64 = PIECE_BYTES;
        assert_eq!(cut(1, P), vec![(0, 1)]);
        assert_eq!(cut(2 * P - 1, P), vec![(0, 2 * P - 1)]);
        assert_eq!(cut(2 * P, P), vec![(0, P), (P, P)]);
        assert_eq!(cut(3 * P + 7, P), vec![(0, P), (P, P), (2 * P, P + 7)]);
        for total in [P, 5 * P + 1, 100 * P - 1] {
            let pieces = cut(total, P);
            assert_eq!(pieces.iter().map(|p| p.1).sum::<u64>(), total);
            assert!(pieces.iter().all(|&(_, len)| (P..2 * P).contains(&len)));
            assert!(pieces.windows(2).all(|w| w[0].0 + w[0].1 == w[1].0));
        }
    }
}
