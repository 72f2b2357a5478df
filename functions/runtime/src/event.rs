//! API Gateway (HTTP API, payload v2) events to and from the shared handlers' `http` types.

use bytes::Bytes;
use lambda_http::{Body, RequestExt};
use upload_tokens_core::http as handlers;

/// A path parameter (`{token}`, `{videoId}`), or, when the event has none, the path segment
/// after `upload-tokens` or `videos`.
pub(crate) fn path_parameter(event: &lambda_http::Request, name: &str) -> String {
    if let Some(value) = event.path_parameters_ref().and_then(|p| p.first(name)) {
        return value.to_owned();
    }
    let segments: Vec<&str> = event.uri().path().split('/').collect();
    segments
        .iter()
        .position(|s| *s == "upload-tokens" || *s == "videos")
        .and_then(|i| segments.get(i + 1))
        .map_or_else(String::new, |s| (*s).to_owned())
}

/// API Gateway's body (text, or binary already decoded from base64) as bytes, without copying.
pub(crate) fn into_request(event: lambda_http::Request) -> handlers::Request {
    let (parts, body) = event.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(binary) => Bytes::from(binary),
        // `Body` is non-exhaustive upstream; nothing else is produced for API Gateway events.
        _ => Bytes::new(),
    };
    http::Request::from_parts(parts, bytes)
}

/// JSON and problem bodies go back as text; an empty body as no body.
pub(crate) fn into_lambda(response: handlers::Response) -> lambda_http::Response<Body> {
    let (parts, body) = response.into_parts();
    let body = if body.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(body.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    lambda_http::Response::from_parts(parts, body)
}
