//! Sessions for the SDKs that use Bearer: an API key (or a refresh token, usable once) buys a
//! short-lived access token and a new refresh token.

use super::UseCaseError;
use super::identity::principal_for_key;
use crate::auth::{
    ACCESS_TOKEN_SECONDS, AccessClaims, AccessTokenSigner, ApiKey, Principal,
    REFRESH_TOKEN_SECONDS, RefreshToken,
};
use crate::domain::Clock;
use crate::internal::InternalError;
use crate::store::{ApiKeyReader, RefreshRecord, RefreshTokenStore, StoreError};
use chrono::TimeDelta;

/// What a session workflow needs.
#[derive(Clone, Copy)]
pub struct SessionDeps<'a> {
    /// Where API keys are looked up.
    pub keys: &'a dyn ApiKeyReader,
    /// Where refresh tokens are kept.
    pub refresh_tokens: &'a dyn RefreshTokenStore,
    /// Signs access tokens.
    pub signer: &'a AccessTokenSigner,
    /// Where "now" comes from.
    pub clock: &'a dyn Clock,
}

/// A new session.
#[derive(Debug)]
pub struct Session {
    /// The Bearer token.
    pub access_token: String,
    /// Seconds the access token lives.
    pub expires_in: i64,
    /// The refresh token (its hash is stored; this is the only time it is seen).
    pub refresh_token: RefreshToken,
}

/// A session for a registered API key.
pub async fn exchange_api_key(
    deps: SessionDeps<'_>,
    key: &ApiKey,
) -> Result<Session, UseCaseError> {
    let principal = principal_for_key(deps.keys, key)
        .await?
        .ok_or(UseCaseError::InvalidCredentials("apiKey"))?;
    start(deps, principal).await
}

/// A new session for an unexpired, unused refresh token whose key is still live; the presented
/// token is spent either way.
pub async fn refresh_session(
    deps: SessionDeps<'_>,
    presented: &RefreshToken,
) -> Result<Session, UseCaseError> {
    let invalid = UseCaseError::InvalidCredentials("refreshToken");
    let record = deps
        .refresh_tokens
        .take_refresh_token(&presented.hash(), deps.clock.now())
        .await?
        .ok_or(invalid)?;
    match deps.keys.api_key_by_id(&record.key_id).await? {
        Some(key) if key.project_id == record.project_id => {
            start(
                deps,
                Principal {
                    project_id: record.project_id,
                    key_id: record.key_id,
                },
            )
            .await
        }
        // The key was revoked since: the session ends with it.
        _ => Err(UseCaseError::InvalidCredentials("refreshToken")),
    }
}

async fn start(deps: SessionDeps<'_>, principal: Principal) -> Result<Session, UseCaseError> {
    let now = deps.clock.now();
    let claims = AccessClaims {
        kid: principal.key_id.to_string(),
        pid: principal.project_id.to_string(),
        exp: now.timestamp() + ACCESS_TOKEN_SECONDS,
    };
    // Signed with the current key, re-read first if old: after a rotation every instance
    // signs with the new secret within the reload policy's `max_age`.
    let access_token = deps.signer.issue_with_reload(&claims, now).await;
    let refresh_token = RefreshToken::generate();
    let record = RefreshRecord {
        hash: refresh_token.hash(),
        key_id: principal.key_id,
        project_id: principal.project_id,
        expires_at: now + TimeDelta::seconds(REFRESH_TOKEN_SECONDS),
    };
    match deps.refresh_tokens.insert_refresh_token(&record).await {
        Ok(()) => Ok(Session {
            access_token,
            expires_in: ACCESS_TOKEN_SECONDS,
            refresh_token,
        }),
        // 256 random bits colliding means the RNG is broken: fail loudly, never overwrite.
        Err(StoreError::AlreadyExists) => Err(InternalError::new(
            "refresh token collision: the random generator is broken",
        )
        .into()),
        Err(e) => Err(e.into()),
    }
}
