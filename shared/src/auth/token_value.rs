//! The secret value of a named token (the `/v2/tokens` face): `ut_` and 40 characters of
//! `[0-9A-Za-z]` from the CSPRNG (≈ 238 bits), shown once when the token is created and stored
//! only as its SHA-256.
//!
//! The token's public id is derived from its value (21 base-36 characters of a SHA-256 over the
//! value, under a label of its own): an upload presenting the value finds the token with the
//! one read it takes for an api.video token, and the id, which lists and logs show, gives
//! nothing of the value away. The stored hash is still compared (in constant time) before the
//! value counts: an id is 108 bits, the value's hash 256.

use super::SecretHash;
use crate::domain::{NAMED_TOKEN_ID_LEN, TokenId, random_alphanumeric};
use sha2::{Digest, Sha256};

/// Label mixed into the id's hash, so that the id is not a prefix of the stored hash.
const ID_LABEL: &[u8] = b"upload-tokens named token id\0";

/// A named token's value, as presented by a client. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct NamedTokenValue(String);

impl std::fmt::Debug for NamedTokenValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NamedTokenValue(…)")
    }
}

impl NamedTokenValue {
    /// What every value starts with.
    pub const PREFIX: &'static str = "ut_";
    /// Random characters of a generated value.
    const RANDOM_LEN: usize = 40;

    /// A new random value.
    pub fn generate() -> Self {
        Self(format!(
            "{}{}",
            Self::PREFIX,
            random_alphanumeric(Self::RANDOM_LEN)
        ))
    }

    /// A value as a client presents it: the prefix and 32 to 64 letters or digits.
    pub fn parse(s: &str) -> Option<Self> {
        let rest = s.strip_prefix(Self::PREFIX)?;
        ((32..=64).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| Self(s.to_owned()))
    }

    /// The value itself (shown once, at creation).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What is stored of it.
    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0)
    }

    /// The public id of the token with this value.
    pub fn id(&self) -> TokenId {
        let digest = Sha256::new()
            .chain_update(ID_LABEL)
            .chain_update(self.0.as_bytes())
            .finalize();
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        let mut n = u128::from_be_bytes(first);
        const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let mut id = [b'0'; NAMED_TOKEN_ID_LEN];
        for slot in id.iter_mut().rev() {
            *slot = DIGITS[(n % 36) as usize];
            n /= 36;
        }
        // 21 base-36 digits of a 128-bit number: always the named form.
        let id = String::from_utf8_lossy(&id).into_owned();
        TokenId::parse_named(&id).unwrap_or_else(|_| TokenId::generate())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_value_parses_and_names_a_named_id() {
        let value = NamedTokenValue::generate();
        assert_eq!(value.as_str().len(), 43);
        assert_eq!(NamedTokenValue::parse(value.as_str()), Some(value.clone()));
        let id = value.id();
        assert!(id.is_named(), "{id}");
        assert_eq!(id, value.id(), "the same value, the same id");
        assert_ne!(id, NamedTokenValue::generate().id());
        assert!(value.hash().matches(&SecretHash::of(value.as_str())));
    }

    #[test]
    fn values_that_are_not_ours_are_refused() {
        for bad in [
            "",
            "ut_",
            "ut_short",
            "to1tcmSFHeYY5KzyhOqVKMKb",
            "UT_abcdefghijklmnopqrstuvwxyz0123456789",
            "ut_abcdefghijklmnopqrstuvwxyz012345678-",
        ] {
            assert!(NamedTokenValue::parse(bad).is_none(), "{bad}");
        }
        assert!(NamedTokenValue::parse("ut_abcdefghijklmnopqrstuvwxyz012345").is_some());
    }

    #[test]
    fn the_id_never_shows_in_the_value_nor_its_hash() {
        let value = NamedTokenValue::generate();
        let id = value.id();
        assert!(!value.as_str().contains(id.as_str()));
        assert!(!value.hash().to_hex().contains(id.as_str()));
    }
}
