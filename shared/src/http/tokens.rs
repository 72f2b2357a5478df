//! `/upload-tokens`: create, list, get, delete.

use super::body::json_object;
use super::respond::{finish, json, no_content};
use super::{ApiError, App, Request, Response, authenticate};
use crate::domain::{
    InvalidTtl, ListQuery, Pagination, TokenId, Ttl, UploadToken, format_timestamp,
};
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

/// `POST /upload-tokens` `{"ttl": int}` → 200 with the new token.
pub async fn create_token(app: &App, req: &Request) -> Response {
    finish(
        async {
            let principal = authenticate(app, req).await?;
            let body = json_object(req.body())?;
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
            let token = UploadToken::create(principal.project_id, ttl, app.clock.now());
            app.store.insert_token(&token).await?;
            tracing::info!(token_ttl = ttl.seconds(), "upload token created");
            Ok(json(StatusCode::OK, &TokenBody::from(&token)))
        }
        .await,
    )
}

/// `GET /upload-tokens?sortBy&sortOrder&currentPage&pageSize` → 200 with a page.
pub async fn list_tokens(app: &App, req: &Request) -> Response {
    finish(
        async {
            let principal = authenticate(app, req).await?;
            let query = ListQuery::parse(req.uri().query()).map_err(|e| {
                ApiError::InvalidQueryParameter {
                    name: e.name,
                    detail: e.detail,
                }
            })?;
            let page = app
                .store
                .list_tokens(&principal.project_id, &query, app.clock.now())
                .await?;
            let data: Vec<TokenBody> = page.tokens.iter().map(TokenBody::from).collect();
            let pagination = Pagination::new(COLLECTION, &query, page.total, data.len() as u32);
            Ok(json(StatusCode::OK, &ListBody { data, pagination }))
        }
        .await,
    )
}

/// `GET /upload-tokens/{token}` → 200, or 404 if unknown, expired, deleted or another project's.
pub async fn get_token(app: &App, req: &Request, token: &str) -> Response {
    finish(
        async {
            let principal = authenticate(app, req).await?;
            let id = TokenId::parse(token).map_err(|_| ApiError::NotFound("uploadToken"))?;
            let token = app
                .store
                .get_token(&principal.project_id, &id, app.clock.now())
                .await?
                .ok_or(ApiError::NotFound("uploadToken"))?;
            Ok(json(StatusCode::OK, &TokenBody::from(&token)))
        }
        .await,
    )
}

/// `DELETE /upload-tokens/{token}` → 204, or 404 as for get.
pub async fn delete_token(app: &App, req: &Request, token: &str) -> Response {
    finish(
        async {
            let principal = authenticate(app, req).await?;
            let id = TokenId::parse(token).map_err(|_| ApiError::NotFound("uploadToken"))?;
            if app
                .store
                .delete_token(&principal.project_id, &id, app.clock.now())
                .await?
            {
                tracing::info!("upload token deleted");
                Ok(no_content())
            } else {
                Err(ApiError::NotFound("uploadToken"))
            }
        }
        .await,
    )
}
