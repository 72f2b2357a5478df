//! What the fixtures in `tests/fixtures/` hold, as domain values: records written before schema
//! versions existed must read back to exactly these.

#![allow(dead_code)] // each adapter's test uses its own fixture

use chrono::{DateTime, Utc};
use upload_tokens_core::domain::{
    Metadata, ProjectId, ReceivedChunk, TokenId, UploadMode, UploadProgress, Video, VideoId,
};
use upload_tokens_core::store::VideoRecord;
use upload_tokens_core::store::blob::BlobProgress;

pub const EMBEDDED_ROWS: &str = include_str!("../fixtures/embedded_rows_unversioned.json");
pub const DYNAMODB_ITEMS: &str = include_str!("../fixtures/dynamodb_items_unversioned.json");

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("fixture instant")
}

/// The video of the edited, completed two-part upload.
fn completed(id: &str, project: &str, token: &str, times: [&str; 3]) -> Video {
    Video {
        id: VideoId::parse(id).expect("id"),
        project_id: ProjectId::parse(project).expect("project"),
        token_id: Some(TokenId::parse(token).expect("token")),
        title: "clip.mp4".into(),
        description: Some("A clip".into()),
        tags: vec!["a".into(), "b".into()],
        metadata: vec![Metadata {
            key: "k".into(),
            value: "v".into(),
        }],
        public: false,
        panoramic: true,
        mp4_support: true,
        created_at: at(times[0]),
        updated_at: at(times[1]),
        published_at: Some(at(times[2])),
    }
}

/// The video of the unfinished upload in byte ranges: never edited.
fn uploading(id: &str, project: &str, token: &str, times: [&str; 2]) -> Video {
    Video {
        id: VideoId::parse(id).expect("id"),
        project_id: ProjectId::parse(project).expect("project"),
        token_id: Some(TokenId::parse(token).expect("token")),
        title: "clip.mp4".into(),
        description: None,
        tags: Vec::new(),
        metadata: Vec::new(),
        public: true,
        panoramic: false,
        mp4_support: true,
        created_at: at(times[0]),
        updated_at: at(times[1]),
        published_at: None,
    }
}

const COMPLETED_PROGRESS: UploadProgress = UploadProgress {
    mode: Some(UploadMode::Part),
    total: Some(2),
    chunk_count: 2,
    received_bytes: 9_437_184,
    completed: true,
    tus: None,
};

const UPLOADING_PROGRESS: UploadProgress = UploadProgress {
    mode: Some(UploadMode::Bytes),
    total: None,
    chunk_count: 2,
    received_bytes: 7_340_032,
    completed: false,
    tus: None,
};

fn chunk(offset: u64, size: u64, part: u32, sha256: &str) -> ReceivedChunk {
    ReceivedChunk {
        offset,
        size,
        part,
        sha256: sha256.into(),
    }
}

/// Chunk records of one video under their indexes.
pub type Chunks = Vec<(u64, ReceivedChunk)>;

/// The chunk records of both uploads (same bytes on both adapters): (completed video's by part
/// number, uploading video's by offset).
pub fn chunks() -> (Chunks, Chunks) {
    (
        vec![
            (
                1,
                chunk(
                    0,
                    6_291_456,
                    1,
                    "856a7d62e6bf8b1e8cd815bd086af8cd63158e81eeaacf2228e7179fe5f9dc7c",
                ),
            ),
            (
                2,
                chunk(
                    6_291_456,
                    3_145_728,
                    2,
                    "97654b5824f8f1e093d827b592300738fbb181bfdc7070d20560cfffcd850d8f",
                ),
            ),
        ],
        vec![
            (
                0,
                chunk(
                    0,
                    6_291_456,
                    0,
                    "8a003906cec9e3de1024cba5854702fdcd16c84d534c460fed73e06ac5404f5c",
                ),
            ),
            (
                6_291_456,
                chunk(
                    6_291_456,
                    1_048_576,
                    0,
                    "ef53809b40b5c00c6941da77ffbc903b1c152119d6648d2935ee7da7e1c53a5d",
                ),
            ),
        ],
    )
}

/// The SQLite fixture's videos (files blob store: no multipart state): (completed, uploading).
pub fn embedded_videos() -> (VideoRecord, VideoRecord) {
    let project = "prCXT7aHCPZ1l1SIFZCxo8rY";
    (
        VideoRecord {
            video: completed(
                "vi4Ghx5GRAsAPeWGHcEjjbD2",
                project,
                "togoxohCLbom6sSGYWqPMEId",
                [
                    "2026-11-29T19:01:40.467Z",
                    "2026-11-29T19:01:40.793Z",
                    "2026-11-29T19:01:40.776894390Z",
                ],
            ),
            progress: COMPLETED_PROGRESS,
            blob: BlobProgress {
                upload_id: None,
                parts: Vec::new(),
                staged: 0,
                written: 9_437_184,
                completed: true,
            },
            version: 3,
            lease: None,
        },
        VideoRecord {
            video: uploading(
                "viOygPTOx95WPJUnCE3CzvML",
                project,
                "to6eZAGEni8zS26WKnBKD4fx",
                ["2026-11-29T19:01:41.212Z", "2026-11-29T19:01:41.396795558Z"],
            ),
            progress: UPLOADING_PROGRESS,
            blob: BlobProgress {
                upload_id: None,
                parts: Vec::new(),
                staged: 0,
                written: 7_340_032,
                completed: false,
            },
            version: 2,
            lease: None,
        },
    )
}

/// The DynamoDB fixture's videos (S3 multipart state): (completed, uploading).
pub fn dynamodb_videos() -> (VideoRecord, VideoRecord) {
    let project = "pru5r4FZw8DWBvPB2kyECaEB";
    (
        VideoRecord {
            video: completed(
                "vip4JQbV6ud3U9MFbtkATHIK",
                project,
                "toSwbyikzItDZdBCjmd4b9UV",
                [
                    "2026-11-29T19:01:38.145Z",
                    "2026-11-29T19:01:39.029Z",
                    "2026-11-29T19:01:39.001626346Z",
                ],
            ),
            progress: COMPLETED_PROGRESS,
            blob: BlobProgress {
                upload_id: Some(
                    "vPQM8QXgZHo8GOXco6vpp4oM1VIshsDO1WWkvBhGK7QxgjZj2jHoEs2uCQ".into(),
                ),
                parts: vec![
                    "4715e35cf900ae14837e3c098e87d522".into(),
                    "e3c88d759fcec9c6b81f854714a21c58".into(),
                ],
                staged: 0,
                written: 9_437_184,
                completed: true,
            },
            version: 3,
            lease: None,
        },
        VideoRecord {
            video: uploading(
                "vifyV4H64p62WTXWcuNjhVbw",
                project,
                "toNXuYgSfzZbzxyDdXcROgPm",
                ["2026-11-29T19:01:39.383Z", "2026-11-29T19:01:39.962540073Z"],
            ),
            progress: UPLOADING_PROGRESS,
            blob: BlobProgress {
                upload_id: Some("MWXZbzkZ8OYAOnla69CSZqVHu0O7BiHlwwiGfoB5jAl888rHRLt1A".into()),
                parts: vec!["1262fb615ad13561b8b9993ff3a1a643".into()],
                staged: 1_048_576,
                written: 7_340_032,
                completed: false,
            },
            version: 2,
            lease: None,
        },
    )
}

/// Field names of a JSON document, nested objects' as `outer.inner`, without the version.
pub fn field_names(text: &str) -> Vec<String> {
    fn walk(prefix: &str, value: &serde_json::Value, names: &mut Vec<String>) {
        if let Some(object) = value.as_object() {
            for (key, inner) in object {
                let name = format!("{prefix}{key}");
                walk(&format!("{name}."), inner, names);
                names.push(name);
            }
        }
    }
    let value: serde_json::Value = serde_json::from_str(text).expect("a JSON document");
    let mut names = Vec::new();
    walk("", &value, &mut names);
    names.retain(|n| n != "v");
    names.sort();
    names
}

/// Stores the tokens the fixture videos were uploaded with: a chunk written now counts in its
/// token's usage, and the fixtures hold videos, not tokens.
pub async fn store_tokens_of(
    store: &impl upload_tokens_core::store::TokenWriter,
    videos: &[&VideoRecord],
) {
    for v in videos {
        if let Some(id) = &v.video.token_id {
            let token = upload_tokens_core::domain::UploadToken::with_id(
                id.clone(),
                v.video.project_id.clone(),
                upload_tokens_core::domain::Ttl::NEVER,
                v.video.created_at,
            );
            match store.insert_token(&token).await {
                Ok(()) | Err(upload_tokens_core::store::StoreError::AlreadyExists) => {}
                Err(e) => panic!("token of a fixture video: {e}"),
            }
        }
    }
}
