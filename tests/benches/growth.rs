//! Per-token state at scale: how long a chunk without `videoId` takes on a token with 100,000
//! completed uploads, against the same chunk on a fresh token of the same store in the same
//! run, on the embedded store (SQLite in a temp dir) and on DynamoDB + S3 on moto.
//!
//! Two chunks without `videoId`: a first chunk (`bytes 0-1023/2048`, which reads the token's
//! latest video: `latest_video_of_token`) and a continuation (`part 2/3` after a `part 1/3`,
//! which reads the token's unfinished uploads: `uploading_videos_of_token`). Each run finishes
//! its upload (untimed, with `videoId`), so every run finds the token in the same state. Besides
//! each chunk's time through `dispatch`, the store wrapper [`Timed`] records the time the chunk
//! spent in that per-token read.
//!
//! The 100,000 completed uploads are written straight into the store (what the store holds
//! after them, not 200,000 store transactions): SQLite rows in one transaction; on DynamoDB the
//! `VIDEO#<id>` items by BatchWriteItem and the `UPLOADS#<token>` item with `latestVideoId` and
//! no `videoIds` (completed uploads leave the set). Their records are a real completed upload's
//! record, read back from the store, with a new id, the big token and spread-out dates, encoded
//! by the stores' own encoder. Chunk records (`video_chunks` rows, `CHUNK#` items) and blob bytes
//! of the seeded uploads are not written: nothing on these paths reads them.
//!
//! moto 5.2.5 deep-copies the whole table for every item of a TransactWriteItems and keeps every
//! copy (its model instance tracker): with 100,000 items each chunk's commit takes seconds and
//! leaks ~100 MB a transaction item. So on moto, whole chunks run on a fresh token in an empty
//! table (many runs), and in the seeded table only `GROWTH_MOTO_RUNS` times (default 1) per
//! token; the per-token reads, where the two tokens differ, are called alone many times.
//!
//! Also on DynamoDB, the legacy case: an `UPLOADS#<token>` item whose `videoIds` set still holds
//! ids of completed videos (what versions before 18bd3d6 left), as many as fit a 400 KB item
//! (16,000 by default): the first read of the unfinished uploads prunes them, the next ones are
//! measured again.
//!
//! `./infra/bench.sh growth` runs it (starts moto, writes BENCHMARKS.md). Directly:
//! `cargo bench -p e2e-tests --bench growth` with `UPLOAD_TOKENS_TEST_MOTO_URL` set (see
//! `infra/moto.sh`). Settings (environment): `GROWTH_UPLOADS` (100000), `GROWTH_RUNS` (30),
//! `GROWTH_MOTO_RUNS` (1), `GROWTH_LEGACY_IDS` (16000), `GROWTH_LEGACY_REPEATS` (3),
//! `GROWTH_STORES` (`embedded,dynamodb`).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use upload_tokens_core::auth::{AccessTokenSigner, SecretHash, SigningKey};
use upload_tokens_core::domain::{
    CreationOrder, KeyId, ListQuery, ProjectId, ReceivedChunk, SystemClock, TokenId, Ttl,
    UploadToken, VideoId,
};
use upload_tokens_core::http::{App, AppWithBlobs, MediaSettings, dispatch};
use upload_tokens_core::store::blob::BlobStore;
use upload_tokens_core::store::blob_files::FileBlobStore;
use upload_tokens_core::store::dynamodb::{DynamoStore, schema};
use upload_tokens_core::store::embedded::{DATABASE_FILE, EmbeddedStore};
use upload_tokens_core::store::s3::S3BlobStore;
use upload_tokens_core::store::{
    ApiKeyAdmin, ApiKeyReader, ApiKeyRecord, RefreshRecord, RefreshTokenStore, Store, StoreError,
    TokenDeleter, TokenLister, TokenPage, TokenReader, TokenUpdater, TokenWriter, VideoRecord,
    VideoStore, encode_video_document,
};

mod support;

const KIB: usize = 1024;
/// The per-token reads the two chunk kinds go through.
const LATEST: &str = "latest_video_of_token";
const FIRST: &str = "first (`bytes 0-1023/2048`)";
const CONTINUATION: &str = "continuation (`part 2/3`)";
const UPLOADING: &str = "uploading_videos_of_token";
/// Attribute names of the DynamoDB adapter's video items and `UPLOADS#` item
/// (shared/src/store/dynamodb/videos.rs; the bench reads the seeded state back through the
/// store before measuring, so a renamed attribute fails here rather than measure nothing).
const ATTR_VERSION: &str = "version";
const ATTR_RECORD: &str = "record";
const ATTR_LATEST: &str = "latestVideoId";
const ATTR_VIDEO_IDS: &str = "videoIds";
/// Concurrent BatchWriteItem callers while seeding DynamoDB.
const SEED_TASKS: usize = 8;

struct Settings {
    uploads: usize,
    runs: usize,
    moto_runs: usize,
    legacy_ids: usize,
    legacy_repeats: usize,
    stores: String,
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().expect("a number"))
        .unwrap_or(default)
}

impl Settings {
    fn from_env() -> Self {
        Self {
            uploads: env_number("GROWTH_UPLOADS", 100_000),
            runs: env_number("GROWTH_RUNS", 30),
            moto_runs: env_number("GROWTH_MOTO_RUNS", 1),
            legacy_ids: env_number("GROWTH_LEGACY_IDS", 16_000),
            legacy_repeats: env_number("GROWTH_LEGACY_REPEATS", 3),
            stores: std::env::var("GROWTH_STORES").unwrap_or_else(|_| "embedded,dynamodb".into()),
        }
    }
}

/// A store that records how long its per-token reads took.
struct Timed {
    inner: Arc<dyn Store>,
    reads: Mutex<Vec<(&'static str, Duration)>>,
}

impl Timed {
    fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            reads: Mutex::new(Vec::new()),
        }
    }

    fn take(&self) -> Vec<(&'static str, Duration)> {
        std::mem::take(&mut *self.reads.lock().expect("lock"))
    }

    fn record(&self, what: &'static str, started: Instant) {
        self.reads
            .lock()
            .expect("lock")
            .push((what, started.elapsed()));
    }
}

#[async_trait]
impl TokenWriter for Timed {
    async fn insert_token(&self, token: &UploadToken) -> Result<(), StoreError> {
        self.inner.insert_token(token).await
    }
}

#[async_trait]
impl TokenReader for Timed {
    async fn get_token(
        &self,
        project: &ProjectId,
        id: &TokenId,
        now: DateTime<Utc>,
    ) -> Result<Option<UploadToken>, StoreError> {
        self.inner.get_token(project, id, now).await
    }

    async fn find_token(
        &self,
        id: &TokenId,
        now: DateTime<Utc>,
    ) -> Result<Option<UploadToken>, StoreError> {
        self.inner.find_token(id, now).await
    }
}

#[async_trait]
impl TokenLister for Timed {
    async fn list_tokens(
        &self,
        project: &ProjectId,
        query: &ListQuery,
        now: DateTime<Utc>,
    ) -> Result<TokenPage, StoreError> {
        self.inner.list_tokens(project, query, now).await
    }

    async fn list_newest(
        &self,
        project: &ProjectId,
        before: Option<&CreationOrder>,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<UploadToken>, StoreError> {
        self.inner.list_newest(project, before, limit, now).await
    }
}

#[async_trait]
impl TokenUpdater for Timed {
    async fn update_token(
        &self,
        token: &UploadToken,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.inner.update_token(token, now).await
    }
}

#[async_trait]
impl TokenDeleter for Timed {
    async fn delete_token(
        &self,
        project: &ProjectId,
        id: &TokenId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.inner.delete_token(project, id, now).await
    }
}

#[async_trait]
impl ApiKeyReader for Timed {
    async fn api_key_by_hash(&self, hash: &SecretHash) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.inner.api_key_by_hash(hash).await
    }

    async fn api_key_by_id(&self, id: &KeyId) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.inner.api_key_by_id(id).await
    }
}

#[async_trait]
impl ApiKeyAdmin for Timed {
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        self.inner.insert_api_key(key).await
    }

    async fn revoke_api_key(&self, id: &KeyId) -> Result<bool, StoreError> {
        self.inner.revoke_api_key(id).await
    }

    async fn list_api_keys(
        &self,
        project: Option<&ProjectId>,
    ) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.inner.list_api_keys(project).await
    }
}

#[async_trait]
impl RefreshTokenStore for Timed {
    async fn insert_refresh_token(&self, record: &RefreshRecord) -> Result<(), StoreError> {
        self.inner.insert_refresh_token(record).await
    }

    async fn take_refresh_token(
        &self,
        hash: &SecretHash,
        now: DateTime<Utc>,
    ) -> Result<Option<RefreshRecord>, StoreError> {
        self.inner.take_refresh_token(hash, now).await
    }
}

#[async_trait]
impl VideoStore for Timed {
    async fn insert_video(&self, record: &VideoRecord) -> Result<(), StoreError> {
        self.inner.insert_video(record).await
    }

    async fn get_video(&self, id: &VideoId) -> Result<Option<VideoRecord>, StoreError> {
        self.inner.get_video(id).await
    }

    async fn update_video(
        &self,
        record: &VideoRecord,
        chunk: Option<(u64, &ReceivedChunk)>,
    ) -> Result<bool, StoreError> {
        self.inner.update_video(record, chunk).await
    }

    async fn get_chunk(
        &self,
        id: &VideoId,
        index: u64,
    ) -> Result<Option<ReceivedChunk>, StoreError> {
        self.inner.get_chunk(id, index).await
    }

    async fn delete_video(&self, record: &VideoRecord) -> Result<bool, StoreError> {
        self.inner.delete_video(record).await
    }

    async fn latest_video_of_token(
        &self,
        token: &TokenId,
    ) -> Result<Option<VideoRecord>, StoreError> {
        let started = Instant::now();
        let result = self.inner.latest_video_of_token(token).await;
        self.record(LATEST, started);
        result
    }

    async fn uploading_videos_of_token(
        &self,
        token: &TokenId,
    ) -> Result<Vec<VideoRecord>, StoreError> {
        let started = Instant::now();
        let result = self.inner.uploading_videos_of_token(token).await;
        self.record(UPLOADING, started);
        result
    }
}

/// Pseudo-random bytes, different for every `seed`.
fn data(seed: u64, len: usize) -> Vec<u8> {
    let mut x: u64 = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            (x >> 56) as u8
        })
        .collect()
}

/// One chunk's outcome.
struct Sent {
    elapsed: Duration,
    video_id: String,
    reads: Vec<(&'static str, Duration)>,
}

impl Sent {
    /// Time spent in the per-token read `what` during the request.
    fn read(&self, what: &str) -> Duration {
        self.reads
            .iter()
            .filter(|(name, _)| *name == what)
            .map(|(_, d)| *d)
            .sum()
    }
}

/// A timed chunk: through `dispatch`, and inside it the per-token read.
#[derive(Clone, Copy)]
struct Sample {
    chunk: Duration,
    read: Duration,
}

/// The `/upload` handler over one store.
struct Target {
    media: AppWithBlobs,
    timed: Arc<Timed>,
    store: Arc<dyn Store>,
}

impl Target {
    fn new(store: Arc<dyn Store>, blobs: Arc<dyn BlobStore>) -> Self {
        let timed = Arc::new(Timed::new(store.clone()));
        Self {
            media: AppWithBlobs {
                app: App {
                    store: timed.clone(),
                    clock: Arc::new(SystemClock),
                    signer: AccessTokenSigner::new(SigningKey::new(vec![9u8; 32]).expect("long")),
                },
                blobs,
                settings: MediaSettings::default(),
            },
            timed,
            store,
        }
    }

    async fn token(&self, project: &ProjectId) -> UploadToken {
        let token = UploadToken::create(project.clone(), Ttl::NEVER, Utc::now());
        self.store.insert_token(&token).await.expect("token stored");
        token
    }

    async fn send(
        &self,
        token: &UploadToken,
        video_id: Option<&str>,
        range: &str,
        piece: &[u8],
    ) -> Sent {
        let boundary = "growth-boundary-51c3";
        let mut body = Vec::with_capacity(piece.len() + 512);
        if let Some(id) = video_id {
            write!(
                body,
                "--{boundary}\r\nContent-Disposition: form-data; name=\"videoId\"\r\n\r\n{id}\r\n"
            )
            .expect("write");
        }
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"growth.mp4\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .expect("write");
        body.extend_from_slice(piece);
        write!(body, "\r\n--{boundary}--\r\n").expect("write");
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("/upload?token={}", token.id))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header("content-range", range)
            .body(Bytes::from(body))
            .expect("request");
        self.timed.take();
        let started = Instant::now();
        let response = dispatch(&self.media, request).await;
        let elapsed = started.elapsed();
        let reads = self.timed.take();
        assert_eq!(
            response.status(),
            201,
            "{range}: {}",
            String::from_utf8_lossy(response.body())
        );
        let json: serde_json::Value = serde_json::from_slice(response.body()).expect("video json");
        let video_id = json["videoId"].as_str().expect("videoId").to_owned();
        Sent {
            elapsed,
            video_id,
            reads,
        }
    }

    /// A first chunk without `videoId` (timed), then the last chunk with it.
    async fn first_chunk(&self, token: &UploadToken, seed: u64) -> Sample {
        let bytes = data(seed, 2 * KIB);
        let first = self
            .send(token, None, "bytes 0-1023/2048", &bytes[..KIB])
            .await;
        self.send(
            token,
            Some(&first.video_id),
            "bytes 1024-2047/2048",
            &bytes[KIB..],
        )
        .await;
        Sample {
            chunk: first.elapsed,
            read: first.read(LATEST),
        }
    }

    /// `part 1/3` and `part 2/3` (timed) without `videoId`, then `part 3/3` with it.
    async fn continuation(&self, token: &UploadToken, seed: u64) -> Sample {
        let bytes = data(seed, 3 * KIB);
        let one = self.send(token, None, "part 1/3", &bytes[..KIB]).await;
        let two = self
            .send(token, None, "part 2/3", &bytes[KIB..2 * KIB])
            .await;
        assert_eq!(two.video_id, one.video_id, "part 2/3 continued part 1/3");
        self.send(token, Some(&one.video_id), "part 3/3", &bytes[2 * KIB..])
            .await;
        Sample {
            chunk: two.elapsed,
            read: two.read(UPLOADING),
        }
    }

    /// The record a real completed two-chunk upload leaves, read back from the store.
    async fn completed_record(&self, project: &ProjectId) -> VideoRecord {
        let scratch = self.token(project).await;
        self.first_chunk(&scratch, 0).await;
        let latest = self
            .store
            .latest_video_of_token(&scratch.id)
            .await
            .expect("read")
            .expect("the scratch upload");
        assert!(latest.progress.completed && latest.blob.completed);
        latest
    }
}

/// Samples of one token over the runs.
#[derive(Default)]
struct Series {
    first: Vec<Sample>,
    continuation: Vec<Sample>,
}

/// Interleaves the targets' runs (rotating which goes first) after `warmup` untimed rounds.
async fn measure(
    targets: &[(&Target, &UploadToken)],
    warmup: usize,
    runs: usize,
    kinds: (bool, bool),
    seed: &mut u64,
) -> Vec<Series> {
    let mut series: Vec<Series> = targets.iter().map(|_| Series::default()).collect();
    for round in 0..warmup + runs {
        for k in 0..targets.len() {
            let i = (k + round) % targets.len();
            let (target, token) = targets[i];
            *seed += 1;
            if kinds.0 {
                let sample = target.first_chunk(token, *seed).await;
                if round >= warmup {
                    series[i].first.push(sample);
                }
            }
            if kinds.1 {
                let sample = target.continuation(token, *seed).await;
                if round >= warmup {
                    series[i].continuation.push(sample);
                }
            }
        }
        eprintln!("  round {}/{} done", round + 1, warmup + runs);
    }
    series
}

/// The record of the `i`-th seeded upload of `token`: `template` with a new id and dates.
fn seeded(template: &VideoRecord, token: &TokenId, at: DateTime<Utc>) -> VideoRecord {
    let mut record = template.clone();
    record.video.id = VideoId::generate();
    record.video.token_id = Some(token.clone());
    record.video.created_at = at;
    record.video.updated_at = at + TimeDelta::milliseconds(200);
    record.video.published_at = Some(at + TimeDelta::milliseconds(200));
    record
}

/// Creation instants spread one second apart, ending a minute ago.
fn seed_times(n: usize) -> impl Iterator<Item = DateTime<Utc>> {
    let start = Utc::now() - TimeDelta::seconds(n as i64 + 60);
    let start = DateTime::from_timestamp_millis(start.timestamp_millis()).expect("valid");
    (0..n).map(move |i| start + TimeDelta::seconds(i as i64))
}

/// Writes `n` completed uploads of `token` as the embedded store would hold them, in one SQL
/// transaction (the store's `insert_video` columns, `uploading = 0`); their ids, oldest first.
fn seed_sqlite(
    data_dir: &std::path::Path,
    template: &VideoRecord,
    token: &TokenId,
    n: usize,
) -> Vec<VideoId> {
    let mut conn = rusqlite::Connection::open(data_dir.join(DATABASE_FILE)).expect("open");
    let tx = conn.transaction().expect("transaction");
    let mut ids = Vec::with_capacity(n);
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO videos (id, project_id, token_id, uploading, created_ms, version, record)
                 VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6)",
            )
            .expect("prepare");
        for at in seed_times(n) {
            let record = seeded(template, token, at);
            insert
                .execute(rusqlite::params![
                    record.video.id.as_str(),
                    record.video.project_id.as_str(),
                    token.as_str(),
                    at.timestamp_millis(),
                    i64::try_from(record.version).expect("small"),
                    encode_video_document(&record).expect("encodes"),
                ])
                .expect("insert");
            ids.push(record.video.id);
        }
    }
    tx.commit().expect("commit");
    ids
}

/// Writes `n` completed uploads of `token` as the DynamoDB store would hold them: the
/// `VIDEO#<id>` items (BatchWriteItem, 25 a call, [`SEED_TASKS`] callers) and the
/// `UPLOADS#<token>` item with the latest id and no unfinished uploads.
async fn seed_dynamodb(
    store: &DynamoStore,
    template: &VideoRecord,
    token: &TokenId,
    n: usize,
) -> Vec<VideoId> {
    let mut ids = Vec::with_capacity(n);
    let mut requests = Vec::with_capacity(n);
    for at in seed_times(n) {
        let record = seeded(template, token, at);
        let item = HashMap::from([
            (
                schema::PK.to_owned(),
                AttributeValue::S(format!("VIDEO#{}", record.video.id)),
            ),
            (
                schema::PROJECT_ID.to_owned(),
                AttributeValue::S(record.video.project_id.to_string()),
            ),
            (
                ATTR_VERSION.to_owned(),
                AttributeValue::N(record.version.to_string()),
            ),
            (
                ATTR_RECORD.to_owned(),
                AttributeValue::S(encode_video_document(&record).expect("encodes")),
            ),
        ]);
        requests.push(
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .set_item(Some(item))
                        .build()
                        .expect("put"),
                )
                .build(),
        );
        ids.push(record.video.id);
    }
    let batches: Vec<Vec<WriteRequest>> = requests.chunks(25).map(<[_]>::to_vec).collect();
    let batches = Arc::new(Mutex::new(batches));
    let mut tasks = Vec::new();
    for _ in 0..SEED_TASKS {
        let (client, table, batches) = (
            store.client().clone(),
            store.table().to_owned(),
            batches.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(mut batch) = batches.lock().expect("lock").pop() else {
                    return;
                };
                while !batch.is_empty() {
                    let out = client
                        .batch_write_item()
                        .request_items(&table, std::mem::take(&mut batch))
                        .send()
                        .await
                        .expect("batch write");
                    if let Some(rest) = out.unprocessed_items().and_then(|u| u.get(&table)) {
                        batch = rest.clone();
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("seeding task");
    }
    let latest = ids.last().expect("at least one upload");
    store
        .client()
        .put_item()
        .table_name(store.table())
        .item(schema::PK, AttributeValue::S(format!("UPLOADS#{token}")))
        .item(ATTR_LATEST, AttributeValue::S(latest.to_string()))
        .send()
        .await
        .expect("uploads item");
    ids
}

/// The seeded state reads back through the store as the store's own writes would.
async fn verify_seeded(store: &dyn Store, token: &TokenId, ids: &[VideoId]) {
    let latest = store
        .latest_video_of_token(token)
        .await
        .expect("latest")
        .expect("a latest video");
    assert_eq!(
        Some(&latest.video.id),
        ids.last(),
        "latest is the last seeded"
    );
    assert!(latest.progress.completed, "seeded uploads are completed");
    let first = store
        .get_video(&ids[0])
        .await
        .expect("read")
        .expect("seeded video");
    assert_eq!(first.video.token_id.as_ref(), Some(token));
    assert!(first.progress.completed);
    assert!(
        store
            .uploading_videos_of_token(token)
            .await
            .expect("uploading")
            .is_empty(),
        "no unfinished uploads"
    );
}

/// `UPLOADS#<token>`'s `videoIds`, read from the table.
async fn upload_set(store: &DynamoStore, token: &TokenId) -> usize {
    let out = store
        .client()
        .get_item()
        .table_name(store.table())
        .key(schema::PK, AttributeValue::S(format!("UPLOADS#{token}")))
        .consistent_read(true)
        .send()
        .await
        .expect("get");
    out.item()
        .and_then(|i| i.get(ATTR_VIDEO_IDS))
        .and_then(|v| v.as_ss().ok())
        .map_or(0, Vec::len)
}

#[derive(Clone, Copy)]
struct Stats {
    median: f64,
    p90: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn stats(durations: impl Iterator<Item = Duration>) -> Stats {
    let mut ms: Vec<f64> = durations.map(|d| d.as_secs_f64() * 1000.0).collect();
    assert!(!ms.is_empty(), "no samples");
    ms.sort_by(f64::total_cmp);
    let median = if ms.len().is_multiple_of(2) {
        (ms[ms.len() / 2 - 1] + ms[ms.len() / 2]) / 2.0
    } else {
        ms[ms.len() / 2]
    };
    Stats {
        median,
        p90: percentile(&ms, 90.0),
    }
}

struct Row {
    store: &'static str,
    what: String,
    token: String,
    runs: usize,
    /// Whole chunks through `dispatch` (`None`: the store read was called alone).
    chunk_ms: Option<Stats>,
    read_ms: Stats,
    /// Medians of the baseline's (chunk, read), for the ratios.
    baseline: Option<(Option<f64>, f64)>,
}

impl Row {
    /// Whole chunks, with the per-token read they went through; ratios against `baseline`.
    fn chunks(
        store: &'static str,
        what: &str,
        token: &str,
        samples: &[Sample],
        baseline: Option<&[Sample]>,
    ) -> Self {
        Self {
            store,
            what: what.to_owned(),
            token: token.to_owned(),
            runs: samples.len(),
            chunk_ms: Some(stats(samples.iter().map(|s| s.chunk))),
            read_ms: stats(samples.iter().map(|s| s.read)),
            baseline: baseline.map(|b| {
                (
                    Some(stats(b.iter().map(|s| s.chunk)).median),
                    stats(b.iter().map(|s| s.read)).median,
                )
            }),
        }
    }

    /// A store read called alone; ratio against `baseline`.
    fn reads(
        store: &'static str,
        what: &str,
        token: &str,
        samples: &[Duration],
        baseline: &[Duration],
    ) -> Self {
        Self {
            store,
            what: what.to_owned(),
            token: token.to_owned(),
            runs: samples.len(),
            chunk_ms: None,
            read_ms: stats(samples.iter().copied()),
            baseline: Some((None, stats(baseline.iter().copied()).median)),
        }
    }
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

async fn embedded(settings: &Settings, rows: &mut Vec<Row>, seeding: &mut Vec<String>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(EmbeddedStore::open(dir.path()).expect("store"));
    let blobs = Arc::new(FileBlobStore::new(dir.path().join("blobs")).expect("blobs"));
    let target = Target::new(store.clone(), blobs);
    let project = ProjectId::generate();
    let big = target.token(&project).await;
    let fresh = target.token(&project).await;
    let template = target.completed_record(&project).await;
    let n = settings.uploads;
    eprintln!("embedded: seeding {n} completed uploads");
    let started = Instant::now();
    let path = dir.path().to_owned();
    let big_id = big.id.clone();
    let ids = tokio::task::spawn_blocking(move || seed_sqlite(&path, &template, &big_id, n))
        .await
        .expect("seeding");
    let seconds = started.elapsed().as_secs_f64();
    seeding.push(format!(
        "| embedded (SQLite) | {} `videos` rows of completed uploads, one token | one SQL transaction (the store's `insert_video` columns) | {seconds:.1} |",
        thousands(n)
    ));
    verify_seeded(store.as_ref(), &big.id, &ids).await;
    eprintln!("embedded: seeded in {seconds:.1} s; measuring");
    let mut seed = 1_000;
    let series = measure(
        &[(&target, &fresh), (&target, &big)],
        2,
        settings.runs,
        (true, true),
        &mut seed,
    )
    .await;
    let label = format!("{} completed uploads", thousands(n));
    let name = "embedded (SQLite)";
    for (what, pick) in [
        (
            FIRST,
            (|s: &Series| s.first.clone()) as fn(&Series) -> Vec<Sample>,
        ),
        (CONTINUATION, |s: &Series| s.continuation.clone()),
    ] {
        let base = pick(&series[0]);
        rows.push(Row::chunks(
            name,
            what,
            "fresh, in the same database",
            &base,
            Some(&base),
        ));
        rows.push(Row::chunks(
            name,
            what,
            &label,
            &pick(&series[1]),
            Some(&base),
        ));
    }
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_subsec_nanos()
    )
}

/// Reads on each token, called alone, interleaved (rotating which goes first): the token's
/// latest video, and its unfinished uploads (`unfinished` of them expected).
async fn direct_reads(
    store: &dyn Store,
    tokens: &[&TokenId],
    warmup: usize,
    runs: usize,
    unfinished: usize,
) -> Vec<(Vec<Duration>, Vec<Duration>)> {
    let mut out: Vec<(Vec<Duration>, Vec<Duration>)> =
        tokens.iter().map(|_| (Vec::new(), Vec::new())).collect();
    for round in 0..warmup + runs {
        for k in 0..tokens.len() {
            let i = (k + round) % tokens.len();
            let started = Instant::now();
            let latest = store.latest_video_of_token(tokens[i]).await.expect("read");
            let latest_took = started.elapsed();
            assert!(latest.is_some(), "the token has a latest video");
            let started = Instant::now();
            let uploading = store
                .uploading_videos_of_token(tokens[i])
                .await
                .expect("read");
            let uploading_took = started.elapsed();
            assert_eq!(uploading.len(), unfinished, "unfinished uploads");
            if round >= warmup {
                out[i].0.push(latest_took);
                out[i].1.push(uploading_took);
            }
        }
    }
    out
}

async fn dynamodb(settings: &Settings, rows: &mut Vec<Row>, seeding: &mut Vec<String>) {
    let config = support::moto_config("growth").await;
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let bucket = unique("growth");
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("bucket");
    let blobs: Arc<dyn BlobStore> = Arc::new(S3BlobStore::new(s3, bucket));
    let big_table = unique("growth");
    let empty_table = unique("growth-empty");
    for table in [&big_table, &empty_table] {
        schema::create_table(&dynamo, table).await.expect("table");
    }
    let store = Arc::new(DynamoStore::new(dynamo.clone(), big_table));
    let target = Target::new(store.clone(), blobs.clone());
    let empty_target = Target::new(Arc::new(DynamoStore::new(dynamo, empty_table)), blobs);
    let project = ProjectId::generate();
    let big = target.token(&project).await;
    let fresh = target.token(&project).await;
    let fresh_alone = empty_target.token(&project).await;
    let template = target.completed_record(&project).await;
    let name = "DynamoDB + S3 (moto)";

    // Whole chunks where moto's per-transaction table copy costs nothing: a table of their own.
    eprintln!("dynamodb: whole chunks on a fresh token in an empty table");
    let mut seed = 2_000_000;
    let alone = measure(
        &[(&empty_target, &fresh_alone)],
        2,
        settings.runs,
        (true, true),
        &mut seed,
    )
    .await;
    let alone_label = "fresh, in an empty table";
    rows.push(Row::chunks(name, FIRST, alone_label, &alone[0].first, None));
    rows.push(Row::chunks(
        name,
        CONTINUATION,
        alone_label,
        &alone[0].continuation,
        None,
    ));

    // The fresh token of the seeded table gets its first upload while the table is small, so
    // that it has a latest video, like the big token, when its single runs are timed.
    seed += 1;
    target.first_chunk(&fresh, seed).await;

    let n = settings.uploads;
    eprintln!("dynamodb: seeding {n} completed uploads");
    let started = Instant::now();
    let ids = seed_dynamodb(&store, &template, &big.id, n).await;
    let seconds = started.elapsed().as_secs_f64();
    seeding.push(format!(
        "| DynamoDB (moto) | {} `VIDEO#` items of completed uploads and the token's `UPLOADS#` item (`latestVideoId`, no `videoIds`) | BatchWriteItem, 25 items a call, {SEED_TASKS} concurrent callers, then one PutItem | {seconds:.1} |",
        thousands(n)
    ));
    verify_seeded(store.as_ref(), &big.id, &ids).await;
    let label = format!("{} completed uploads", thousands(n));
    let beside = format!("fresh, in the table of the {label}");

    // Whole chunks in the seeded table: few, because moto deep-copies the whole table for every
    // item of a TransactWriteItems and keeps the copies (its model instance tracker), seconds
    // and ~100 MB each.
    if settings.moto_runs > 0 {
        eprintln!("dynamodb: seeded in {seconds:.1} s; whole chunks in the seeded table");
        let series = measure(
            &[(&target, &fresh), (&target, &big)],
            0,
            settings.moto_runs,
            (true, true),
            &mut seed,
        )
        .await;
        for (what, pick) in [
            (
                FIRST,
                (|s: &Series| s.first.clone()) as fn(&Series) -> Vec<Sample>,
            ),
            (CONTINUATION, |s: &Series| s.continuation.clone()),
        ] {
            let base = pick(&series[0]);
            rows.push(Row::chunks(name, what, &beside, &base, Some(&base)));
            rows.push(Row::chunks(
                name,
                what,
                &label,
                &pick(&series[1]),
                Some(&base),
            ));
        }
    }

    // The per-token reads alone, many times: each token with one unfinished upload (a `part
    // 1/3`), as a continuation finds it.
    eprintln!("dynamodb: per-token reads");
    for token in [&fresh, &big] {
        seed += 1;
        let bytes = data(seed, KIB);
        target.send(token, None, "part 1/3", &bytes).await;
    }
    let reads = direct_reads(store.as_ref(), &[&fresh.id, &big.id], 2, settings.runs, 1).await;
    let latest_what = "`latest_video_of_token` alone (a first chunk's read)";
    let uploading_what =
        "`uploading_videos_of_token` alone (a continuation's read), one unfinished upload";
    rows.push(Row::reads(
        name,
        latest_what,
        &beside,
        &reads[0].0,
        &reads[0].0,
    ));
    rows.push(Row::reads(
        name,
        latest_what,
        &label,
        &reads[1].0,
        &reads[0].0,
    ));
    rows.push(Row::reads(
        name,
        uploading_what,
        &beside,
        &reads[0].1,
        &reads[0].1,
    ));
    rows.push(Row::reads(
        name,
        uploading_what,
        &label,
        &reads[1].1,
        &reads[0].1,
    ));

    // The legacy set: completed ids left in `videoIds` by versions before 18bd3d6.
    if settings.legacy_repeats == 0 {
        return;
    }
    let k = settings.legacy_ids.min(ids.len());
    let mut latest_before = Vec::new();
    let mut pruning = Vec::new();
    let mut writes = Vec::new();
    for repeat in 0..settings.legacy_repeats {
        let started = Instant::now();
        store
            .client()
            .update_item()
            .table_name(store.table())
            .key(schema::PK, AttributeValue::S(format!("UPLOADS#{}", big.id)))
            .update_expression("ADD #ids :ids")
            .expression_attribute_names("#ids", ATTR_VIDEO_IDS)
            .expression_attribute_values(
                ":ids",
                AttributeValue::Ss(ids[..k].iter().map(ToString::to_string).collect()),
            )
            .send()
            .await
            .expect("legacy set written");
        writes.push(started.elapsed().as_secs_f64());
        assert_eq!(
            upload_set(&store, &big.id).await,
            k + 1,
            "legacy set and the unfinished upload"
        );
        let started = Instant::now();
        store.latest_video_of_token(&big.id).await.expect("read");
        latest_before.push(started.elapsed());
        let started = Instant::now();
        let uploading = store
            .uploading_videos_of_token(&big.id)
            .await
            .expect("read");
        pruning.push(started.elapsed());
        assert_eq!(uploading.len(), 1, "only the unfinished upload");
        assert_eq!(
            upload_set(&store, &big.id).await,
            1,
            "the first read pruned the completed ids"
        );
        eprintln!(
            "  legacy {}/{}: latest {:.1} ms, first unfinished-uploads read (prunes) {:.0} ms",
            repeat + 1,
            settings.legacy_repeats,
            latest_before[repeat].as_secs_f64() * 1000.0,
            pruning[repeat].as_secs_f64() * 1000.0
        );
    }
    let after = direct_reads(store.as_ref(), &[&fresh.id, &big.id], 0, settings.runs, 1).await;
    let legacy = format!(
        "{label}, legacy `videoIds` set of {} completed ids",
        thousands(k)
    );
    rows.push(Row::reads(
        name,
        "`latest_video_of_token` alone, before pruning",
        &legacy,
        &latest_before,
        &reads[0].0,
    ));
    rows.push(Row::reads(
        name,
        "`uploading_videos_of_token` alone, first read: prunes the set",
        &legacy,
        &pruning,
        &reads[0].1,
    ));
    rows.push(Row::reads(
        name,
        "`uploading_videos_of_token` alone, next reads (after pruning)",
        &label,
        &after[1].1,
        &after[0].1,
    ));
    writes.sort_by(f64::total_cmp);
    seeding.push(format!(
        "| DynamoDB (moto) | legacy `videoIds` set of {} ids on the token's `UPLOADS#` item | one UpdateItem (`ADD`), before each of the {} repeats | {:.2} (median) |",
        thousands(k),
        settings.legacy_repeats,
        writes[writes.len() / 2]
    ));
}

fn main() {
    let settings = Settings::from_env();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut rows = Vec::new();
    let mut seeding = Vec::new();
    runtime.block_on(async {
        if settings.stores.contains("embedded") {
            embedded(&settings, &mut rows, &mut seeding).await;
        }
        if settings.stores.contains("dynamodb") {
            dynamodb(&settings, &mut rows, &mut seeding).await;
        }
    });
    println!(
        "| store | chunk without `videoId`, or store read | token | runs | chunk median (ms) | chunk p90 (ms) | chunk vs fresh token | per-token read median (ms) | read p90 (ms) | read vs fresh token |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|");
    let dash = || "–".to_owned();
    for row in &rows {
        let (chunk_median, chunk_p90) = row.chunk_ms.map_or_else(
            || (dash(), dash()),
            |c| (format!("{:.2}", c.median), format!("{:.2}", c.p90)),
        );
        let chunk_ratio = match (row.chunk_ms, row.baseline) {
            (Some(c), Some((Some(base), _))) => format!("{:.2}×", c.median / base),
            _ => dash(),
        };
        let read_ratio = row.baseline.map_or_else(dash, |(_, base)| {
            format!("{:.2}×", row.read_ms.median / base)
        });
        println!(
            "| {} | {} | {} | {} | {chunk_median} | {chunk_p90} | {chunk_ratio} | {:.2} | {:.2} | {read_ratio} |",
            row.store, row.what, row.token, row.runs, row.read_ms.median, row.read_ms.p90,
        );
    }
    println!();
    println!("| store | seeded | how | seconds |");
    println!("|---|---|---|---:|");
    for line in &seeding {
        println!("{line}");
    }
}
