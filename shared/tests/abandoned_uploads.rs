//! Abandoned uploads (SPEC §4): an unfinished upload without a chunk for the abandoned-upload
//! period is removed (record, staged bytes, parts, partial file) and resuming it answers 404,
//! never 500; so does an upload whose stored bytes the bucket's lifecycle rules removed. On the
//! embedded store (SQLite and files) and on DynamoDB + S3 (moto; required in CI).

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::types::AttributeValue;
use bytes::Bytes;
use chrono::{TimeDelta, Utc};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use upload_tokens_core::domain::{ContentRange, ManualClock, ProjectId, Ttl, UploadToken};
use upload_tokens_core::store::blob::BlobStore;
use upload_tokens_core::store::blob_files::FileBlobStore;
use upload_tokens_core::store::dynamodb::{DynamoStore, schema};
use upload_tokens_core::store::embedded::EmbeddedStore;
use upload_tokens_core::store::s3::S3BlobStore;
use upload_tokens_core::store::{TokenWriter, VideoStore};
use upload_tokens_core::usecases::chunks::{Accepted, ChunkDeps, accept_upload_chunk};
use upload_tokens_core::usecases::{UseCaseError, abandoned};

const MIB: usize = 1024 * 1024;
const PERIOD: Duration = Duration::from_secs(7 * 24 * 3600);

struct Subject<V, B> {
    videos: V,
    blobs: B,
    clock: ManualClock,
    token: UploadToken,
    aws: Option<(aws_sdk_s3::Client, String, aws_sdk_dynamodb::Client, String)>,
    _dir: Option<tempfile::TempDir>,
}

async fn embedded() -> Subject<EmbeddedStore, FileBlobStore> {
    let dir = tempfile::tempdir().expect("temp dir");
    let videos = EmbeddedStore::open(dir.path()).expect("store");
    let blobs = FileBlobStore::new(dir.path().join("blobs")).expect("blobs");
    let token = UploadToken::create(ProjectId::generate(), Ttl::NEVER, Utc::now());
    videos.insert_token(&token).await.expect("token");
    Subject {
        videos,
        blobs,
        clock: ManualClock::new(Utc::now()),
        token,
        aws: None,
        _dir: Some(dir),
    }
}

async fn aws(test: &str) -> Option<Subject<DynamoStore, S3BlobStore>> {
    let url = test_gate::require_moto(test)?;
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "abandoned-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        Utc::now().timestamp_subsec_nanos()
    );
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    schema::create_table(&dynamo, &name).await.expect("table");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket(&name)
        .send()
        .await
        .expect("bucket");
    let videos = DynamoStore::new(dynamo.clone(), &name).abandoning_uploads_after(PERIOD);
    let token = UploadToken::create(ProjectId::generate(), Ttl::NEVER, Utc::now());
    videos.insert_token(&token).await.expect("token");
    Some(Subject {
        videos,
        blobs: S3BlobStore::new(s3.clone(), &name),
        clock: ManualClock::new(Utc::now()),
        token,
        aws: Some((s3, name.clone(), dynamo, name)),
        _dir: None,
    })
}

impl<V: VideoStore, B: BlobStore> Subject<V, B> {
    fn deps(&self) -> ChunkDeps<'_> {
        ChunkDeps {
            videos: &self.videos,
            blobs: &self.blobs,
            clock: &self.clock,
            max_file_bytes: 1 << 40,
            abandon_after: PERIOD,
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

    async fn first(&self, range: &str, size: usize) -> String {
        self.send(None, range, &filled(size, 1))
            .await
            .expect("first chunk")
            .record
            .video
            .id
            .to_string()
    }

    /// The bucket's unfinished multipart uploads, as (key, upload id).
    async fn multipart_uploads(&self) -> Vec<(String, String)> {
        let (s3, bucket, _, _) = self.aws.as_ref().expect("aws");
        let out = s3
            .list_multipart_uploads()
            .bucket(bucket)
            .send()
            .await
            .expect("list uploads");
        out.uploads()
            .iter()
            .map(|u| {
                (
                    u.key().unwrap_or_default().to_owned(),
                    u.upload_id().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    async fn exists(&self, video: &str) -> bool {
        let id = upload_tokens_core::domain::VideoId::parse(video).expect("id");
        self.videos.get_video(&id).await.expect("read").is_some()
    }
}

fn filled(len: usize, seed: u8) -> Bytes {
    Bytes::from(
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect::<Vec<u8>>(),
    )
}

fn is_gone(result: &Result<Accepted, UseCaseError>) -> bool {
    matches!(result, Err(UseCaseError::UploadTargetNotFound(m)) if *m == abandoned::GONE)
}

/// Files left under the embedded store's blob directory.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.display().to_string());
            }
        }
    }
    out
}

#[tokio::test]
async fn embedded_a_resumed_abandoned_upload_is_404_and_removed() {
    let s = embedded().await;
    let video = s.first("part 1/3", 1000).await;
    s.clock
        .advance(TimeDelta::from_std(PERIOD).expect("period") - TimeDelta::seconds(1));
    s.send(Some(&video), "part 2/3", &filled(1000, 2))
        .await
        .expect("a chunk within the period resumes the upload");
    s.clock
        .advance(TimeDelta::from_std(PERIOD).expect("period") + TimeDelta::seconds(1));
    let resumed = s.send(Some(&video), "part 3/3", &filled(1000, 3)).await;
    assert!(is_gone(&resumed), "{resumed:?}");
    assert!(!s.exists(&video).await, "the record is removed");
    let dir = s._dir.as_ref().expect("dir").path().join("blobs");
    assert!(
        files_under(&dir).is_empty(),
        "the partial file is removed: {:?}",
        files_under(&dir)
    );
    // And again: still a 404 (the video no longer exists), never a 500.
    let again = s.send(Some(&video), "part 3/3", &filled(1000, 3)).await;
    assert!(
        matches!(again, Err(UseCaseError::UploadTargetNotFound(_))),
        "{again:?}"
    );
}

#[tokio::test]
async fn embedded_chunks_without_video_id_pass_over_abandoned_uploads() {
    let s = embedded().await;
    let old = s.first("part 1/3", 1000).await;
    s.clock
        .advance(TimeDelta::from_std(PERIOD).expect("period") + TimeDelta::seconds(1));
    // `part 2/3` without videoId would continue the old upload: it is abandoned, so there is
    // nothing to continue, and it is removed on the way.
    let orphan = s.send(None, "part 2/3", &filled(1000, 2)).await;
    assert!(
        matches!(orphan, Err(UseCaseError::VideoIdRequired(_))),
        "{orphan:?}"
    );
    assert!(!s.exists(&old).await);
    // A first chunk starts a new video rather than take over an abandoned one.
    let old2 = s.first("bytes 0-9/20", 10).await;
    s.clock
        .advance(TimeDelta::from_std(PERIOD).expect("period") + TimeDelta::seconds(1));
    let fresh = s.first("bytes 0-9/20", 10).await;
    assert_ne!(fresh, old2);
    assert!(!s.exists(&old2).await);
}

#[tokio::test]
async fn embedded_the_sweep_removes_only_abandoned_uploads() {
    let s = embedded().await;
    let abandoned_one = s.first("part 1/2", 100).await;
    let complete = s.first("bytes 0-99/100", 100).await;
    s.clock.advance(TimeDelta::days(3));
    let recent = s.first("part 1/2", 100).await;
    s.clock
        .advance(TimeDelta::from_std(PERIOD).expect("period") - TimeDelta::days(1));
    let candidates = s.videos.unfinished_uploads().await.expect("list");
    assert_eq!(candidates.len(), 2, "only unfinished uploads are listed");
    let removed = abandoned::sweep(&s.videos, &s.blobs, &s.clock, PERIOD, candidates).await;
    assert_eq!(removed, 1);
    assert!(!s.exists(&abandoned_one).await);
    assert!(s.exists(&recent).await, "an upload within the period stays");
    assert!(
        s.exists(&complete).await,
        "a complete video is never abandoned"
    );
    s.send(Some(&recent), "part 2/2", &filled(100, 2))
        .await
        .expect("the recent upload completes");
}

#[tokio::test]
async fn aws_a_resumed_abandoned_upload_is_404_and_its_parts_and_staged_bytes_removed() {
    let Some(s) = aws("aws_a_resumed_abandoned_upload_is_404").await else {
        return;
    };
    let (s3, bucket, _, _) = s.aws.as_ref().expect("aws");
    // One part (6 MiB) and a staged remainder (1 MiB).
    let video = s
        .first(&format!("bytes 0-{}/{}", 6 * MIB - 1, 10 * MIB), 6 * MIB)
        .await;
    s.send(
        Some(&video),
        &format!("bytes {}-{}/{}", 6 * MIB, 7 * MIB - 1, 10 * MIB),
        &filled(MIB, 2),
    )
    .await
    .expect("second chunk");
    assert_eq!(s.multipart_uploads().await.len(), 1);
    s.clock
        .advance(TimeDelta::from_std(PERIOD).expect("period") + TimeDelta::seconds(1));
    let resumed = s
        .send(
            Some(&video),
            &format!("bytes {}-{}/{}", 7 * MIB, 10 * MIB - 1, 10 * MIB),
            &filled(3 * MIB, 3),
        )
        .await;
    assert!(is_gone(&resumed), "{resumed:?}");
    assert!(!s.exists(&video).await);
    assert!(
        s.multipart_uploads().await.is_empty(),
        "the multipart upload is aborted"
    );
    let objects = s3
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("list objects");
    assert!(
        objects.contents().is_empty(),
        "no staged bytes left: {:?}",
        objects.contents()
    );
}

#[tokio::test]
async fn aws_parts_aborted_by_the_lifecycle_rule_give_404_not_500() {
    let Some(s) = aws("aws_parts_aborted_by_the_lifecycle_rule_give_404_not_500").await else {
        return;
    };
    let (s3, bucket, _, _) = s.aws.as_ref().expect("aws");
    let video = s
        .first(&format!("bytes 0-{}/{}", 6 * MIB - 1, 12 * MIB), 6 * MIB)
        .await;
    // What AbortIncompleteMultipartUpload does, days after the upload began, to an upload
    // still in use.
    for (key, id) in s.multipart_uploads().await {
        s3.abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .send()
            .await
            .expect("abort");
    }
    let next = s
        .send(
            Some(&video),
            &format!("bytes {}-{}/{}", 6 * MIB, 12 * MIB - 1, 12 * MIB),
            &filled(6 * MIB, 2),
        )
        .await;
    assert!(is_gone(&next), "{next:?}");
    assert!(
        !s.exists(&video).await,
        "the record whose bytes are gone is removed"
    );
}

#[tokio::test]
async fn aws_staged_bytes_expired_by_the_lifecycle_rule_give_404_not_500() {
    let Some(s) = aws("aws_staged_bytes_expired_by_the_lifecycle_rule_give_404_not_500").await
    else {
        return;
    };
    let (s3, bucket, _, _) = s.aws.as_ref().expect("aws");
    let video = s.first("part 1/3", MIB).await;
    let staged = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix("staging/")
        .send()
        .await
        .expect("list");
    for o in staged.contents() {
        s3.delete_object()
            .bucket(bucket)
            .key(o.key().expect("key"))
            .send()
            .await
            .expect("delete");
    }
    let next = s.send(Some(&video), "part 2/3", &filled(MIB, 2)).await;
    assert!(is_gone(&next), "{next:?}");
    assert!(!s.exists(&video).await);
}

#[tokio::test]
async fn aws_unfinished_uploads_expire_by_ttl_and_complete_ones_do_not() {
    let Some(s) = aws("aws_unfinished_uploads_expire_by_ttl_and_complete_ones_do_not").await else {
        return;
    };
    let (_, _, dynamo, table) = s.aws.as_ref().expect("aws");
    let ttl_of = |video: String| async move {
        let out = dynamo
            .get_item()
            .table_name(table)
            .key(schema::PK, AttributeValue::S(format!("VIDEO#{video}")))
            .consistent_read(true)
            .send()
            .await
            .expect("get");
        out.item()
            .and_then(|i| i.get(schema::TTL_ATTRIBUTE))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<i64>().ok())
    };
    let unfinished = s.first("part 1/2", 100).await;
    let record = s
        .videos
        .get_video(&upload_tokens_core::domain::VideoId::parse(&unfinished).expect("id"))
        .await
        .expect("read")
        .expect("video");
    assert_eq!(
        ttl_of(unfinished.clone()).await,
        Some((record.video.updated_at + TimeDelta::from_std(PERIOD).expect("period")).timestamp()),
        "an unfinished upload expires the abandoned-upload period after its last change"
    );
    s.send(Some(&unfinished), "part 2/2", &filled(100, 2))
        .await
        .expect("complete");
    assert_eq!(
        ttl_of(unfinished).await,
        None,
        "a complete video never expires"
    );
}
