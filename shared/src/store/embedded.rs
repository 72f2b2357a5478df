//! The embedded adapter: SQLite on local disk (rusqlite, bundled: nothing to install).
//!
//! Why SQLite rather than a key-value store: listings need two orders, offset pages and a count
//! over rows filtered by expiry; SQLite does that with two indexes and plain SQL, and its WAL
//! journal with `synchronous=FULL` makes every committed write survive a crash or power loss.
//! Several processes (the local server and the admin command) may open the same file.

use super::key_cache::CachedBy;
use super::{
    ApiKeyAdmin, ApiKeyReader, ApiKeyRecord, RefreshRecord, RefreshTokenStore, StoreError,
    TokenDeleter, TokenLister, TokenPage, TokenReader, TokenUpdater, TokenWriter, VideoRecord,
    VideoStore, stored,
};
use crate::auth::SecretHash;
use crate::domain::{
    CreationOrder, KeyId, ListQuery, PageReading, ProjectId, ReceivedChunk, SortBy, SortOrder,
    TokenId, TokenName, TokenUsage, Ttl, UploadToken, VideoId,
};
use crate::internal::InternalError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "upload-tokens.db";

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE upload_tokens (
        id             TEXT PRIMARY KEY,
        project_id     TEXT NOT NULL,
        ttl            INTEGER NOT NULL,
        created_ms     INTEGER NOT NULL,
        creation_order TEXT NOT NULL,
        -- NULL: never expires. Sorted as the largest value by the expiry index.
        expires_ms     INTEGER
    ) STRICT;
    CREATE INDEX upload_tokens_by_created ON upload_tokens (project_id, creation_order);
    CREATE INDEX upload_tokens_by_expiry
        ON upload_tokens (project_id, ifnull(expires_ms, 9223372036854775807), id);
    CREATE TABLE api_keys (
        key_id     TEXT PRIMARY KEY,
        key_hash   BLOB NOT NULL UNIQUE,
        project_id TEXT NOT NULL,
        created_ms INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE refresh_tokens (
        token_hash BLOB PRIMARY KEY,
        key_id     TEXT NOT NULL,
        project_id TEXT NOT NULL,
        expires_ms INTEGER NOT NULL
    ) STRICT;
"#,
    r#"
    CREATE TABLE videos (
        id         TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        token_id   TEXT,
        uploading  INTEGER NOT NULL,
        created_ms INTEGER NOT NULL,
        version    INTEGER NOT NULL,
        record     TEXT NOT NULL
    ) STRICT;
    CREATE INDEX videos_uploading_by_token ON videos (token_id, created_ms) WHERE uploading = 1;
    CREATE TABLE video_chunks (
        video_id TEXT NOT NULL,
        idx      INTEGER NOT NULL,
        record   TEXT NOT NULL,
        PRIMARY KEY (video_id, idx)
    ) STRICT;
"#,
    // A token's latest video, found without a scan.
    r#"
    CREATE INDEX videos_by_token ON videos (token_id);
"#,
    // Token policy, names, the /v2 face's named tokens, usage counters. The api.video listing
    // reads only the shown tokens (`named = 0`); `/v2/tokens` reads both, newest first.
    r#"
    ALTER TABLE upload_tokens ADD COLUMN named INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE upload_tokens ADD COLUMN name TEXT;
    ALTER TABLE upload_tokens ADD COLUMN policy TEXT;
    ALTER TABLE upload_tokens ADD COLUMN max_uploads INTEGER;
    ALTER TABLE upload_tokens ADD COLUMN value_hash BLOB;
    ALTER TABLE upload_tokens ADD COLUMN created_by TEXT;
    ALTER TABLE upload_tokens ADD COLUMN updated_by TEXT;
    ALTER TABLE upload_tokens ADD COLUMN updated_ms INTEGER;
    ALTER TABLE upload_tokens ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE upload_tokens ADD COLUMN uploads INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE upload_tokens ADD COLUMN completed_uploads INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE upload_tokens ADD COLUMN bytes_received INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE upload_tokens ADD COLUMN last_used_ms INTEGER;
    DROP INDEX upload_tokens_by_created;
    DROP INDEX upload_tokens_by_expiry;
    CREATE INDEX upload_tokens_by_created ON upload_tokens (project_id, named, creation_order);
    CREATE INDEX upload_tokens_by_expiry
        ON upload_tokens (project_id, named, ifnull(expires_ms, 9223372036854775807), id);
    CREATE INDEX upload_tokens_newest ON upload_tokens (project_id, creation_order);
"#,
    // `itemsTotal` without a count over the rows (DESIGN.md, "Counts without scans"): triggers
    // keep, in the writing transaction, each project's shown tokens (`live`: inserted minus
    // deleted) and how many of them expire in each minute. A total is then `live` minus the
    // buckets already past, read in O(1) (see `count_shown`). Both listing indexes also hold
    // `expires_ms`, so that skipping tokens to reach a page reads the index alone.
    r#"
    CREATE TABLE token_counts (
        project_id TEXT PRIMARY KEY,
        live       INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE token_expiry_buckets (
        project_id TEXT NOT NULL,
        minute     INTEGER NOT NULL,
        n          INTEGER NOT NULL,
        PRIMARY KEY (project_id, minute)
    ) STRICT, WITHOUT ROWID;
    INSERT INTO token_counts (project_id, live)
        SELECT project_id, count(*) FROM upload_tokens WHERE named = 0 GROUP BY project_id;
    INSERT INTO token_expiry_buckets (project_id, minute, n)
        SELECT project_id, expires_ms / 60000, count(*) FROM upload_tokens
        WHERE named = 0 AND expires_ms IS NOT NULL GROUP BY 1, 2;
    CREATE TRIGGER upload_tokens_count_insert AFTER INSERT ON upload_tokens WHEN NEW.named = 0
    BEGIN
        INSERT INTO token_counts (project_id, live) VALUES (NEW.project_id, 1)
            ON CONFLICT (project_id) DO UPDATE SET live = live + 1;
        INSERT INTO token_expiry_buckets (project_id, minute, n)
            SELECT NEW.project_id, NEW.expires_ms / 60000, 1 WHERE NEW.expires_ms IS NOT NULL
            ON CONFLICT (project_id, minute) DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER upload_tokens_count_delete AFTER DELETE ON upload_tokens WHEN OLD.named = 0
    BEGIN
        INSERT INTO token_counts (project_id, live) VALUES (OLD.project_id, -1)
            ON CONFLICT (project_id) DO UPDATE SET live = live - 1;
        INSERT INTO token_expiry_buckets (project_id, minute, n)
            SELECT OLD.project_id, OLD.expires_ms / 60000, -1 WHERE OLD.expires_ms IS NOT NULL
            ON CONFLICT (project_id, minute) DO UPDATE SET n = n - 1;
    END;
    CREATE TRIGGER upload_tokens_count_update AFTER UPDATE OF expires_ms ON upload_tokens
        WHEN OLD.named = 0
         AND ifnull(OLD.expires_ms / 60000, -1) IS NOT ifnull(NEW.expires_ms / 60000, -1)
    BEGIN
        INSERT INTO token_expiry_buckets (project_id, minute, n)
            SELECT OLD.project_id, OLD.expires_ms / 60000, -1 WHERE OLD.expires_ms IS NOT NULL
            ON CONFLICT (project_id, minute) DO UPDATE SET n = n - 1;
        INSERT INTO token_expiry_buckets (project_id, minute, n)
            SELECT NEW.project_id, NEW.expires_ms / 60000, 1 WHERE NEW.expires_ms IS NOT NULL
            ON CONFLICT (project_id, minute) DO UPDATE SET n = n + 1;
    END;
    DROP INDEX upload_tokens_by_created;
    CREATE INDEX upload_tokens_by_created
        ON upload_tokens (project_id, named, creation_order, expires_ms);
    DROP INDEX upload_tokens_by_expiry;
    CREATE INDEX upload_tokens_by_expiry ON upload_tokens
        (project_id, named, ifnull(expires_ms, 9223372036854775807), id, expires_ms);
"#,
];

/// Length of an expiry bucket, in milliseconds.
const BUCKET_MS: i64 = 60_000;
/// Buckets are folded into `live` only once they are this many minutes old, so that a reader
/// whose clock is behind the folder's still counts right.
const FOLD_MARGIN_MINUTES: i64 = 2;

/// How long SQLite itself waits for a lock before answering `SQLITE_BUSY`; [`retrying`] then
/// tries again, so one call never blocks a connection for long.
const BUSY_WAIT: Duration = Duration::from_millis(50);
/// How long a write keeps retrying while another process (the admin command) holds the write
/// lock. Only writes wait: reads go through their own connections.
const WRITE_PATIENCE: Duration = Duration::from_secs(10);
/// Reads almost never meet `SQLITE_BUSY` in WAL mode (recovery, a checkpoint restarting).
const READ_PATIENCE: Duration = Duration::from_secs(2);
/// Reader connections: at most this many reads run at once (the others wait for a connection
/// without holding a blocking thread), and every connection stays open. Opening one per read
/// (what happened past a smaller idle pool under load) costs more than the read: SQLite opens
/// the file, maps the WAL index and parses the schema again.
const READERS: usize = 8;

/// Prepared statements kept per connection: more than the distinct reads and writes the store
/// makes, so none is compiled twice on a long-lived connection.
const STATEMENT_CACHE: usize = 64;

/// SQLite-backed store. Cheap to clone. One writer connection (writes are serialised, as
/// SQLite serialises them anyway) and a pool of reader connections: in WAL mode readers see the
/// last committed state without waiting for any writer, this process's or another's. Calls run
/// in tokio's blocking pool.
#[derive(Clone)]
pub struct EmbeddedStore {
    pool: Arc<Pool>,
}

struct Pool {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// One permit per reader connection: taken before a read goes to the blocking pool.
    reader_permits: Arc<tokio::sync::Semaphore>,
    /// API keys read in the last second ([`super::key_cache`]).
    keys: super::key_cache::KeyCache,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmbeddedStore")
    }
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_WAIT)?;
    // Every read this store makes is a handful of statements per order and direction: all of
    // them stay prepared (rusqlite keeps 16 by default).
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Plans that do not depend on the values bound: otherwise SQLite compiles a statement again
    // whenever a parameter it looked at while planning changes, and the list page's `now` changes
    // on every call (its statement was recompiled on each one). The store's queries name the
    // index they read, so the values had nothing to choose.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    Ok(conn)
}

/// Whether `e` is SQLite saying another connection holds the lock (worth retrying).
fn is_busy(e: &StoreError) -> bool {
    let StoreError::Backend(inner) = e else {
        return false;
    };
    matches!(
        inner.downcast_ref::<rusqlite::Error>(),
        Some(rusqlite::Error::SqliteFailure(f, _))
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Runs `f` until it succeeds, fails otherwise than `SQLITE_BUSY`, or `patience` has passed.
/// `f` must leave nothing behind when it fails (a transaction rolls back when dropped).
fn retrying<T>(
    conn: &mut Connection,
    patience: Duration,
    f: &impl Fn(&mut Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        match f(conn) {
            Err(e) if is_busy(&e) && started.elapsed() < patience => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

impl EmbeddedStore {
    /// Opens (creating if needed) the database in `data_dir`, migrates it, and drops rows that
    /// expired (reads filter them anyway; this only keeps the file small). The directory is
    /// made 0700 and the database files 0600.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        super::private::create_private_dir(data_dir).map_err(StoreError::backend)?;
        let path = data_dir.join(DATABASE_FILE);
        // Created 0600 before SQLite opens it: SQLite gives its -wal and -shm files the
        // database file's mode.
        super::private::private_file_options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(StoreError::backend)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.clone().into_os_string();
            file.push(suffix);
            super::private::make_private(Path::new(&file)).map_err(StoreError::backend)?;
        }
        let mut conn = connect(&path).map_err(StoreError::backend)?;
        let setup = |conn: &mut Connection| -> Result<(), StoreError> {
            conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
                .map_err(StoreError::backend)?;
            migrate(conn).map_err(StoreError::backend)?;
            let now = Utc::now().timestamp_millis();
            conn.execute(
                "DELETE FROM upload_tokens WHERE expires_ms IS NOT NULL AND expires_ms <= ?1",
                [now],
            )
            .map_err(StoreError::backend)?;
            conn.execute("DELETE FROM refresh_tokens WHERE expires_ms <= ?1", [now])
                .map_err(StoreError::backend)?;
            fold_buckets(conn, now.div_euclid(BUCKET_MS) - FOLD_MARGIN_MINUTES)?;
            Ok(())
        };
        retrying(&mut conn, WRITE_PATIENCE, &setup)?;
        Ok(Self {
            pool: Arc::new(Pool {
                path,
                writer: Mutex::new(conn),
                readers: Mutex::new(Vec::new()),
                reader_permits: Arc::new(tokio::sync::Semaphore::new(READERS)),
                keys: super::key_cache::KeyCache::default(),
            }),
        })
    }

    /// Runs a read on a reader connection (taken from the pool, or opened) in the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let pool = Arc::clone(&self.pool);
        // Held until the connection is back in the pool, even if this call is dropped. Never
        // closed: the semaphore lives as long as the pool.
        let permit = Arc::clone(&self.pool.reader_permits)
            .acquire_owned()
            .await
            .map_err(StoreError::backend)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let idle = pool.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let mut conn = match idle {
                Some(conn) => conn,
                None => connect(&pool.path).map_err(StoreError::backend)?,
            };
            let result = retrying(&mut conn, READ_PATIENCE, &f);
            // A connection left inside a transaction (a panic cannot get here; an error path
            // might) is not reused.
            if conn.is_autocommit() {
                let mut readers = pool.readers.lock().unwrap_or_else(|p| p.into_inner());
                if readers.len() < READERS {
                    readers.push(conn);
                }
            }
            result
        })
        .await
        .map_err(StoreError::backend)?
    }

    /// Runs a point read (one row by its key: tens of microseconds) on this task's thread when
    /// an idle reader connection is at hand, saving the two thread switches of the blocking
    /// pool; otherwise, or if SQLite answers busy, as [`EmbeddedStore::read`] does.
    async fn point_read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        if let Ok(permit) = Arc::clone(&self.pool.reader_permits).try_acquire_owned() {
            let idle = self
                .pool
                .readers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop();
            if let Some(mut conn) = idle {
                let result = f(&mut conn);
                if conn.is_autocommit() {
                    self.pool
                        .readers
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(conn);
                }
                drop(permit);
                match result {
                    Err(e) if is_busy(&e) => {}
                    done => return done,
                }
            }
        }
        self.read(f).await
    }

    /// Runs a write on the writer connection in the blocking pool, retrying while another
    /// process holds the database's write lock. Multi-statement writes open their transaction
    /// with `BEGIN IMMEDIATE`, so they take the lock before reading anything.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let pool = Arc::clone(&self.pool);
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.writer.lock().unwrap_or_else(|p| p.into_inner());
            retrying(&mut conn, WRITE_PATIENCE, &f)
        })
        .await
        .map_err(StoreError::backend)?
    }
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let done: usize = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
    }
    tx.commit()
}

fn sql_err(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::AlreadyExists
        }
        other => StoreError::backend(other),
    }
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn from_millis(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt(format!("time {ms}")))
}

/// The columns [`TokenRow::read`] reads, in its order (a macro, so that constant queries can
/// `concat!` it).
macro_rules! token_columns {
    () => {
        "id, project_id, ttl, created_ms, creation_order, name, policy, value_hash, created_by, \
         updated_by, updated_ms, version, uploads, completed_uploads, bytes_received, last_used_ms"
    };
}
const TOKEN_COLUMNS: &str = token_columns!();

/// Raw columns of a token row, decoded outside rusqlite's closure so errors stay typed.
struct TokenRow {
    id: String,
    project_id: String,
    ttl: i64,
    created_ms: i64,
    creation_order: String,
    name: Option<String>,
    policy: Option<String>,
    value_hash: Option<Vec<u8>>,
    created_by: Option<String>,
    updated_by: Option<String>,
    updated_ms: Option<i64>,
    version: i64,
    usage: [i64; 3],
    last_used_ms: Option<i64>,
}

impl TokenRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            project_id: row.get(1)?,
            ttl: row.get(2)?,
            created_ms: row.get(3)?,
            creation_order: row.get(4)?,
            name: row.get(5)?,
            policy: row.get(6)?,
            value_hash: row.get(7)?,
            created_by: row.get(8)?,
            updated_by: row.get(9)?,
            updated_ms: row.get(10)?,
            version: row.get(11)?,
            usage: [row.get(12)?, row.get(13)?, row.get(14)?],
            last_used_ms: row.get(15)?,
        })
    }

    fn decode(self) -> Result<UploadToken, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("token {}: {what}", self.id));
        let count = |n: i64, what: &str| u64::try_from(n).map_err(|_| corrupt(what));
        let key = |id: Option<&String>, what: &str| {
            id.map(|id| KeyId::parse(id).map_err(|_| corrupt(what)))
                .transpose()
        };
        let created_at = from_millis(self.created_ms)?;
        Ok(UploadToken {
            id: TokenId::parse(&self.id).map_err(|_| corrupt("id"))?,
            project_id: ProjectId::parse(&self.project_id).map_err(|_| corrupt("project"))?,
            ttl: u32::try_from(self.ttl)
                .ok()
                .and_then(|s| Ttl::from_seconds(s).ok())
                .ok_or_else(|| corrupt("ttl"))?,
            created_at,
            creation_order: self
                .creation_order
                .parse()
                .map_err(|_| corrupt("creation order"))?,
            name: self
                .name
                .as_deref()
                .map(|n| TokenName::parse(n).ok_or_else(|| corrupt("name")))
                .transpose()?,
            policy: stored::decode_policy(self.policy.as_deref())?,
            created_by: key(self.created_by.as_ref(), "created_by")?,
            updated_by: key(self.updated_by.as_ref(), "updated_by")?,
            updated_at: self.updated_ms.map_or(Ok(created_at), from_millis)?,
            usage: TokenUsage {
                uploads: count(self.usage[0], "uploads")?,
                completed_uploads: count(self.usage[1], "completed_uploads")?,
                bytes_received: count(self.usage[2], "bytes_received")?,
                last_used_at: self.last_used_ms.map(from_millis).transpose()?,
            },
            value_hash: self
                .value_hash
                .as_deref()
                .map(|h| SecretHash::from_bytes(h).ok_or_else(|| corrupt("value_hash")))
                .transpose()?,
            version: count(self.version, "version")?,
        })
    }
}

#[async_trait]
impl TokenWriter for EmbeddedStore {
    async fn insert_token(&self, token: &UploadToken) -> Result<(), StoreError> {
        let t = token.clone();
        self.write(move |c| insert_row(c, &t)).await
    }
}

/// Inserts one token row (the triggers count it).
fn insert_row(c: &Connection, t: &UploadToken) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO upload_tokens (id, project_id, ttl, created_ms, creation_order,
                     expires_ms, named, name, policy, max_uploads, value_hash, created_by,
                     updated_by, updated_ms, version, uploads, completed_uploads, bytes_received,
                     last_used_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                     ?17, ?18, ?19)",
        params![
            t.id.as_str(),
            t.project_id.as_str(),
            t.ttl.seconds(),
            millis(t.created_at),
            t.creation_order.to_string(),
            t.expires_at().map(millis),
            !t.value_is_shown(),
            t.name.as_ref().map(TokenName::as_str),
            stored::encode_policy(&t.policy)?,
            t.policy.max_uploads,
            t.value_hash.as_ref().map(|h| h.as_bytes().to_vec()),
            t.created_by.as_ref().map(KeyId::as_str),
            t.updated_by.as_ref().map(KeyId::as_str),
            millis(t.updated_at),
            sql_count(t.version)?,
            sql_count(t.usage.uploads)?,
            sql_count(t.usage.completed_uploads)?,
            sql_count(t.usage.bytes_received)?,
            t.usage.last_used_at.map(millis),
        ],
    )
    .map_err(sql_err)?;
    Ok(())
}

impl EmbeddedStore {
    /// Inserts many tokens in one transaction, as [`TokenWriter::insert_token`] would one by one
    /// (counted by the same triggers). Not an API: for benchmarks that seed large projects
    /// (`tests/benches/list.rs`) without a disk sync per token.
    #[doc(hidden)]
    pub async fn insert_tokens_at_once(&self, tokens: Vec<UploadToken>) -> Result<(), StoreError> {
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(StoreError::backend)?;
            for t in &tokens {
                insert_row(&tx, t)?;
            }
            tx.commit().map_err(StoreError::backend)
        })
        .await
    }
}

#[async_trait]
impl TokenUpdater for EmbeddedStore {
    async fn update_token(
        &self,
        token: &UploadToken,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let t = token.clone();
        let expected = t
            .version
            .checked_sub(1)
            .ok_or_else(|| InternalError::new("update_token without a new version"))?;
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE upload_tokens SET ttl = ?3, expires_ms = ?4, name = ?5, policy = ?6,
                         max_uploads = ?7, updated_by = ?8, updated_ms = ?9, version = ?10
                     WHERE id = ?1 AND project_id = ?2 AND version = ?11
                       AND (expires_ms IS NULL OR expires_ms > ?12)",
                    params![
                        t.id.as_str(),
                        t.project_id.as_str(),
                        t.ttl.seconds(),
                        t.expires_at().map(millis),
                        t.name.as_ref().map(TokenName::as_str),
                        stored::encode_policy(&t.policy)?,
                        t.policy.max_uploads,
                        t.updated_by.as_ref().map(KeyId::as_str),
                        millis(t.updated_at),
                        sql_count(t.version)?,
                        sql_count(expected)?,
                        millis(now),
                    ],
                )
                .map_err(StoreError::backend)?;
            Ok(n == 1)
        })
        .await
    }
}

/// A count or version as SQLite's signed integer.
fn sql_count(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| InternalError::new(format!("count {n} out of range")).into())
}

#[async_trait]
impl TokenReader for EmbeddedStore {
    async fn get_token(
        &self,
        project: &ProjectId,
        id: &TokenId,
        now: DateTime<Utc>,
    ) -> Result<Option<UploadToken>, StoreError> {
        self.token_where(id, Some(project), now).await
    }

    async fn find_token(
        &self,
        id: &TokenId,
        now: DateTime<Utc>,
    ) -> Result<Option<UploadToken>, StoreError> {
        self.token_where(id, None, now).await
    }
}

impl EmbeddedStore {
    /// Every unfinished upload (through the partial index on unfinished uploads: as many rows
    /// as there are uploads under way, never the completed ones): what the abandoned-upload
    /// sweep looks through.
    pub async fn unfinished_uploads(&self) -> Result<Vec<VideoRecord>, StoreError> {
        self.read(move |c| {
            videos_where(
                c,
                "SELECT record, version FROM videos INDEXED BY videos_uploading_by_token
                 WHERE uploading = 1",
                [],
            )
        })
        .await
    }

    async fn token_where(
        &self,
        id: &TokenId,
        project: Option<&ProjectId>,
        now: DateTime<Utc>,
    ) -> Result<Option<UploadToken>, StoreError> {
        let (id, project) = (id.clone(), project.cloned());
        self.point_read(move |c| {
            c.prepare_cached(concat!(
                "SELECT ",
                token_columns!(),
                " FROM upload_tokens
                 WHERE id = ?1 AND (?2 IS NULL OR project_id = ?2)
                   AND (expires_ms IS NULL OR expires_ms > ?3)"
            ))
            .map_err(StoreError::backend)?
            .query_row(
                params![
                    id.as_str(),
                    project.as_ref().map(ProjectId::as_str),
                    millis(now)
                ],
                TokenRow::read,
            )
            .optional()
            .map_err(StoreError::backend)?
            .map(TokenRow::decode)
            .transpose()
        })
        .await
    }
}

#[async_trait]
impl TokenLister for EmbeddedStore {
    async fn list_tokens(
        &self,
        project: &ProjectId,
        query: &ListQuery,
        now: DateTime<Utc>,
    ) -> Result<TokenPage, StoreError> {
        let project = project.clone();
        let query = *query;
        self.read(move |c| {
            // One read transaction: the total and the page are of the same snapshot.
            let tx = c.transaction().map_err(StoreError::backend)?;
            let now = millis(now);
            let total = count_shown(&tx, project.as_str(), now)?;
            let tokens = match query.reading(total) {
                Some(reading) => read_page(&tx, project.as_str(), &query, reading, now)?,
                None => Vec::new(),
            };
            tx.commit().map_err(StoreError::backend)?;
            Ok(TokenPage { tokens, total })
        })
        .await
    }

    async fn list_newest(
        &self,
        project: &ProjectId,
        before: Option<&CreationOrder>,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<UploadToken>, StoreError> {
        let project = project.clone();
        let before = before.map(ToString::to_string);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |c| {
            // A literal bound, not `?2 IS NULL OR …`: only a plain range lets the index start
            // at the cursor instead of scanning down to it.
            let from = if before.is_some() {
                "AND creation_order < ?2"
            } else {
                "AND ?2 IS NULL"
            };
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {TOKEN_COLUMNS} FROM upload_tokens INDEXED BY upload_tokens_newest
                     WHERE project_id = ?1 {from}
                       AND (expires_ms IS NULL OR expires_ms > ?3)
                     ORDER BY creation_order DESC LIMIT ?4"
                ))
                .map_err(StoreError::backend)?;
            stmt.query_map(
                params![project.as_str(), before, millis(now), limit],
                TokenRow::read,
            )
            .map_err(StoreError::backend)?
            .map(|row| row.map_err(StoreError::backend).and_then(TokenRow::decode))
            .collect()
        })
        .await
    }
}

/// How many of the project's shown tokens are active at `now_ms`, in O(1): `live` (inserted
/// minus deleted, kept by triggers) minus the tokens of every expiry bucket up to the current
/// minute, plus those of the current minute still active (an index range of at most a minute's
/// expiries). Expired rows deleted later change `live` and their bucket alike.
fn count_shown(c: &Connection, project: &str, now_ms: i64) -> Result<u64, StoreError> {
    let minute = now_ms.div_euclid(BUCKET_MS);
    let total: i64 = c
        .prepare_cached(
            "SELECT (SELECT ifnull(sum(live), 0) FROM token_counts WHERE project_id = ?1)
                  - (SELECT ifnull(sum(n), 0) FROM token_expiry_buckets
                     WHERE project_id = ?1 AND minute <= ?2)
                  + (SELECT count(*) FROM upload_tokens INDEXED BY upload_tokens_by_expiry
                     WHERE project_id = ?1 AND named = 0
                       AND ifnull(expires_ms, 9223372036854775807) > ?3
                       AND ifnull(expires_ms, 9223372036854775807) < ?4)",
        )
        .map_err(StoreError::backend)?
        .query_row(
            params![project, minute, now_ms, (minute + 1) * BUCKET_MS],
            |r| r.get(0),
        )
        .map_err(StoreError::backend)?;
    Ok(u64::try_from(total).unwrap_or(0))
}

/// One page of the project's shown tokens active at `now_ms`, as `reading` says: the skipped
/// tokens are passed over in a query that reads the order's index alone (keys only), which
/// gives the first token of the page; the page is then read from there.
fn read_page(
    c: &Connection,
    project: &str,
    query: &ListQuery,
    reading: PageReading,
    now_ms: i64,
) -> Result<Vec<UploadToken>, StoreError> {
    let ascending = (query.sort_order() == SortOrder::Asc) != reading.reversed;
    let (dir, from) = if ascending {
        ("ASC", ">=")
    } else {
        ("DESC", "<=")
    };
    // Per order: the index, the active condition as that index can evaluate it, the key, and
    // the key's parts as the first key of a page is read (the expiry, if the key has one, then
    // the rest).
    let (index, active, key, key_columns) = match query.sort_by() {
        SortBy::CreatedAt => (
            "upload_tokens_by_created",
            "(expires_ms IS NULL OR expires_ms > ?2)",
            "creation_order",
            "NULL, creation_order",
        ),
        SortBy::Ttl => (
            "upload_tokens_by_expiry",
            "ifnull(expires_ms, 9223372036854775807) > ?2",
            "(ifnull(expires_ms, 9223372036854775807), id)",
            "ifnull(expires_ms, 9223372036854775807), id",
        ),
    };
    let order = match query.sort_by() {
        SortBy::CreatedAt => format!("creation_order {dir}"),
        SortBy::Ttl => format!("ifnull(expires_ms, 9223372036854775807) {dir}, id {dir}"),
    };
    let shown = format!("project_id = ?1 AND named = 0 AND {active}");
    let take = i64::try_from(reading.take).unwrap_or(i64::MAX);
    let rows = if reading.skip == 0 {
        let mut stmt = c
            .prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM upload_tokens INDEXED BY {index}
                 WHERE {shown} ORDER BY {order} LIMIT ?3"
            ))
            .map_err(StoreError::backend)?;
        stmt.query_map(params![project, now_ms, take], TokenRow::read)
            .map_err(StoreError::backend)?
            .collect::<rusqlite::Result<Vec<_>>>()
    } else {
        // The first key of the page; its row is the page's first, keys being unique.
        let first: Option<(Option<i64>, String)> = cached_row(
            c,
            &format!(
                "SELECT {key_columns} FROM upload_tokens INDEXED BY {index}
                 WHERE {shown} ORDER BY {order} LIMIT 1 OFFSET ?3"
            ),
            params![project, now_ms, sql_offset(reading.skip)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let Some((first_expiry, first_id)) = first else {
            return Ok(Vec::new());
        };
        let bound = match query.sort_by() {
            SortBy::CreatedAt => "?4",
            SortBy::Ttl => "(?5, ?4)",
        };
        let mut stmt = c
            .prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM upload_tokens INDEXED BY {index}
                 WHERE {shown} AND {key} {from} {bound} ORDER BY {order} LIMIT ?3"
            ))
            .map_err(StoreError::backend)?;
        let mut values: Vec<rusqlite::types::Value> = vec![
            project.to_owned().into(),
            now_ms.into(),
            take.into(),
            first_id.into(),
        ];
        values.extend(first_expiry.map(rusqlite::types::Value::from));
        stmt.query_map(rusqlite::params_from_iter(values), TokenRow::read)
            .map_err(StoreError::backend)?
            .collect::<rusqlite::Result<Vec<_>>>()
    }
    .map_err(StoreError::backend)?;
    let mut tokens = rows
        .into_iter()
        .map(TokenRow::decode)
        .collect::<Result<Vec<_>, _>>()?;
    if reading.reversed {
        tokens.reverse();
    }
    Ok(tokens)
}

/// The row `sql` selects with `params`, if any, read through the connection's cache of
/// prepared statements.
fn cached_row<T>(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<T>, StoreError> {
    c.prepare_cached(sql)
        .and_then(|mut stmt| stmt.query_row(params, map).optional())
        .map_err(StoreError::backend)
}

/// An offset as SQLite's signed integer (past `i64::MAX` nothing can match: clamped).
fn sql_offset(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl EmbeddedStore {
    /// Folds the expiry buckets of minutes at least [`FOLD_MARGIN_MINUTES`] before `now` into
    /// their projects' `live` counts, so that a total sums a few buckets, not every minute since
    /// the store began. Changes no total. The local server runs it with its hourly sweep.
    pub async fn fold_expired_counts(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let before = millis(now).div_euclid(BUCKET_MS) - FOLD_MARGIN_MINUTES;
        self.write(move |c| fold_buckets(c, before)).await
    }
}

/// Folds the buckets of minutes before `before`; how many there were.
fn fold_buckets(c: &mut Connection, before: i64) -> Result<usize, StoreError> {
    let tx = c
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(StoreError::backend)?;
    tx.execute(
        "UPDATE token_counts SET live = live - (
             SELECT sum(n) FROM token_expiry_buckets b
             WHERE b.project_id = token_counts.project_id AND b.minute < ?1)
         WHERE project_id IN (SELECT project_id FROM token_expiry_buckets WHERE minute < ?1)",
        [before],
    )
    .map_err(StoreError::backend)?;
    let folded = tx
        .execute(
            "DELETE FROM token_expiry_buckets WHERE minute < ?1",
            [before],
        )
        .map_err(StoreError::backend)?;
    tx.commit().map_err(StoreError::backend)?;
    Ok(folded)
}

#[async_trait]
impl TokenDeleter for EmbeddedStore {
    async fn delete_token(
        &self,
        project: &ProjectId,
        id: &TokenId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (project, id) = (project.clone(), id.clone());
        self.write(move |c| {
            let n = c
                .execute(
                    "DELETE FROM upload_tokens WHERE id = ?1 AND project_id = ?2
                       AND (expires_ms IS NULL OR expires_ms > ?3)",
                    params![id.as_str(), project.as_str(), millis(now)],
                )
                .map_err(StoreError::backend)?;
            Ok(n == 1)
        })
        .await
    }
}

/// Raw columns of an api_keys row.
struct KeyRow {
    key_id: String,
    key_hash: Vec<u8>,
    project_id: String,
    created_ms: i64,
}

const KEY_COLUMNS: &str = "key_id, key_hash, project_id, created_ms";

impl KeyRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            key_id: row.get(0)?,
            key_hash: row.get(1)?,
            project_id: row.get(2)?,
            created_ms: row.get(3)?,
        })
    }

    fn decode(self) -> Result<ApiKeyRecord, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("api key {}: {what}", self.key_id));
        Ok(ApiKeyRecord {
            key_id: KeyId::parse(&self.key_id).map_err(|_| corrupt("id"))?,
            project_id: ProjectId::parse(&self.project_id).map_err(|_| corrupt("project"))?,
            hash: SecretHash::from_bytes(&self.key_hash).ok_or_else(|| corrupt("hash"))?,
            created_at: from_millis(self.created_ms)?,
        })
    }
}

#[async_trait]
impl ApiKeyReader for EmbeddedStore {
    async fn api_key_by_hash(&self, hash: &SecretHash) -> Result<Option<ApiKeyRecord>, StoreError> {
        let hash = hash.clone();
        self.key_where(CachedBy::Hash(hash.clone()), "key_hash", move || {
            rusqlite::types::Value::Blob(hash.as_bytes().to_vec())
        })
        .await
    }

    async fn api_key_by_id(&self, id: &KeyId) -> Result<Option<ApiKeyRecord>, StoreError> {
        let id = id.clone();
        self.key_where(CachedBy::Id(id.clone()), "key_id", move || {
            rusqlite::types::Value::Text(id.as_str().to_owned())
        })
        .await
    }
}

impl EmbeddedStore {
    /// The API key whose `column` is `value`, from the cache when it was read in the last
    /// second ([`super::key_cache`]).
    async fn key_where(
        &self,
        by: CachedBy,
        column: &'static str,
        value: impl Fn() -> rusqlite::types::Value + Send + 'static,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        let started = match self.pool.keys.get(&by) {
            Ok(record) => return Ok(Some(record)),
            Err(started) => started,
        };
        let found = self
            .point_read(move |c| {
                c.prepare_cached(&format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys WHERE {column} = ?1"
                ))
                .map_err(StoreError::backend)?
                .query_row([value()], KeyRow::read)
                .optional()
                .map_err(StoreError::backend)?
                .map(KeyRow::decode)
                .transpose()
            })
            .await?;
        if let Some(record) = &found {
            self.pool.keys.keep(by, record, started);
        }
        Ok(found)
    }
}

#[async_trait]
impl ApiKeyAdmin for EmbeddedStore {
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let k = key.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO api_keys (key_id, key_hash, project_id, created_ms) VALUES (?1, ?2, ?3, ?4)",
                params![
                    k.key_id.as_str(),
                    k.hash.as_bytes().as_slice(),
                    k.project_id.as_str(),
                    millis(k.created_at)
                ],
            )
            .map_err(sql_err)?;
            Ok(())
        })
        .await
    }

    async fn revoke_api_key(&self, id: &KeyId) -> Result<bool, StoreError> {
        let id = id.clone();
        let revoked = self
            .write(move |c| {
                let tx = c
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(StoreError::backend)?;
                let n = tx
                    .execute("DELETE FROM api_keys WHERE key_id = ?1", [id.as_str()])
                    .map_err(StoreError::backend)?;
                tx.execute(
                    "DELETE FROM refresh_tokens WHERE key_id = ?1",
                    [id.as_str()],
                )
                .map_err(StoreError::backend)?;
                tx.commit().map_err(StoreError::backend)?;
                Ok(n == 1)
            })
            .await;
        self.pool.keys.revoked();
        revoked
    }

    async fn list_api_keys(
        &self,
        project: Option<&ProjectId>,
    ) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let project = project.map(|p| p.as_str().to_owned());
        self.read(move |c| {
            let mut stmt = c
                .prepare(&format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys WHERE ?1 IS NULL OR project_id = ?1
                     ORDER BY created_ms, key_id"
                ))
                .map_err(StoreError::backend)?;
            let rows = stmt
                .query_map([&project], KeyRow::read)
                .map_err(StoreError::backend)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(StoreError::backend)?;
            rows.into_iter().map(KeyRow::decode).collect()
        })
        .await
    }
}

#[async_trait]
impl RefreshTokenStore for EmbeddedStore {
    async fn insert_refresh_token(&self, record: &RefreshRecord) -> Result<(), StoreError> {
        let r = record.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO refresh_tokens (token_hash, key_id, project_id, expires_ms)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    r.hash.as_bytes().as_slice(),
                    r.key_id.as_str(),
                    r.project_id.as_str(),
                    millis(r.expires_at)
                ],
            )
            .map_err(sql_err)?;
            Ok(())
        })
        .await
    }

    async fn take_refresh_token(
        &self,
        hash: &SecretHash,
        now: DateTime<Utc>,
    ) -> Result<Option<RefreshRecord>, StoreError> {
        let hash = hash.clone();
        self.write(move |c| {
            let row = c
                .query_row(
                    "DELETE FROM refresh_tokens WHERE token_hash = ?1 AND expires_ms > ?2
                     RETURNING key_id, project_id, expires_ms",
                    params![hash.as_bytes().as_slice(), millis(now)],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                        ))
                    },
                )
                .optional()
                .map_err(StoreError::backend)?;
            row.map(|(key_id, project_id, expires_ms)| {
                Ok(RefreshRecord {
                    hash: hash.clone(),
                    key_id: KeyId::parse(&key_id)
                        .map_err(|_| StoreError::Corrupt("refresh token key".into()))?,
                    project_id: ProjectId::parse(&project_id)
                        .map_err(|_| StoreError::Corrupt("refresh token project".into()))?,
                    expires_at: from_millis(expires_ms)?,
                })
            })
            .transpose()
        })
        .await
    }
}

/// The videos a `SELECT record, version …` query returns.
fn videos_where(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<VideoRecord>, StoreError> {
    let mut stmt = c.prepare_cached(sql).map_err(StoreError::backend)?;
    let rows = stmt
        .query_map(params, |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })
        .map_err(StoreError::backend)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(StoreError::backend)?;
    rows.iter()
        .map(|(record, version)| video_from_row(record, *version))
        .collect()
}

fn video_from_row(record: &str, version: i64) -> Result<VideoRecord, StoreError> {
    let mut video = stored::decode_video(record)?;
    video.version = u64::try_from(version).map_err(|_| StoreError::Corrupt("version".into()))?;
    Ok(video)
}

/// Counts a new video in its token's usage, within the transaction that inserts it: refused
/// when the token is gone or expired at `now`, or started `maxUploads` videos already.
fn count_upload(
    tx: &rusqlite::Transaction<'_>,
    token: &TokenId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let counted = tx
        .execute(
            "UPDATE upload_tokens SET uploads = uploads + 1, last_used_ms = ?2
             WHERE id = ?1 AND (expires_ms IS NULL OR expires_ms > ?2)
               AND (max_uploads IS NULL OR uploads < max_uploads)",
            params![token.as_str(), millis(now)],
        )
        .map_err(StoreError::backend)?;
    if counted == 1 {
        return Ok(());
    }
    let active: bool = tx
        .query_row(
            "SELECT count(*) > 0 FROM upload_tokens
             WHERE id = ?1 AND (expires_ms IS NULL OR expires_ms > ?2)",
            params![token.as_str(), millis(now)],
            |row| row.get(0),
        )
        .map_err(StoreError::backend)?;
    Err(if active {
        StoreError::UploadLimitReached
    } else {
        StoreError::TokenGone
    })
}

fn sql_index(index: u64) -> Result<i64, StoreError> {
    i64::try_from(index)
        .map_err(|_| InternalError::new(format!("chunk index {index} out of range")).into())
}

#[async_trait]
impl VideoStore for EmbeddedStore {
    async fn insert_video(&self, record: &VideoRecord) -> Result<(), StoreError> {
        let r = record.clone();
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(StoreError::backend)?;
            tx.execute(
                "INSERT INTO videos (id, project_id, token_id, uploading, created_ms, version, record)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
                params![
                    r.video.id.as_str(),
                    r.video.project_id.as_str(),
                    r.video.token_id.as_ref().map(TokenId::as_str),
                    r.is_uploading(),
                    millis(r.video.created_at),
                    stored::encode_video(&r)?,
                ],
            )
            .map_err(sql_err)?;
            if let Some(token) = &r.video.token_id {
                count_upload(&tx, token, r.video.created_at)?;
            }
            tx.commit().map_err(StoreError::backend)?;
            Ok(())
        })
        .await
    }

    async fn get_video(&self, id: &VideoId) -> Result<Option<VideoRecord>, StoreError> {
        let id = id.clone();
        self.read(move |c| {
            cached_row(
                c,
                "SELECT record, version FROM videos WHERE id = ?1",
                [id.as_str()],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
            )?
            .map(|(record, version)| video_from_row(&record, version))
            .transpose()
        })
        .await
    }

    async fn update_video(
        &self,
        record: &VideoRecord,
        chunk: Option<(u64, &ReceivedChunk)>,
    ) -> Result<bool, StoreError> {
        let r = record.clone();
        let chunk = chunk.map(|(i, c)| (i, c.clone()));
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(StoreError::backend)?;
            let expected = r
                .version
                .checked_sub(1)
                .and_then(|v| i64::try_from(v).ok())
                .ok_or_else(|| InternalError::new("update_video without a new version"))?;
            let n = tx
                .execute(
                    "UPDATE videos SET uploading = ?2, version = version + 1, record = ?3
                     WHERE id = ?1 AND version = ?4",
                    params![
                        r.video.id.as_str(),
                        r.is_uploading(),
                        stored::encode_video(&r)?,
                        expected
                    ],
                )
                .map_err(StoreError::backend)?;
            if n != 1 {
                return Ok(false);
            }
            if let Some((index, chunk)) = &chunk {
                let inserted = tx.execute(
                    "INSERT INTO video_chunks (video_id, idx, record) VALUES (?1, ?2, ?3)",
                    params![
                        r.video.id.as_str(),
                        sql_index(*index)?,
                        stored::encode_chunk(chunk)?
                    ],
                );
                match inserted.map_err(sql_err) {
                    Ok(_) => {}
                    // Recorded by a concurrent writer: roll everything back.
                    Err(StoreError::AlreadyExists) => return Ok(false),
                    Err(e) => return Err(e),
                }
                if let Some(token) = &r.video.token_id {
                    let counted = tx
                        .execute(
                            "UPDATE upload_tokens SET bytes_received = bytes_received + ?2,
                                 completed_uploads = completed_uploads + ?3, last_used_ms = ?4
                             WHERE id = ?1",
                            params![
                                token.as_str(),
                                sql_count(chunk.size)?,
                                i64::from(!r.is_uploading()),
                                millis(r.video.updated_at),
                            ],
                        )
                        .map_err(StoreError::backend)?;
                    if counted != 1 {
                        return Err(StoreError::TokenGone);
                    }
                }
            }
            tx.commit().map_err(StoreError::backend)?;
            Ok(true)
        })
        .await
    }

    async fn get_chunk(
        &self,
        id: &VideoId,
        index: u64,
    ) -> Result<Option<ReceivedChunk>, StoreError> {
        let id = id.clone();
        self.read(move |c| {
            cached_row(
                c,
                "SELECT record FROM video_chunks WHERE video_id = ?1 AND idx = ?2",
                params![id.as_str(), sql_index(index)?],
                |r| r.get::<_, String>(0),
            )?
            .map(|text| stored::decode_chunk(&text))
            .transpose()
        })
        .await
    }

    async fn delete_video(&self, record: &VideoRecord) -> Result<bool, StoreError> {
        let id = record.video.id.clone();
        let version = record.version;
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(StoreError::backend)?;
            let n = tx
                .execute(
                    "DELETE FROM videos WHERE id = ?1 AND version = ?2",
                    params![id.as_str(), sql_index(version)?],
                )
                .map_err(StoreError::backend)?;
            if n != 1 {
                return Ok(false);
            }
            tx.execute(
                "DELETE FROM video_chunks WHERE video_id = ?1",
                [id.as_str()],
            )
            .map_err(StoreError::backend)?;
            tx.commit().map_err(StoreError::backend)?;
            Ok(true)
        })
        .await
    }

    async fn latest_video_of_token(
        &self,
        token: &TokenId,
    ) -> Result<Option<VideoRecord>, StoreError> {
        let token = token.clone();
        self.read(move |c| {
            let row = c
                .query_row(
                    "SELECT record, version FROM videos WHERE token_id = ?1
                     ORDER BY rowid DESC LIMIT 1",
                    [token.as_str()],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
                )
                .optional()
                .map_err(StoreError::backend)?;
            row.map(|(record, version)| video_from_row(&record, version))
                .transpose()
        })
        .await
    }

    async fn uploading_videos_of_token(
        &self,
        token: &TokenId,
    ) -> Result<Vec<VideoRecord>, StoreError> {
        let token = token.clone();
        self.read(move |c| {
            videos_where(
                c,
                "SELECT record, version FROM videos WHERE token_id = ?1 AND uploading = 1
                 ORDER BY created_ms, id",
                [token.as_str()],
            )
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_not_compiled_again_for_new_values() {
        let dir = tempfile::tempdir().expect("temporary directory");
        EmbeddedStore::open(dir.path()).expect("store");
        let conn = connect(&dir.path().join(DATABASE_FILE)).expect("connection");
        // The list page's first statement, whose `now` (?2) changes on every call.
        let sql = concat!(
            "SELECT ",
            token_columns!(),
            " FROM upload_tokens INDEXED BY upload_tokens_by_created
             WHERE project_id = ?1 AND named = 0 AND (expires_ms IS NULL OR expires_ms > ?2)
             ORDER BY creation_order DESC LIMIT ?3"
        );
        for now in 0..5_i64 {
            let mut stmt = conn.prepare_cached(sql).expect("prepared");
            let mut rows = stmt.query(params!["project", now, 25_i64]).expect("query");
            while rows.next().expect("row").is_some() {}
        }
        let stmt = conn.prepare_cached(sql).expect("prepared");
        assert_eq!(
            stmt.get_status(rusqlite::StatementStatus::RePrepare),
            0,
            "compiled again when a bound value changed"
        );
    }
}
