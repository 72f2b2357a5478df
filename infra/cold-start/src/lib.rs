//! The cold-start benchmark's local Lambda Runtime API (see `src/main.rs`).

pub mod runtime_api;
