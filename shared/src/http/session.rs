//! `POST /auth/api-key` and `POST /auth/refresh`: access tokens for the SDKs that use Bearer.

use super::authn::principal_for_key;
use super::body::json_object;
use super::respond::{finish, json};
use super::{ApiError, App, Principal, Request, Response};
use crate::auth::{
    ACCESS_TOKEN_SECONDS, AccessClaims, ApiKey, REFRESH_TOKEN_SECONDS, RefreshToken,
};
use crate::store::{RefreshRecord, StoreError};
use chrono::TimeDelta;
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

/// A string attribute of the body, or the credentials error naming it.
fn credential(req: &Request, name: &'static str) -> Result<String, ApiError> {
    let body = json_object(req.body()).map_err(|_| ApiError::InvalidCredentials(name))?;
    match body.get(name) {
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        _ => Err(ApiError::InvalidCredentials(name)),
    }
}

/// `POST /auth/api-key` `{"apiKey"}` → 200 with an access token and a refresh token.
pub async fn exchange_api_key(app: &App, req: &Request) -> Response {
    finish(
        async {
            let key = ApiKey::parse(&credential(req, "apiKey")?)
                .map_err(|_| ApiError::InvalidCredentials("apiKey"))?;
            let principal = principal_for_key(app, &key)
                .await?
                .ok_or(ApiError::InvalidCredentials("apiKey"))?;
            start_session(app, principal).await
        }
        .await,
    )
}

/// `POST /auth/refresh` `{"refreshToken"}` → 200 with a new pair; the old refresh token is spent.
pub async fn refresh_session(app: &App, req: &Request) -> Response {
    finish(
        async {
            let presented = RefreshToken::presented(&credential(req, "refreshToken")?);
            let record = app
                .store
                .take_refresh_token(&presented.hash(), app.clock.now())
                .await?
                .ok_or(ApiError::InvalidCredentials("refreshToken"))?;
            match app.store.api_key_by_id(&record.key_id).await? {
                Some(key) if key.project_id == record.project_id => {
                    start_session(
                        app,
                        Principal {
                            project_id: record.project_id,
                            key_id: record.key_id,
                        },
                    )
                    .await
                }
                // The key was revoked since: the session ends with it.
                _ => Err(ApiError::InvalidCredentials("refreshToken")),
            }
        }
        .await,
    )
}

async fn start_session(app: &App, principal: Principal) -> Result<Response, ApiError> {
    let now = app.clock.now();
    let access_token = app.signer.issue(&AccessClaims {
        kid: principal.key_id.to_string(),
        pid: principal.project_id.to_string(),
        exp: now.timestamp() + ACCESS_TOKEN_SECONDS,
    });
    let refresh = RefreshToken::generate();
    let record = RefreshRecord {
        hash: refresh.hash(),
        key_id: principal.key_id,
        project_id: principal.project_id,
        expires_at: now + TimeDelta::seconds(REFRESH_TOKEN_SECONDS),
    };
    match app.store.insert_refresh_token(&record).await {
        Ok(()) => {}
        // 256 random bits colliding means the RNG is broken: fail loudly, never overwrite.
        Err(StoreError::AlreadyExists) => {
            return Err(ApiError::Store(StoreError::Corrupt(
                "refresh token collision".into(),
            )));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(json(
        StatusCode::OK,
        &SessionBody {
            token_type: "Bearer",
            expires_in: ACCESS_TOKEN_SECONDS,
            access_token,
            refresh_token: refresh.expose().to_owned(),
        },
    ))
}
