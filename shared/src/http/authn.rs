//! Who is calling, from what the request carries: `Authorization: Basic base64(apiKey:)`,
//! `Bearer <access token>` or `Bearer <apiKey>` on API-key routes; the upload token on upload
//! routes. The decisions
//! are the use cases' ([`crate::usecases::identity`]); this module reads headers and queries.

use super::routes::{Access, Caller};
use super::{ApiError, App, Slug};
use crate::auth::{ApiKey, Principal};
use crate::usecases::UseCaseError;
use crate::usecases::identity::{self, BearerCredential};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use http::header::AUTHORIZATION;

/// The caller of a route with `access`, or the 401 to answer.
pub(super) async fn authorize(
    access: Access,
    app: &App,
    head: &http::request::Parts,
    params: &[(&'static str, String)],
) -> Result<Caller, ApiError> {
    match access {
        Access::ApiKey => authenticate(app, &head.headers).await.map(Caller::Project),
        Access::UploadToken => upload_token(app, &head.uri, &head.headers, params)
            .await
            .map(|token| Caller::Upload(Box::new(token))),
        Access::Public => Ok(Caller::Anonymous),
    }
}

/// Authenticates a project's API key: directly (Basic, or Bearer with the key itself) or through
/// an access token (Bearer). A Bearer credential shaped like an access token is refused as an
/// invalid access token; any other as an invalid API key.
pub async fn authenticate(app: &App, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let header = headers
        .get(AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default().trim())
        .filter(|v| !v.is_empty())
        .ok_or(ApiError::MissingAuthorization(
            "send `Authorization: Basic base64(<apiKey>:)`, `Bearer <apiKey>` or a Bearer token from POST /auth/api-key",
        ))?;
    let (scheme, credentials) = header.split_once(' ').unwrap_or((header, ""));
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let key = basic_key(credentials).ok_or(ApiError::InvalidApiKey)?;
        identity::principal_for_key(app.store.as_ref(), &key)
            .await?
            .ok_or(ApiError::InvalidApiKey)
    } else if scheme.eq_ignore_ascii_case("bearer") {
        match BearerCredential::classify(credentials) {
            BearerCredential::AccessToken(token) => identity::principal_for_access_token(
                app.store.as_ref(),
                &app.signer,
                token,
                app.clock.now(),
            )
            .await?
            .ok_or(ApiError::InvalidAccessToken),
            BearerCredential::ApiKey(key) => identity::principal_for_key(app.store.as_ref(), &key)
                .await?
                .ok_or(ApiError::InvalidApiKey),
            BearerCredential::Neither => Err(ApiError::InvalidApiKey),
        }
    } else {
        Err(ApiError::MissingAuthorization(
            "the Authorization scheme must be Basic or Bearer",
        ))
    }
}

/// The API key of Basic credentials: the user name (the password is empty, or ignored).
fn basic_key(credentials: &str) -> Option<ApiKey> {
    let decoded = String::from_utf8(STANDARD.decode(credentials).ok()?).ok()?;
    let user = decoded.split_once(':').map_or(decoded.as_str(), |(u, _)| u);
    ApiKey::parse(user).ok()
}

/// The active upload token of the `{token}` path parameter, or else of `?token=`; 401
/// otherwise (one answer for unknown, expired and deleted tokens). Authorization headers are
/// ignored: the token is the only credential.
async fn upload_token(
    app: &App,
    uri: &http::Uri,
    headers: &HeaderMap,
    params: &[(&'static str, String)],
) -> Result<crate::domain::UploadToken, ApiError> {
    let value = match params.iter().find(|(name, _)| *name == "token") {
        Some((_, value)) => Some(value.clone()),
        None => form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned()),
    }
    .filter(|v| !v.is_empty())
    .ok_or_else(|| {
        ApiError::reject(
            Slug::MissingUploadToken,
            Some("token"),
            "call POST /upload?token=<upload token>",
        )
    })?;
    let token = identity::active_upload_token(app.store.as_ref(), &value, app.clock.now())
        .await?
        .ok_or_else(|| {
            ApiError::reject(
                Slug::InvalidUploadToken,
                Some("token"),
                "the upload token is unknown, expired or deleted",
            )
        })?;
    // A page the token does not allow is refused before anything else: every upload route
    // passes here.
    let origin = headers
        .get(http::header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("\u{0}"));
    token
        .policy
        .check_origin(origin)
        .map_err(|v| ApiError::from(UseCaseError::Policy(v)))?;
    Ok(token)
}
