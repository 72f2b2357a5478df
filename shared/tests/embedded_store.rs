//! The store suite over `EmbeddedStore` (SQLite) in temporary directories, and what only the
//! embedded store has: data on disk that outlives the process, shared by several handles.

#![cfg(feature = "embedded")]

#[macro_use]
mod store_suite;

use std::sync::Arc;
use store_suite::{Subject, at_s, token};
use tempfile::TempDir;
use upload_tokens_core::auth::{ApiKey, RefreshToken};
use upload_tokens_core::domain::{KeyId, ListQuery, ProjectId};
use upload_tokens_core::store::embedded::{DATABASE_FILE, EmbeddedStore};
use upload_tokens_core::store::{
    ApiKeyAdmin as _, ApiKeyReader as _, ApiKeyRecord, RefreshRecord, RefreshTokenStore as _,
    StoreError, TokenDeleter as _, TokenLister as _, TokenReader as _, TokenUpdater as _,
    TokenWriter as _,
};

/// A store in a temporary directory of its own, removed when the subject is dropped.
async fn setup() -> Option<Subject<EmbeddedStore>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(dir.path()).expect("open store");
    Some(Subject::new(store, dir))
}

store_suite!(setup);

fn open(dir: &TempDir) -> EmbeddedStore {
    EmbeddedStore::open(dir.path()).expect("open store")
}

#[tokio::test]
async fn data_survives_reopening_the_same_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = ProjectId::generate();
    let expiring = token(&project, 3600, at_s(0));
    let never = token(&project, 0, at_s(1));
    let deleted = token(&project, 0, at_s(2));
    let key = ApiKeyRecord {
        key_id: KeyId::generate(),
        project_id: project.clone(),
        hash: ApiKey::generate().hash(),
        created_at: at_s(0),
    };
    let refresh = RefreshToken::generate();
    let refresh_record = RefreshRecord {
        hash: refresh.hash(),
        key_id: key.key_id.clone(),
        project_id: project.clone(),
        expires_at: at_s(3600),
    };
    {
        let store = open(&dir);
        for t in [&expiring, &never, &deleted] {
            store.insert_token(t).await.expect("insert");
        }
        assert!(
            store
                .delete_token(&project, &deleted.id, at_s(3))
                .await
                .expect("delete")
        );
        store.insert_api_key(&key).await.expect("insert key");
        store
            .insert_refresh_token(&refresh_record)
            .await
            .expect("insert refresh");
    }
    assert!(dir.path().join(DATABASE_FILE).is_file());

    let store = open(&dir);
    let now = at_s(10);
    assert_eq!(
        store
            .get_token(&project, &expiring.id, now)
            .await
            .expect("get"),
        Some(expiring.clone())
    );
    assert_eq!(
        store
            .get_token(&project, &never.id, now)
            .await
            .expect("get"),
        Some(never.clone())
    );
    assert_eq!(
        store
            .get_token(&project, &deleted.id, now)
            .await
            .expect("get"),
        None,
        "a delete is durable too"
    );
    let page = store
        .list_tokens(&project, &ListQuery::default(), now)
        .await
        .expect("list");
    assert_eq!(page.tokens, vec![expiring, never]);
    assert_eq!(page.total, 2);
    assert_eq!(
        store.api_key_by_hash(&key.hash).await.expect("by hash"),
        Some(key.clone())
    );
    assert_eq!(
        store
            .take_refresh_token(&refresh.hash(), now)
            .await
            .expect("take"),
        Some(refresh_record)
    );

    // Creation order keeps working across a restart: a token created now sorts after the rest.
    let later = token(&project, 0, at_s(11));
    store.insert_token(&later).await.expect("insert");
    let page = store
        .list_tokens(&project, &ListQuery::default(), at_s(12))
        .await
        .expect("list");
    assert_eq!(page.tokens.last(), Some(&later));
}

#[tokio::test]
async fn reopening_keeps_a_spent_refresh_token_spent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = ProjectId::generate();
    let refresh = RefreshToken::generate();
    let record = RefreshRecord {
        hash: refresh.hash(),
        key_id: KeyId::generate(),
        project_id: project,
        expires_at: at_s(3600),
    };
    {
        let store = open(&dir);
        store.insert_refresh_token(&record).await.expect("insert");
        assert!(
            store
                .take_refresh_token(&refresh.hash(), at_s(1))
                .await
                .expect("take")
                .is_some()
        );
    }
    let store = open(&dir);
    assert_eq!(
        store
            .take_refresh_token(&refresh.hash(), at_s(2))
            .await
            .expect("take"),
        None
    );
}

#[tokio::test]
async fn two_stores_on_one_directory_see_each_others_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = open(&dir);
    let b = open(&dir);
    let project = ProjectId::generate();
    let now = at_s(1);

    let t = token(&project, 3600, at_s(0));
    a.insert_token(&t).await.expect("insert via a");
    assert_eq!(
        b.get_token(&project, &t.id, now).await.expect("get via b"),
        Some(t.clone())
    );
    let duplicate = b.insert_token(&t).await;
    assert!(
        matches!(duplicate, Err(StoreError::AlreadyExists)),
        "the id is taken for b too: {duplicate:?}"
    );

    let key = ApiKeyRecord {
        key_id: KeyId::generate(),
        project_id: project.clone(),
        hash: ApiKey::generate().hash(),
        created_at: at_s(0),
    };
    b.insert_api_key(&key).await.expect("insert key via b");
    assert_eq!(
        a.api_key_by_id(&key.key_id).await.expect("by id via a"),
        Some(key.clone())
    );

    assert!(
        b.delete_token(&project, &t.id, now)
            .await
            .expect("delete via b")
    );
    assert_eq!(
        a.get_token(&project, &t.id, now).await.expect("get via a"),
        None
    );
    assert!(
        !a.delete_token(&project, &t.id, now)
            .await
            .expect("delete via a")
    );

    assert!(a.revoke_api_key(&key.key_id).await.expect("revoke via a"));
    assert_eq!(
        b.api_key_by_hash(&key.hash).await.expect("by hash via b"),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deletes_through_two_stores_succeed_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stores = [Arc::new(open(&dir)), Arc::new(open(&dir))];
    let project = ProjectId::generate();
    let t = token(&project, 0, at_s(0));
    stores[0].insert_token(&t).await.expect("insert");
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let (store, project, id) = (Arc::clone(&stores[i % 2]), project.clone(), t.id.clone());
            tokio::spawn(async move {
                store
                    .delete_token(&project, &id, at_s(1))
                    .await
                    .expect("delete")
            })
        })
        .collect();
    let mut deleted = 0;
    for task in tasks {
        deleted += usize::from(task.await.expect("task"));
    }
    assert_eq!(deleted, 1);
}

/// A database written by the release before token policies (schema version 3): its tokens read
/// back as api.video tokens with no policy and no usage, list, and take policies and usage.
#[tokio::test]
async fn tokens_of_a_database_from_before_policies_read_back_and_take_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = ProjectId::generate();
    let old = token(&project, 3600, at_s(0));
    {
        // The tables and indexes of schema version 3, as that release created them.
        let conn = rusqlite::Connection::open(dir.path().join(DATABASE_FILE)).expect("db");
        conn.execute_batch(
            "CREATE TABLE upload_tokens (id TEXT PRIMARY KEY, project_id TEXT NOT NULL,
                 ttl INTEGER NOT NULL, created_ms INTEGER NOT NULL, creation_order TEXT NOT NULL,
                 expires_ms INTEGER) STRICT;
             CREATE INDEX upload_tokens_by_created ON upload_tokens (project_id, creation_order);
             CREATE INDEX upload_tokens_by_expiry
                 ON upload_tokens (project_id, ifnull(expires_ms, 9223372036854775807), id);
             CREATE TABLE api_keys (key_id TEXT PRIMARY KEY, key_hash BLOB NOT NULL UNIQUE,
                 project_id TEXT NOT NULL, created_ms INTEGER NOT NULL) STRICT;
             CREATE TABLE refresh_tokens (token_hash BLOB PRIMARY KEY, key_id TEXT NOT NULL,
                 project_id TEXT NOT NULL, expires_ms INTEGER NOT NULL) STRICT;
             CREATE TABLE videos (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, token_id TEXT,
                 uploading INTEGER NOT NULL, created_ms INTEGER NOT NULL,
                 version INTEGER NOT NULL, record TEXT NOT NULL) STRICT;
             CREATE INDEX videos_uploading_by_token ON videos (token_id, created_ms)
                 WHERE uploading = 1;
             CREATE TABLE video_chunks (video_id TEXT NOT NULL, idx INTEGER NOT NULL,
                 record TEXT NOT NULL, PRIMARY KEY (video_id, idx)) STRICT;
             CREATE INDEX videos_by_token ON videos (token_id);
             PRAGMA user_version = 3;",
        )
        .expect("old schema");
        conn.execute(
            "INSERT INTO upload_tokens VALUES (?1, ?2, 3600, ?3, ?4, ?5)",
            rusqlite::params![
                old.id.as_str(),
                project.as_str(),
                old.created_at.timestamp_millis(),
                old.creation_order.to_string(),
                old.expires_at().map(|at| at.timestamp_millis()),
            ],
        )
        .expect("old token");
    }
    let store = open(&dir);
    assert_eq!(
        store
            .get_token(&project, &old.id, at_s(1))
            .await
            .expect("get"),
        Some(old.clone())
    );
    let page = store
        .list_tokens(&project, &ListQuery::default(), at_s(1))
        .await
        .expect("list");
    assert_eq!((page.total, page.tokens.len()), (1, 1));
    let newest = store
        .list_newest(&project, None, 10, at_s(1))
        .await
        .expect("newest");
    assert_eq!(newest, vec![old.clone()]);
    let mut limited = old.clone();
    limited.policy.max_uploads = Some(1);
    limited.version = 1;
    assert!(store.update_token(&limited, at_s(2)).await.expect("update"));
    assert_eq!(
        store
            .get_token(&project, &old.id, at_s(3))
            .await
            .expect("get")
            .map(|t| t.policy.max_uploads),
        Some(Some(1))
    );
}

/// The tokens of `project` a listing at `now` counts.
async fn total_at(
    store: &EmbeddedStore,
    project: &ProjectId,
    now: chrono::DateTime<chrono::Utc>,
) -> u64 {
    store
        .list_tokens(project, &ListQuery::default(), now)
        .await
        .expect("list")
        .total
}

#[tokio::test]
async fn folding_expiry_buckets_changes_no_total() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let project = ProjectId::generate();
    let tokens: Vec<_> = [30, 90, 150, 400, 0]
        .into_iter()
        .map(|ttl| token(&project, ttl, at_s(0)))
        .collect();
    for t in &tokens {
        store.insert_token(t).await.expect("insert");
    }
    let mut folded = 0;
    for s in (0..600).step_by(20) {
        let expected = tokens.iter().filter(|t| t.is_active(at_s(s))).count() as u64;
        assert_eq!(
            total_at(&store, &project, at_s(s)).await,
            expected,
            "at {s} s"
        );
        folded += store.fold_expired_counts(at_s(s)).await.expect("fold");
        assert_eq!(
            total_at(&store, &project, at_s(s)).await,
            expected,
            "folded at {s} s"
        );
    }
    assert_eq!(folded, 4, "each expiring token's bucket folded once");
}

#[tokio::test]
async fn a_database_from_before_the_counters_gets_them_from_its_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = ProjectId::generate();
    let tokens: Vec<_> = [30, 90, 0, 3600]
        .into_iter()
        .map(|ttl| token(&project, ttl, at_s(0)))
        .collect();
    {
        let store = open(&dir);
        for t in &tokens {
            store.insert_token(t).await.expect("insert");
        }
    }
    // Back to schema version 4: no counters, no triggers, the older indexes.
    let conn = rusqlite::Connection::open(dir.path().join(DATABASE_FILE)).expect("open db");
    conn.execute_batch(
        "DROP TRIGGER upload_tokens_count_insert; DROP TRIGGER upload_tokens_count_delete;
         DROP TRIGGER upload_tokens_count_update; DROP TABLE token_counts;
         DROP TABLE token_expiry_buckets; DROP INDEX upload_tokens_by_created;
         DROP INDEX upload_tokens_by_expiry;
         CREATE INDEX upload_tokens_by_created ON upload_tokens (project_id, named, creation_order);
         CREATE INDEX upload_tokens_by_expiry
             ON upload_tokens (project_id, named, ifnull(expires_ms, 9223372036854775807), id);
         PRAGMA user_version = 4;",
    )
    .expect("downgrade");
    drop(conn);
    let store = open(&dir);
    for s in [0, 40, 100, 4000] {
        let expected = tokens.iter().filter(|t| t.is_active(at_s(s))).count() as u64;
        assert_eq!(
            total_at(&store, &project, at_s(s)).await,
            expected,
            "at {s} s"
        );
    }
}

#[tokio::test]
async fn a_key_revoked_by_another_process_stops_being_found_within_a_second() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Two handles on one database: the server, and the admin command beside it.
    let (server, admin) = (open(&dir), open(&dir));
    let key = ApiKeyRecord {
        key_id: KeyId::generate(),
        project_id: ProjectId::generate(),
        hash: ApiKey::generate().hash(),
        created_at: at_s(0),
    };
    admin.insert_api_key(&key).await.expect("insert");
    assert!(
        server
            .api_key_by_hash(&key.hash)
            .await
            .expect("read")
            .is_some()
    );
    assert!(
        server
            .api_key_by_id(&key.key_id)
            .await
            .expect("read")
            .is_some()
    );
    assert!(admin.revoke_api_key(&key.key_id).await.expect("revoke"));
    let revoked_at = std::time::Instant::now();
    tokio::time::sleep(std::time::Duration::from_secs(1).saturating_sub(revoked_at.elapsed()))
        .await;
    assert!(
        server
            .api_key_by_hash(&key.hash)
            .await
            .expect("read")
            .is_none(),
        "found by hash a second after its revocation"
    );
    assert!(
        server
            .api_key_by_id(&key.key_id)
            .await
            .expect("read")
            .is_none(),
        "found by id a second after its revocation"
    );
}

#[tokio::test]
async fn a_key_revoked_through_the_same_store_is_gone_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let key = ApiKeyRecord {
        key_id: KeyId::generate(),
        project_id: ProjectId::generate(),
        hash: ApiKey::generate().hash(),
        created_at: at_s(0),
    };
    store.insert_api_key(&key).await.expect("insert");
    assert!(
        store
            .api_key_by_hash(&key.hash)
            .await
            .expect("read")
            .is_some()
    );
    assert!(store.revoke_api_key(&key.key_id).await.expect("revoke"));
    assert!(
        store
            .api_key_by_hash(&key.hash)
            .await
            .expect("read")
            .is_none()
    );
    assert!(
        store
            .api_key_by_id(&key.key_id)
            .await
            .expect("read")
            .is_none()
    );
}
