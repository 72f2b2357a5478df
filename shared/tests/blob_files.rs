//! The blob suite over `FileBlobStore` in temporary directories, and what only files have.

mod blob_suite;

use blob_suite::Harness;
use bytes::Bytes;
use std::path::{Path, PathBuf};
use tempfile::TempDir;
use upload_tokens_core::store::StoreError;
use upload_tokens_core::store::blob::{BlobProgress, BlobStore};
use upload_tokens_core::store::blob_files::FileBlobStore;
use upload_tokens_core::store::chunk_data::ChunkData;

/// A file store in its own temporary directory.
struct Files {
    store: FileBlobStore,
    _dir: TempDir,
}

async fn setup() -> Option<Files> {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileBlobStore::new(dir.path().join("blobs")).expect("store");
    Some(Files { store, _dir: dir })
}

/// Every file under `dir`, as `/`-separated paths relative to `root`.
fn files_under(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            files_under(root, &path, out);
        } else {
            let relative = path.strip_prefix(root).expect("under root");
            let parts: Vec<_> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
        }
    }
}

impl Harness for Files {
    type Store = FileBlobStore;
    const STAGES: bool = false;

    fn store(&self) -> &FileBlobStore {
        &self.store
    }

    async fn read(&self, key: &str) -> Vec<u8> {
        std::fs::read(self.store.path(key)).expect("read blob")
    }

    async fn leftovers(&self, key: &str) -> Vec<String> {
        let mut files = Vec::new();
        files_under(self.store.dir(), self.store.dir(), &mut files);
        files.retain(|f| f.starts_with(key));
        files.sort();
        files
    }

    async fn staged_exists(&self, _key: &str, _progress: &BlobProgress) -> Option<bool> {
        None
    }

    async fn part_sizes(&self, _key: &str) -> Option<Vec<u64>> {
        None
    }

    async fn check_download_url(&self, key: &str, url: Option<String>, expected: &[u8]) {
        assert_eq!(url, None, "the local server serves files itself");
        blob_suite::assert_same(
            &std::fs::read(self.store.path(key)).expect("read"),
            expected,
        );
    }
}

blob_suite!(setup);

#[tokio::test]
async fn bad_keys_are_refused() {
    let Some(h) = setup().await else { return };
    let outside: PathBuf = h.store.dir().join("..").join("escaped");
    for key in [
        "",
        "../escaped",
        "videos/../../escaped",
        "/tmp/escaped",
        "videos//vi1",
        "videos/./vi1",
        "videos/",
        "videos\\vi1",
        "vi\0",
    ] {
        let appended = h
            .store
            .append(
                key,
                &BlobProgress::default(),
                &ChunkData::from(Bytes::from_static(b"x")),
                true,
            )
            .await;
        assert!(
            matches!(appended, Err(StoreError::Internal(_))),
            "append to {key:?}: {appended:?}"
        );
        let removed = h.store.remove(key, &BlobProgress::default()).await;
        assert!(
            matches!(removed, Err(StoreError::Internal(_))),
            "remove {key:?}: {removed:?}"
        );
    }
    assert!(!outside.exists());
    assert!(!Path::new("/tmp/escaped").exists());
    assert!(h.leftovers("").await.is_empty(), "nothing written");
}

#[tokio::test]
async fn a_duplicate_last_chunk_after_completion_keeps_the_blob() {
    let Some(h) = setup().await else { return };
    let key = "videos/vi1";
    let blob = blob_suite::data(300, 1);
    let p1 = h
        .store
        .append(
            key,
            &BlobProgress::default(),
            &ChunkData::from(Bytes::copy_from_slice(&blob[..100])),
            false,
        )
        .await
        .expect("append 1");
    let last = Bytes::copy_from_slice(&blob[100..]);
    let done = h
        .store
        .append(key, &p1, &ChunkData::from(last.clone()), true)
        .await
        .expect("append 2");
    // Its twin, sent concurrently from the same committed progress, arrives after the rename.
    let twin = h
        .store
        .append(key, &p1, &ChunkData::from(last), true)
        .await
        .expect("twin");
    assert_eq!(twin, done);
    blob_suite::assert_same(&h.read(key).await, &blob);
    assert_eq!(h.leftovers(key).await, vec![key.to_owned()]);
}

#[tokio::test]
async fn a_chunk_past_a_missing_partial_file_finds_the_blob_gone() {
    let Some(h) = setup().await else { return };
    let progress = BlobProgress {
        written: 10,
        ..BlobProgress::default()
    };
    let appended = h
        .store
        .append(
            "videos/vi2",
            &progress,
            &ChunkData::from(Bytes::from_static(b"tail")),
            false,
        )
        .await;
    assert!(
        matches!(appended, Err(StoreError::BlobGone(_))),
        "{appended:?}"
    );
    assert!(
        h.leftovers("videos").await.is_empty(),
        "no holed file was started"
    );
}
