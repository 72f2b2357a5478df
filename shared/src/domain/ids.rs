//! Identifiers: a two-letter prefix and 22 characters of `[0-9A-Za-z]` from a CSPRNG (131 bits).

use rand::Rng;
use rand::distr::Alphanumeric;
use std::fmt;

/// Length of the random part of every identifier.
const RANDOM_LEN: usize = 22;

/// `len` characters of `[0-9A-Za-z]` from the thread-local CSPRNG (ChaCha, OS-seeded).
pub fn random_alphanumeric(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A string that is not a well-formed identifier of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {kind} id")]
pub struct InvalidId {
    /// Which kind of identifier was expected.
    pub kind: &'static str,
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The two-letter prefix every such id starts with.
            pub const PREFIX: &'static str = $prefix;

            /// A new random id.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, random_alphanumeric(RANDOM_LEN)))
            }

            /// Accepts exactly the prefix followed by 22 ASCII letters or digits.
            pub fn parse(s: &str) -> Result<Self, InvalidId> {
                let rest = s.strip_prefix($prefix).ok_or(InvalidId { kind: $kind })?;
                if rest.len() == RANDOM_LEN && rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(InvalidId { kind: $kind })
                }
            }

            /// The id as sent on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// An upload token's public identifier, in one of two forms:
/// - `to` + 22 characters of `[0-9A-Za-z]`: a token of the api.video face, whose id is also its
///   value (possessing it lets a client upload);
/// - 21 characters of `[a-z0-9]`: a named token of the `/v2/tokens` face, whose secret value
///   (`ut_…`) is another string, shown once ([`crate::auth::NamedTokenValue`] derives the id
///   from it, so an upload finds its token with one read).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId(String);

/// Length of a named token's id.
pub const NAMED_TOKEN_ID_LEN: usize = 21;

impl TokenId {
    /// The prefix of api.video-face tokens.
    pub const PREFIX: &'static str = "to";

    /// A new random api.video-face token (`to…`).
    pub fn generate() -> Self {
        Self(format!(
            "{}{}",
            Self::PREFIX,
            random_alphanumeric(RANDOM_LEN)
        ))
    }

    /// Accepts either form exactly.
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        Self::parse_shown(s).or_else(|_| Self::parse_named(s))
    }

    /// Accepts only the api.video form (`to` + 22 letters or digits).
    pub fn parse_shown(s: &str) -> Result<Self, InvalidId> {
        let bad = InvalidId {
            kind: "upload token",
        };
        let rest = s.strip_prefix(Self::PREFIX).ok_or(bad.clone())?;
        if rest.len() == RANDOM_LEN && rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(bad)
        }
    }

    /// Accepts only the named form (21 lower-case letters or digits).
    pub fn parse_named(s: &str) -> Result<Self, InvalidId> {
        if s.len() == NAMED_TOKEN_ID_LEN
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidId {
                kind: "named token",
            })
        }
    }

    /// Whether this is a named token's id (its value is a secret shown once, not the id).
    pub fn is_named(&self) -> bool {
        self.0.len() == NAMED_TOKEN_ID_LEN
    }

    /// The id as sent on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
prefixed_id!(
    /// A video: `vi` + 22 characters.
    VideoId,
    "vi",
    "video"
);
prefixed_id!(
    /// A project: the unit of ownership of API keys, tokens and videos.
    ProjectId,
    "pr",
    "project"
);
prefixed_id!(
    /// The public identifier of an API key (never the key itself): used to revoke it and carried
    /// by access tokens so that revoking a key also ends its sessions.
    KeyId,
    "ak",
    "API key"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back() {
        let id = TokenId::generate();
        assert_eq!(id.as_str().len(), 24);
        assert_eq!(TokenId::parse(id.as_str()), Ok(id));
    }

    #[test]
    fn generated_ids_differ() {
        assert_ne!(TokenId::generate(), TokenId::generate());
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in [
            "",
            "to",
            "toABC",
            "vi1tcmSFHeYY5KzyhOqVKMKb",
            "to1tcmSFHeYY5KzyhOqVKMK!",
            "to1tcmSFHeYY5KzyhOqVKMKbb",
        ] {
            assert!(TokenId::parse(bad).is_err(), "{bad}");
        }
        assert!(TokenId::parse("to1tcmSFHeYY5KzyhOqVKMKb").is_ok());
    }

    #[test]
    fn named_token_ids_are_21_lower_case_letters_or_digits() {
        let named = TokenId::parse("abcde12345abcde12345a").expect("named");
        assert!(named.is_named());
        assert!(!TokenId::generate().is_named());
        for bad in [
            "abcde12345abcde12345",
            "abcde12345abcde12345ab",
            "Abcde12345abcde12345a",
            "abcde12345abcde1234-a",
        ] {
            assert!(TokenId::parse(bad).is_err(), "{bad}");
        }
        assert!(TokenId::parse_shown("abcde12345abcde12345a").is_err());
        assert!(TokenId::parse_named("to1tcmSFHeYY5KzyhOqVKMKb").is_err());
    }

    #[test]
    fn kinds_do_not_mix() {
        let project = ProjectId::generate();
        assert!(TokenId::parse(project.as_str()).is_err());
        assert!(KeyId::parse(project.as_str()).is_err());
    }
}
