//! Credentials: API keys (stored as hashes), signed access tokens and rotating refresh tokens.
//! Pure functions and types; storage lives in [`crate::store`], and where signing keys are
//! re-read from is a [`SigningKeySource`] the caller provides.

mod access_token;
mod key_reload;
mod secret;
mod signing_keys;
mod token_value;

pub use access_token::{
    AccessClaims, AccessTokenError, AccessTokenSigner, looks_like_access_token,
};
pub use key_reload::ReloadPolicy;
pub use secret::{ApiKey, InvalidApiKey, RefreshToken, SecretHash};
pub use signing_keys::{KeyLoadError, SigningKey, SigningKeyId, SigningKeySource, SigningKeys};
pub use token_value::NamedTokenValue;

use crate::domain::{KeyId, ProjectId};

/// An authenticated caller: the project a key acts for, and the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The project everything is scoped to.
    pub project_id: ProjectId,
    /// The API key the caller proved (directly or through an access token).
    pub key_id: KeyId,
}

/// Lifetime of an access token, in seconds (`expires_in` of `/auth/api-key`).
pub const ACCESS_TOKEN_SECONDS: i64 = 3600;

/// Lifetime of a refresh token, in seconds (30 days). Each use replaces it with a new one.
pub const REFRESH_TOKEN_SECONDS: i64 = 30 * 24 * 3600;
