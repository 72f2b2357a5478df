//! A chunk record as stored.

use super::{CHUNK_VERSION, unversioned};
use crate::domain::ReceivedChunk;
use serde::{Deserialize, Serialize};

/// Version 1: `{"v":1,"offset":…,"size":…,"part":…,"sha256":"…"}`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ChunkDocument {
    #[serde(rename = "v", default = "unversioned")]
    version: u64,
    #[serde(rename = "offset")]
    offset: u64,
    #[serde(rename = "size")]
    size: u64,
    #[serde(rename = "part", default)]
    part: u32,
    #[serde(rename = "sha256")]
    sha256: String,
}

impl From<&ReceivedChunk> for ChunkDocument {
    fn from(chunk: &ReceivedChunk) -> Self {
        let ReceivedChunk {
            offset,
            size,
            part,
            sha256,
        } = chunk;
        Self {
            version: CHUNK_VERSION,
            offset: *offset,
            size: *size,
            part: *part,
            sha256: sha256.clone(),
        }
    }
}

impl From<ChunkDocument> for ReceivedChunk {
    fn from(document: ChunkDocument) -> Self {
        let ChunkDocument {
            version: _,
            offset,
            size,
            part,
            sha256,
        } = document;
        Self {
            offset,
            size,
            part,
            sha256,
        }
    }
}
