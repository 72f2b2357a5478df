//! Bearer secrets (API keys, refresh tokens) and the hashes they are stored as.

pub use crate::domain::SecretHash;
use crate::domain::random_alphanumeric;
use std::fmt;

/// Why a string cannot be an API key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidApiKey {
    /// Outside the accepted length.
    #[error("an API key has {min} to {max} characters", min = ApiKey::MIN_LEN, max = ApiKey::MAX_LEN)]
    Length,
    /// Contains a character that cannot travel in `Authorization: Basic key:`.
    #[error("an API key is printable ASCII without spaces or ':'")]
    Character,
}

/// A project API key, as presented by a client. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Shortest key accepted (also for keys chosen with `--api-key`).
    pub const MIN_LEN: usize = 8;
    /// Longest key accepted.
    pub const MAX_LEN: usize = 256;

    /// A new key: 43 characters of `[0-9A-Za-z]` (256 bits).
    pub fn generate() -> Self {
        Self(random_alphanumeric(43))
    }

    /// Accepts 8..=256 printable ASCII characters other than space and `:`.
    pub fn parse(s: &str) -> Result<Self, InvalidApiKey> {
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&s.len()) {
            return Err(InvalidApiKey::Length);
        }
        if !s.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            return Err(InvalidApiKey::Character);
        }
        Ok(Self(s.to_owned()))
    }

    /// The key, to show once to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What is stored.
    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(..)")
    }
}

/// An opaque refresh token: 43 random characters, stored as a hash, usable once.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

impl RefreshToken {
    /// A new random token.
    pub fn generate() -> Self {
        Self(random_alphanumeric(43))
    }

    /// As presented by a client (any string; it is only ever hashed and looked up).
    pub fn presented(s: &str) -> Self {
        Self(s.to_owned())
    }

    /// The token, to hand to the client.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What is stored.
    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0)
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_valid_and_distinct() {
        let a = ApiKey::generate();
        assert_eq!(ApiKey::parse(a.expose()), Ok(a.clone()));
        assert_ne!(a, ApiKey::generate());
    }

    #[test]
    fn keys_that_cannot_travel_in_basic_auth_are_refused() {
        assert_eq!(ApiKey::parse("short"), Err(InvalidApiKey::Length));
        assert_eq!(ApiKey::parse("with:colon1"), Err(InvalidApiKey::Character));
        assert_eq!(ApiKey::parse("with space1"), Err(InvalidApiKey::Character));
        assert_eq!(ApiKey::parse("ünïcödé-key"), Err(InvalidApiKey::Character));
        assert!(ApiKey::parse("my-local-dev-key").is_ok());
    }

    #[test]
    fn hashes_round_trip_and_compare() {
        let h = SecretHash::of("secret");
        assert_eq!(SecretHash::from_hex(&h.to_hex()), Some(h.clone()));
        assert_eq!(SecretHash::from_bytes(h.as_bytes()), Some(h.clone()));
        assert!(h.matches(&SecretHash::of("secret")));
        assert!(!h.matches(&SecretHash::of("secreT")));
        assert_eq!(SecretHash::from_hex("zz"), None);
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let key = ApiKey::generate();
        assert!(!format!("{key:?}").contains(key.expose()));
        let refresh = RefreshToken::generate();
        assert!(!format!("{refresh:?}").contains(refresh.expose()));
    }
}
