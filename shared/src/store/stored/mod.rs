//! The JSON documents the stores keep for videos and their chunk records: types of their own,
//! converted field by field to and from the domain types, so renaming a domain field changes no
//! stored byte. Both adapters keep the same document (SQLite in a `record` column, DynamoDB in a
//! `record` attribute); keys, indexes and versions for conditional writes stay each adapter's.
//!
//! Every document carries its schema version as `"v"`. Documents written before versions
//! existed have none and read as version 1, which has exactly their field names. A version this
//! build does not know is refused as [`StoreError::Corrupt`] rather than half-read.

mod chunk;
mod policy;
mod video;

use super::{StoreError, VideoRecord};
use crate::domain::{ReceivedChunk, TokenPolicy};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Schema version of the video documents this build writes (and the only one it reads).
pub const VIDEO_VERSION: u64 = 1;
/// Schema version of the chunk documents this build writes (and the only one it reads).
pub const CHUNK_VERSION: u64 = 1;
/// Schema version of the token policy documents this build writes (and the only one it reads).
pub const POLICY_VERSION: u64 = 1;

/// Name of the version field in every document.
const VERSION_FIELD: &str = "v";

/// The video document of `record` (without its version for conditional writes, which each
/// adapter keeps beside the document).
pub fn encode_video(record: &VideoRecord) -> Result<String, StoreError> {
    encode("video", &video::VideoDocument::from(record))
}

/// The record a video document holds, at version 0: the caller sets the adapter's version.
pub fn decode_video(text: &str) -> Result<VideoRecord, StoreError> {
    let document: video::VideoDocument = decode("video", VIDEO_VERSION, text)?;
    VideoRecord::try_from(document)
}

/// The document of a chunk record.
pub fn encode_chunk(chunk: &ReceivedChunk) -> Result<String, StoreError> {
    encode("chunk", &chunk::ChunkDocument::from(chunk))
}

/// The chunk record a chunk document holds.
pub fn decode_chunk(text: &str) -> Result<ReceivedChunk, StoreError> {
    let document: chunk::ChunkDocument = decode("chunk", CHUNK_VERSION, text)?;
    Ok(document.into())
}

/// The document of a token's policy; `None` for a policy that limits nothing (nothing is
/// stored then).
pub fn encode_policy(policy: &TokenPolicy) -> Result<Option<String>, StoreError> {
    if policy.is_unlimited() {
        return Ok(None);
    }
    encode("policy", &policy::PolicyDocument::from(policy)).map(Some)
}

/// The policy a policy document holds (no document: no limits).
pub fn decode_policy(text: Option<&str>) -> Result<TokenPolicy, StoreError> {
    match text {
        None => Ok(TokenPolicy::default()),
        Some(text) => {
            let document: policy::PolicyDocument = decode("policy", POLICY_VERSION, text)?;
            TokenPolicy::try_from(document)
        }
    }
}

/// Version 1 for documents written before versions were recorded.
fn unversioned() -> u64 {
    1
}

fn encode<T: Serialize>(kind: &str, document: &T) -> Result<String, StoreError> {
    serde_json::to_string(document)
        .map_err(|e| StoreError::Corrupt(format!("{kind} record does not encode: {e}")))
}

/// Parses `text`, checks its version is `known` (or absent), and only then reads the fields,
/// so a document of another version fails on its version, not on some field it renamed.
fn decode<T: DeserializeOwned>(kind: &str, known: u64, text: &str) -> Result<T, StoreError> {
    let malformed = |e: serde_json::Error| StoreError::Corrupt(format!("{kind} record: {e}"));
    let value: Value = serde_json::from_str(text).map_err(malformed)?;
    match value.get(VERSION_FIELD) {
        None => {}
        Some(v) if v.as_u64() == Some(known) => {}
        Some(v) => {
            return Err(StoreError::Corrupt(format!(
                "{kind} record has schema version {v}; this build reads version {known} only \
                 (written by a newer release?)"
            )));
        }
    }
    serde_json::from_value(value).map_err(malformed)
}

/// A field of a document that does not make a valid domain value.
fn invalid(kind: &str, field: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{kind} record: {field}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Documents written by the code before versions existed (see tests/fixtures/README.md).
    fn fixture_documents() -> Vec<(&'static str, String)> {
        let embedded: Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/embedded_rows_unversioned.json"
        ))
        .expect("fixture parses");
        let dynamodb: Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/dynamodb_items_unversioned.json"
        ))
        .expect("fixture parses");
        let mut documents = Vec::new();
        for (table, kind) in [("videos", "video"), ("video_chunks", "chunk")] {
            for row in embedded[table].as_array().expect("rows") {
                documents.push((kind, row["record"].as_str().expect("text").to_owned()));
            }
        }
        for item in dynamodb.as_array().expect("items") {
            let kind = match item["pk"]["S"].as_str().expect("pk") {
                pk if pk.starts_with("VIDEO#") => "video",
                pk if pk.starts_with("CHUNK#") => "chunk",
                pk => panic!("unexpected item {pk}"),
            };
            documents.push((kind, item["record"]["S"].as_str().expect("S").to_owned()));
        }
        documents
    }

    /// The fixture's text with `"v":1` first: what this build writes for the same values.
    fn versioned(text: &str) -> String {
        let rest = text.strip_prefix('{').expect("an object");
        format!("{{\"v\":1,{rest}")
    }

    fn reencode(kind: &str, text: &str) -> Result<String, StoreError> {
        match kind {
            "video" => encode_video(&decode_video(text)?),
            _ => encode_chunk(&decode_chunk(text)?),
        }
    }

    #[test]
    fn unversioned_documents_read_as_version_one_and_write_back_byte_for_byte() {
        let documents = fixture_documents();
        assert_eq!(documents.len(), 12, "4 videos and 8 chunk records");
        for (kind, text) in documents {
            let written = reencode(kind, &text).expect("reads");
            assert_eq!(written, versioned(&text), "{kind} document changed");
            // And what this build writes reads back to the same values.
            assert_eq!(reencode(kind, &written).expect("reads"), written);
        }
    }

    #[test]
    fn a_policy_round_trips_and_no_policy_stores_nothing() {
        let body = serde_json::json!({
            "maxFileBytes": 2147483648u64, "allowedContentTypes": ["video/*", "image/png"],
            "maxUploads": 1, "allowedOrigins": ["https://app.example.com:8443"],
            "video": {"title": "t", "description": "d", "tags": ["a"], "public": false,
                      "metadata": [{"key": "k", "value": "v"}]}
        });
        let mut policy = TokenPolicy::default();
        let mut name = None;
        crate::domain::PolicyPatch::parse(
            body.as_object().expect("object"),
            crate::domain::FieldStyle::Camel,
            &[],
        )
        .expect("valid")
        .apply(&mut policy, &mut name);
        let text = encode_policy(&policy)
            .expect("encodes")
            .expect("a document");
        assert!(text.starts_with("{\"v\":1,"), "{text}");
        assert_eq!(decode_policy(Some(&text)).expect("decodes"), policy);
        assert_eq!(
            encode_policy(&TokenPolicy::default()).expect("encodes"),
            None
        );
        assert_eq!(
            decode_policy(None).expect("decodes"),
            TokenPolicy::default()
        );
        assert!(matches!(
            decode_policy(Some("{\"v\":1,\"allowedOrigins\":[\"nope\"]}")),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn unknown_versions_are_refused_as_corrupt() {
        for (kind, text) in fixture_documents() {
            let rest = text.strip_prefix('{').expect("an object");
            for version in ["2", "0", "\"1\"", "null"] {
                let future = format!("{{\"v\":{version},{rest}");
                match reencode(kind, &future) {
                    Err(StoreError::Corrupt(message)) => assert!(
                        message.contains(&format!("{kind} record has schema version {version}")),
                        "{message}"
                    ),
                    other => panic!("version {version} of a {kind} was {other:?}"),
                }
            }
        }
    }

    #[test]
    fn a_renamed_stored_field_is_refused_with_its_name() {
        let (_, text) = fixture_documents()
            .into_iter()
            .find(|(kind, _)| *kind == "video")
            .expect("a video");
        let renamed = text.replace("\"project_id\":", "\"projectId\":");
        match decode_video(&renamed) {
            Err(StoreError::Corrupt(message)) => {
                assert!(message.contains("project_id"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn invalid_ids_are_corrupt_not_a_panic() {
        let (_, text) = fixture_documents()
            .into_iter()
            .find(|(kind, _)| *kind == "video")
            .expect("a video");
        let bad = text.replacen("\"id\":\"vi", "\"id\":\"xx", 1);
        match decode_video(&bad) {
            Err(StoreError::Corrupt(message)) => assert!(message.contains("id"), "{message}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            decode_chunk("not json"),
            Err(StoreError::Corrupt(_))
        ));
    }
}
