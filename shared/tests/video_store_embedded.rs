//! The video store suite over SQLite.

mod video_suite;

use upload_tokens_core::store::embedded::EmbeddedStore;

/// A store in a directory that lives as long as the test process.
async fn embedded() -> Option<EmbeddedStore> {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    Some(EmbeddedStore::open(&dir).expect("store opens"))
}

video_suite!(embedded);
