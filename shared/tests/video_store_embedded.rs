//! The video store suite over SQLite.

mod video_suite;

use std::ops::Deref;
use tempfile::TempDir;
use upload_tokens_core::store::embedded::EmbeddedStore;

/// A store and its directory, removed when the test drops it.
struct InTempDir {
    store: EmbeddedStore,
    _dir: TempDir,
}

impl Deref for InTempDir {
    type Target = EmbeddedStore;

    fn deref(&self) -> &EmbeddedStore {
        &self.store
    }
}

/// A store in a temporary directory of its own.
async fn embedded() -> Option<InTempDir> {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(dir.path()).expect("store opens");
    Some(InTempDir { store, _dir: dir })
}

video_suite!(embedded);
