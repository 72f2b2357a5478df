//! `/v2/tokens`: the vidbeo face of the token store. Named, typed tokens whose `ut_…` value is
//! shown once, at creation; `PATCH`; newest-first listing with cursors; every answer in the
//! `success/result/links/errors` envelope, with snake_case fields and times in milliseconds
//! (`2022-01-01T12:00:00.000Z`). It shows both faces' tokens: an api.video token appears with
//! its `to…` token as `id`.

use super::body::json_object;
use super::respond::envelope;
use super::token_fields::{name_value, policy_fields, settings, ttl_field, usage_fields};
use super::{ApiError, App, Call, Response, Slug};
use crate::domain::{CreationOrder, FieldStyle, TokenId, Ttl, UploadToken};
use crate::usecases::UseCaseError;
use crate::usecases::tokens::{self, NewToken};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use http::StatusCode;
use serde_json::{Map, Value, json};

/// The only type of token there is.
const UPLOAD: &str = "upload";
/// Collection path, the root of `links.next`.
const COLLECTION: &str = "/v2/tokens";
/// Default and largest `limit`.
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;

/// vidbeo's times: UTC, milliseconds, `Z`.
fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A token on this face: `id, name, type, created_by, created_time, updated_by, updated_time,
/// ttl, expires_time`, the policy fields (`null` when unset) and the usage.
fn token_body(t: &UploadToken) -> Value {
    let key =
        |k: &Option<crate::domain::KeyId>| k.as_ref().map_or(Value::Null, |k| k.as_str().into());
    let mut body = Map::new();
    body.insert("id".into(), t.id.as_str().into());
    body.insert("name".into(), name_value(t));
    body.insert("type".into(), UPLOAD.into());
    body.insert("created_by".into(), key(&t.created_by));
    body.insert("created_time".into(), time(t.created_at).into());
    body.insert("updated_by".into(), key(&t.updated_by));
    body.insert("updated_time".into(), time(t.updated_at).into());
    body.insert("ttl".into(), t.ttl.seconds().into());
    body.insert(
        "expires_time".into(),
        t.expires_at().map_or(Value::Null, |at| time(at).into()),
    );
    policy_fields(&t.policy, FieldStyle::Snake, true, &mut body);
    usage_fields(&t.usage, FieldStyle::Snake, time, &mut body);
    Value::Object(body)
}

/// The `{id}` path parameter: either face's id; a malformed one is as unknown as any other.
fn token_id(call: &Call) -> Result<TokenId, ApiError> {
    TokenId::parse(call.param("id")).map_err(|_| ApiError::NotFound("token"))
}

/// 404 answers on this face name the token.
fn named_not_found(e: UseCaseError) -> ApiError {
    match e {
        UseCaseError::NotFound(_) => ApiError::NotFound("token"),
        other => other.into(),
    }
}

/// `POST /v2/tokens` `{"type":"upload","name":…, ttl?, policy fields?}` → 201 with the token
/// and its `value`, shown this once.
pub(super) async fn create(app: &App, call: Call) -> Result<Response, ApiError> {
    let principal = call.principal()?;
    let body = json_object(call.request.body().whole()?)?;
    match body.get("type") {
        Some(Value::String(t)) if t == UPLOAD => {}
        _ => {
            return Err(ApiError::InvalidAttribute {
                name: "type",
                detail: format!("type is required and must be one of: {UPLOAD}"),
            });
        }
    }
    if !matches!(body.get("name"), Some(Value::String(_))) {
        return Err(ApiError::InvalidAttribute {
            name: "name",
            detail: "name is required: a string of 1 to 50 characters".into(),
        });
    }
    let new = NewToken {
        ttl: ttl_field(&body)?.unwrap_or(Ttl::NEVER),
        settings: settings(&body, FieldStyle::Snake, &["type", "ttl"])?,
    };
    let (token, value) =
        tokens::create_named_token(app.store.as_ref(), app.clock.as_ref(), principal, new).await?;
    let mut result = token_body(&token);
    result["value"] = value.as_str().into();
    Ok(envelope(StatusCode::CREATED, &result, None))
}

/// `GET /v2/tokens?limit=&cursor=` → the project's active tokens, newest first; `links.next`
/// while more remain.
pub(super) async fn list(app: &App, call: Call) -> Result<Response, ApiError> {
    let principal = call.principal()?;
    let (limit, cursor) = list_query(call.request.uri().query())?;
    let before = cursor
        .map(|c| Cursor::verify(app, &principal.project_id, &c))
        .transpose()?;
    let (page, more) = tokens::list_newest(
        app.store.as_ref(),
        app.clock.as_ref(),
        &principal.project_id,
        before.as_ref(),
        limit,
    )
    .await?;
    let mut links = json!({});
    if let (true, Some(last)) = (more, page.last()) {
        let cursor = Cursor::sign(app, &principal.project_id, &last.creation_order);
        links["next"] = format!("{COLLECTION}?limit={limit}&cursor={cursor}").into();
    }
    let result: Vec<Value> = page.iter().map(token_body).collect();
    Ok(envelope(StatusCode::OK, &result, Some(&links)))
}

/// `limit` (1..=100, default 25) and `cursor` of a list query; other parameters are ignored.
fn list_query(query: Option<&str>) -> Result<(usize, Option<String>), ApiError> {
    let mut limit = None;
    let mut cursor = None;
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "limit" if limit.is_none() => limit = Some(v.into_owned()),
            "cursor" if cursor.is_none() => cursor = Some(v.into_owned()),
            _ => {}
        }
    }
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::InvalidQueryParameter {
                name: "limit",
                detail: format!("limit must be a whole number from 1 to {MAX_LIMIT}"),
            })?,
    };
    Ok((limit, cursor.filter(|c| !c.is_empty())))
}

/// A position in a project's newest-first listing: the creation order of the last token
/// shown, with the project, signed with the service's key so that it cannot be altered or
/// used for another project.
struct Cursor;

impl Cursor {
    fn message(project: &crate::domain::ProjectId, order: &str) -> String {
        format!("tokens-cursor.v1.{project}.{order}")
    }

    fn sign(app: &App, project: &crate::domain::ProjectId, order: &CreationOrder) -> String {
        let order = order.to_string();
        let signature = app.signer.sign(&Self::message(project, &order));
        format!(
            "{}.{signature}",
            URL_SAFE_NO_PAD.encode(format!("{project}.{order}"))
        )
    }

    fn verify(
        app: &App,
        project: &crate::domain::ProjectId,
        cursor: &str,
    ) -> Result<CreationOrder, ApiError> {
        let invalid = || ApiError::from(UseCaseError::CursorInvalid);
        let (payload, signature) = cursor.split_once('.').ok_or_else(invalid)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|p| String::from_utf8(p).ok())
            .ok_or_else(invalid)?;
        let (for_project, order) = payload.split_once('.').ok_or_else(invalid)?;
        if for_project != project.as_str()
            || !app
                .signer
                .verify_signature(&Self::message(project, order), signature)
        {
            return Err(invalid());
        }
        order.parse().map_err(|_| invalid())
    }
}

/// `GET /v2/tokens/{id}` → the token (never its value), `"links": null`.
pub(super) async fn get(app: &App, call: Call) -> Result<Response, ApiError> {
    let principal = call.principal()?;
    let id = token_id(&call)?;
    let token = tokens::get_token(
        app.store.as_ref(),
        app.clock.as_ref(),
        &principal.project_id,
        &id,
    )
    .await
    .map_err(named_not_found)?;
    Ok(envelope(StatusCode::OK, &token_body(&token), None))
}

/// `PATCH /v2/tokens/{id}` with one or more of `name`, `ttl` and the policy fields → 200 with
/// the token; `type`, unknown fields or nothing to change → 400.
pub(super) async fn update(app: &App, call: Call) -> Result<Response, ApiError> {
    let principal = call.principal()?;
    let id = token_id(&call)?;
    let body = json_object(call.request.body().whole()?)?;
    if body.contains_key("type") {
        return Err(ApiError::InvalidAttribute {
            name: "type",
            detail: "a token's type cannot be changed".into(),
        });
    }
    let ttl = ttl_field(&body)?;
    let settings = settings(&body, FieldStyle::Snake, &["ttl"])?;
    if ttl.is_none() && settings.is_empty() {
        return Err(ApiError::reject(
            Slug::InvalidPayload,
            Some("body"),
            "send one or more of name, ttl and the policy fields to change",
        ));
    }
    let token = tokens::update_token(
        app.store.as_ref(),
        app.clock.as_ref(),
        principal,
        &id,
        ttl,
        settings,
    )
    .await
    .map_err(named_not_found)?;
    Ok(envelope(StatusCode::OK, &token_body(&token), None))
}

/// `DELETE /v2/tokens/{id}` → 200 with an empty result; the token authenticates nothing from
/// then on, on either face.
pub(super) async fn delete(app: &App, call: Call) -> Result<Response, ApiError> {
    let principal = call.principal()?;
    let id = token_id(&call)?;
    tokens::delete_token(
        app.store.as_ref(),
        app.clock.as_ref(),
        &principal.project_id,
        &id,
    )
    .await
    .map_err(named_not_found)?;
    Ok(envelope(StatusCode::OK, &json!({}), None))
}
