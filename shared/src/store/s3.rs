//! The S3 blob store: one multipart upload per blob, whatever the chunk sizes.
//!
//! S3 parts must be ≥ 5 MiB except the last, but behind API Gateway a request carries ≈ 4.5 MiB.
//! So (tusd's `.part` approach) a remainder too small for a part is staged as an object under
//! `staging/` and prepended to the next chunk; once what has arrived reaches 5 MiB it becomes a
//! part, and the last chunk completes the upload (or, for a blob that never needed a multipart
//! upload, is a single PutObject). Staged objects are named after the offset they end at, so an
//! append never overwrites what the committed progress refers to.

use super::StoreError;
use super::blob::{BlobPart, BlobProgress, BlobStore, MIN_PART_BYTES};
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use std::time::Duration;

/// Prefix of staged remainders (a bucket lifecycle rule expires forgotten ones).
pub const STAGING_PREFIX: &str = "staging/";

/// Blobs in one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: Client,
    bucket: String,
}

impl S3BlobStore {
    /// A store over `bucket`, through an already configured client (built once per process).
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    fn staged_key(key: &str, progress: &BlobProgress) -> String {
        format!("{STAGING_PREFIX}{key}.{}", progress.written)
    }

    async fn read_staged(&self, key: &str, progress: &BlobProgress) -> Result<Bytes, StoreError> {
        if progress.staged == 0 {
            return Ok(Bytes::new());
        }
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(Self::staged_key(key, progress))
            .range(format!("bytes=0-{}", progress.staged - 1))
            .send()
            .await
            .map_err(StoreError::backend)?;
        let bytes = out
            .body
            .collect()
            .await
            .map_err(StoreError::backend)?
            .into_bytes();
        if bytes.len() as u64 != progress.staged {
            return Err(StoreError::Corrupt(format!(
                "staged remainder of {key}: {} bytes, expected {}",
                bytes.len(),
                progress.staged
            )));
        }
        Ok(bytes)
    }

    async fn put(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
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

    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        body: Bytes,
    ) -> Result<BlobPart, StoreError> {
        let size = body.len() as u64;
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(i32::try_from(number).map_err(StoreError::backend)?)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(StoreError::backend)?;
        let etag = out
            .e_tag()
            .ok_or_else(|| StoreError::Corrupt("UploadPart returned no ETag".into()))?
            .to_owned();
        Ok(BlobPart { number, etag, size })
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn append(
        &self,
        key: &str,
        progress: &BlobProgress,
        chunk: Bytes,
        last: bool,
    ) -> Result<BlobProgress, StoreError> {
        let written = progress.written + chunk.len() as u64;
        // The staged remainder, if any, goes first: one concatenation, only then.
        let data = if progress.staged > 0 {
            let staged = self.read_staged(key, progress).await?;
            let mut joined = BytesMut::with_capacity(staged.len() + chunk.len());
            joined.extend_from_slice(&staged);
            joined.extend_from_slice(&chunk);
            joined.freeze()
        } else {
            chunk
        };
        let mut next = BlobProgress {
            upload_id: progress.upload_id.clone(),
            parts: progress.parts.clone(),
            staged: 0,
            written,
            completed: false,
        };
        if last && next.upload_id.is_none() {
            self.put(key, data).await?;
            next.completed = true;
            return Ok(next);
        }
        if !last && (data.len() as u64) < MIN_PART_BYTES {
            next.staged = data.len() as u64;
            self.put(&Self::staged_key(key, &next), data).await?;
            return Ok(next);
        }
        let upload_id = match &next.upload_id {
            Some(id) => id.clone(),
            None => {
                let out = self
                    .client
                    .create_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(StoreError::backend)?;
                let id = out
                    .upload_id()
                    .ok_or_else(|| StoreError::Corrupt("no UploadId returned".into()))?
                    .to_owned();
                next.upload_id = Some(id.clone());
                id
            }
        };
        let number = next.parts.len() as u32 + 1;
        let part = self.upload_part(key, &upload_id, number, data).await?;
        next.parts.push(part);
        if last {
            let parts = next
                .parts
                .iter()
                .map(|p| {
                    CompletedPart::builder()
                        .part_number(p.number as i32)
                        .e_tag(&p.etag)
                        .build()
                })
                .collect();
            self.client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map_err(StoreError::backend)?;
            next.completed = true;
        }
        Ok(next)
    }

    async fn release(
        &self,
        key: &str,
        old: &BlobProgress,
        new: &BlobProgress,
    ) -> Result<(), StoreError> {
        let old_staged = Self::staged_key(key, old);
        if old.staged > 0 && (new.staged == 0 || Self::staged_key(key, new) != old_staged) {
            self.delete(&old_staged).await?;
        }
        Ok(())
    }

    async fn remove(&self, key: &str, progress: &BlobProgress) -> Result<(), StoreError> {
        if let (Some(upload_id), false) = (&progress.upload_id, progress.completed) {
            let aborted = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .send()
                .await;
            if let Err(e) = aborted
                && !e.as_service_error().is_some_and(|s| s.is_no_such_upload())
            {
                return Err(StoreError::backend(e));
            }
        }
        if progress.staged > 0 {
            self.delete(&Self::staged_key(key, progress)).await?;
        }
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
}
