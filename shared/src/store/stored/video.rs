//! A video record as stored: the video's attributes, its upload's progress and its blob's
//! assembly state, each in an object of its own.

use super::{VIDEO_VERSION, invalid, unversioned};
use crate::domain::{
    Metadata, ProjectId, TokenId, TusUpload, UploadMode, UploadProgress, Video, VideoId,
};
use crate::store::blob::BlobProgress;
use crate::store::{StoreError, VideoRecord, WriteLease};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Version 1: `{"v":1,"video":{…},"progress":{…},"blob":{…}}`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct VideoDocument {
    #[serde(rename = "v", default = "unversioned")]
    version: u64,
    #[serde(rename = "video")]
    video: StoredVideo,
    #[serde(rename = "progress")]
    progress: StoredProgress,
    #[serde(rename = "blob")]
    blob: StoredBlob,
    #[serde(rename = "lease", default, skip_serializing_if = "Option::is_none")]
    lease: Option<StoredLease>,
}

/// A write lease (absent from records written before leases existed: none was held).
#[derive(Debug, Serialize, Deserialize)]
struct StoredLease {
    #[serde(rename = "holder")]
    holder: String,
    #[serde(rename = "until")]
    until: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredVideo {
    #[serde(rename = "id")]
    id: String,
    #[serde(rename = "project_id")]
    project_id: String,
    #[serde(rename = "token_id", default, skip_serializing_if = "Option::is_none")]
    token_id: Option<String>,
    #[serde(rename = "title")]
    title: String,
    #[serde(
        rename = "description",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    description: Option<String>,
    #[serde(rename = "tags", default)]
    tags: Vec<String>,
    #[serde(rename = "metadata", default)]
    metadata: Vec<StoredMetadata>,
    #[serde(rename = "public")]
    public: bool,
    #[serde(rename = "panoramic")]
    panoramic: bool,
    #[serde(rename = "mp4_support")]
    mp4_support: bool,
    #[serde(rename = "created_at")]
    created_at: DateTime<Utc>,
    #[serde(rename = "updated_at")]
    updated_at: DateTime<Utc>,
    #[serde(
        rename = "published_at",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    published_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredMetadata {
    #[serde(rename = "key")]
    key: String,
    #[serde(rename = "value")]
    value: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
enum StoredMode {
    #[serde(rename = "whole")]
    Whole,
    #[serde(rename = "bytes")]
    Bytes,
    #[serde(rename = "part")]
    Part,
    #[serde(rename = "direct")]
    Direct,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredProgress {
    #[serde(rename = "mode", default, skip_serializing_if = "Option::is_none")]
    mode: Option<StoredMode>,
    #[serde(rename = "total", default, skip_serializing_if = "Option::is_none")]
    total: Option<u64>,
    #[serde(rename = "chunk_count", default)]
    chunk_count: u32,
    #[serde(rename = "received_bytes", default)]
    received_bytes: u64,
    #[serde(rename = "completed", default)]
    completed: bool,
    /// Present for uploads created by tus (absent before tus existed: none was).
    #[serde(rename = "tus", default, skip_serializing_if = "Option::is_none")]
    tus: Option<StoredTus>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredTus {
    #[serde(rename = "metadata", default, skip_serializing_if = "Option::is_none")]
    metadata: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredBlob {
    #[serde(rename = "upload_id", default, skip_serializing_if = "Option::is_none")]
    upload_id: Option<String>,
    #[serde(rename = "parts", default, skip_serializing_if = "Vec::is_empty")]
    parts: Vec<String>,
    #[serde(rename = "staged", default)]
    staged: u64,
    #[serde(rename = "written", default)]
    written: u64,
    #[serde(rename = "completed", default)]
    completed: bool,
}

impl From<&VideoRecord> for VideoDocument {
    fn from(record: &VideoRecord) -> Self {
        // The adapter keeps the record's version for conditional writes: not in the document.
        let VideoRecord {
            video,
            progress,
            blob,
            version: _,
            lease,
        } = record;
        Self {
            version: VIDEO_VERSION,
            video: video.into(),
            progress: progress.into(),
            blob: blob.into(),
            lease: lease.as_ref().map(|l| StoredLease {
                holder: l.holder.clone(),
                until: l.until,
            }),
        }
    }
}

impl TryFrom<VideoDocument> for VideoRecord {
    type Error = StoreError;

    fn try_from(document: VideoDocument) -> Result<Self, StoreError> {
        let VideoDocument {
            version: _,
            video,
            progress,
            blob,
            lease,
        } = document;
        Ok(Self {
            video: video.try_into()?,
            progress: progress.into(),
            blob: blob.into(),
            lease: lease.map(|l| WriteLease {
                holder: l.holder,
                until: l.until,
            }),
            version: 0,
        })
    }
}

impl From<&Video> for StoredVideo {
    fn from(video: &Video) -> Self {
        let Video {
            id,
            project_id,
            token_id,
            title,
            description,
            tags,
            metadata,
            public,
            panoramic,
            mp4_support,
            created_at,
            updated_at,
            published_at,
        } = video;
        Self {
            id: id.as_str().to_owned(),
            project_id: project_id.as_str().to_owned(),
            token_id: token_id.as_ref().map(|t| t.as_str().to_owned()),
            title: title.clone(),
            description: description.clone(),
            tags: tags.clone(),
            metadata: metadata
                .iter()
                .map(|Metadata { key, value }| StoredMetadata {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect(),
            public: *public,
            panoramic: *panoramic,
            mp4_support: *mp4_support,
            created_at: *created_at,
            updated_at: *updated_at,
            published_at: *published_at,
        }
    }
}

impl TryFrom<StoredVideo> for Video {
    type Error = StoreError;

    fn try_from(stored: StoredVideo) -> Result<Self, StoreError> {
        let StoredVideo {
            id,
            project_id,
            token_id,
            title,
            description,
            tags,
            metadata,
            public,
            panoramic,
            mp4_support,
            created_at,
            updated_at,
            published_at,
        } = stored;
        Ok(Self {
            id: VideoId::parse(&id).map_err(|e| invalid("video", "id", e))?,
            project_id: ProjectId::parse(&project_id)
                .map_err(|e| invalid("video", "project_id", e))?,
            token_id: token_id
                .map(|t| TokenId::parse(&t))
                .transpose()
                .map_err(|e| invalid("video", "token_id", e))?,
            title,
            description,
            tags,
            metadata: metadata
                .into_iter()
                .map(|StoredMetadata { key, value }| Metadata { key, value })
                .collect(),
            public,
            panoramic,
            mp4_support,
            created_at,
            updated_at,
            published_at,
        })
    }
}

impl From<UploadMode> for StoredMode {
    fn from(mode: UploadMode) -> Self {
        match mode {
            UploadMode::Whole => Self::Whole,
            UploadMode::Bytes => Self::Bytes,
            UploadMode::Part => Self::Part,
            UploadMode::Direct => Self::Direct,
        }
    }
}

impl From<StoredMode> for UploadMode {
    fn from(mode: StoredMode) -> Self {
        match mode {
            StoredMode::Whole => Self::Whole,
            StoredMode::Bytes => Self::Bytes,
            StoredMode::Part => Self::Part,
            StoredMode::Direct => Self::Direct,
        }
    }
}

impl From<&UploadProgress> for StoredProgress {
    fn from(progress: &UploadProgress) -> Self {
        let UploadProgress {
            mode,
            total,
            chunk_count,
            received_bytes,
            completed,
            tus,
        } = progress;
        Self {
            mode: mode.map(StoredMode::from),
            total: *total,
            chunk_count: *chunk_count,
            received_bytes: *received_bytes,
            completed: *completed,
            tus: tus.as_ref().map(|t| StoredTus {
                metadata: t.metadata.clone(),
            }),
        }
    }
}

impl From<StoredProgress> for UploadProgress {
    fn from(stored: StoredProgress) -> Self {
        let StoredProgress {
            mode,
            total,
            chunk_count,
            received_bytes,
            completed,
            tus,
        } = stored;
        Self {
            mode: mode.map(UploadMode::from),
            total,
            chunk_count,
            received_bytes,
            completed,
            tus: tus.map(|t| TusUpload {
                metadata: t.metadata,
            }),
        }
    }
}

impl From<&BlobProgress> for StoredBlob {
    fn from(blob: &BlobProgress) -> Self {
        let BlobProgress {
            upload_id,
            parts,
            staged,
            written,
            completed,
        } = blob;
        Self {
            upload_id: upload_id.clone(),
            parts: parts.clone(),
            staged: *staged,
            written: *written,
            completed: *completed,
        }
    }
}

impl From<StoredBlob> for BlobProgress {
    fn from(stored: StoredBlob) -> Self {
        let StoredBlob {
            upload_id,
            parts,
            staged,
            written,
            completed,
        } = stored;
        Self {
            upload_id,
            parts,
            staged,
            written,
            completed,
        }
    }
}
