//! S3-direct on the S3 blob store: presigned part URLs and POST forms, and what the server reads
//! back to check what clients wrote (the parts, the posted object's size and first bytes).
//!
//! Part URLs are presigned by a client of their own that computes no request checksum: with
//! the SDK's default (checksums "when supported") a presigned UploadPart carries the CRC32 of an
//! empty body, which S3 refuses for the real one. They sign only `partNumber` and `uploadId`
//! (and `host`): Uppy sends its part blobs with no Content-Type.
//!
//! A single-request upload is posted to `direct/<key>` and copied to `<key>` only once checked,
//! with `x-amz-copy-source-if-match` naming the bytes that were checked: a form posted again
//! (before it expires) can never replace bytes that were accepted.

use super::S3BlobStore;
use super::post_policy::{self, Policy, Signer};
use crate::internal::InternalError;
use crate::store::StoreError;
use crate::store::blob::{DirectPart, DirectPost, PostForm, direct_post_key};
use aws_sdk_s3::config::ProvideCredentials;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use bytes::Bytes;
use std::time::Duration;

impl S3BlobStore {
    pub(super) async fn start_direct_upload(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<String, StoreError> {
        self.create_upload(key, Some(content_type)).await
    }

    pub(super) async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        valid_for: Duration,
    ) -> Result<String, StoreError> {
        let config = PresigningConfig::expires_in(valid_for).map_err(StoreError::backend)?;
        let request = self
            .presigner
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(super::part_number(number)?)
            .presigned(config)
            .await
            .map_err(StoreError::backend)?;
        Ok(request.uri().to_owned())
    }

    /// The bucket's URL as a browser addresses it, with a trailing slash: what a presigned
    /// request of a one-character key is addressed to, without that key.
    /// The bucket's URL, where a POST form goes: the SDK's own endpoint resolution (path or
    /// virtual-host style, custom endpoints), read off a presigned PutObject of `posted`, what
    /// the form does.
    async fn bucket_url(&self, posted: &str) -> Result<String, StoreError> {
        let config =
            PresigningConfig::expires_in(Duration::from_secs(60)).map_err(StoreError::backend)?;
        let request = self
            .presigner
            .put_object()
            .bucket(&self.bucket)
            .key(posted)
            .presigned(config)
            .await
            .map_err(StoreError::backend)?;
        let uri = request.uri();
        let path = uri.split('?').next().unwrap_or(uri);
        path.strip_suffix(posted).map(str::to_owned).ok_or_else(|| {
            InternalError::new(format!("unexpected presigned URL shape {path}")).into()
        })
    }

    pub(super) async fn post_form(
        &self,
        key: &str,
        content_type: &str,
        max_bytes: u64,
        valid_for: Duration,
    ) -> Result<PostForm, StoreError> {
        let provider = self.credentials.as_ref().ok_or_else(|| {
            StoreError::from(InternalError::new(
                "no credentials to sign POST forms with: build the store with `signing_with`",
            ))
        })?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(StoreError::backend)?;
        let region = self
            .client
            .config()
            .region()
            .map(ToString::to_string)
            .ok_or_else(|| StoreError::from(InternalError::new("the S3 client has no region")))?;
        let now = chrono::Utc::now();
        let expires =
            now + chrono::TimeDelta::from_std(valid_for).unwrap_or(chrono::TimeDelta::hours(1));
        let posted = direct_post_key(key);
        let fields = post_policy::fields(
            &Signer {
                access_key_id: credentials.access_key_id(),
                secret_access_key: credentials.secret_access_key(),
                session_token: credentials.session_token(),
                region: &region,
            },
            &Policy {
                bucket: &self.bucket,
                key: &posted,
                content_type,
                max_bytes,
                expires,
            },
            now,
        );
        Ok(PostForm {
            url: self.bucket_url(&posted).await?,
            fields,
        })
    }

    pub(super) async fn list_direct_parts(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<DirectPart>, StoreError> {
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .client
                .list_parts()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .set_part_number_marker(marker.take())
                .send()
                .await
                .map_err(|e| {
                    if e.as_service_error()
                        .is_some_and(|s| s.code() == Some("NoSuchUpload"))
                    {
                        StoreError::BlobGone(format!("the multipart upload of {key}"))
                    } else {
                        StoreError::backend(e)
                    }
                })?;
            for part in out.parts() {
                let (Some(number), Some(etag)) = (part.part_number(), part.e_tag()) else {
                    continue;
                };
                parts.push(DirectPart {
                    number: u32::try_from(number)
                        .map_err(|_| StoreError::Corrupt(format!("part number {number}")))?,
                    etag: etag.trim_matches('"').to_owned(),
                    size: part.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                });
            }
            match (out.is_truncated(), out.next_part_number_marker()) {
                (Some(true), Some(next)) => marker = Some(next.to_owned()),
                _ => break,
            }
        }
        parts.sort_by_key(|p| p.number);
        Ok(parts)
    }

    pub(super) async fn complete_direct(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[DirectPart],
    ) -> Result<(), StoreError> {
        let parts = parts.iter().map(|p| (p.number, p.etag.as_str()));
        self.complete_upload(key, upload_id, parts).await
    }

    /// The size of the object at `key` if it is there and, with `parts`, its ETag is the one S3
    /// gives the completion of exactly these parts (the MD5 of their MD5s, `-<count>`).
    pub(super) async fn completed_object(
        &self,
        key: &str,
        parts: Option<&[(u32, &str)]>,
    ) -> Result<Option<u64>, StoreError> {
        let head = match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(head) => head,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => return Ok(None),
            Err(e) => return Err(StoreError::backend(e)),
        };
        let size = head
            .content_length()
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0);
        let Some(parts) = parts else {
            return Ok(Some(size));
        };
        let etag = head.e_tag().map(|e| e.trim_matches('"'));
        Ok((etag.is_some() && etag == multipart_etag(parts).as_deref()).then_some(size))
    }

    pub(super) async fn claim_post(
        &self,
        key: &str,
        sniff: usize,
    ) -> Result<Option<DirectPost>, StoreError> {
        let posted = direct_post_key(key);
        let head = match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&posted)
            .send()
            .await
        {
            Ok(head) => head,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => return Ok(None),
            Err(e) => return Err(StoreError::backend(e)),
        };
        let (Some(etag), Some(size)) = (head.e_tag(), head.content_length()) else {
            return Err(InternalError::new("HeadObject without ETag or length").into());
        };
        let size = u64::try_from(size).unwrap_or(0);
        if size == 0 {
            return Ok(Some(DirectPost {
                size,
                first: Bytes::new(),
                claim: etag.to_owned(),
            }));
        }
        let last = size.min(sniff.max(1) as u64) - 1;
        let first = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&posted)
            .range(format!("bytes=0-{last}"))
            .if_match(etag)
            .send()
            .await
        {
            Ok(out) => out
                .body
                .collect()
                .await
                .map_err(StoreError::backend)?
                .into_bytes(),
            // Posted over since the HEAD: the next read claims the new one.
            Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("PreconditionFailed") => {
                return Ok(None);
            }
            Err(e) => return Err(StoreError::backend(e)),
        };
        Ok(Some(DirectPost {
            size,
            first,
            claim: etag.to_owned(),
        }))
    }

    pub(super) async fn accept_post(
        &self,
        key: &str,
        claim: &DirectPost,
    ) -> Result<(), StoreError> {
        let posted = direct_post_key(key);
        let copied = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(key)
            .copy_source(format!("{}/{}", self.bucket, posted))
            .copy_source_if_match(&claim.claim)
            .send()
            .await;
        let gone = || StoreError::BlobGone(format!("{posted}: posted over since it was checked"));
        let copied = match copied {
            Ok(copied) => copied,
            Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("PreconditionFailed") => {
                return Err(gone());
            }
            Err(e) => return Err(StoreError::backend(e)),
        };
        // Where the store ignores the condition (moto does), the copy's ETag still tells: the
        // bytes copied must be the ones checked, else they go.
        let etag = copied
            .copy_object_result()
            .and_then(|r| r.e_tag())
            .map(|e| e.trim_matches('"'));
        if etag != Some(claim.claim.trim_matches('"')) {
            self.delete(key).await?;
            return Err(gone());
        }
        Ok(())
    }

    pub(super) async fn read_first(&self, key: &str, len: usize) -> Result<Bytes, StoreError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!("bytes=0-{}", len.max(1) - 1))
            .send()
            .await
            .map_err(StoreError::backend)?;
        Ok(out
            .body
            .collect()
            .await
            .map_err(StoreError::backend)?
            .into_bytes())
    }
}

/// The ETag S3 gives the completion of a multipart upload of `parts` (number, ETag; each part's
/// ETag the hex MD5 of its bytes): the MD5 of the parts' MD5s, then `-` and their count. `None`
/// if an ETag is not an MD5 (then the object cannot be recognised this way).
fn multipart_etag(parts: &[(u32, &str)]) -> Option<String> {
    use md5::{Digest, Md5};
    let mut all = Md5::new();
    for (_, etag) in parts {
        let etag = etag.trim_matches('"');
        if etag.len() != 32 {
            return None;
        }
        for i in (0..32).step_by(2) {
            all.update([u8::from_str_radix(etag.get(i..i + 2)?, 16).ok()?]);
        }
    }
    let digest = all.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("{hex}-{}", parts.len()))
}

#[cfg(test)]
mod tests {
    use super::multipart_etag;

    #[test]
    fn the_etag_of_a_completed_upload_is_the_md5_of_its_parts_md5s() {
        // Parts "a" and "b": their ETags are their MD5s; S3 (and moto) answer this for the
        // object (Python: md5(md5(b"a").digest() + md5(b"b").digest()).hexdigest() + "-2").
        let a = "0cc175b9c0f1b6a831c399e269772661";
        let b = "\"92eb5ffee6ae2fec3ad71c777531578f\"";
        assert_eq!(
            multipart_etag(&[(1, a), (2, b)]).as_deref(),
            Some("96e024ba2074fe77e8e965ba43a704be-2")
        );
        assert_eq!(multipart_etag(&[(1, "not-an-md5")]), None);
    }
}
