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

/// 204 with no body and no content type.
pub fn no_content() -> Response {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// The response of a handler's outcome.
pub fn finish(result: Result<Response, super::ApiError>) -> Response {
    result.unwrap_or_else(super::ApiError::into_response)
}
