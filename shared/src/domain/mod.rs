//! Pure domain types and rules: parse, don't validate. Nothing here does I/O or knows AWS.

mod ids;
mod listing;
mod time;
mod token;
mod ttl;

pub use ids::{InvalidId, KeyId, ProjectId, TokenId, random_alphanumeric};
pub use listing::{
    CurrentPage, InvalidQueryParameter, ListQuery, PageLink, PageSize, Pagination, SortBy,
    SortOrder,
};
pub use time::{Clock, ManualClock, SystemClock, format_timestamp};
pub use token::{CreationOrder, UploadToken};
pub use ttl::{InvalidTtl, Ttl};
