//! What both token faces show of a token's policy and usage, and how both read a token body's
//! settings: one place, two spellings ([`FieldStyle`]).

use super::ApiError;
use crate::domain::{
    FieldStyle, InvalidTtl, PolicyPatch, TokenPolicy, TokenUsage, Ttl, UploadToken,
};
use crate::usecases::UseCaseError;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

/// The body's `ttl`, if given, refused naming `ttl` when it is not 0..=2147483647 seconds.
pub(super) fn ttl_field(body: &Map<String, Value>) -> Result<Option<Ttl>, ApiError> {
    body.get("ttl")
        .map(|v| {
            Ttl::from_json(v).map_err(|e| ApiError::InvalidAttribute {
                name: "ttl",
                detail: match e {
                    InvalidTtl::NotAnInteger => {
                        "ttl must be an integer number of seconds (0 = never expires)".into()
                    }
                    InvalidTtl::OutOfRange => e.to_string(),
                },
            })
        })
        .transpose()
}

/// The name and policy fields of a token body in `style`, refusing any key that is neither
/// one of them nor in `others`.
pub(super) fn settings(
    body: &Map<String, Value>,
    style: FieldStyle,
    others: &[&str],
) -> Result<PolicyPatch, ApiError> {
    PolicyPatch::parse(body, style, others).map_err(|e| UseCaseError::InvalidField(e).into())
}

/// The policy's fields that are set (`with_nulls`: every field, `null` when unset).
pub(super) fn policy_fields(
    policy: &TokenPolicy,
    style: FieldStyle,
    with_nulls: bool,
    out: &mut Map<String, Value>,
) {
    let [
        _,
        max_file_bytes,
        content_types,
        max_uploads,
        origins,
        video,
    ] = style.field_names();
    let mut put = |name: &str, value: Option<Value>| match value {
        Some(v) => {
            out.insert(name.to_owned(), v);
        }
        None if with_nulls => {
            out.insert(name.to_owned(), Value::Null);
        }
        None => {}
    };
    put(max_file_bytes, policy.max_file_bytes.map(Value::from));
    put(
        content_types,
        policy
            .allowed_content_types
            .as_ref()
            .map(|l| l.iter().map(|p| p.as_str()).collect::<Vec<_>>().into()),
    );
    put(max_uploads, policy.max_uploads.map(Value::from));
    put(
        origins,
        policy
            .allowed_origins
            .as_ref()
            .map(|l| l.iter().map(|o| o.as_str()).collect::<Vec<_>>().into()),
    );
    put(
        video,
        policy.video.as_ref().map(|preset| {
            let p = preset.patch();
            let mut v = Map::new();
            if let Some(t) = &p.title {
                v.insert("title".into(), t.clone().into());
            }
            if let Some(Some(d)) = &p.description {
                v.insert("description".into(), d.clone().into());
            }
            if let Some(tags) = &p.tags {
                v.insert("tags".into(), tags.clone().into());
            }
            if let Some(metadata) = &p.metadata {
                let pairs: Vec<Value> = metadata
                    .iter()
                    .map(|m| json!({"key": m.key, "value": m.value}))
                    .collect();
                v.insert("metadata".into(), pairs.into());
            }
            if let Some(public) = p.public {
                v.insert("public".into(), public.into());
            }
            Value::Object(v)
        }),
    );
}

/// The token's usage: `uploads`, `completedUploads`, `bytesReceived`, `lastUsedAt` (camel; the
/// last absent until first use) or their snake_case names (`last_used_time`, `null` until
/// then), the time in `format`.
pub(super) fn usage_fields(
    usage: &TokenUsage,
    style: FieldStyle,
    format: impl Fn(DateTime<Utc>) -> String,
    out: &mut Map<String, Value>,
) {
    let names = match style {
        FieldStyle::Camel => ["uploads", "completedUploads", "bytesReceived", "lastUsedAt"],
        FieldStyle::Snake => [
            "uploads",
            "completed_uploads",
            "bytes_received",
            "last_used_time",
        ],
    };
    out.insert(names[0].into(), usage.uploads.into());
    out.insert(names[1].into(), usage.completed_uploads.into());
    out.insert(names[2].into(), usage.bytes_received.into());
    match (usage.last_used_at, style) {
        (Some(at), _) => {
            out.insert(names[3].into(), format(at).into());
        }
        (None, FieldStyle::Snake) => {
            out.insert(names[3].into(), Value::Null);
        }
        (None, FieldStyle::Camel) => {}
    }
}

/// The name of a token, for either face.
pub(super) fn name_value(token: &UploadToken) -> Value {
    token
        .name
        .as_ref()
        .map_or(Value::Null, |n| n.as_str().into())
}
