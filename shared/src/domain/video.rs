//! Videos: what `/upload` creates and `/videos/{id}` reads and edits. No transcoding here: a video
//! is its metadata and, once uploaded, the stored source file.

use super::{ProjectId, TokenId};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// One `{key, value}` metadata pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// A video's editable attributes and dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Video {
    /// `vi` + 22 characters.
    pub id: super::VideoId,
    /// Owner.
    pub project_id: ProjectId,
    /// The upload token that created it (for the missing-videoId rule).
    pub token_id: Option<TokenId>,
    /// Title (the uploaded file's base name unless changed).
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Metadata pairs.
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
    pub(crate) title: Option<String>,
    pub(crate) description: Option<Option<String>>,
    pub(crate) tags: Option<Vec<String>>,
    pub(crate) metadata: Option<Vec<Metadata>>,
    pub(crate) public: Option<bool>,
    pub(crate) panoramic: Option<bool>,
    pub(crate) mp4_support: Option<bool>,
}

/// Longest title or description, in characters.
pub const MAX_TEXT: usize = 4096;
/// Most tags, and most metadata pairs, on one video.
pub const MAX_ITEMS: usize = 100;
/// Longest tag or metadata key, in characters.
pub const MAX_LABEL: usize = 255;
/// Longest metadata value, in characters.
pub const MAX_VALUE: usize = 1024;

/// A string of `min..=max` characters.
fn text(
    name: &'static str,
    v: &Value,
    min: usize,
    max: usize,
    detail: &'static str,
) -> Result<String, InvalidVideoAttribute> {
    match v {
        Value::String(s) if (min..=max).contains(&s.chars().count()) => Ok(s.clone()),
        _ => Err(InvalidVideoAttribute { name, detail }),
    }
}

/// An array of at most [`MAX_ITEMS`] elements.
fn items<'a>(
    name: &'static str,
    v: &'a Value,
    detail: &'static str,
) -> Result<&'a Vec<Value>, InvalidVideoAttribute> {
    match v.as_array() {
        Some(items) if items.len() <= MAX_ITEMS => Ok(items),
        _ => Err(InvalidVideoAttribute { name, detail }),
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
    /// The limits are those of `docs/openapi.yaml`; they keep a video item far below
    /// DynamoDB's 400 KB.
    pub fn parse(body: &Map<String, Value>) -> Result<Self, InvalidVideoAttribute> {
        let mut patch = Self::default();
        if let Some(v) = body.get("title") {
            patch.title = Some(text(
                "title",
                v,
                1,
                MAX_TEXT,
                "must be a string of 1 to 4096 characters",
            )?);
        }
        if let Some(v) = body.get("description") {
            patch.description = Some(match v {
                Value::Null => None,
                v => Some(text(
                    "description",
                    v,
                    0,
                    MAX_TEXT,
                    "must be null or a string of at most 4096 characters",
                )?),
            });
        }
        if let Some(v) = body.get("tags") {
            const DETAIL: &str =
                "must be an array of at most 100 strings of at most 255 characters";
            patch.tags = Some(
                items("tags", v, DETAIL)?
                    .iter()
                    .map(|t| text("tags", t, 0, MAX_LABEL, DETAIL))
                    .collect::<Result<_, _>>()?,
            );
        }
        if let Some(v) = body.get("metadata") {
            const DETAIL: &str = "must be an array of at most 100 {\"key\": string (1 to 255 \
                                  characters), \"value\": string (at most 1024 characters)}";
            let bad = InvalidVideoAttribute {
                name: "metadata",
                detail: DETAIL,
            };
            patch.metadata = Some(
                items("metadata", v, DETAIL)?
                    .iter()
                    .map(|m| match (m.get("key"), m.get("value")) {
                        (Some(k), Some(v)) => Ok(Metadata {
                            key: text("metadata", k, 1, MAX_LABEL, DETAIL)?,
                            value: text("metadata", v, 0, MAX_VALUE, DETAIL)?,
                        }),
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
            (json!({"title": ""}), "title"),
            (json!({"title": "x".repeat(4097)}), "title"),
            (json!({"tags": vec!["t"; 101]}), "tags"),
            (json!({"tags": ["x".repeat(256)]}), "tags"),
            (json!({"metadata": [{"key": "", "value": "v"}]}), "metadata"),
            (
                json!({"metadata": [{"key": "k", "value": "v".repeat(1025)}]}),
                "metadata",
            ),
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
