//! The embedded blob store: local files. A blob being assembled is `<dir>/<key>.partial`; each
//! chunk is written at its offset and fsynced, and the last one cuts the file to its length,
//! fsyncs it and renames it to `<dir>/<key>`, then fsyncs the directory: write, fsync, rename,
//! so a crash never leaves a torn file under the final name, and a committed chunk is on disk.
//!
//! Only the holder of the video's write lease appends (`usecases::chunks`), so two requests
//! never write the same offset at once. A chunk is written at the committed offset (bytes
//! before it are never touched), and bytes past the end of the blob are cut off only when it
//! completes, so an append whose commit never happened (a crash, a lost lease) is simply
//! overwritten by the retry. An append at a non-zero offset never creates the partial file;
//! if the blob was completed but that completion never committed, it becomes partial again.

mod direct;

pub use direct::{MAX_PART_BYTES, WriteError};

use super::StoreError;
use super::blob::{BlobProgress, BlobStore, DirectPart, DirectPost, PostForm};
use super::chunk_data::ChunkData;
use crate::internal::{InternalError, crash_point};
use async_trait::async_trait;
use bytes::Bytes;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Blobs as files under one directory.
#[derive(Debug, Clone)]
pub struct FileBlobStore {
    dir: PathBuf,
    /// Held while a direct upload's part is published (renamed into place, its older bytes
    /// removed), so that two writes of one part number cannot leave two versions.
    publish: std::sync::Arc<std::sync::Mutex<()>>,
}

impl FileBlobStore {
    /// A store rooted at `dir` (created if missing).
    pub fn new(dir: PathBuf) -> Result<Self, StoreError> {
        super::private::create_private_dir(&dir).map_err(StoreError::backend)?;
        Ok(Self {
            dir,
            publish: Default::default(),
        })
    }

    /// The directory the blobs are under.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the completed blob `key` is (the local server streams it from there).
    pub fn path(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }

    /// The completed blob's path, once `key` is known to be a relative path of plain names
    /// separated by `/` (no `..`, `.`, empty segment, backslash or NUL).
    fn checked(&self, key: &str) -> Result<PathBuf, StoreError> {
        let valid = !key.is_empty()
            && key.split('/').all(|segment| {
                !segment.is_empty()
                    && segment != "."
                    && segment != ".."
                    && !segment.contains(['\\', '\0'])
            });
        if !valid {
            return Err(InternalError::new(format!("bad blob key {key:?}")).into());
        }
        Ok(self.dir.join(key))
    }
}

/// Where the blob whose completed path is `path` is assembled.
fn partial(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Makes a directory's entries (a created or renamed file) durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Writes `chunk` at `offset` of the partial file of `path`; with `last`, completes the blob
/// at `offset + chunk.len()` bytes. Blocking.
fn write_chunk(path: &Path, offset: u64, chunk: &ChunkData, last: bool) -> Result<(), StoreError> {
    let end = offset + chunk.len();
    let parent = path.parent().ok_or_else(|| {
        StoreError::from(InternalError::new(format!(
            "blob path {} has no parent",
            path.display()
        )))
    })?;
    let partial = partial(path);
    let file = if offset == 0 {
        super::private::create_private_dir(parent).map_err(StoreError::backend)?;
        let file = super::private::private_file_options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&partial)
            .map_err(StoreError::backend)?;
        sync_dir(parent).map_err(StoreError::backend)?;
        file
    } else {
        match OpenOptions::new().write(true).open(&partial) {
            Ok(file) => file,
            // The blob was completed by a write whose commit never happened (a crash between
            // the rename and the state write): the committed state says it is still being
            // assembled, so the file goes back to being partial and this chunk is written anew.
            Err(e) if e.kind() == ErrorKind::NotFound && path.exists() => {
                std::fs::rename(path, &partial).map_err(StoreError::backend)?;
                sync_dir(parent).map_err(StoreError::backend)?;
                OpenOptions::new()
                    .write(true)
                    .open(&partial)
                    .map_err(StoreError::backend)?
            }
            // Removed (by the abandoned-upload sweep, or by hand) while its record remained.
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(StoreError::BlobGone(format!(
                    "partial blob {} is missing",
                    partial.display()
                )));
            }
            Err(e) => return Err(StoreError::backend(e)),
        }
    };
    write_at(file, offset, chunk, last.then_some(end)).map_err(StoreError::backend)?;
    if last {
        crash_point("before-complete");
        std::fs::rename(&partial, path).map_err(StoreError::backend)?;
        sync_dir(parent).map_err(StoreError::backend)?;
        crash_point("after-complete-rename");
    }
    Ok(())
}

/// Positioned write then fsync; with `len`, cuts the file to that length first.
fn write_at(
    mut file: File,
    offset: u64,
    chunk: &ChunkData,
    len: Option<u64>,
) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(offset))?;
    chunk.write_into(&mut file)?;
    if let Some(len) = len {
        file.set_len(len)?;
    }
    file.sync_all()
}

#[async_trait]
impl BlobStore for FileBlobStore {
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
        let path = self.checked(key)?;
        let offset = progress.written;
        let written = offset + chunk.len();
        let chunk = chunk.clone();
        tokio::task::spawn_blocking(move || write_chunk(&path, offset, &chunk, last))
            .await
            .map_err(StoreError::backend)??;
        Ok(BlobProgress {
            written,
            completed: last,
            ..BlobProgress::default()
        })
    }

    async fn release(
        &self,
        _key: &str,
        _old: &BlobProgress,
        _new: &BlobProgress,
    ) -> Result<(), StoreError> {
        // Appends write in place: nothing is left behind to release.
        Ok(())
    }

    async fn remove(&self, key: &str, _progress: &BlobProgress) -> Result<(), StoreError> {
        self.remove_direct_files(key).await?;
        let path = self.checked(key)?;
        tokio::task::spawn_blocking(move || {
            remove_if_present(&partial(&path))?;
            remove_if_present(&path)
        })
        .await
        .map_err(StoreError::backend)?
        .map_err(StoreError::backend)
    }

    async fn download_url(
        &self,
        _key: &str,
        _valid_for: Duration,
    ) -> Result<Option<String>, StoreError> {
        Ok(None)
    }

    async fn start_direct(&self, key: &str, _content_type: &str) -> Result<String, StoreError> {
        self.start_direct_files(key).await
    }

    async fn direct_part_url(
        &self,
        _key: &str,
        _upload_id: &str,
        _number: u32,
        _valid_for: Duration,
    ) -> Result<Option<String>, StoreError> {
        // The local server signs URLs of its own, which `write_part` serves.
        Ok(None)
    }

    async fn direct_post_form(
        &self,
        _key: &str,
        _content_type: &str,
        _max_bytes: u64,
        _valid_for: Duration,
    ) -> Result<Option<PostForm>, StoreError> {
        Ok(None)
    }

    async fn direct_parts(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<DirectPart>, StoreError> {
        self.list_direct_files(key, upload_id).await
    }

    async fn finish_direct(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[DirectPart],
    ) -> Result<(), StoreError> {
        self.finish_direct_files(key, upload_id, parts).await
    }

    async fn abort_direct(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        self.abort_direct_files(key, upload_id).await
    }

    async fn completed_direct(
        &self,
        key: &str,
        upload_id: &str,
        parts: Option<&[(u32, &str)]>,
    ) -> Result<Option<u64>, StoreError> {
        self.completed_direct_files(key, upload_id, parts).await
    }

    async fn forget_direct(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        self.forget_direct_files(key, upload_id).await
    }

    async fn claim_direct_post(
        &self,
        key: &str,
        sniff: usize,
    ) -> Result<Option<DirectPost>, StoreError> {
        self.claim_post_files(key, sniff).await
    }

    async fn accept_direct_post(&self, key: &str, claim: &DirectPost) -> Result<(), StoreError> {
        self.accept_post_files(key, claim).await
    }

    async fn drop_direct_post(&self, key: &str, claim: &DirectPost) -> Result<(), StoreError> {
        self.drop_post_files(key, claim).await
    }

    async fn read_start(&self, key: &str, len: usize) -> Result<Bytes, StoreError> {
        self.read_start_files(key, len).await
    }
}
