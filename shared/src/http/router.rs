//! Which handler serves a method and path: used by the local server (API Gateway routes on AWS).

use super::respond::finish;
use super::{
    ApiError, Media, Request, Response, create_token, delete_token, delete_video, exchange_api_key,
    get_token, get_video, list_tokens, refresh_session, update_video, upload, upload_preflight,
    video_status,
};
use http::Method;

/// Every endpoint as `(method, path template)`, in OpenAPI's `{param}` notation: what
/// `infra/openapi.yaml` documents and `template.yaml` routes (tests keep the three in sync).
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/upload-tokens"),
    ("GET", "/upload-tokens"),
    ("GET", "/upload-tokens/{token}"),
    ("DELETE", "/upload-tokens/{token}"),
    ("POST", "/auth/api-key"),
    ("POST", "/auth/refresh"),
    ("POST", "/upload"),
    ("OPTIONS", "/upload"),
    ("GET", "/videos/{videoId}"),
    ("PATCH", "/videos/{videoId}"),
    ("DELETE", "/videos/{videoId}"),
    ("GET", "/videos/{videoId}/status"),
];

/// A recognised endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<'a> {
    /// `POST /upload-tokens`.
    CreateToken,
    /// `GET /upload-tokens`.
    ListTokens,
    /// `GET /upload-tokens/{token}`.
    GetToken(&'a str),
    /// `DELETE /upload-tokens/{token}`.
    DeleteToken(&'a str),
    /// `POST /auth/api-key`.
    ExchangeApiKey,
    /// `POST /auth/refresh`.
    Refresh,
    /// `POST /upload`.
    Upload,
    /// `OPTIONS /upload` (CORS preflight).
    UploadPreflight,
    /// `GET /videos/{videoId}`.
    GetVideo(&'a str),
    /// `PATCH /videos/{videoId}`.
    UpdateVideo(&'a str),
    /// `DELETE /videos/{videoId}`.
    DeleteVideo(&'a str),
    /// `GET /videos/{videoId}/status`.
    VideoStatus(&'a str),
}

impl<'a> Route<'a> {
    /// The route for `method` and `path`, or the 404/405 error to answer.
    pub fn resolve(method: &Method, path: &'a str) -> Result<Self, ApiError> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (allowed, route): (&'static str, Option<Route<'a>>) = match segments.as_slice() {
            ["upload-tokens"] => (
                "GET, POST",
                match *method {
                    Method::GET => Some(Route::ListTokens),
                    Method::POST => Some(Route::CreateToken),
                    _ => None,
                },
            ),
            ["upload-tokens", token] if !token.is_empty() => (
                "GET, DELETE",
                match *method {
                    Method::GET => Some(Route::GetToken(token)),
                    Method::DELETE => Some(Route::DeleteToken(token)),
                    _ => None,
                },
            ),
            ["upload"] => (
                "POST, OPTIONS",
                match *method {
                    Method::POST => Some(Route::Upload),
                    Method::OPTIONS => Some(Route::UploadPreflight),
                    _ => None,
                },
            ),
            ["videos", video] if !video.is_empty() => (
                "GET, PATCH, DELETE",
                match *method {
                    Method::GET => Some(Route::GetVideo(video)),
                    Method::PATCH => Some(Route::UpdateVideo(video)),
                    Method::DELETE => Some(Route::DeleteVideo(video)),
                    _ => None,
                },
            ),
            ["videos", video, "status"] if !video.is_empty() => (
                "GET",
                (method == Method::GET).then_some(Route::VideoStatus(video)),
            ),
            ["auth", "api-key"] => (
                "POST",
                (method == Method::POST).then_some(Route::ExchangeApiKey),
            ),
            ["auth", "refresh"] => ("POST", (method == Method::POST).then_some(Route::Refresh)),
            _ => return Err(ApiError::UnknownRoute),
        };
        route.ok_or(ApiError::MethodNotAllowed(allowed))
    }
}

/// Serves any request: routes it, runs the handler, logs the outcome.
pub async fn dispatch(media: &Media, req: Request) -> Response {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let app = &media.app;
    let response = match Route::resolve(&method, &path) {
        Ok(Route::CreateToken) => create_token(app, &req).await,
        Ok(Route::ListTokens) => list_tokens(app, &req).await,
        Ok(Route::GetToken(token)) => get_token(app, &req, token).await,
        Ok(Route::DeleteToken(token)) => delete_token(app, &req, token).await,
        Ok(Route::ExchangeApiKey) => exchange_api_key(app, &req).await,
        Ok(Route::Refresh) => refresh_session(app, &req).await,
        Ok(Route::Upload) => upload(media, req).await,
        Ok(Route::UploadPreflight) => upload_preflight(media),
        Ok(Route::GetVideo(video)) => get_video(media, &req, video).await,
        Ok(Route::UpdateVideo(video)) => update_video(media, &req, video).await,
        Ok(Route::DeleteVideo(video)) => delete_video(media, &req, video).await,
        Ok(Route::VideoStatus(video)) => video_status(media, &req, video).await,
        Err(e) => finish(Err(e)),
    };
    // Paths may hold a token: log the route's shape, never the token itself.
    tracing::info!(
        method = %method,
        route = route_template(&path),
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

fn route_template(path: &str) -> &'static str {
    match path
        .trim_start_matches('/')
        .split('/')
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["upload-tokens"] => "/upload-tokens",
        ["upload-tokens", _] => "/upload-tokens/{token}",
        ["upload"] => "/upload",
        ["videos", _] => "/videos/{videoId}",
        ["videos", _, "status"] => "/videos/{videoId}/status",
        ["auth", "api-key"] => "/auth/api-key",
        ["auth", "refresh"] => "/auth/refresh",
        _ => "(unknown)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_resolve_by_method_and_path() {
        assert_eq!(
            Route::resolve(&Method::POST, "/upload-tokens").ok(),
            Some(Route::CreateToken)
        );
        assert_eq!(
            Route::resolve(&Method::GET, "/upload-tokens").ok(),
            Some(Route::ListTokens)
        );
        assert_eq!(
            Route::resolve(&Method::DELETE, "/upload-tokens/to123").ok(),
            Some(Route::DeleteToken("to123"))
        );
        assert_eq!(
            Route::resolve(&Method::POST, "/auth/refresh").ok(),
            Some(Route::Refresh)
        );
    }

    #[test]
    fn every_listed_route_resolves_and_every_route_is_listed() {
        let mut served = std::collections::HashSet::new();
        for (method, template) in ROUTES {
            let method = Method::from_bytes(method.as_bytes()).expect("method");
            let path = template
                .replace("{token}", "to1tcmSFHeYY5KzyhOqVKMKb")
                .replace("{videoId}", "vi4blUQJFrYWbaG44NChkH27");
            let route = Route::resolve(&method, &path).expect("listed routes resolve");
            assert_eq!(route_template(&path), *template);
            served.insert(format!("{route:?}").split('(').next().map(str::to_owned));
        }
        // Twelve variants of `Route`, each reached by one listed route.
        assert_eq!(served.len(), 12);
        assert_eq!(ROUTES.len(), 12);
    }

    #[test]
    fn unknown_paths_are_404_and_wrong_methods_405() {
        assert!(matches!(
            Route::resolve(&Method::GET, "/nope"),
            Err(ApiError::UnknownRoute)
        ));
        assert!(matches!(
            Route::resolve(&Method::GET, "/upload-tokens/a/b"),
            Err(ApiError::UnknownRoute)
        ));
        assert!(matches!(
            Route::resolve(&Method::PUT, "/upload-tokens"),
            Err(ApiError::MethodNotAllowed("GET, POST"))
        ));
        assert!(matches!(
            Route::resolve(&Method::GET, "/auth/api-key"),
            Err(ApiError::MethodNotAllowed("POST"))
        ));
    }
}
