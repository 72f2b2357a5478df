//! `POST /auth/api-key` and `POST /auth/refresh`: access tokens for the SDKs that use Bearer.

use super::body::json_object;
use super::respond::json;
use super::{ApiError, App, Call, Response};
use crate::auth::{ApiKey, RefreshToken};
use crate::usecases::sessions::{self, Session, SessionDeps};
use http::StatusCode;
use serde::Serialize;

/// Every field is required by the Python client.
#[derive(Debug, Serialize)]
struct SessionBody {
    token_type: &'static str,
    expires_in: i64,
    access_token: String,
    refresh_token: String,
}

impl From<Session> for SessionBody {
    fn from(s: Session) -> Self {
        Self {
            token_type: "Bearer",
            expires_in: s.expires_in,
            access_token: s.access_token,
            refresh_token: s.refresh_token.expose().to_owned(),
        }
    }
}

fn deps(app: &App) -> SessionDeps<'_> {
    SessionDeps {
        keys: app.store.as_ref(),
        refresh_tokens: app.store.as_ref(),
        signer: &app.signer,
        clock: app.clock.as_ref(),
    }
}

/// A string attribute of the body, or the credentials error naming it.
fn credential(call: &Call, name: &'static str) -> Result<String, ApiError> {
    let body = json_object(call.request.body().whole()?)
        .map_err(|_| ApiError::InvalidCredentials(name))?;
    match body.get(name) {
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        _ => Err(ApiError::InvalidCredentials(name)),
    }
}

/// `POST /auth/api-key` `{"apiKey"}` → 200 with an access token and a refresh token.
pub(super) async fn exchange_api_key(app: &App, call: Call) -> Result<Response, ApiError> {
    let key = ApiKey::parse(&credential(&call, "apiKey")?)
        .map_err(|_| ApiError::InvalidCredentials("apiKey"))?;
    let session = sessions::exchange_api_key(deps(app), &key).await?;
    Ok(json(StatusCode::OK, &SessionBody::from(session)))
}

/// `POST /auth/refresh` `{"refreshToken"}` → 200 with a new pair; the old refresh token is spent.
pub(super) async fn refresh(app: &App, call: Call) -> Result<Response, ApiError> {
    let presented = RefreshToken::presented(&credential(&call, "refreshToken")?);
    let session = sessions::refresh_session(deps(app), &presented).await?;
    Ok(json(StatusCode::OK, &SessionBody::from(session)))
}
