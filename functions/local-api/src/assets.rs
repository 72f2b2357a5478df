//! Static files the local server serves besides the API: the OpenAPI document and the `/demo`
//! upload page with the official `@api.video/video-uploader` (vendored from npm, MIT; a test
//! checks it is byte for byte the npm package's `dist/index.js`) and Uppy's S3 uploader
//! (`@uppy/core` + `@uppy/aws-s3`, bundled from npm by `tests/clients/build_demo_uppy.mjs`; a
//! test rebuilds it and compares).

use axum::body::Body;
use http::{HeaderValue, Response, StatusCode, header};

/// `docs/openapi.yaml`, served at `GET /openapi.yaml`.
pub const OPENAPI_YAML: &str = include_str!("../../../docs/openapi.yaml");

/// The vendored `@api.video/video-uploader` release.
pub const VIDEO_UPLOADER_VERSION: &str = "1.1.6";

/// Its `dist/index.js`, served at `/demo/video-uploader.js`.
pub const VIDEO_UPLOADER_JS: &str = include_str!("../assets/vendor/video-uploader-1.1.6.js");

/// The bundled `@uppy/core` and `@uppy/aws-s3` release.
pub const UPPY_VERSION: &str = "6.3.1";

/// The bundle, served at `/demo/uppy.js`: `window.UppyDirect = { Uppy, AwsS3 }`.
pub const UPPY_JS: &str = include_str!("../assets/vendor/uppy-6.3.1.js");

const DEMO_HTML: &str = include_str!("../assets/demo/index.html");
const DEMO_JS: &str = include_str!("../assets/demo/demo.js");
const DEMO_CSS: &str = include_str!("../assets/demo/demo.css");
const DEMO_ICON: &str = include_str!("../assets/demo/favicon.svg");

/// Only this server's own scripts, styles and API: the uploader talks to the page's origin.
const DEMO_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                        connect-src 'self'; img-src 'self'; form-action 'none'; \
                        frame-ancestors 'none'; base-uri 'none'";

/// The response for a static path, or `None` if `path` is not one.
pub fn serve(path: &str) -> Option<Response<Body>> {
    let (content_type, body) = match path {
        "/openapi.yaml" => ("application/yaml", OPENAPI_YAML),
        "/demo" | "/demo/" => ("text/html; charset=utf-8", DEMO_HTML),
        "/demo/demo.js" => ("text/javascript; charset=utf-8", DEMO_JS),
        "/demo/demo.css" => ("text/css; charset=utf-8", DEMO_CSS),
        "/demo/favicon.svg" | "/favicon.ico" => ("image/svg+xml", DEMO_ICON),
        "/demo/video-uploader.js" => ("text/javascript; charset=utf-8", VIDEO_UPLOADER_JS),
        "/demo/uppy.js" => ("text/javascript; charset=utf-8", UPPY_JS),
        _ => return None,
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if path.starts_with("/demo") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEMO_CSP),
        );
    }
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_paths_are_served_with_their_types_and_others_are_not() {
        for (path, kind) in [
            ("/openapi.yaml", "application/yaml"),
            ("/demo", "text/html; charset=utf-8"),
            ("/demo/video-uploader.js", "text/javascript; charset=utf-8"),
        ] {
            let response = serve(path).expect(path);
            assert_eq!(response.headers()[header::CONTENT_TYPE], kind);
        }
        assert!(serve("/demo/../secret").is_none());
        assert!(serve("/upload-tokens").is_none());
    }

    #[test]
    fn the_demo_page_loads_only_files_this_server_serves() {
        for src in [
            "/demo/favicon.svg",
            "/demo/demo.css",
            "/demo/video-uploader.js",
            "/demo/demo.js",
        ] {
            assert!(DEMO_HTML.contains(src), "{src}");
            assert!(serve(src).is_some(), "{src}");
        }
        assert!(!DEMO_HTML.contains("://"), "no CDN or remote resource");
    }
}
