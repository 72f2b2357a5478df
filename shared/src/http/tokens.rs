//! `/upload-tokens`: create, list, get, delete.

use super::body::json_object;
use super::respond::{json, no_content};
use super::{ApiError, App, Call, Response};
use crate::domain::{
    InvalidTtl, ListQuery, Pagination, TokenId, Ttl, UploadToken, format_timestamp,
};
use crate::usecases::tokens;
use http::StatusCode;
use serde::Serialize;

/// Collection path, also the root of pagination links.
const COLLECTION: &str = "/upload-tokens";

/// An upload token on the wire.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenBody {
    token: String,
    ttl: u32,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
}

impl From<&UploadToken> for TokenBody {
    fn from(t: &UploadToken) -> Self {
        Self {
            token: t.id.to_string(),
            ttl: t.ttl.seconds(),
            created_at: format_timestamp(t.created_at),
            expires_at: t.expires_at().map(format_timestamp),
        }
    }
}

#[derive(Debug, Serialize)]
struct ListBody {
    data: Vec<TokenBody>,
    pagination: Pagination,
}

/// The `{token}` path parameter; a malformed one is as unknown as any other.
fn token_id(call: &Call) -> Result<TokenId, ApiError> {
    TokenId::parse(call.param("token")).map_err(|_| ApiError::NotFound("uploadToken"))
}

/// `POST /upload-tokens` `{"ttl": int}` → 200 with the new token.
pub(super) async fn create(app: &App, call: Call) -> Result<Response, ApiError> {
    let project = call.principal()?.project_id.clone();
    let body = json_object(call.request.body().whole()?)?;
    let ttl = match body.get("ttl") {
        None => Ttl::NEVER,
        Some(v) => Ttl::from_json(v).map_err(|e| ApiError::InvalidAttribute {
            name: "ttl",
            detail: match e {
                InvalidTtl::NotAnInteger => {
                    "ttl must be an integer number of seconds (0 = never expires)".into()
                }
                InvalidTtl::OutOfRange => e.to_string(),
            },
        })?,
    };
    let token = tokens::create_token(app.store.as_ref(), app.clock.as_ref(), project, ttl).await?;
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
