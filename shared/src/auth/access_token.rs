//! Stateless access tokens: `v2.<signing key id>.<base64url claims>.<base64url HMAC-SHA256>`.
//!
//! The token names the key that signed it (its "header", as a JWT's `kid`), so a signer holding
//! the current and the previous key verifies each token with the right one, and a token naming
//! a key the signer does not hold is a reason to re-read the keys (a rotation it has not seen
//! yet), not a forgery to try every key on. Tokens of the first format, `v1.<claims>.<HMAC>`,
//! named no key: they are still accepted, checked against every held key, until they expire.

use super::key_reload::Reload;
use super::signing_keys::{SigningKey, SigningKeyId, SigningKeys};
use crate::domain::{KeyId, ProjectId};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;
use std::sync::{Arc, RwLock};

/// The format issued.
const VERSION: &str = "v2";
/// The first format, without a key id: verified, never issued.
const LEGACY_VERSION: &str = "v1";
/// Bytes of an HMAC-SHA256.
const MAC_LEN: usize = 32;

/// What an access token asserts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The API key it was obtained with (revoking the key ends the token). Not the signing
    /// key's id, which is in the token's header.
    pub kid: String,
    /// The project it acts for.
    pub pid: String,
    /// Expiry, epoch seconds.
    pub exp: i64,
}

impl AccessClaims {
    /// The key id, if well formed.
    pub fn key_id(&self) -> Option<KeyId> {
        KeyId::parse(&self.kid).ok()
    }

    /// The project id, if well formed.
    pub fn project_id(&self) -> Option<ProjectId> {
        ProjectId::parse(&self.pid).ok()
    }
}

/// Why an access token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessTokenError {
    /// Not of the token's shape, or claims that do not decode.
    #[error("malformed access token")]
    Malformed,
    /// It names a signing key this signer does not hold.
    #[error("access token signed with an unknown key")]
    UnknownKey,
    /// The signature does not match.
    #[error("bad access token signature")]
    BadSignature,
    /// Past its expiry.
    #[error("expired access token")]
    Expired,
}

/// A token split into its parts; nothing verified yet.
struct Parsed<'a> {
    /// What the signature covers: everything before the last `.`.
    signed: &'a str,
    /// The signing key's id (`None` for the legacy format).
    key_id: Option<&'a str>,
    payload: &'a str,
    signature: Vec<u8>,
}

fn is_base64url(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn parse(token: &str) -> Result<Parsed<'_>, AccessTokenError> {
    let (signed, signature) = token.rsplit_once('.').ok_or(AccessTokenError::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .filter(|s| s.len() == MAC_LEN)
        .ok_or(AccessTokenError::Malformed)?;
    let (version, rest) = signed.split_once('.').ok_or(AccessTokenError::Malformed)?;
    let (key_id, payload) = match version {
        VERSION => {
            let (id, payload) = rest.split_once('.').ok_or(AccessTokenError::Malformed)?;
            if !SigningKeyId::is_well_formed(id) {
                return Err(AccessTokenError::Malformed);
            }
            (Some(id), payload)
        }
        LEGACY_VERSION => (None, rest),
        _ => return Err(AccessTokenError::Malformed),
    };
    if !is_base64url(payload) {
        return Err(AccessTokenError::Malformed);
    }
    Ok(Parsed {
        signed,
        key_id,
        payload,
        signature,
    })
}

/// Whether `credential` begins as an access token does (`v2.` or `v1.`), however mangled the
/// rest: how a Bearer credential is told from an API key without a store read. Generated API
/// keys never contain a `.`; a key chosen to begin so still works with Basic.
pub fn looks_like_access_token(credential: &str) -> bool {
    credential
        .split_once('.')
        .is_some_and(|(version, _)| version == VERSION || version == LEGACY_VERSION)
}

fn mac(key: &SigningKey) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key.bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
}

fn signature_matches(key: &SigningKey, message: &str, signature: &[u8]) -> bool {
    let mut mac = mac(key);
    mac.update(message.as_bytes());
    mac.verify_slice(signature).is_ok()
}

pub(super) struct Inner {
    pub(super) keys: RwLock<Arc<SigningKeys>>,
    pub(super) reload: Option<Reload>,
}

/// Issues and verifies access tokens (and signs local download links) with its
/// [`SigningKeys`]; with a [`SigningKeySource`](super::SigningKeySource), re-reads them when a
/// rotation shows (`key_reload.rs`). Clones share the keys.
#[derive(Clone)]
pub struct AccessTokenSigner {
    pub(super) inner: Arc<Inner>,
}

impl fmt::Debug for AccessTokenSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokenSigner")
            .field("keys", &self.keys())
            .field("reloads", &self.inner.reload.is_some())
            .finish()
    }
}

impl AccessTokenSigner {
    /// A signer with one key and nothing to re-read (the local server's secret file).
    pub fn new(key: SigningKey) -> Self {
        Self::with_keys(SigningKeys::new(key))
    }

    /// A signer with fixed keys.
    pub fn with_keys(keys: SigningKeys) -> Self {
        Self {
            inner: Arc::new(Inner {
                keys: RwLock::new(Arc::new(keys)),
                reload: None,
            }),
        }
    }

    /// The keys held now.
    pub fn keys(&self) -> Arc<SigningKeys> {
        // A poisoned lock still holds a complete `Arc`: writers only ever swap it.
        self.inner
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A token for `claims`, signed with the current key.
    pub fn issue(&self, claims: &AccessClaims) -> String {
        let keys = self.keys();
        let key = keys.current();
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signed = format!("{VERSION}.{}.{payload}", key.id());
        let mut mac = mac(key);
        mac.update(signed.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signed}.{sig}")
    }

    /// The claims of a genuine token, signed with a held key, that is not expired at `now`.
    pub fn verify(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<AccessClaims, AccessTokenError> {
        let parsed = parse(token)?;
        let keys = self.keys();
        let genuine = match parsed.key_id {
            Some(id) => {
                let key = keys.find(id).ok_or(AccessTokenError::UnknownKey)?;
                signature_matches(key, parsed.signed, &parsed.signature)
            }
            None => keys
                .all()
                .any(|key| signature_matches(key, parsed.signed, &parsed.signature)),
        };
        if !genuine {
            return Err(AccessTokenError::BadSignature);
        }
        let claims: AccessClaims = URL_SAFE_NO_PAD
            .decode(parsed.payload)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(AccessTokenError::Malformed)?;
        if now.timestamp() >= claims.exp {
            return Err(AccessTokenError::Expired);
        }
        Ok(claims)
    }

    /// A URL-safe HMAC of `message` with the current key (for signed download links).
    pub fn sign(&self, message: &str) -> String {
        let mut mac = mac(self.keys().current());
        mac.update(message.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether `signature` is [`sign`](Self::sign)'s for `message` with a held key (constant
    /// time for each).
    pub fn verify_signature(&self, message: &str, signature: &str) -> bool {
        let Ok(sig) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        self.keys()
            .all()
            .any(|key| signature_matches(key, message, &sig))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn key(secret: &str) -> SigningKey {
        SigningKey::new(secret.repeat(32)).expect("long enough")
    }

    fn signer(secret: &str) -> AccessTokenSigner {
        AccessTokenSigner::new(key(secret))
    }

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            kid: KeyId::generate().to_string(),
            pid: ProjectId::generate().to_string(),
            exp,
        }
    }

    /// A token in the first format (no key id), as issued before key ids existed.
    fn legacy_token(secret: &str, claims: &AccessClaims) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("serializable"));
        let signed = format!("v1.{payload}");
        let mut mac = mac(&key(secret));
        mac.update(signed.as_bytes());
        format!(
            "{signed}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    #[test]
    fn issued_token_verifies_until_expiry() {
        let s = signer("a");
        let now = Utc::now();
        let c = claims(now.timestamp() + 10);
        let token = s.issue(&c);
        assert_eq!(s.verify(&token, now), Ok(c));
        let later = now + TimeDelta::seconds(10);
        assert_eq!(s.verify(&token, later), Err(AccessTokenError::Expired));
    }

    #[test]
    fn a_token_names_the_key_that_signed_it_in_its_header() {
        let s = signer("a");
        let token = s.issue(&claims(Utc::now().timestamp() + 10));
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 4, "{token}");
        assert_eq!(parts[0], "v2");
        assert_eq!(parts[1], key("a").id().as_str());
        assert!(looks_like_access_token(&token));
    }

    #[test]
    fn token_of_an_unknown_key_is_refused_as_such() {
        let now = Utc::now();
        let token = signer("a").issue(&claims(now.timestamp() + 10));
        assert_eq!(
            signer("b").verify(&token, now),
            Err(AccessTokenError::UnknownKey)
        );
    }

    #[test]
    fn token_naming_a_held_key_but_signed_with_another_is_refused() {
        let now = Utc::now();
        let token = signer("a").issue(&claims(now.timestamp() + 10));
        let (_, rest) = token.split_at(3 + SigningKeyId::LEN);
        let forged = format!("v2.{}{rest}", key("b").id());
        assert_eq!(
            signer("b").verify(&forged, now),
            Err(AccessTokenError::BadSignature)
        );
    }

    #[test]
    fn previous_key_verifies_current_key_signs() {
        let now = Utc::now();
        let old = signer("a").issue(&claims(now.timestamp() + 10));
        let rotated =
            AccessTokenSigner::with_keys(SigningKeys::new(key("b")).with_previous(Some(key("a"))));
        assert!(rotated.verify(&old, now).is_ok());
        let new = rotated.issue(&claims(now.timestamp() + 10));
        assert!(new.starts_with(&format!("v2.{}.", key("b").id())));
        assert_eq!(
            signer("a").verify(&new, now),
            Err(AccessTokenError::UnknownKey)
        );
    }

    #[test]
    fn legacy_tokens_without_key_id_verify_with_any_held_key() {
        let now = Utc::now();
        let c = claims(now.timestamp() + 10);
        let rotated =
            AccessTokenSigner::with_keys(SigningKeys::new(key("b")).with_previous(Some(key("a"))));
        assert_eq!(rotated.verify(&legacy_token("a", &c), now), Ok(c.clone()));
        assert_eq!(rotated.verify(&legacy_token("b", &c), now), Ok(c.clone()));
        assert_eq!(
            rotated.verify(&legacy_token("c", &c), now),
            Err(AccessTokenError::BadSignature)
        );
    }

    #[test]
    fn tampered_claims_are_refused() {
        let s = signer("a");
        let now = Utc::now();
        let token = s.issue(&claims(now.timestamp() + 10));
        let forged_payload = URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&claims(now.timestamp() + 99999)).expect("serializable"));
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!("v2.{}.{forged_payload}.{}", parts[1], parts[3]);
        assert_eq!(s.verify(&forged, now), Err(AccessTokenError::BadSignature));
        let legacy = format!("v1.{forged_payload}.{}", parts[3]);
        assert_eq!(s.verify(&legacy, now), Err(AccessTokenError::BadSignature));
    }

    #[test]
    fn garbage_is_malformed() {
        let s = signer("a");
        let sig = "A".repeat(43);
        let kid = key("a").id().to_string();
        for t in [
            String::new(),
            "abc".into(),
            "v1.".into(),
            "v2.e30.AAAA".into(),
            "v1.e30.!!!".into(),
            format!("v3.e30.{sig}"),
            format!("v2.e30.{sig}"),
            format!("v2.short.e30.{sig}"),
            format!("v2.{kid}..{sig}"),
            format!("v2.{kid}.e3!0.{sig}"),
            format!("v2.{kid}.e30.{}", "A".repeat(40)),
        ] {
            assert_eq!(
                s.verify(&t, Utc::now()),
                Err(AccessTokenError::Malformed),
                "{t}"
            );
        }
    }

    #[test]
    fn what_begins_as_an_access_token_is_taken_for_one_and_api_keys_never_are() {
        let token = signer("a").issue(&claims(Utc::now().timestamp() + 10));
        for t in [token.as_str(), &token[..token.len() - 4], "v2.", "v1.e30.x"] {
            assert!(looks_like_access_token(t), "{t}");
        }
        for k in [
            crate::auth::ApiKey::generate().expose().to_owned(),
            "my-local-dev-key".into(),
            "v2".into(),
            "v3.abc.def".into(),
            "xv2.abc".into(),
        ] {
            assert!(!looks_like_access_token(&k), "{k}");
        }
    }

    #[test]
    fn download_signatures_verify_with_every_held_key() {
        let message = "download:vi1:99";
        let old = signer("a").sign(message);
        let rotated =
            AccessTokenSigner::with_keys(SigningKeys::new(key("b")).with_previous(Some(key("a"))));
        assert!(rotated.verify_signature(message, &old));
        assert!(rotated.verify_signature(message, &rotated.sign(message)));
        assert!(!signer("c").verify_signature(message, &old));
        assert!(!rotated.verify_signature("download:vi1:100", &old));
    }
}
