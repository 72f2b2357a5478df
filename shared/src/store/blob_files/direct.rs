//! S3-direct on the local file store: the local server plays the bucket. Parts are files of
//! `<key>.parts/<upload id>/`, named `<number>-<etag>` (the ETag, a SHA-256 prefix of the part's
//! bytes, lives in the name, so a part and its ETag are published by one rename); a single
//! request is posted to `direct/<key>` and taken from there, by a rename, to be checked. The
//! local server's own signed URLs bring the bytes here (`write_part`, `write_post`); the server
//! then checks and completes through the `BlobStore` trait, as on S3.

use super::{FileBlobStore, partial, remove_if_present, sync_dir};
use crate::domain::random_alphanumeric;
use crate::internal::InternalError;
use crate::store::StoreError;
use crate::store::blob::{DirectPart, DirectPost, MIN_PART_BYTES, direct_post_key};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

/// Largest part (S3's).
pub const MAX_PART_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// Why bytes sent to a local signed URL were not stored.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// More bytes than allowed.
    #[error("more than {0} bytes")]
    TooLarge(u64),
    /// The body failed to arrive.
    #[error("the body did not arrive whole: {0}")]
    Body(std::io::Error),
    /// The store failed (or the upload is gone: [`StoreError::BlobGone`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn backend(e: std::io::Error) -> StoreError {
    StoreError::backend(e)
}

impl FileBlobStore {
    fn parts_dir(&self, key: &str) -> Result<PathBuf, StoreError> {
        let mut dir = self.checked(key)?.into_os_string();
        dir.push(".parts");
        Ok(PathBuf::from(dir))
    }

    fn upload_dir(&self, key: &str, upload_id: &str) -> Result<PathBuf, StoreError> {
        if upload_id.is_empty() || !upload_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(StoreError::BlobGone(format!("no upload {upload_id:?}")));
        }
        Ok(self.parts_dir(key)?.join(upload_id))
    }

    fn posted_path(&self, key: &str) -> Result<PathBuf, StoreError> {
        self.checked(&direct_post_key(key))
    }

    pub(super) async fn start_direct_files(&self, key: &str) -> Result<String, StoreError> {
        let id = random_alphanumeric(24);
        let dir = self.upload_dir(key, &id)?;
        tokio::task::spawn_blocking(move || crate::store::private::create_private_dir(&dir))
            .await
            .map_err(StoreError::backend)?
            .map_err(backend)?;
        Ok(id)
    }

    pub(super) async fn list_direct_files(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<DirectPart>, StoreError> {
        let dir = self.upload_dir(key, upload_id)?;
        tokio::task::spawn_blocking(move || list_parts(&dir))
            .await
            .map_err(StoreError::backend)?
    }

    pub(super) async fn finish_direct_files(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[DirectPart],
    ) -> Result<(), StoreError> {
        let dir = self.upload_dir(key, upload_id)?;
        let done = self.completed_dir(key, upload_id)?;
        let path = self.checked(key)?;
        let parts = parts.to_vec();
        tokio::task::spawn_blocking(move || concatenate(&dir, &done, &path, &parts))
            .await
            .map_err(StoreError::backend)?
    }

    /// Where a completed upload's parts stay until the video records the blob: what
    /// [`Self::completed_direct_files`] recognises a completion by.
    fn completed_dir(&self, key: &str, upload_id: &str) -> Result<PathBuf, StoreError> {
        let mut dir = self.upload_dir(key, upload_id)?.into_os_string();
        dir.push(".completed");
        Ok(PathBuf::from(dir))
    }

    pub(super) async fn completed_direct_files(
        &self,
        key: &str,
        upload_id: &str,
        parts: Option<&[(u32, &str)]>,
    ) -> Result<Option<u64>, StoreError> {
        let done = self.completed_dir(key, upload_id)?;
        let path = self.checked(key)?;
        let parts: Option<Vec<(u32, String)>> =
            parts.map(|p| p.iter().map(|(n, e)| (*n, (*e).to_owned())).collect());
        tokio::task::spawn_blocking(move || {
            let listed = match list_parts(&done) {
                Err(StoreError::BlobGone(_)) => return Ok(None),
                other => other?,
            };
            let size = match std::fs::metadata(&path) {
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
                other => other.map_err(backend)?.len(),
            };
            let same = parts.is_none_or(|parts| {
                listed
                    .iter()
                    .map(|p| (p.number, p.etag.as_str()))
                    .eq(parts.iter().map(|(n, e)| (*n, e.as_str())))
            });
            Ok(same.then_some(size))
        })
        .await
        .map_err(StoreError::backend)?
    }

    pub(super) async fn forget_direct_files(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<(), StoreError> {
        let done = self.completed_dir(key, upload_id)?;
        tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&done) {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(backend(e)),
            _ => Ok(()),
        })
        .await
        .map_err(StoreError::backend)?
    }

    pub(super) async fn abort_direct_files(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<(), StoreError> {
        let dir = self.upload_dir(key, upload_id)?;
        tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(backend(e)),
            _ => Ok(()),
        })
        .await
        .map_err(StoreError::backend)?
    }

    /// Removes every direct upload of `key` and anything posted for it.
    pub(super) async fn remove_direct_files(&self, key: &str) -> Result<(), StoreError> {
        let parts = self.parts_dir(key)?;
        let posted = self.posted_path(key)?;
        tokio::task::spawn_blocking(move || {
            match std::fs::remove_dir_all(&parts) {
                Err(e) if e.kind() != ErrorKind::NotFound => return Err(backend(e)),
                _ => {}
            }
            remove_if_present(&posted).map_err(backend)?;
            // Claimed but not dropped (a crash in between).
            if let Some(dir) = posted.parent() {
                let prefix = claim_prefix(&posted);
                if let Ok(entries) = std::fs::read_dir(dir) {
                    for entry in entries.flatten() {
                        if entry.file_name().to_string_lossy().starts_with(&prefix) {
                            remove_if_present(&entry.path()).map_err(backend)?;
                        }
                    }
                }
            }
            Ok(())
        })
        .await
        .map_err(StoreError::backend)?
    }

    pub(super) async fn claim_post_files(
        &self,
        key: &str,
        sniff: usize,
    ) -> Result<Option<DirectPost>, StoreError> {
        let posted = self.posted_path(key)?;
        tokio::task::spawn_blocking(move || {
            let prefix = claim_prefix(&posted);
            let Some(dir) = posted.parent() else {
                return Err(InternalError::new("a posted path has no parent").into());
            };
            // A claim left by a check that was interrupted (a crash, a lost lease) is taken
            // again first: it may already be the blob, and accepting it again writes the same
            // bytes. Claims are only made under the video's write lease, so it is the only one.
            let left = match std::fs::read_dir(dir) {
                Ok(entries) => entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .find(|n| n.starts_with(&prefix)),
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(backend(e)),
            };
            let claim = match left {
                Some(name) => name,
                None => {
                    let claim = format!("{prefix}{}", random_alphanumeric(12));
                    // One rename takes the posted file: a form posted again meanwhile writes a
                    // new one, which this claim does not name.
                    match std::fs::rename(&posted, posted.with_file_name(&claim)) {
                        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
                        Err(e) => return Err(backend(e)),
                        Ok(()) => {}
                    }
                    claim
                }
            };
            let mut file = std::fs::File::open(posted.with_file_name(&claim)).map_err(backend)?;
            let size = file.metadata().map_err(backend)?.len();
            let mut first = Vec::with_capacity(sniff.min(size as usize));
            (&mut file)
                .take(sniff as u64)
                .read_to_end(&mut first)
                .map_err(backend)?;
            Ok(Some(DirectPost {
                size,
                first: Bytes::from(first),
                claim,
            }))
        })
        .await
        .map_err(StoreError::backend)?
    }

    fn claimed_path(&self, key: &str, claim: &DirectPost) -> Result<PathBuf, StoreError> {
        let posted = self.posted_path(key)?;
        if !claim.claim.starts_with(&claim_prefix(&posted)) || claim.claim.contains('/') {
            return Err(InternalError::new(format!("not a claim: {}", claim.claim)).into());
        }
        Ok(posted.with_file_name(&claim.claim))
    }

    pub(super) async fn accept_post_files(
        &self,
        key: &str,
        claim: &DirectPost,
    ) -> Result<(), StoreError> {
        let claimed = self.claimed_path(key, claim)?;
        let path = self.checked(key)?;
        tokio::task::spawn_blocking(move || {
            let parent = path
                .parent()
                .ok_or_else(|| StoreError::from(InternalError::new("a blob path has no parent")))?;
            crate::store::private::create_private_dir(parent).map_err(backend)?;
            // A second name for the claimed file, renamed over the blob's: the claim stays
            // until it is dropped, so an interrupted check finds it again.
            let tmp = parent.join(format!(".tmp-{}", random_alphanumeric(12)));
            match std::fs::hard_link(&claimed, &tmp) {
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    return Err(StoreError::BlobGone(format!("{}", claimed.display())));
                }
                other => other.map_err(backend)?,
            }
            let renamed = std::fs::rename(&tmp, &path);
            // Accepted again (after an interrupted check), the blob already is this file: then
            // rename(2) leaves both names in place, and the extra one goes here.
            remove_if_present(&tmp).map_err(backend)?;
            renamed.map_err(backend)?;
            sync_dir(parent).map_err(backend)
        })
        .await
        .map_err(StoreError::backend)?
    }

    pub(super) async fn drop_post_files(
        &self,
        key: &str,
        claim: &DirectPost,
    ) -> Result<(), StoreError> {
        let claimed = self.claimed_path(key, claim)?;
        tokio::task::spawn_blocking(move || remove_if_present(&claimed).map_err(backend))
            .await
            .map_err(StoreError::backend)?
    }

    pub(super) async fn read_start_files(
        &self,
        key: &str,
        len: usize,
    ) -> Result<Bytes, StoreError> {
        let path = self.checked(key)?;
        tokio::task::spawn_blocking(move || {
            let mut first = Vec::with_capacity(len);
            std::fs::File::open(&path)
                .map_err(backend)?
                .take(len as u64)
                .read_to_end(&mut first)
                .map_err(backend)?;
            Ok(Bytes::from(first))
        })
        .await
        .map_err(StoreError::backend)?
    }

    /// Writes part `number` of `upload_id` from `body` (at most [`MAX_PART_BYTES`]), replacing
    /// the part if it was written before, as S3 does; its ETag. What the local server's signed
    /// part URLs do. [`StoreError::BlobGone`] if the upload is not (or no longer) there.
    pub async fn write_part<S>(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        body: S,
    ) -> Result<String, WriteError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin,
    {
        let dir = self.upload_dir(key, upload_id)?;
        if !tokio::fs::try_exists(&dir).await.unwrap_or(false) {
            return Err(StoreError::BlobGone(format!("the multipart upload of {key}")).into());
        }
        let tmp = dir.join(format!(".tmp-{}", random_alphanumeric(12)));
        let etag = match write_stream(&tmp, body, MAX_PART_BYTES).await {
            Ok(etag) => etag,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
        };
        let lock = self.publish.clone();
        let name = format!("{number:05}-{etag}");
        tokio::task::spawn_blocking(move || {
            let _one_at_a_time = lock.lock().unwrap_or_else(|e| e.into_inner());
            std::fs::rename(&tmp, dir.join(&name))?;
            // Replaced: the older bytes of this part number go.
            let prefix = format!("{number:05}-");
            for entry in std::fs::read_dir(&dir)?.flatten() {
                let other = entry.file_name().to_string_lossy().into_owned();
                if other.starts_with(&prefix) && other != name {
                    remove_if_present(&entry.path())?;
                }
            }
            sync_dir(&dir)
        })
        .await
        .map_err(StoreError::backend)?
        .map_err(backend)?;
        Ok(etag)
    }

    /// Writes a single-request upload of `key` from `body` (1 to `max_bytes` bytes) where
    /// [`claim`](crate::store::blob::BlobStore::claim_direct_post) finds it; its ETag. What the
    /// local server's signed POST form does.
    pub async fn write_post<S>(
        &self,
        key: &str,
        body: S,
        max_bytes: u64,
    ) -> Result<String, WriteError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin,
    {
        let posted = self.posted_path(key)?;
        let parent = posted
            .parent()
            .map(Path::to_owned)
            .ok_or_else(|| StoreError::from(InternalError::new("a posted path has no parent")))?;
        let dir = parent.clone();
        tokio::task::spawn_blocking(move || crate::store::private::create_private_dir(&dir))
            .await
            .map_err(StoreError::backend)?
            .map_err(backend)?;
        let tmp = parent.join(format!(".tmp-{}", random_alphanumeric(12)));
        let etag = match write_stream(&tmp, body, max_bytes).await {
            Ok(etag) => etag,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
        };
        tokio::task::spawn_blocking(move || {
            std::fs::rename(&tmp, &posted)?;
            sync_dir(&parent)
        })
        .await
        .map_err(StoreError::backend)?
        .map_err(backend)?;
        Ok(etag)
    }
}

/// Writes `body` to a new file at `path` (0600), at most `max` bytes, fsynced; its ETag (the
/// first 16 bytes of its SHA-256, in hex).
async fn write_stream<S>(path: &Path, mut body: S, max: u64) -> Result<String, WriteError>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin,
{
    use tokio::io::AsyncWriteExt;
    let file = crate::store::private::private_file_options()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(backend)?;
    let mut file = tokio::fs::File::from_std(file);
    let mut hasher = Sha256::new();
    let mut written = 0u64;
    while let Some(frame) = body.next().await {
        let frame = frame.map_err(WriteError::Body)?;
        written += frame.len() as u64;
        if written > max {
            return Err(WriteError::TooLarge(max));
        }
        hasher.update(&frame);
        file.write_all(&frame).await.map_err(backend)?;
    }
    file.sync_all().await.map_err(backend)?;
    Ok(hasher.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The parts in `dir`, by number ([`StoreError::BlobGone`] if `dir` is not there).
fn list_parts(dir: &Path) -> Result<Vec<DirectPart>, StoreError> {
    let entries = match std::fs::read_dir(dir) {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(StoreError::BlobGone(format!(
                "multipart upload {}",
                dir.display()
            )));
        }
        other => other.map_err(backend)?,
    };
    let mut parts = Vec::new();
    for entry in entries {
        let entry = entry.map_err(backend)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((number, etag)) = name.split_once('-') else {
            continue;
        };
        let Ok(number) = number.parse::<u32>() else {
            continue;
        };
        parts.push(DirectPart {
            number,
            etag: etag.to_owned(),
            size: entry.metadata().map_err(backend)?.len(),
        });
    }
    parts.sort_by_key(|p| p.number);
    Ok(parts)
}

/// Completes a local multipart upload: `parts` (every part but the last at least 5 MiB, as S3
/// wants) concatenated into the partial file, fsynced, renamed into place; the parts removed.
/// Writes `parts` (of the upload in `dir`) one after another to `path`, then moves the parts
/// to `done`, where they stay until the video records the blob ([`FileBlobStore::forget_direct_files`]).
/// Two completions at once each write a file of their own, and the same bytes.
fn concatenate(
    dir: &Path,
    done: &Path,
    path: &Path,
    parts: &[DirectPart],
) -> Result<(), StoreError> {
    if let Some((_, full)) = parts.split_last()
        && let Some(small) = full.iter().find(|p| p.size < MIN_PART_BYTES)
    {
        return Err(InternalError::new(format!(
            "part {} has {} bytes, below the 5 MiB of every part but the last",
            small.number, small.size
        ))
        .into());
    }
    let parent = path
        .parent()
        .ok_or_else(|| StoreError::from(InternalError::new("a blob path has no parent")))?;
    crate::store::private::create_private_dir(parent).map_err(backend)?;
    let mut target = partial(path).into_os_string();
    target.push(format!("-{}", random_alphanumeric(12)));
    let target = PathBuf::from(target);
    let mut out = crate::store::private::private_file_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&target)
        .map_err(backend)?;
    for part in parts {
        let name = dir.join(format!("{:05}-{}", part.number, part.etag));
        let mut file = match std::fs::File::open(&name) {
            Err(e) if e.kind() == ErrorKind::NotFound => {
                drop(out);
                let _ = std::fs::remove_file(&target);
                return Err(StoreError::BlobGone(format!("part {}", part.number)));
            }
            other => other.map_err(backend)?,
        };
        std::io::copy(&mut file, &mut out).map_err(backend)?;
    }
    out.flush().map_err(backend)?;
    out.sync_all().map_err(backend)?;
    std::fs::rename(&target, path).map_err(backend)?;
    sync_dir(parent).map_err(backend)?;
    match std::fs::rename(dir, done) {
        // A concurrent completion moved them first.
        Err(e) if e.kind() == ErrorKind::NotFound && done.exists() => {}
        other => other.map_err(backend)?,
    }
    if let Some(parts_dir) = dir.parent() {
        sync_dir(parts_dir).map_err(backend)?;
    }
    Ok(())
}

/// What the names of claims of the file posted at `posted` start with.
fn claim_prefix(posted: &Path) -> String {
    format!(
        "{}.claimed-",
        posted
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    )
}
