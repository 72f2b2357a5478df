//! API keys read in the last moments, so that a burst of requests with one key reads it once:
//! the embedded store's cache (the local server). An entry is fresh for [`FRESH_FOR`] from the
//! moment its read began, so a key revoked by another process (the admin command writing the
//! same database) stops working within a second; a revocation through the same store empties
//! the cache at once. Only keys found are kept (a key inserted meanwhile is seen at once), by
//! the key's SHA-256 (what the store holds anyway) or its id, never the secret.

use super::ApiKeyRecord;
use crate::auth::SecretHash;
use crate::domain::KeyId;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an entry is used after its read began.
pub const FRESH_FOR: Duration = Duration::from_millis(900);
/// Entries kept at most; past that the cache starts over (keys are few; this bounds what a
/// flood of distinct valid credentials could hold).
const MAX_ENTRIES: usize = 4096;

/// What an entry is found by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CachedBy {
    /// The key's hash (Basic and Bearer API keys).
    Hash(SecretHash),
    /// The key's id (access tokens).
    Id(KeyId),
}

#[derive(Debug, Default)]
struct Entries {
    by: HashMap<CachedBy, (ApiKeyRecord, Instant)>,
    /// Bumped by every revocation: a read that began before one does not fill the cache.
    generation: u64,
}

/// The cache; see the module's text.
#[derive(Debug, Default)]
pub struct KeyCache {
    entries: Mutex<Entries>,
}

/// A read about to happen: when it began, and in which generation.
#[derive(Debug, Clone, Copy)]
pub struct ReadStarted {
    at: Instant,
    generation: u64,
}

impl KeyCache {
    /// The record found by `by` if a read of it began less than [`FRESH_FOR`] ago; otherwise
    /// what to hand [`KeyCache::keep`] once the store has been read.
    pub fn get(&self, by: &CachedBy) -> Result<ApiKeyRecord, ReadStarted> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.by.get(by) {
            Some((record, at)) if at.elapsed() < FRESH_FOR => Ok(record.clone()),
            _ => Err(ReadStarted {
                at: Instant::now(),
                generation: entries.generation,
            }),
        }
    }

    /// Keeps what the read begun at `started` found, unless a revocation came since.
    pub fn keep(&self, by: CachedBy, record: &ApiKeyRecord, started: ReadStarted) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.generation != started.generation {
            return;
        }
        if entries.by.len() >= MAX_ENTRIES {
            entries.by.clear();
        }
        entries.by.insert(by, (record.clone(), started.at));
    }

    /// Forgets everything: a key was revoked.
    pub fn revoked(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.by.clear();
        entries.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ProjectId;

    fn record() -> ApiKeyRecord {
        ApiKeyRecord {
            key_id: KeyId::generate(),
            project_id: ProjectId::generate(),
            hash: crate::auth::ApiKey::generate().hash(),
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn an_entry_is_used_until_it_is_stale_or_a_key_is_revoked() {
        let cache = KeyCache::default();
        let key = record();
        let by = CachedBy::Id(key.key_id.clone());
        let started = cache.get(&by).expect_err("empty");
        cache.keep(by.clone(), &key, started);
        assert_eq!(cache.get(&by).expect("kept").key_id, key.key_id);
        cache.revoked();
        assert!(cache.get(&by).is_err(), "revocation empties it");
    }

    #[test]
    fn a_read_begun_before_a_revocation_is_not_kept() {
        let cache = KeyCache::default();
        let key = record();
        let by = CachedBy::Hash(key.hash.clone());
        let started = cache.get(&by).expect_err("empty");
        cache.revoked();
        cache.keep(by.clone(), &key, started);
        assert!(cache.get(&by).is_err());
    }

    #[test]
    fn an_entry_is_dated_from_its_read() {
        let cache = KeyCache::default();
        let key = record();
        let by = CachedBy::Id(key.key_id.clone());
        let mut started = cache.get(&by).expect_err("empty");
        started.at -= FRESH_FOR;
        cache.keep(by.clone(), &key, started);
        assert!(cache.get(&by).is_err(), "stale at once");
    }
}
