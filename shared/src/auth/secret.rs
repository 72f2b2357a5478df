//! Bearer secrets (API keys, refresh tokens) and the hashes they are stored as.

use crate::domain::random_alphanumeric;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// SHA-256 of a high-entropy secret. Secrets are never stored, only this.
///
/// A fast hash is the right tool here: generated keys carry ≥ 256 bits of entropy, so there is
/// nothing for a slow password hash to protect against, and every request pays for it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    /// Hashes `secret`.
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    /// From 32 stored bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// From the hex form.
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(out))
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex, used as a store key.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Constant-time equality: how a presented secret's hash is compared with a stored one.
    pub fn matches(&self, other: &SecretHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretHash({}…)", &self.to_hex()[..8])
    }
}

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
