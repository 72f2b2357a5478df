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

/// Every file of the store whose path names `video` (parts, posted files and claims included).
fn everything_of(h: &Files, video: &str) -> Vec<String> {
    let mut files = Vec::new();
    files_under(h.store.dir(), h.store.dir(), &mut files);
    files.retain(|f| f.contains(video));
    files
}

/// A body as the local server hands a part PUT or a form POST over.
fn stream(
    bytes: Vec<u8>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin {
    futures_util::stream::iter(
        bytes
            .chunks(64 * 1024)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    )
}

#[tokio::test]
async fn direct_parts_written_listed_and_concatenated_in_order() {
    let h = setup().await.expect("store");
    let key = "videos/vi31/source";
    let id = h
        .store
        .start_direct(key, "video/mp4")
        .await
        .expect("started");
    let (one, two) = (
        blob_suite::data(5 * 1024 * 1024, 31),
        blob_suite::data(10, 32),
    );
    // Out of order, and part 2 written twice: the second replaces the first, as on S3.
    h.store
        .write_part(key, &id, 2, stream(vec![9; 10]))
        .await
        .expect("part 2");
    let etag_one = h
        .store
        .write_part(key, &id, 1, stream(one.clone()))
        .await
        .expect("part 1");
    let etag_two = h
        .store
        .write_part(key, &id, 2, stream(two.clone()))
        .await
        .expect("part 2 again");
    let parts = h.store.direct_parts(key, &id).await.expect("listed");
    let listed: Vec<_> = parts
        .iter()
        .map(|p| (p.number, p.etag.clone(), p.size))
        .collect();
    assert_eq!(listed, [(1, etag_one, one.len() as u64), (2, etag_two, 10)]);
    h.store
        .finish_direct(key, &id, &parts)
        .await
        .expect("finished");
    let mut whole = one;
    whole.extend_from_slice(&two);
    blob_suite::assert_same(&h.read(key).await, &whole);
    // The upload is gone once finished: its parts can no longer be written or listed.
    assert!(matches!(
        h.store.write_part(key, &id, 3, stream(vec![1])).await,
        Err(upload_tokens_core::store::blob_files::WriteError::Store(
            StoreError::BlobGone(_)
        ))
    ));
    assert!(matches!(
        h.store.direct_parts(key, &id).await,
        Err(StoreError::BlobGone(_))
    ));
    // An abort removes every part.
    let aborted = h
        .store
        .start_direct("videos/vi32/source", "video/mp4")
        .await
        .expect("started");
    h.store
        .write_part("videos/vi32/source", &aborted, 1, stream(vec![1; 10]))
        .await
        .expect("part");
    h.store
        .abort_direct("videos/vi32/source", &aborted)
        .await
        .expect("aborted");
    h.store
        .abort_direct("videos/vi32/source", &aborted)
        .await
        .expect("again: not an error");
    assert_eq!(everything_of(&h, "vi32"), Vec::<String>::new());
}

#[tokio::test]
async fn a_posted_file_is_claimed_accepted_and_never_replaced_by_a_second_post() {
    let h = setup().await.expect("store");
    let key = "videos/vi33/source";
    let first = blob_suite::data(700, 33);
    h.store
        .write_post(key, stream(first.clone()), 1000)
        .await
        .expect("posted");
    // Over the form's limit: refused, nothing written.
    assert!(matches!(
        h.store
            .write_post("videos/vi34/source", stream(vec![0; 1001]), 1000)
            .await,
        Err(upload_tokens_core::store::blob_files::WriteError::TooLarge(
            1000
        ))
    ));
    assert!(
        h.store
            .claim_direct_post("videos/vi34/source", 16)
            .await
            .expect("claim")
            .is_none()
    );
    let claim = h
        .store
        .claim_direct_post(key, 16)
        .await
        .expect("claimed")
        .expect("posted");
    assert_eq!((claim.size, &claim.first[..]), (700, &first[..16]));
    // Posted again after the claim: a new file, which the claim does not name.
    h.store
        .write_post(key, stream(blob_suite::data(500, 34)), 1000)
        .await
        .expect("posted again");
    h.store
        .accept_direct_post(key, &claim)
        .await
        .expect("accepted");
    blob_suite::assert_same(&h.read(key).await, &first);
    // A check interrupted before the video recorded the file finds the same claim again.
    let again = h
        .store
        .claim_direct_post(key, 16)
        .await
        .expect("claimed")
        .expect("kept");
    assert_eq!(again, claim);
    h.store
        .accept_direct_post(key, &again)
        .await
        .expect("accepted again");
    blob_suite::assert_same(&h.read(key).await, &first);
    h.store
        .drop_direct_post(key, &claim)
        .await
        .expect("dropped");
    // The later post is claimable (and would be checked) but never replaced the accepted bytes.
    let late = h
        .store
        .claim_direct_post(key, 16)
        .await
        .expect("claimed")
        .expect("the later post");
    assert_eq!(late.size, 500);
    h.store.drop_direct_post(key, &late).await.expect("dropped");
    assert!(
        h.store
            .claim_direct_post(key, 16)
            .await
            .expect("claim")
            .is_none()
    );
    blob_suite::assert_same(&h.read(key).await, &first);
    // Removing the video removes whatever was posted for it too.
    h.store
        .write_post(key, stream(vec![5; 10]), 1000)
        .await
        .expect("posted");
    h.store
        .claim_direct_post(key, 16)
        .await
        .expect("claimed")
        .expect("posted");
    h.store
        .write_post(key, stream(vec![6; 10]), 1000)
        .await
        .expect("posted");
    h.store
        .remove(
            key,
            &BlobProgress {
                completed: true,
                ..BlobProgress::default()
            },
        )
        .await
        .expect("removed");
    assert_eq!(everything_of(&h, "vi33"), Vec::<String>::new());
}
