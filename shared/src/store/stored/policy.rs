//! A token's policy as stored: one JSON document (SQLite's `policy` column, DynamoDB's
//! `policy` attribute), absent for a token that limits nothing. `maxUploads` is also kept beside
//! it where a store's conditional write reads it (DynamoDB's `maxUploads`, SQLite's
//! `max_uploads`).

use super::{POLICY_VERSION, invalid, unversioned};
use crate::domain::{Metadata, MimePattern, Origin, TokenPolicy, VideoPatch, VideoPreset};
use crate::store::StoreError;
use serde::{Deserialize, Serialize};

/// Version 1: `{"v":1,"maxFileBytes"?,"allowedContentTypes"?,"maxUploads"?,"allowedOrigins"?,
/// "video"?:{"title"?,"description"?,"tags"?,"metadata"?:[{"key","value"}],"public"?}}`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct PolicyDocument {
    #[serde(rename = "v", default = "unversioned")]
    version: u64,
    #[serde(rename = "maxFileBytes", skip_serializing_if = "Option::is_none")]
    max_file_bytes: Option<u64>,
    #[serde(
        rename = "allowedContentTypes",
        skip_serializing_if = "Option::is_none"
    )]
    allowed_content_types: Option<Vec<String>>,
    #[serde(rename = "maxUploads", skip_serializing_if = "Option::is_none")]
    max_uploads: Option<u32>,
    #[serde(rename = "allowedOrigins", skip_serializing_if = "Option::is_none")]
    allowed_origins: Option<Vec<String>>,
    #[serde(rename = "video", skip_serializing_if = "Option::is_none")]
    video: Option<PresetDocument>,
}

#[derive(Debug, Serialize, Deserialize)]
struct PresetDocument {
    #[serde(rename = "title", skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(rename = "description", skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(rename = "tags", skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<String>>,
    #[serde(rename = "metadata", skip_serializing_if = "Option::is_none")]
    metadata: Option<Vec<PairDocument>>,
    #[serde(rename = "public", skip_serializing_if = "Option::is_none")]
    public: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize)]
struct PairDocument {
    #[serde(rename = "key")]
    key: String,
    #[serde(rename = "value")]
    value: String,
}

impl From<&TokenPolicy> for PolicyDocument {
    fn from(policy: &TokenPolicy) -> Self {
        let TokenPolicy {
            max_file_bytes,
            allowed_content_types,
            max_uploads,
            allowed_origins,
            video,
        } = policy;
        Self {
            version: POLICY_VERSION,
            max_file_bytes: *max_file_bytes,
            allowed_content_types: allowed_content_types
                .as_ref()
                .map(|l| l.iter().map(|p| p.as_str().to_owned()).collect()),
            max_uploads: *max_uploads,
            allowed_origins: allowed_origins
                .as_ref()
                .map(|l| l.iter().map(|o| o.as_str().to_owned()).collect()),
            video: video.as_ref().map(|preset| {
                let patch = preset.patch();
                PresetDocument {
                    title: patch.title.clone(),
                    // A preset's description is a value or nothing: clearing it on a new video
                    // is the same as not setting it.
                    description: patch.description.clone().flatten(),
                    tags: patch.tags.clone(),
                    metadata: patch.metadata.as_ref().map(|pairs| {
                        pairs
                            .iter()
                            .map(|m| PairDocument {
                                key: m.key.clone(),
                                value: m.value.clone(),
                            })
                            .collect()
                    }),
                    public: patch.public,
                }
            }),
        }
    }
}

impl TryFrom<PolicyDocument> for TokenPolicy {
    type Error = StoreError;

    fn try_from(document: PolicyDocument) -> Result<Self, StoreError> {
        let PolicyDocument {
            version: _,
            max_file_bytes,
            allowed_content_types,
            max_uploads,
            allowed_origins,
            video,
        } = document;
        let patterns = allowed_content_types
            .map(|l| {
                l.iter()
                    .map(|p| {
                        MimePattern::parse(p)
                            .ok_or_else(|| invalid("policy", "allowedContentTypes", p))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let origins = allowed_origins
            .map(|l| {
                l.iter()
                    .map(|o| Origin::parse(o).ok_or_else(|| invalid("policy", "allowedOrigins", o)))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        Ok(Self {
            max_file_bytes,
            allowed_content_types: patterns,
            max_uploads,
            allowed_origins: origins,
            video: video.map(|p| {
                VideoPreset(VideoPatch {
                    title: p.title,
                    description: p.description.map(Some),
                    tags: p.tags,
                    metadata: p.metadata.map(|pairs| {
                        pairs
                            .into_iter()
                            .map(|m| Metadata {
                                key: m.key,
                                value: m.value,
                            })
                            .collect()
                    }),
                    public: p.public,
                    ..VideoPatch::default()
                })
            }),
        })
    }
}
