//! Whether what a test drives from outside Rust is here: the moto server (DynamoDB, S3, Secrets
//! Manager), the Python venv, the Node clients, Chromium. The test command installs and starts
//! all of them; a developer running `cargo test` alone may have none.
//!
//! One rule for every test: in CI (`CI=true`, which `.ci/run` sets) a missing service fails the
//! test, because a skipped test there would pass without testing anything; elsewhere the test
//! is skipped and says why on stderr.

use std::path::Path;

/// Set by the test command to the moto server's base URL once it is up.
pub const MOTO_ENV: &str = "UPLOAD_TOKENS_TEST_MOTO_URL";

/// Whether the tests run in CI, where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The moto server's URL, or `None` after saying that `test` is skipped. Panics in CI.
pub fn require_moto(test: &str) -> Option<String> {
    match std::env::var(MOTO_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => missing(
            test,
            &format!("{MOTO_ENV} is not set (moto is not running)"),
        ),
    }
}

/// Whether the installed tool or package at `path` exists; if not, says that `test` is
/// skipped. Panics in CI.
pub fn require_tool(test: &str, path: &Path) -> bool {
    if path.exists() {
        return true;
    }
    missing::<()>(test, &format!("{} is missing", path.display()));
    false
}

fn missing<T>(test: &str, what: &str) -> Option<T> {
    if in_ci() {
        panic!("{test}: {what}; in CI the test command must provide it");
    }
    eprintln!("{test}: skipped, {what} (run the README's test command)");
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_present_tool_is_required_without_fuss() {
        assert!(require_tool("gate", Path::new(env!("CARGO_MANIFEST_DIR"))));
    }

    #[test]
    fn a_missing_tool_fails_in_ci_and_is_skipped_elsewhere() {
        let missing = Path::new(env!("CARGO_MANIFEST_DIR")).join("no-such-tool");
        let outcome = std::panic::catch_unwind(|| require_tool("gate", &missing));
        if in_ci() {
            assert!(outcome.is_err(), "CI must fail on a missing tool");
        } else {
            assert_eq!(outcome.ok(), Some(false));
        }
    }
}
