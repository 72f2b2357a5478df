//! Pure domain types and rules: parse, don't validate. Nothing here does I/O or knows AWS.

mod content_range;
mod ids;
mod listing;
mod policy;
mod secret_hash;
mod time;
mod token;
mod ttl;
mod tus;
mod upload;
mod video;

pub use content_range::{ContentRange, InvalidContentRange, MAX_PARTS};
pub use ids::{
    InvalidId, KeyId, NAMED_TOKEN_ID_LEN, ProjectId, TokenId, VideoId, random_alphanumeric,
};
pub use listing::{
    CurrentPage, InvalidQueryParameter, ListQuery, PageLink, PageReading, PageSize, Pagination,
    SortBy, SortOrder,
};
pub use policy::{
    FieldStyle, InvalidPolicyField, MimePattern, Origin, PolicyPatch, PolicyViolation, SNIFF_BYTES,
    TokenName, TokenPolicy, VideoPreset,
};
pub use secret_hash::SecretHash;
pub use time::{Clock, ManualClock, SystemClock, format_timestamp};
pub use token::{CreationOrder, TokenUsage, UploadToken, truncate_to_millis};
pub use ttl::{InvalidTtl, Ttl};
pub use tus::{
    DeclaredLength, InvalidTusHeader, MAX_METADATA_BYTES, TUS_EXTENSIONS, TUS_PATCH_TYPE,
    TUS_VERSION, UploadMetadata, is_patch_type, parse_size, supported_version,
};
pub use upload::{
    IncomingChunk, ReceivedChunk, TusUpload, UploadMode, UploadProgress, UploadRuleError, Verdict,
};
pub use video::{InvalidVideoAttribute, Metadata, Video, VideoPatch, title_from_file_name};
