//! Credentials: API keys (stored as hashes), signed access tokens and rotating refresh tokens.
//! Pure functions and types; storage lives in [`crate::store`].

mod access_token;
mod secret;

pub use access_token::{AccessClaims, AccessTokenError, AccessTokenSigner, SigningKey};
pub use secret::{ApiKey, InvalidApiKey, RefreshToken, SecretHash};

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
