//! The embedded blob store: local files. A blob being assembled is `<dir>/<key>.partial`; each
//! chunk is written at its offset and fsynced, and the last one renames it to `<dir>/<key>`
//! (then fsyncs the directory): write, fsync, rename, so a crash never leaves a torn file under
//! the final name, and a committed chunk is on disk.

use super::StoreError;
use super::blob::{BlobProgress, BlobStore};
use async_trait::async_trait;
use bytes::Bytes;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// Blobs as files under one directory.
#[derive(Debug, Clone)]
pub struct FileBlobStore {
    dir: PathBuf,
}

impl FileBlobStore {
    /// A store rooted at `dir` (created if missing).
    pub fn new(dir: PathBuf) -> Result<Self, StoreError> {
        std::fs::create_dir_all(&dir).map_err(StoreError::backend)?;
        Ok(Self { dir })
    }

    /// Where the completed blob `key` is (the local server streams it from there).
    pub fn path(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }

    fn checked(&self, key: &str) -> Result<PathBuf, StoreError> {
        let relative = Path::new(key);
        if key.is_empty()
            || !relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(StoreError::Corrupt(format!("bad blob key {key:?}")));
        }
        Ok(self.dir.join(relative))
    }
}

fn partial(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[async_trait]
impl BlobStore for FileBlobStore {
    async fn append(
        &self,
        key: &str,
        progress: &BlobProgress,
        chunk: Bytes,
        last: bool,
    ) -> Result<BlobProgress, StoreError> {
        let path = self.checked(key)?;
        let offset = progress.written;
        let written = offset + chunk.len() as u64;
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let parent = path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(parent)?;
            let partial = partial(&path);
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&partial)?;
            // Positioned write: a chunk lost to a concurrent writer is simply overwritten by
            // the next append at the same offset, and bytes past `written` are cut off below.
            file.seek(SeekFrom::Start(offset))?;
            file.write_all(&chunk)?;
            file.set_len(written)?;
            file.sync_all()?;
            if last {
                std::fs::rename(&partial, &path)?;
                sync_dir(parent)?;
            }
            Ok(())
        })
        .await
        .map_err(StoreError::backend)?
        .map_err(StoreError::backend)?;
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
}
