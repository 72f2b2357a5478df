//! Failures on our side that are neither bad input nor a store failure (a broken invariant, a
//! secret that cannot be read), and how every error is logged: with its whole chain of causes.

use std::borrow::Cow;
use std::error::Error;
use std::fmt;

/// Something went wrong on our side. The client sees a generic 500; the log sees `what` and the
/// cause.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct InternalError {
    what: Cow<'static, str>,
    #[source]
    source: Option<Box<dyn Error + Send + Sync>>,
}

impl InternalError {
    /// An internal error with no underlying cause.
    pub fn new(what: impl Into<Cow<'static, str>>) -> Self {
        Self {
            what: what.into(),
            source: None,
        }
    }

    /// An internal error caused by `source`.
    pub fn caused_by(
        what: impl Into<Cow<'static, str>>,
        source: impl Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            what: what.into(),
            source: Some(Box::new(source)),
        }
    }
}

/// Displays an error followed by each of its causes: `outer: cause: root cause`.
pub struct ErrorChain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(e) = cause {
            write!(f, ": {e}")?;
            cause = e.source();
        }
        Ok(())
    }
}

/// Environment variable naming a crash point: when the upload path reaches the point of that
/// name, the process aborts on the spot, as `kill -9` would. How the crash suite proves that
/// every such point leaves a state the client's retry completes. Unset in production.
pub const CRASH_AT_ENV: &str = "UPLOAD_TOKENS_CRASH_AT";

/// Aborts the process if [`CRASH_AT_ENV`] names `point`. Points: `after-bytes` (a chunk's
/// bytes written, its commit not yet made), `after-commit` (committed, not yet answered),
/// `before-complete` (the last chunk's bytes written, the blob not yet completed) and
/// `after-complete-rename` (the file store's blob renamed into place, the state not written).
pub fn crash_point(point: &str) {
    static CRASH_AT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let crash_at = CRASH_AT.get_or_init(|| std::env::var(CRASH_AT_ENV).ok());
    if crash_at.as_deref() == Some(point) {
        eprintln!("{CRASH_AT_ENV}={point}: aborting");
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_shows_every_cause() {
        let io = std::io::Error::other("disk on fire");
        let e = InternalError::caused_by("signing secret unavailable", io);
        assert_eq!(
            ErrorChain(&e).to_string(),
            "signing secret unavailable: disk on fire"
        );
        assert_eq!(ErrorChain(&InternalError::new("x")).to_string(), "x");
    }
}
