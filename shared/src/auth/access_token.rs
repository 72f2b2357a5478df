//! Stateless access tokens: `v1.<base64url claims>.<base64url HMAC-SHA256>`.

use crate::domain::{KeyId, ProjectId};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;

const VERSION: &str = "v1";

/// The secret access tokens are signed with (≥ 32 bytes).
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl SigningKey {
    /// Shortest accepted secret.
    pub const MIN_LEN: usize = 32;

    /// From secret bytes; `None` when shorter than 32 bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Option<Self> {
        let bytes = bytes.into();
        (bytes.len() >= Self::MIN_LEN).then_some(Self(bytes))
    }

    /// A new random secret, as 64 alphanumeric characters (≈ 381 bits).
    pub fn generate_text() -> String {
        crate::domain::random_alphanumeric(64)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

/// What an access token asserts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The API key it was obtained with (revoking the key ends the token).
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
    /// The signature does not match.
    #[error("bad access token signature")]
    BadSignature,
    /// Past its expiry.
    #[error("expired access token")]
    Expired,
}

/// Issues and verifies access tokens with one [`SigningKey`].
#[derive(Debug, Clone)]
pub struct AccessTokenSigner {
    key: SigningKey,
}

impl AccessTokenSigner {
    /// A signer over `key`.
    pub fn new(key: SigningKey) -> Self {
        Self { key }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.key.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
    }

    /// A token for `claims`.
    pub fn issue(&self, claims: &AccessClaims) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signed = format!("{VERSION}.{payload}");
        let mut mac = self.mac();
        mac.update(signed.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signed}.{sig}")
    }

    /// A URL-safe HMAC of `message` (for signed download links).
    pub fn sign(&self, message: &str) -> String {
        let mut mac = self.mac();
        mac.update(message.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether `signature` is [`sign`](Self::sign)'s for `message` (constant time).
    pub fn verify_signature(&self, message: &str, signature: &str) -> bool {
        let Ok(sig) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        let mut mac = self.mac();
        mac.update(message.as_bytes());
        mac.verify_slice(&sig).is_ok()
    }

    /// The claims of a genuine token that is not expired at `now`.
    pub fn verify(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<AccessClaims, AccessTokenError> {
        let (signed, sig) = token.rsplit_once('.').ok_or(AccessTokenError::Malformed)?;
        let payload = signed
            .strip_prefix(VERSION)
            .and_then(|rest| rest.strip_prefix('.'))
            .ok_or(AccessTokenError::Malformed)?;
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| AccessTokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(signed.as_bytes());
        mac.verify_slice(&sig)
            .map_err(|_| AccessTokenError::BadSignature)?;
        let claims: AccessClaims = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(AccessTokenError::Malformed)?;
        if now.timestamp() >= claims.exp {
            return Err(AccessTokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(secret: &str) -> AccessTokenSigner {
        AccessTokenSigner::new(SigningKey::new(secret.repeat(32)).expect("long enough"))
    }

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            kid: KeyId::generate().to_string(),
            pid: ProjectId::generate().to_string(),
            exp,
        }
    }

    #[test]
    fn issued_token_verifies_until_expiry() {
        let s = signer("a");
        let now = Utc::now();
        let c = claims(now.timestamp() + 10);
        let token = s.issue(&c);
        assert_eq!(s.verify(&token, now), Ok(c));
        let later = now + chrono::TimeDelta::seconds(10);
        assert_eq!(s.verify(&token, later), Err(AccessTokenError::Expired));
    }

    #[test]
    fn token_signed_with_another_key_is_refused() {
        let now = Utc::now();
        let token = signer("a").issue(&claims(now.timestamp() + 10));
        assert_eq!(
            signer("b").verify(&token, now),
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
        let sig = token.rsplit_once('.').map(|(_, s)| s).unwrap_or_default();
        let forged = format!("v1.{forged_payload}.{sig}");
        assert_eq!(s.verify(&forged, now), Err(AccessTokenError::BadSignature));
    }

    #[test]
    fn garbage_is_malformed() {
        let s = signer("a");
        for t in ["", "abc", "v1.", "v2.e30.AAAA", "v1.e30.!!!"] {
            assert_eq!(
                s.verify(t, Utc::now()),
                Err(AccessTokenError::Malformed),
                "{t}"
            );
        }
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(SigningKey::new(vec![0u8; 31]).is_none());
        assert!(SigningKey::new(vec![0u8; 32]).is_some());
    }
}
