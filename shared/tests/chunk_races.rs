//! The upload machinery under racing writers, on the embedded store (SQLite and files): two
//! requests sending the same chunk at once get exactly one acknowledgement between them, and the
//! stored file holds the acknowledged request's bytes.

use bytes::Bytes;
use upload_tokens_core::domain::{ContentRange, ProjectId, SystemClock, Ttl, UploadToken};
use upload_tokens_core::store::TokenWriter;
use upload_tokens_core::store::blob_files::FileBlobStore;
use upload_tokens_core::store::embedded::EmbeddedStore;
use upload_tokens_core::usecases::UseCaseError;
use upload_tokens_core::usecases::chunks::{Accepted, ChunkDeps, accept_upload_chunk};

const MIB: usize = 1024 * 1024;

struct Subject {
    store: EmbeddedStore,
    blobs: FileBlobStore,
    clock: SystemClock,
    token: UploadToken,
    _dir: tempfile::TempDir,
}

impl Subject {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = EmbeddedStore::open(dir.path()).expect("store");
        let blobs = FileBlobStore::new(dir.path().join("blobs")).expect("blobs");
        let token = UploadToken::create(ProjectId::generate(), Ttl::NEVER, chrono::Utc::now());
        store.insert_token(&token).await.expect("token");
        Self {
            store,
            blobs,
            clock: SystemClock,
            token,
            _dir: dir,
        }
    }

    fn deps(&self) -> ChunkDeps<'_> {
        ChunkDeps {
            videos: &self.store,
            blobs: &self.blobs,
            clock: &self.clock,
            max_file_bytes: 1 << 40,
            abandon_after: upload_tokens_core::store::DEFAULT_ABANDON_AFTER,
            policy: &self.token.policy,
        }
    }

    async fn send(
        &self,
        video: Option<&str>,
        range: &str,
        bytes: &Bytes,
    ) -> Result<Accepted, UseCaseError> {
        let range = ContentRange::parse(Some(range)).expect("valid range");
        accept_upload_chunk(
            self.deps(),
            &self.token,
            video,
            None,
            None,
            range,
            bytes.clone().into(),
        )
        .await
    }
}

fn filled(len: usize, seed: u8) -> Bytes {
    Bytes::from(
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect::<Vec<u8>>(),
    )
}

/// Races chunk `n` of 3 (each `size` bytes) with two different contents; returns the file.
async fn race(n: u32, size: usize) -> (Vec<u8>, Vec<u8>) {
    let s = Subject::new().await;
    let first = filled(size, 1);
    let video = s
        .send(None, "part 1/3", &first)
        .await
        .expect("first chunk")
        .record
        .video
        .id
        .to_string();
    let mut expected = first.to_vec();
    if n == 3 {
        let second = filled(size, 2);
        s.send(Some(&video), "part 2/3", &second)
            .await
            .expect("second");
        expected.extend_from_slice(&second);
    }
    let (a, b) = (filled(size, 10), filled(size, 20));
    let range = format!("part {n}/3");
    let (ra, rb) = tokio::join!(
        s.send(Some(&video), &range, &a),
        s.send(Some(&video), &range, &b)
    );
    let winner = match (&ra, &rb) {
        (Ok(x), Err(_)) if x.stored => &a,
        (Err(_), Ok(y)) if y.stored => &b,
        other => panic!("exactly one of two different chunks is acknowledged: {other:?}"),
    };
    for loser in [&ra, &rb].into_iter().filter_map(|r| r.as_ref().err()) {
        assert!(
            matches!(loser, UseCaseError::Rule(_) | UseCaseError::Busy),
            "the loser is refused as a conflict (or busy), never a failure: {loser:?}"
        );
    }
    expected.extend_from_slice(winner);
    if n == 2 {
        let third = filled(size, 3);
        s.send(Some(&video), "part 3/3", &third)
            .await
            .expect("third");
        expected.extend_from_slice(&third);
    }
    let key = format!("videos/{video}/source");
    (
        std::fs::read(s.blobs.path(&key)).expect("complete file"),
        expected,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_different_bytes_on_a_middle_chunk_store_the_winners() {
    for _ in 0..4 {
        let (stored, expected) = race(2, MIB).await;
        assert!(stored == expected, "the file holds the acknowledged bytes");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_different_bytes_on_the_last_chunk_store_the_winners() {
    for _ in 0..4 {
        let (stored, expected) = race(3, MIB).await;
        assert!(stored == expected, "the file holds the acknowledged bytes");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_identical_bytes_are_both_acknowledged_and_stored_once() {
    let s = Subject::new().await;
    let first = filled(MIB, 1);
    let video = s.send(None, "part 1/2", &first).await.expect("first");
    let video = video.record.video.id.to_string();
    let last = filled(MIB, 2);
    let (ra, rb) = tokio::join!(
        s.send(Some(&video), "part 2/2", &last),
        s.send(Some(&video), "part 2/2", &last)
    );
    let (ra, rb) = (ra.expect("acknowledged"), rb.expect("acknowledged"));
    assert_eq!(
        u8::from(ra.stored) + u8::from(rb.stored),
        1,
        "stored once, recognised once"
    );
    let stored = std::fs::read(s.blobs.path(&format!("videos/{video}/source"))).expect("file");
    assert!(stored == [first.to_vec(), last.to_vec()].concat());
}
