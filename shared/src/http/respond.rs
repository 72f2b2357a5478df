//! Response builders: the only place bodies and content types are set.

use super::Response;
use super::problem::Problem;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

/// `Content-Type: application/json`, exactly: the Node client refuses any parameter.
pub const JSON: &str = "application/json";
/// Content type of errors.
pub const PROBLEM_JSON: &str = "application/problem+json";

fn with_body(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A JSON body.
pub fn json(status: StatusCode, value: &impl Serialize) -> Response {
    // Serialising our own plain structs cannot fail; an empty body would show if it did.
    with_body(status, JSON, serde_json::to_vec(value).unwrap_or_default())
}

/// A problem+json body.
pub fn problem(status: StatusCode, problem: &Problem) -> Response {
    with_body(
        status,
        PROBLEM_JSON,
        serde_json::to_vec(problem).unwrap_or_default(),
    )
}

/// What a problem says, in one sentence: its detail, or else its title.
/// The problem's detail (else its title), naming the field it is about when it does not
/// already.
fn sentence(problem: &Problem) -> String {
    let text = problem
        .detail
        .clone()
        .unwrap_or_else(|| problem.title.clone());
    match &problem.name {
        Some(name) if !text.contains(name.as_str()) => format!("{name}: {text}"),
        _ => text,
    }
}

/// A success in vidbeo's envelope: `{"success":true,"result":…,"links":…,"errors":[]}`.
pub fn envelope(
    status: StatusCode,
    result: &impl Serialize,
    links: Option<&serde_json::Value>,
) -> Response {
    json(
        status,
        &serde_json::json!({
            "success": true,
            "result": result,
            "links": links,
            "errors": [],
        }),
    )
}

/// A problem in vidbeo's envelope: the slug as `code`, the detail (or title) as `message`, the
/// offending field as `field`.
pub fn envelope_error(status: StatusCode, problem: &Problem) -> Response {
    let mut error = serde_json::json!({ "code": problem.slug(), "message": sentence(problem) });
    if let Some(name) = &problem.name {
        error["field"] = serde_json::Value::String(name.clone());
    }
    json(
        status,
        &serde_json::json!({
            "success": false,
            "result": null,
            "links": null,
            "errors": [error],
        }),
    )
}

/// A problem as `{"message": "…"}`.
pub fn message_error(status: StatusCode, problem: &Problem) -> Response {
    json(status, &serde_json::json!({ "message": sentence(problem) }))
}

/// A problem as one plain-text sentence.
pub fn text_error(status: StatusCode, problem: &Problem) -> Response {
    with_body(
        status,
        "text/plain; charset=utf-8",
        sentence(problem).into_bytes(),
    )
}

/// 204 with no body and no content type.
pub fn no_content() -> Response {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// The response of a handler's outcome, errors in `format`.
pub fn finish(format: super::ErrorFormat, result: Result<Response, super::ApiError>) -> Response {
    result.unwrap_or_else(|e| e.into_response_as(format))
}
