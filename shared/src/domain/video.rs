//! Videos: what `/upload` creates and `/videos/{id}` reads and edits. No transcoding here: a video
//! is its metadata and, once uploaded, the stored source file.

use super::{ProjectId, TokenId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One `{key, value}` metadata pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// A video's editable attributes and dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Video {
    /// `vi` + 22 characters.
    pub id: super::VideoId,
    /// Owner.
    pub project_id: ProjectId,
    /// The upload token that created it (for the missing-videoId rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<TokenId>,
    /// Title (the uploaded file's base name unless changed).
    pub title: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Metadata pairs.
    #[serde(default)]
    pub metadata: Vec<Metadata>,
    /// Public video.
    pub public: bool,
    /// 360° video.
    pub panoramic: bool,
    /// MP4 download enabled.
    pub mp4_support: bool,
    /// Creation instant (millisecond precision).
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When the upload completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<DateTime<Utc>>,
}

impl Video {
    /// A new video created by an upload with `token` at `now`, titled after `file_name`.
    pub fn new(
        project_id: ProjectId,
        token_id: Option<TokenId>,
        file_name: Option<&str>,
        now: DateTime<Utc>,
    ) -> Self {
        let now = super::token::truncate_to_millis(now);
        Self {
            id: super::VideoId::generate(),
            project_id,
            token_id,
            title: title_from_file_name(file_name),
            description: None,
            tags: Vec::new(),
            metadata: Vec::new(),
            public: true,
            panoramic: false,
            mp4_support: true,
            created_at: now,
            updated_at: now,
            published_at: None,
        }
    }
}

/// The base name of an uploaded file (`C:\clips\a.mp4` and `/tmp/a.mp4` give `a.mp4`), or
/// "untitled" when there is none.
pub fn title_from_file_name(file_name: Option<&str>) -> String {
    file_name
        .and_then(|n| n.rsplit(['/', '\\']).next())
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map_or_else(|| "untitled".to_owned(), |n| n.chars().take(256).collect())
}

/// A refused PATCH attribute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {detail}")]
pub struct InvalidVideoAttribute {
    /// Attribute.
    pub name: &'static str,
    /// What is accepted.
    pub detail: &'static str,
}

/// A validated `PATCH /videos/{id}` body: only the attributes present change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VideoPatch {
    title: Option<String>,
    description: Option<Option<String>>,
    tags: Option<Vec<String>>,
    metadata: Option<Vec<Metadata>>,
    public: Option<bool>,
    panoramic: Option<bool>,
    mp4_support: Option<bool>,
}

const MAX_TEXT: usize = 4096;

fn text(name: &'static str, v: &Value) -> Result<String, InvalidVideoAttribute> {
    match v {
        Value::String(s) if s.chars().count() <= MAX_TEXT => Ok(s.clone()),
        _ => Err(InvalidVideoAttribute {
            name,
            detail: "must be a string of at most 4096 characters",
        }),
    }
}

fn flag(name: &'static str, v: &Value) -> Result<bool, InvalidVideoAttribute> {
    v.as_bool().ok_or(InvalidVideoAttribute {
        name,
        detail: "must be a boolean",
    })
}

impl VideoPatch {
    /// Validates a PATCH body. Unknown attributes are ignored (the clients send read-only ones).
    pub fn parse(body: &Map<String, Value>) -> Result<Self, InvalidVideoAttribute> {
        let mut patch = Self::default();
        if let Some(v) = body.get("title") {
            let title = text("title", v)?;
            if title.trim().is_empty() {
                return Err(InvalidVideoAttribute {
                    name: "title",
                    detail: "must not be empty",
                });
            }
            patch.title = Some(title);
        }
        if let Some(v) = body.get("description") {
            patch.description = Some(match v {
                Value::Null => None,
                v => Some(text("description", v)?),
            });
        }
        if let Some(v) = body.get("tags") {
            let tags = v.as_array().ok_or(InvalidVideoAttribute {
                name: "tags",
                detail: "must be an array of strings",
            })?;
            patch.tags = Some(
                tags.iter()
                    .map(|t| text("tags", t))
                    .collect::<Result<_, _>>()?,
            );
        }
        if let Some(v) = body.get("metadata") {
            let bad = InvalidVideoAttribute {
                name: "metadata",
                detail: "must be an array of {\"key\": string, \"value\": string}",
            };
            let items = v.as_array().ok_or(bad.clone())?;
            patch.metadata = Some(
                items
                    .iter()
                    .map(|m| match (m.get("key"), m.get("value")) {
                        (Some(Value::String(k)), Some(Value::String(v))) if !k.is_empty() => {
                            Ok(Metadata {
                                key: k.clone(),
                                value: v.clone(),
                            })
                        }
                        _ => Err(bad.clone()),
                    })
                    .collect::<Result<_, _>>()?,
            );
        }
        if let Some(v) = body.get("public") {
            patch.public = Some(flag("public", v)?);
        }
        if let Some(v) = body.get("panoramic") {
            patch.panoramic = Some(flag("panoramic", v)?);
        }
        if let Some(v) = body.get("mp4Support") {
            patch.mp4_support = Some(flag("mp4Support", v)?);
        }
        Ok(patch)
    }

    /// Applies the patch at `now`.
    pub fn apply(self, video: &mut Video, now: DateTime<Utc>) {
        if let Some(v) = self.title {
            video.title = v;
        }
        if let Some(v) = self.description {
            video.description = v;
        }
        if let Some(v) = self.tags {
            video.tags = v;
        }
        if let Some(v) = self.metadata {
            video.metadata = v;
        }
        if let Some(v) = self.public {
            video.public = v;
        }
        if let Some(v) = self.panoramic {
            video.panoramic = v;
        }
        if let Some(v) = self.mp4_support {
            video.mp4_support = v;
        }
        video.updated_at = super::token::truncate_to_millis(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(v: Value) -> Result<VideoPatch, InvalidVideoAttribute> {
        VideoPatch::parse(v.as_object().expect("object"))
    }

    #[test]
    fn title_is_the_base_name_of_the_file() {
        assert_eq!(title_from_file_name(Some("/tmp/x/clip.mp4")), "clip.mp4");
        assert_eq!(title_from_file_name(Some("C:\\v\\clip.mp4")), "clip.mp4");
        assert_eq!(title_from_file_name(Some("")), "untitled");
        assert_eq!(title_from_file_name(None), "untitled");
    }

    #[test]
    fn patch_changes_only_what_it_names() {
        let mut v = Video::new(ProjectId::generate(), None, Some("a.mp4"), Utc::now());
        let p = patch(json!({"description": "d", "tags": ["x"], "metadata": [{"key": "k", "value": "v"}], "public": false}))
            .expect("valid");
        p.apply(&mut v, Utc::now());
        assert_eq!(v.title, "a.mp4");
        assert_eq!(v.description.as_deref(), Some("d"));
        assert_eq!(v.tags, ["x"]);
        assert_eq!(v.metadata.len(), 1);
        assert!(!v.public);
        assert!(v.mp4_support);
    }

    #[test]
    fn bad_attributes_are_named() {
        for (body, name) in [
            (json!({"title": 3}), "title"),
            (json!({"title": " "}), "title"),
            (json!({"tags": "x"}), "tags"),
            (json!({"tags": [1]}), "tags"),
            (json!({"metadata": [{"key": "k"}]}), "metadata"),
            (json!({"public": "yes"}), "public"),
            (json!({"mp4Support": null}), "mp4Support"),
        ] {
            assert_eq!(patch(body).map_err(|e| e.name), Err(name));
        }
    }
}
