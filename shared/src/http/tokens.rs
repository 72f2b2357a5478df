//! `/upload-tokens`: create, list, get, change, delete: the api.video face of the token store.
//! It shows and lists only tokens whose value is their id (`to…`); the policy fields of SPEC §7
//! appear (camelCase) only when set, the usage once the token was used.

use super::body::json_object;
use super::respond::{json, no_content};
use super::token_fields::{name_value, policy_fields, settings, ttl_field, usage_fields};
use super::{ApiError, App, Call, Response};
use crate::domain::{
    FieldStyle, ListQuery, Pagination, TokenId, Ttl, UploadToken, format_timestamp,
};
use crate::usecases::tokens::{self, NewToken};
use http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};

/// Collection path, also the root of pagination links.
const COLLECTION: &str = "/upload-tokens";

/// An upload token on the wire: `token, ttl, createdAt, expiresAt?`, then `name` and the
/// policy fields when set, then the usage once the token was used.
#[derive(Debug, Serialize)]
#[serde(transparent)]
struct TokenBody(Map<String, Value>);

impl From<&UploadToken> for TokenBody {
    fn from(t: &UploadToken) -> Self {
        let mut body = Map::new();
        body.insert("token".into(), t.id.as_str().into());
        body.insert("ttl".into(), t.ttl.seconds().into());
        body.insert("createdAt".into(), format_timestamp(t.created_at).into());
        if let Some(at) = t.expires_at() {
            body.insert("expiresAt".into(), format_timestamp(at).into());
        }
        if t.name.is_some() {
            body.insert("name".into(), name_value(t));
        }
        policy_fields(&t.policy, FieldStyle::Camel, false, &mut body);
        // Like the policy, the usage shows once there is some: a token never used has exactly
        // api.video's keys.
        if t.usage.last_used_at.is_some() {
            usage_fields(&t.usage, FieldStyle::Camel, format_timestamp, &mut body);
        }
        Self(body)
    }
}

#[derive(Debug, Serialize)]
struct ListBody {
    data: Vec<TokenBody>,
    pagination: Pagination,
}

/// The `{token}` path parameter: a `to…` token (this face shows no named token); a malformed
/// one is as unknown as any other.
fn token_id(call: &Call) -> Result<TokenId, ApiError> {
    TokenId::parse_shown(call.param("token")).map_err(|_| ApiError::NotFound("uploadToken"))
}

/// `POST /upload-tokens` `{"ttl": int, name?, §7 fields?}` → 200 with the new token.
pub(super) async fn create(app: &App, call: Call) -> Result<Response, ApiError> {
    let principal = call.principal()?;
    let body = json_object(call.request.body().whole()?)?;
    let new = NewToken {
        ttl: ttl_field(&body)?.unwrap_or(Ttl::NEVER),
        settings: settings(&body, FieldStyle::Camel, &["ttl"])?,
    };
    let token =
        tokens::create_token(app.store.as_ref(), app.clock.as_ref(), principal, new).await?;
    Ok(json(StatusCode::OK, &TokenBody::from(&token)))
}

/// `PATCH /upload-tokens/{token}` with any of `ttl`, `name` and the §7 fields (`null` clears
/// one) → 200 with the token; 404 as for get.
pub(super) async fn update(app: &App, call: Call) -> Result<Response, ApiError> {
    let principal = call.principal()?;
    let id = token_id(&call)?;
    let body = json_object(call.request.body().whole()?)?;
    let ttl = ttl_field(&body)?;
    let settings = settings(&body, FieldStyle::Camel, &["ttl"])?;
    let token = tokens::update_token(
        app.store.as_ref(),
        app.clock.as_ref(),
        principal,
        &id,
        ttl,
        settings,
    )
    .await?;
    Ok(json(StatusCode::OK, &TokenBody::from(&token)))
}

/// `GET /upload-tokens?sortBy&sortOrder&currentPage&pageSize` → 200 with a page.
pub(super) async fn list(app: &App, call: Call) -> Result<Response, ApiError> {
    let principal = call.principal()?;
    let query = ListQuery::parse(call.request.uri().query()).map_err(|e| {
        ApiError::InvalidQueryParameter {
            name: e.name,
            detail: e.detail,
        }
    })?;
    let page = tokens::list_tokens(
        app.store.as_ref(),
        app.clock.as_ref(),
        &principal.project_id,
        &query,
    )
    .await?;
    let data: Vec<TokenBody> = page.tokens.iter().map(TokenBody::from).collect();
    let pagination = Pagination::new(COLLECTION, &query, page.total, data.len() as u32);
    Ok(json(StatusCode::OK, &ListBody { data, pagination }))
}

/// `GET /upload-tokens/{token}` → 200, or 404 if unknown, expired, deleted or another project's.
pub(super) async fn get(app: &App, call: Call) -> Result<Response, ApiError> {
    let principal = call.principal()?;
    let id = token_id(&call)?;
    let token = tokens::get_token(
        app.store.as_ref(),
        app.clock.as_ref(),
        &principal.project_id,
        &id,
    )
    .await?;
    Ok(json(StatusCode::OK, &TokenBody::from(&token)))
}

/// `DELETE /upload-tokens/{token}` → 204, or 404 as for get.
pub(super) async fn delete(app: &App, call: Call) -> Result<Response, ApiError> {
    let principal = call.principal()?;
    let id = token_id(&call)?;
    tokens::delete_token(
        app.store.as_ref(),
        app.clock.as_ref(),
        &principal.project_id,
        &id,
    )
    .await?;
    Ok(no_content())
}
