//! Domain crate of upload-tokens.
//!
//! - [`domain`]: pure types and rules (ids, ttl, token lifetime, listing and pagination). No I/O.
//! - [`auth`]: API-key hashing and access-token signing. Pure, no I/O.
//! - [`store`]: capability traits and their adapters (DynamoDB, embedded SQLite).
//! - [`http`]: handlers from `http::Request` to `http::Response`, shared by the Lambda functions
//!   and the local server, and the RFC 7807 problem mapping.

pub mod auth;
pub mod domain;
pub mod http;
pub mod store;
