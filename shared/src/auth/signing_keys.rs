//! The secrets access tokens are signed with, and their ids. A token names the key that signed
//! it, so a signer can hold the current key and the previous one while a secret is rotated.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use std::fmt;

/// The id of a [`SigningKey`]: the first 8 bytes of a SHA-256 of the key, base64url (11
/// characters). Derived, never configured: every instance that reads the same secret computes
/// the same id. It reveals nothing usable: the tokens' HMACs already let anyone test a guessed
/// secret offline, and the secrets are ≥ 32 random bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SigningKeyId(String);

impl SigningKeyId {
    /// Length of the textual form.
    pub const LEN: usize = 11;

    /// The id as it appears in tokens.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `s` has the form of an id (11 base64url characters).
    pub fn is_well_formed(s: &str) -> bool {
        s.len() == Self::LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }
}

impl fmt::Display for SigningKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SigningKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKeyId({})", self.0)
    }
}

/// A secret access tokens are signed with (≥ 32 bytes), and its id.
#[derive(Clone)]
pub struct SigningKey {
    bytes: Vec<u8>,
    id: SigningKeyId,
}

impl SigningKey {
    /// Shortest accepted secret.
    pub const MIN_LEN: usize = 32;

    /// From secret bytes; `None` when shorter than 32 bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Option<Self> {
        let bytes = bytes.into();
        if bytes.len() < Self::MIN_LEN {
            return None;
        }
        // Domain-separated, so the id is not the hash of the bare secret.
        let digest = Sha256::new()
            .chain_update(b"upload-tokens signing key id\n")
            .chain_update(&bytes)
            .finalize();
        let id = SigningKeyId(URL_SAFE_NO_PAD.encode(&digest[..8]));
        Some(Self { bytes, id })
    }

    /// A new random secret, as 64 alphanumeric characters (≈ 381 bits).
    pub fn generate_text() -> String {
        crate::domain::random_alphanumeric(64)
    }

    /// The key's id, named by every token it signs.
    pub fn id(&self) -> &SigningKeyId {
        &self.id
    }

    pub(super) fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.id)
    }
}

/// The keys a signer holds: the current one, which signs, and the previous one (the secret's
/// value before its last rotation), which only verifies.
#[derive(Clone, Debug)]
pub struct SigningKeys {
    current: SigningKey,
    previous: Option<SigningKey>,
}

impl SigningKeys {
    /// Only `current`.
    pub fn new(current: SigningKey) -> Self {
        Self {
            current,
            previous: None,
        }
    }

    /// With `previous` also accepted (ignored when it is the current key itself).
    pub fn with_previous(mut self, previous: Option<SigningKey>) -> Self {
        self.previous = previous.filter(|p| p.id() != self.current.id());
        self
    }

    /// The key new tokens are signed with.
    pub fn current(&self) -> &SigningKey {
        &self.current
    }

    /// The previous key, if any.
    pub fn previous(&self) -> Option<&SigningKey> {
        self.previous.as_ref()
    }

    /// The held key with this id.
    pub fn find(&self, id: &str) -> Option<&SigningKey> {
        self.all().find(|k| k.id().as_str() == id)
    }

    /// Every held key, current first.
    pub fn all(&self) -> impl Iterator<Item = &SigningKey> {
        std::iter::once(&self.current).chain(self.previous.as_ref())
    }
}

/// Why the keys could not be re-read.
#[derive(Debug, thiserror::Error)]
#[error("re-reading the signing keys")]
pub struct KeyLoadError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Where a signer re-reads its keys when a token names a key it does not hold, or when its keys
/// are old (Secrets Manager on AWS: the secret's `AWSCURRENT` and `AWSPREVIOUS` values).
#[async_trait]
pub trait SigningKeySource: Send + Sync {
    /// The keys as they are now.
    async fn load(&self) -> Result<SigningKeys, KeyLoadError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: char) -> SigningKey {
        SigningKey::new(c.to_string().repeat(32)).expect("long enough")
    }

    #[test]
    fn a_key_id_is_derived_from_the_key_alone() {
        assert_eq!(key('a').id(), key('a').id());
        assert_ne!(key('a').id(), key('b').id());
        let id = key('a').id().as_str().to_owned();
        assert!(SigningKeyId::is_well_formed(&id), "{id}");
        assert!(!SigningKeyId::is_well_formed("short"));
        assert!(!SigningKeyId::is_well_formed("elevenchar!"));
    }

    #[test]
    fn debug_output_shows_the_id_never_the_secret() {
        let k = key('z');
        let shown = format!("{k:?} {:?}", SigningKeys::new(k.clone()));
        assert!(shown.contains(k.id().as_str()));
        assert!(!shown.contains(&"z".repeat(32)));
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(SigningKey::new(vec![0u8; 31]).is_none());
        assert!(SigningKey::new(vec![0u8; 32]).is_some());
    }

    #[test]
    fn keys_are_found_by_id_and_a_previous_equal_to_current_is_dropped() {
        let keys = SigningKeys::new(key('a')).with_previous(Some(key('b')));
        assert_eq!(
            keys.find(key('b').id().as_str()).map(|k| k.id()),
            Some(key('b').id())
        );
        assert!(keys.find(key('c').id().as_str()).is_none());
        assert_eq!(keys.all().count(), 2);
        let same = SigningKeys::new(key('a')).with_previous(Some(key('a')));
        assert!(same.previous().is_none());
    }
}
