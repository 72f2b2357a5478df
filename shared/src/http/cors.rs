//! CORS for the upload routes: browsers upload straight to them from the page that holds the
//! token (`/upload`, S3-direct's signing routes, tus).

use super::{Response, respond};
use http::{HeaderValue, header};

const ALLOW_METHODS: &str = "POST, OPTIONS";
const ALLOW_HEADERS: &str = "content-range, content-type, authorization, accept, \
     av-origin-client, av-origin-app, av-origin-sdk, tus-resumable, upload-length, \
     upload-defer-length, upload-offset, upload-metadata, x-http-method-override, \
     x-requested-with";

/// Adds `Access-Control-Allow-Origin` (the configured origin, `*` by default).
pub fn allow_origin(mut response: Response, origin: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(origin) {
        response
            .headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    response
}

/// Adds `Access-Control-Allow-Origin: <origin>` for exactly the page that called (a token with
/// `allowedOrigins`), and `Vary: Origin`, since another page gets another answer.
pub fn allow_only(mut response: Response, origin: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(origin) {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

/// The answer to a preflight `OPTIONS /upload`.
pub fn preflight(origin: &str) -> Response {
    preflight_for(ALLOW_METHODS, origin)
}

/// The answer to a preflight of an upload-token route that takes `methods`.
pub fn preflight_for(methods: &str, origin: &str) -> Response {
    let mut response = respond::no_content();
    let headers = response.headers_mut();
    if let Ok(methods) = HeaderValue::from_str(methods) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
    }
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOW_HEADERS),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    allow_origin(response, origin)
}
