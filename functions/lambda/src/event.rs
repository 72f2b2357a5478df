//! API Gateway (HTTP API, payload v2) events to and from the shared handlers' `http` types.

use bytes::Bytes;
use lambda_http::Body;
use upload_tokens_core::http as handlers;

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
    http::Request::from_parts(parts, bytes.into())
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
