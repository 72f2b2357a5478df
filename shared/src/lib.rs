//! Domain crate of upload-tokens.
//!
//! - [`domain`]: pure types and rules (ids, ttl, token lifetime, listing and pagination). No I/O.
//! - [`auth`]: API-key hashing and access-token signing. Pure, no I/O.
//! - [`store`]: capability traits and their adapters (DynamoDB, embedded SQLite).
//! - [`usecases`]: the workflows (create a token, accept a chunk, delete a video…) over the
//!   narrow store traits they need.
//! - [`http`]: the route table, and handlers that parse requests into use cases and render
//!   their results, shared by the Lambda functions and the local server; RFC 7807 problems.
//! - [`internal`]: failures on our side, and error chains for the logs.

pub mod auth;
pub mod domain;
pub mod http;
pub mod internal;
pub mod store;
pub mod usecases;
