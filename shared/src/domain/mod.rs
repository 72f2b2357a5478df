//! Pure domain types and rules: parse, don't validate. Nothing here does I/O or knows AWS.

mod content_range;
mod ids;
mod listing;
mod time;
mod token;
mod ttl;
mod upload;
mod video;

pub use content_range::{ContentRange, InvalidContentRange, MAX_PARTS};
pub use ids::{InvalidId, KeyId, ProjectId, TokenId, VideoId, random_alphanumeric};
pub use listing::{
    CurrentPage, InvalidQueryParameter, ListQuery, PageLink, PageSize, Pagination, SortBy,
    SortOrder,
};
pub use time::{Clock, ManualClock, SystemClock, format_timestamp};
pub use token::{CreationOrder, UploadToken};
pub use ttl::{InvalidTtl, Ttl};
pub use upload::{
    IncomingChunk, ReceivedChunk, UploadMode, UploadProgress, UploadRuleError, Verdict,
};
pub use video::{InvalidVideoAttribute, Metadata, Video, VideoPatch, title_from_file_name};
