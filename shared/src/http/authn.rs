//! Who is calling: `Authorization: Basic base64(apiKey:)` or `Bearer <access token>`.

use super::{ApiError, App, Request};
use crate::auth::ApiKey;
use crate::domain::{KeyId, ProjectId};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::header::AUTHORIZATION;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The project everything is scoped to.
    pub project_id: ProjectId,
    /// The API key the caller proved (directly or through an access token).
    pub key_id: KeyId,
}

/// Authenticates a request, or says why not (always a 401).
pub async fn authenticate(app: &App, req: &Request) -> Result<Principal, ApiError> {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default().trim())
        .filter(|v| !v.is_empty())
        .ok_or(ApiError::MissingAuthorization(
            "send `Authorization: Basic base64(<apiKey>:)` or a Bearer token from POST /auth/api-key",
        ))?;
    let (scheme, credentials) = header.split_once(' ').unwrap_or((header, ""));
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        basic(app, credentials).await
    } else if scheme.eq_ignore_ascii_case("bearer") {
        bearer(app, credentials).await
    } else {
        Err(ApiError::MissingAuthorization(
            "the Authorization scheme must be Basic or Bearer",
        ))
    }
}

async fn basic(app: &App, credentials: &str) -> Result<Principal, ApiError> {
    let decoded = STANDARD
        .decode(credentials)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(ApiError::InvalidApiKey)?;
    // The key is the user name; the password is empty (or ignored).
    let user = decoded.split_once(':').map_or(decoded.as_str(), |(u, _)| u);
    let key = ApiKey::parse(user).map_err(|_| ApiError::InvalidApiKey)?;
    principal_for_key(app, &key)
        .await?
        .ok_or(ApiError::InvalidApiKey)
}

/// The principal an API key stands for, if it is registered.
pub(super) async fn principal_for_key(
    app: &App,
    key: &ApiKey,
) -> Result<Option<Principal>, ApiError> {
    let presented = key.hash();
    let Some(record) = app.store.api_key_by_hash(&presented).await? else {
        return Ok(None);
    };
    Ok(record.hash.matches(&presented).then_some(Principal {
        project_id: record.project_id,
        key_id: record.key_id,
    }))
}

async fn bearer(app: &App, token: &str) -> Result<Principal, ApiError> {
    let claims = app
        .signer
        .verify(token, app.clock.now())
        .map_err(|_| ApiError::InvalidAccessToken)?;
    let (Some(key_id), Some(project_id)) = (claims.key_id(), claims.project_id()) else {
        return Err(ApiError::InvalidAccessToken);
    };
    // A revoked key ends its access tokens at once.
    match app.store.api_key_by_id(&key_id).await? {
        Some(record) if record.project_id == project_id => Ok(Principal { project_id, key_id }),
        _ => Err(ApiError::InvalidAccessToken),
    }
}
