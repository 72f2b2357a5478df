//! The embedded store beside another process: the admin command holding SQLite's write lock
//! must not stall reads, and writes wait for the lock instead of failing. Also the modes of
//! what the embedded stores put on disk.

#![cfg(feature = "embedded")]

use bytes::Bytes;
use std::time::{Duration, Instant};
use upload_tokens_core::domain::{ListQuery, ProjectId, Ttl, UploadToken};
use upload_tokens_core::store::blob::{BlobProgress, BlobStore as _};
use upload_tokens_core::store::blob_files::FileBlobStore;
use upload_tokens_core::store::chunk_data::ChunkData;
use upload_tokens_core::store::embedded::{DATABASE_FILE, EmbeddedStore};
use upload_tokens_core::store::{TokenLister as _, TokenReader as _, TokenWriter as _};

fn token(project: &ProjectId, ttl_s: u32, now: chrono::DateTime<chrono::Utc>) -> UploadToken {
    UploadToken::create(project.clone(), Ttl::from_seconds(ttl_s).expect("ttl"), now)
}

/// Another connection (as another process would have) holding the write lock.
fn hold_write_lock(dir: &std::path::Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(dir.join(DATABASE_FILE)).expect("second connection");
    conn.execute_batch(
        "BEGIN IMMEDIATE; DELETE FROM upload_tokens WHERE id = 'nothing-to-delete';",
    )
    .expect("write lock taken");
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_go_on_while_another_connection_holds_the_write_lock_and_writes_wait_for_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(dir.path()).expect("open");
    let project = ProjectId::generate();
    let now = chrono::Utc::now();
    let existing = token(&project, 0, now);
    store.insert_token(&existing).await.expect("insert");

    let holder = hold_write_lock(dir.path());
    // A write of this process now waits for the lock (well past SQLite's own short busy wait)...
    let waiting = token(&project, 0, now);
    let writer = {
        let (store, waiting) = (store.clone(), waiting.clone());
        tokio::spawn(async move { store.insert_token(&waiting).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!writer.is_finished(), "the write waits for the lock");

    // ...while reads are answered, behind neither that write nor the other connection.
    for _ in 0..20 {
        let started = Instant::now();
        let found =
            tokio::time::timeout(Duration::from_secs(2), store.find_token(&existing.id, now))
                .await
                .expect("a read is not stalled by the write lock")
                .expect("read");
        assert_eq!(found.as_ref().map(|t| &t.id), Some(&existing.id));
        let page = tokio::time::timeout(
            Duration::from_secs(2),
            store.list_tokens(&project, &ListQuery::default(), now),
        )
        .await
        .expect("a listing is not stalled")
        .expect("list");
        assert_eq!(page.total, 1, "the waiting write is not visible yet");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    assert!(
        !writer.is_finished(),
        "still waiting while the lock is held"
    );

    // The other process commits after longer than one busy wait: the write goes through.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    holder.execute_batch("COMMIT").expect("commit");
    drop(holder);
    tokio::time::timeout(Duration::from_secs(5), writer)
        .await
        .expect("the write finishes once the lock is free")
        .expect("task")
        .expect("the write succeeded instead of failing on a busy database");
    let found = store.find_token(&waiting.id, now).await.expect("read");
    assert!(found.is_some(), "the waited-for write is stored");
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_and_blob_files_are_for_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("data");
    // An existing, world-readable directory is tightened too.
    std::fs::create_dir(&dir).expect("dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let store = EmbeddedStore::open(&dir).expect("open");
    store
        .insert_token(&token(&ProjectId::generate(), 0, chrono::Utc::now()))
        .await
        .expect("a write creates the WAL");
    assert_eq!(mode(&dir), 0o700, "data dir");
    for file in [
        DATABASE_FILE.to_owned(),
        format!("{DATABASE_FILE}-wal"),
        format!("{DATABASE_FILE}-shm"),
    ] {
        assert_eq!(mode(&dir.join(&file)), 0o600, "{file}");
    }

    let blobs = FileBlobStore::new(dir.join("blobs")).expect("blobs");
    let progress = blobs
        .append(
            "videos/vi1",
            &BlobProgress::default(),
            &ChunkData::from(Bytes::from_static(b"abc")),
            false,
        )
        .await
        .expect("append");
    assert_eq!(mode(&dir.join("blobs")), 0o700, "blob dir");
    assert_eq!(mode(&dir.join("blobs/videos")), 0o700, "blob subdir");
    blobs
        .append(
            "videos/vi1",
            &progress,
            &ChunkData::from(Bytes::from_static(b"def")),
            true,
        )
        .await
        .expect("complete");
    assert_eq!(mode(&dir.join("blobs/videos/vi1")), 0o600, "completed blob");
}
