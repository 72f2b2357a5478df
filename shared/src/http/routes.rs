//! The route table: every endpoint once, with who may call it, the handler that serves it, and
//! the Lambda function that serves it on AWS. The local server, the Lambda glue, request logs and
//! the contract tests (`docs/openapi.yaml`, `template.yaml`) all read it.
//!
//! Rows are grouped by the state their handlers need: [`TOKEN_ROUTES`] touch DynamoDB only,
//! [`MEDIA_ROUTES`] also the blob store. A token function's binary only refers to the first
//! group, so link-time optimisation leaves the S3 client out of it.
//!
//! Adding an endpoint: a row here, a use case in `usecases/`, a handler in this module's
//! siblings, a binary in `functions/lambda/src/bin/` and a function in `template.yaml`
//! (`docs/adding-an-endpoint.md`).

use super::respond::finish;
use super::{ApiError, App, AppWithBlobs, ErrorFormat, Request, Response, authn, cors};
use super::{direct, named_tokens, sessions, tokens, tus, upload, videos};
use crate::auth::Principal;
use crate::domain::UploadToken;
use crate::internal::InternalError;
use futures_util::future::BoxFuture;
use http::Method;
use std::time::Instant;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A project's API key: `Authorization: Basic` or a Bearer access token.
    ApiKey,
    /// An upload token (`?token=`, or the `{token}` path parameter).
    UploadToken,
    /// Anyone: the handler checks what the request carries itself.
    Public,
}

/// What a route is, apart from its handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Path template in OpenAPI's `{param}` notation.
    pub path: &'static str,
    /// Who may call it (checked before the handler runs).
    pub access: Access,
    /// The Lambda function (its binary's name) that serves it on AWS; `None` when API Gateway
    /// answers it itself (CORS preflights, from the HTTP API's CORS configuration).
    pub function: Option<&'static str>,
    /// Its handler takes the body as a stream ([`super::Body::streamed`]): a server may hand it
    /// the bytes as they arrive instead of reading the body whole first. Routes that take
    /// files; every other body is small (JSON) and read whole.
    pub streams_body: bool,
    /// How its errors are rendered, refusals of its access included.
    pub errors: ErrorFormat,
}

/// Who is calling, as [`Access`] established it.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A project, through one of its API keys.
    Project(Principal),
    /// A holder of an active upload token.
    Upload(Box<UploadToken>),
    /// Nobody in particular ([`Access::Public`]).
    Anonymous,
}

/// One request, as a handler receives it.
#[derive(Debug)]
pub struct Call {
    /// Who is calling.
    pub caller: Caller,
    /// The request, body read.
    pub request: Request,
    params: Vec<(&'static str, String)>,
}

impl Call {
    /// The path parameter `name` of the route's template (empty if the template has none).
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The project of an [`Access::ApiKey`] route.
    pub fn principal(&self) -> Result<&Principal, ApiError> {
        match &self.caller {
            Caller::Project(principal) => Ok(principal),
            _ => Err(misrouted("an API key")),
        }
    }

    /// The token of an [`Access::UploadToken`] route.
    pub fn upload_token(&self) -> Result<&UploadToken, ApiError> {
        match &self.caller {
            Caller::Upload(token) => Ok(token),
            _ => Err(misrouted("an upload token")),
        }
    }
}

fn misrouted(what: &str) -> ApiError {
    ApiError::Internal(InternalError::new(format!(
        "route table: a handler expecting {what} is routed with another access"
    )))
}

/// A handler: the state of its group and the call in, the response out.
pub type Handler<S> = for<'a> fn(&'a S, Call) -> BoxFuture<'a, Result<Response, ApiError>>;

/// One row of the table.
pub struct Route<S: 'static> {
    /// Method, path, access, function.
    pub spec: RouteSpec,
    /// What serves it.
    pub handler: Handler<S>,
}

const fn row<S>(
    method: &'static str,
    path: &'static str,
    access: Access,
    function: Option<&'static str>,
    handler: Handler<S>,
) -> Route<S> {
    Route {
        spec: RouteSpec {
            method,
            path,
            access,
            function,
            streams_body: false,
            errors: ErrorFormat::Problem,
        },
        handler,
    }
}

impl<S> Route<S> {
    /// The same row, its body streamed to the handler ([`RouteSpec::streams_body`]).
    const fn streaming(mut self) -> Self {
        self.spec.streams_body = true;
        self
    }

    /// The same row, its errors rendered as `format`.
    const fn errors(mut self, format: ErrorFormat) -> Self {
        self.spec.errors = format;
        self
    }
}

/// How the errors of a request that matched no row are rendered: vidbeo's envelope under
/// `/v2/`, problems elsewhere.
fn unmatched_format(path: &str) -> ErrorFormat {
    if path.starts_with("/v2/") {
        ErrorFormat::Envelope
    } else {
        ErrorFormat::Problem
    }
}

use Access::{ApiKey, Public, UploadToken as Token};

/// Routes whose handlers need the token store only.
pub static TOKEN_ROUTES: &[Route<App>] = &[
    row(
        "POST",
        "/upload-tokens",
        ApiKey,
        Some("create-token"),
        |s, c| Box::pin(tokens::create(s, c)),
    ),
    row(
        "GET",
        "/upload-tokens",
        ApiKey,
        Some("list-tokens"),
        |s, c| Box::pin(tokens::list(s, c)),
    ),
    row(
        "GET",
        "/upload-tokens/{token}",
        ApiKey,
        Some("get-token"),
        |s, c| Box::pin(tokens::get(s, c)),
    ),
    row(
        "PATCH",
        "/upload-tokens/{token}",
        ApiKey,
        Some("update-token"),
        |s, c| Box::pin(tokens::update(s, c)),
    ),
    row(
        "DELETE",
        "/upload-tokens/{token}",
        ApiKey,
        Some("delete-token"),
        |s, c| Box::pin(tokens::delete(s, c)),
    ),
    row(
        "POST",
        "/v2/tokens",
        ApiKey,
        Some("create-named-token"),
        |s, c| Box::pin(named_tokens::create(s, c)),
    )
    .errors(ErrorFormat::Envelope),
    row(
        "GET",
        "/v2/tokens",
        ApiKey,
        Some("list-named-tokens"),
        |s, c| Box::pin(named_tokens::list(s, c)),
    )
    .errors(ErrorFormat::Envelope),
    row(
        "GET",
        "/v2/tokens/{id}",
        ApiKey,
        Some("get-named-token"),
        |s, c| Box::pin(named_tokens::get(s, c)),
    )
    .errors(ErrorFormat::Envelope),
    row(
        "PATCH",
        "/v2/tokens/{id}",
        ApiKey,
        Some("update-named-token"),
        |s, c| Box::pin(named_tokens::update(s, c)),
    )
    .errors(ErrorFormat::Envelope),
    row(
        "DELETE",
        "/v2/tokens/{id}",
        ApiKey,
        Some("delete-named-token"),
        |s, c| Box::pin(named_tokens::delete(s, c)),
    )
    .errors(ErrorFormat::Envelope),
    row("POST", "/auth/api-key", Public, Some("auth"), |s, c| {
        Box::pin(sessions::exchange_api_key(s, c))
    }),
    row("POST", "/auth/refresh", Public, Some("auth"), |s, c| {
        Box::pin(sessions::refresh(s, c))
    }),
];

/// Routes whose handlers also read or write uploaded bytes.
pub static MEDIA_ROUTES: &[Route<AppWithBlobs>] = &[
    row("POST", "/upload", Token, Some("upload"), |s, c| {
        Box::pin(upload::upload(s, c))
    })
    .streaming(),
    row("OPTIONS", "/upload", Public, None, |s, c| {
        Box::pin(upload::preflight(s, c))
    }),
    // Uppy's S3 uploader (Companion's protocol), on an upload token in the path.
    row(
        "GET",
        "/upload/{token}/s3/params",
        Token,
        Some("direct-params"),
        |s, c| Box::pin(direct::params(s, c)),
    )
    .errors(ErrorFormat::Message),
    row(
        "POST",
        "/upload/{token}/s3/multipart",
        Token,
        Some("direct-create"),
        |s, c| Box::pin(direct::create(s, c)),
    )
    .errors(ErrorFormat::Message),
    row(
        "GET",
        "/upload/{token}/s3/multipart/{uploadId}",
        Token,
        Some("direct-list-parts"),
        |s, c| Box::pin(direct::list_parts(s, c)),
    )
    .errors(ErrorFormat::Message),
    row(
        "DELETE",
        "/upload/{token}/s3/multipart/{uploadId}",
        Token,
        Some("direct-abort"),
        |s, c| Box::pin(direct::abort(s, c)),
    )
    .errors(ErrorFormat::Message),
    // Before `{partNumber}`: the first row that matches serves.
    row(
        "GET",
        "/upload/{token}/s3/multipart/{uploadId}/batch",
        Token,
        Some("direct-sign-batch"),
        |s, c| Box::pin(direct::sign_batch(s, c)),
    )
    .errors(ErrorFormat::Message),
    row(
        "GET",
        "/upload/{token}/s3/multipart/{uploadId}/{partNumber}",
        Token,
        Some("direct-sign-part"),
        |s, c| Box::pin(direct::sign_part(s, c)),
    )
    .errors(ErrorFormat::Message),
    row(
        "POST",
        "/upload/{token}/s3/multipart/{uploadId}/complete",
        Token,
        Some("direct-complete"),
        |s, c| Box::pin(direct::complete(s, c)),
    )
    .errors(ErrorFormat::Message),
    // tus 1.0 (SPEC §10), on an upload token in the path.
    row(
        "OPTIONS",
        "/upload/{token}/tus",
        Token,
        Some("tus-options"),
        |s, c| Box::pin(tus::options(s, c)),
    )
    .errors(ErrorFormat::Tus),
    row(
        "POST",
        "/upload/{token}/tus",
        Token,
        Some("tus-create"),
        |s, c| Box::pin(tus::create(s, c)),
    )
    .streaming()
    .errors(ErrorFormat::Tus),
    row(
        "HEAD",
        "/upload/{token}/tus/{videoId}",
        Token,
        Some("tus-head"),
        |s, c| Box::pin(tus::head(s, c)),
    )
    .errors(ErrorFormat::Tus),
    row(
        "PATCH",
        "/upload/{token}/tus/{videoId}",
        Token,
        Some("tus-patch"),
        |s, c| Box::pin(tus::patch(s, c)),
    )
    .streaming()
    .errors(ErrorFormat::Tus),
    // What clients send where PATCH cannot go: `X-HTTP-Method-Override: PATCH`.
    row(
        "POST",
        "/upload/{token}/tus/{videoId}",
        Token,
        Some("tus-patch"),
        |s, c| Box::pin(tus::patch(s, c)),
    )
    .streaming()
    .errors(ErrorFormat::Tus),
    row(
        "DELETE",
        "/upload/{token}/tus/{videoId}",
        Token,
        Some("tus-delete"),
        |s, c| Box::pin(tus::delete(s, c)),
    )
    .errors(ErrorFormat::Tus),
    row(
        "GET",
        "/videos/{videoId}",
        ApiKey,
        Some("get-video"),
        |s, c| Box::pin(videos::get(s, c)),
    ),
    row(
        "PATCH",
        "/videos/{videoId}",
        ApiKey,
        Some("update-video"),
        |s, c| Box::pin(videos::update(s, c)),
    ),
    row(
        "DELETE",
        "/videos/{videoId}",
        ApiKey,
        Some("delete-video"),
        |s, c| Box::pin(videos::delete(s, c)),
    ),
    row(
        "GET",
        "/videos/{videoId}/status",
        ApiKey,
        Some("video-status"),
        |s, c| Box::pin(videos::status(s, c)),
    ),
];

/// Every route's spec, token routes first.
pub fn all_routes() -> impl Iterator<Item = &'static RouteSpec> {
    TOKEN_ROUTES
        .iter()
        .map(|r| &r.spec)
        .chain(MEDIA_ROUTES.iter().map(|r| &r.spec))
}

/// What a group's handlers are given: the token API's [`App`], and where `Access-Control-Allow-
/// Origin` comes from for upload-token routes (browsers call those from other origins).
pub trait RouteState: Send + Sync + 'static {
    /// Store, clock, signer.
    fn app(&self) -> &App;
    /// The origin upload-token routes answer CORS for, if the group has such routes.
    fn cors_origin(&self) -> Option<&str>;
}

impl RouteState for App {
    fn app(&self) -> &App {
        self
    }
    fn cors_origin(&self) -> Option<&str> {
        None
    }
}

impl RouteState for AppWithBlobs {
    fn app(&self) -> &App {
        &self.app
    }
    fn cors_origin(&self) -> Option<&str> {
        Some(&self.settings.allow_origin)
    }
}

/// The routes one server or function serves, of one group.
pub struct RouteSet<S: 'static> {
    routes: Vec<&'static Route<S>>,
}

/// How a request matched a [`RouteSet`].
enum Match<S: 'static> {
    Found(&'static Route<S>, Vec<(&'static str, String)>),
    /// The path exists with these other methods.
    OtherMethods(Vec<&'static str>),
    None,
}

impl<S: RouteState> RouteSet<S> {
    /// Every route of `table`.
    pub fn all(table: &'static [Route<S>]) -> Self {
        Self {
            routes: table.iter().collect(),
        }
    }

    /// The routes of `table` that Lambda function `function` serves (`None` if it serves none).
    pub fn for_function(table: &'static [Route<S>], function: &str) -> Option<Self> {
        let routes: Vec<_> = table
            .iter()
            .filter(|r| r.spec.function == Some(function))
            .collect();
        (!routes.is_empty()).then_some(Self { routes })
    }

    fn find(&self, method: &Method, path: &str) -> Match<S> {
        find_in(self.routes.iter().copied(), method, path)
    }

    /// Serves a request with this set's routes: 404 or 405 if none matches. Logs one line.
    pub async fn handle<B: Into<super::Body>>(
        &self,
        state: &S,
        request: http::Request<B>,
        request_id: &str,
    ) -> Response {
        let started = Instant::now();
        let method = request.method().clone();
        let (head, body) = request.into_parts();
        let body: super::Body = body.into();
        let (response, template) = match self.find(&method, head.uri.path()) {
            Match::Found(route, params) => {
                let response = match admit_to(state, route, &head, &params).await {
                    Ok(caller) => {
                        let request = Request::from_parts(head, body);
                        call(state, route, caller, params, request).await
                    }
                    Err(refusal) => refusal,
                };
                (response, route.spec.path)
            }
            Match::OtherMethods(allowed) => (not_allowed(head.uri.path(), allowed), UNKNOWN),
            Match::None => (
                finish(
                    unmatched_format(head.uri.path()),
                    Err(ApiError::UnknownRoute),
                ),
                UNKNOWN,
            ),
        };
        log_request(request_id, &method, template, &response, started);
        response
    }
}

/// The route of `routes` for `method` and `path`, or the methods the path has otherwise.
fn find_in<S: 'static>(
    routes: impl Iterator<Item = &'static Route<S>>,
    method: &Method,
    path: &str,
) -> Match<S> {
    let mut others = Vec::new();
    for route in routes.filter(|r| path_matches(r.spec.path, path)) {
        if route.spec.method == method.as_str() {
            return Match::Found(route, path_params(route.spec.path, path));
        }
        others.push(route.spec.method);
    }
    if others.is_empty() {
        Match::None
    } else {
        Match::OtherMethods(others)
    }
}

/// The methods of the upload-token rows of `routes` that `path` matches: what a browser's
/// preflight for them is answered with.
fn upload_token_methods<S: 'static>(
    routes: impl Iterator<Item = &'static Route<S>>,
    path: &str,
) -> Vec<&'static str> {
    routes
        .filter(|r| r.spec.access == Access::UploadToken && path_matches(r.spec.path, path))
        .map(|r| r.spec.method)
        .collect()
}

/// Route template logged for requests that match no route.
const UNKNOWN: &str = "(unknown)";

/// A request whose route is found and whose caller is checked from its head alone: what a
/// server decides before it reads a body, so that nobody unauthenticated gets to send one.
pub struct Admitted {
    target: Target,
    caller: Caller,
    params: Vec<(&'static str, String)>,
    started: Instant,
}

enum Target {
    Token(&'static Route<App>),
    Media(&'static Route<AppWithBlobs>),
}

impl Admitted {
    /// The route it goes to.
    pub fn spec(&self) -> &'static RouteSpec {
        match self.target {
            Target::Token(route) => &route.spec,
            Target::Media(route) => &route.spec,
        }
    }

    /// Serves it, with its body now read. Logs one line.
    pub async fn run(self, state: &AppWithBlobs, request: Request) -> Response {
        let method = request.method().clone();
        let template = self.spec().path;
        let response = match self.target {
            Target::Token(route) => {
                call(&state.app, route, self.caller, self.params, request).await
            }
            Target::Media(route) => call(state, route, self.caller, self.params, request).await,
        };
        log_request("", &method, template, &response, self.started);
        response
    }
}

/// Finds the route for a request's head among every route (the local server and in-process
/// tests) and checks its caller. The refusal otherwise (404, 405, 401), already logged.
pub async fn admit(
    state: &AppWithBlobs,
    head: &http::request::Parts,
) -> Result<Admitted, Response> {
    let started = Instant::now();
    match find_admitted(state, head).await {
        Ok((target, caller, params)) => Ok(Admitted {
            target,
            caller,
            params,
            started,
        }),
        Err((refusal, template)) => {
            log_request("", &head.method, template, &refusal, started);
            Err(refusal)
        }
    }
}

/// [`admit`]'s route and caller, or its refusal with the template to log.
async fn find_admitted(
    state: &AppWithBlobs,
    head: &http::request::Parts,
) -> Result<(Target, Caller, Vec<(&'static str, String)>), (Response, &'static str)> {
    let path = head.uri.path();
    // The token table first: most requests are found there, and the media table is then not
    // looked at.
    let token_methods = match find_in(TOKEN_ROUTES.iter(), &head.method, path) {
        Match::Found(route, params) => {
            return admit_to(&state.app, route, head, &params)
                .await
                .map(|caller| (Target::Token(route), caller, params))
                .map_err(|refusal| (refusal, route.spec.path));
        }
        Match::OtherMethods(methods) => methods,
        Match::None => Vec::new(),
    };
    let mut methods = match find_in(MEDIA_ROUTES.iter(), &head.method, path) {
        Match::Found(route, params) => {
            return admit_to(state, route, head, &params)
                .await
                .map(|caller| (Target::Media(route), caller, params))
                .map_err(|refusal| (refusal, route.spec.path));
        }
        Match::OtherMethods(media_methods) => {
            // A browser's preflight for upload-token routes (the local server; API Gateway
            // answers preflights itself from the HTTP API's CORS configuration).
            let mut preflight = match head.method {
                Method::OPTIONS => upload_token_methods(MEDIA_ROUTES.iter(), path),
                _ => Vec::new(),
            };
            if !preflight.is_empty() {
                preflight.push("OPTIONS");
                preflight.sort_by_key(|m| METHOD_ORDER.iter().position(|o| o == m));
                return Err((
                    cors::preflight_for(&preflight.join(", "), &state.settings.allow_origin),
                    UNKNOWN,
                ));
            }
            media_methods
        }
        Match::None => Vec::new(),
    };
    if methods.is_empty() && token_methods.is_empty() {
        return Err((
            finish(unmatched_format(path), Err(ApiError::UnknownRoute)),
            UNKNOWN,
        ));
    }
    methods.extend(token_methods);
    Err((not_allowed(path, methods), UNKNOWN))
}

/// Serves any request with every route: [`admit`], then [`Admitted::run`].
pub async fn dispatch<B: Into<super::Body>>(
    state: &AppWithBlobs,
    request: http::Request<B>,
) -> Response {
    let (head, body) = request.into_parts();
    match admit(state, &head).await {
        Ok(admitted) => {
            admitted
                .run(state, Request::from_parts(head, body.into()))
                .await
        }
        Err(refusal) => refusal,
    }
}

/// The caller of `route`, as its access demands, or the refusal to answer.
async fn admit_to<S: RouteState>(
    state: &S,
    route: &'static Route<S>,
    head: &http::request::Parts,
    params: &[(&'static str, String)],
) -> Result<Caller, Response> {
    authn::authorize(route.spec.access, state.app(), head, params)
        .await
        .map_err(|e| with_cors(state, &route.spec, finish(route.spec.errors, Err(e))))
}

/// Runs the handler of an admitted request.
async fn call<S: RouteState>(
    state: &S,
    route: &'static Route<S>,
    caller: Caller,
    params: Vec<(&'static str, String)>,
    request: Request,
) -> Response {
    // A token that names the pages it serves is answered for the page that called (its
    // `Origin` passed the token's check on the way in), not for any page.
    let allowed = match &caller {
        Caller::Upload(token) if token.policy.allowed_origins.is_some() => request
            .headers()
            .get(http::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        _ => None,
    };
    let call = Call {
        caller,
        request,
        params,
    };
    let response = finish(route.spec.errors, (route.handler)(state, call).await);
    match allowed {
        Some(origin) if route.spec.access == Access::UploadToken => {
            cors::allow_only(response, &origin)
        }
        _ => with_cors(state, &route.spec, response),
    }
}

/// Upload-token routes answer with CORS, refusals included (the browser must read them).
fn with_cors<S: RouteState>(state: &S, spec: &RouteSpec, response: Response) -> Response {
    match (spec.access, state.cors_origin()) {
        (Access::UploadToken, Some(origin)) => cors::allow_origin(response, origin),
        _ => response,
    }
}

/// The order methods are listed in `Allow`.
const METHOD_ORDER: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

fn not_allowed(path: &str, mut methods: Vec<&'static str>) -> Response {
    methods.sort_by_key(|m| METHOD_ORDER.iter().position(|o| o == m));
    methods.dedup();
    finish(
        unmatched_format(path),
        Err(ApiError::MethodNotAllowed(methods.join(", "))),
    )
}

/// Whether `path` matches the template (a parameter matches one non-empty segment).
fn path_matches(template: &'static str, path: &str) -> bool {
    let mut want = template.trim_start_matches('/').split('/');
    let mut got = path.trim_start_matches('/').split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) if w.starts_with('{') => {
                if g.is_empty() {
                    return false;
                }
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return false,
        }
    }
}

/// The template's parameters in `path`, which [`path_matches`] it.
fn path_params(template: &'static str, path: &str) -> Vec<(&'static str, String)> {
    template
        .trim_start_matches('/')
        .split('/')
        .zip(path.trim_start_matches('/').split('/'))
        .filter_map(|(w, g)| {
            let name = w.strip_prefix('{')?.strip_suffix('}')?;
            Some((name, g.to_owned()))
        })
        .collect()
}

/// One line per request. Never the path (it may hold a token) nor credentials: the route's
/// template names it.
fn log_request(
    request_id: &str,
    method: &Method,
    route: &str,
    response: &Response,
    started: Instant,
) {
    tracing::info!(
        request_id,
        method = %method,
        route,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn example(template: &str) -> String {
        template
            .replace("{token}", "to1tcmSFHeYY5KzyhOqVKMKb")
            .replace("{videoId}", "vi4blUQJFrYWbaG44NChkH27")
            .replace("{id}", "abcde12345abcde12345a")
            .replace("{uploadId}", "UP1")
            .replace("{partNumber}", "7")
    }

    fn resolves_to<S: RouteState>(
        set: &RouteSet<S>,
        method: &str,
        path: &str,
    ) -> Option<&'static str> {
        let method = Method::from_bytes(method.as_bytes()).ok()?;
        match set.find(&method, path) {
            Match::Found(route, _) => Some(route.spec.path),
            _ => None,
        }
    }

    #[test]
    fn every_row_resolves_to_itself_and_no_two_rows_collide() {
        let tokens = RouteSet::all(TOKEN_ROUTES);
        let media = RouteSet::all(MEDIA_ROUTES);
        let mut seen = HashSet::new();
        for spec in all_routes() {
            assert!(
                seen.insert((spec.method, spec.path)),
                "{spec:?} listed twice"
            );
            let path = example(spec.path);
            let found = resolves_to(&tokens, spec.method, &path)
                .into_iter()
                .chain(resolves_to(&media, spec.method, &path))
                .collect::<Vec<_>>();
            assert_eq!(found, vec![spec.path], "{} {path}", spec.method);
        }
        assert_eq!(seen.len(), TOKEN_ROUTES.len() + MEDIA_ROUTES.len());
    }

    #[test]
    fn a_function_serves_exactly_its_rows() {
        let auth = RouteSet::for_function(TOKEN_ROUTES, "auth").expect("auth serves routes");
        assert_eq!(
            resolves_to(&auth, "POST", "/auth/refresh"),
            Some("/auth/refresh")
        );
        assert_eq!(
            resolves_to(&auth, "POST", "/auth/api-key"),
            Some("/auth/api-key")
        );
        assert_eq!(resolves_to(&auth, "POST", "/upload-tokens"), None);
        assert!(RouteSet::for_function(TOKEN_ROUTES, "upload").is_none());
        assert!(RouteSet::for_function(MEDIA_ROUTES, "upload").is_some());
    }

    fn match_path(template: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
        path_matches(template, path).then(|| path_params(template, path))
    }

    #[test]
    fn parameters_match_one_non_empty_segment() {
        assert_eq!(
            match_path("/upload-tokens/{token}", "/upload-tokens/to123"),
            Some(vec![("token", "to123".to_owned())])
        );
        assert_eq!(
            match_path("/upload-tokens/{token}", "/upload-tokens/"),
            None
        );
        assert_eq!(
            match_path("/upload-tokens/{token}", "/upload-tokens/a/b"),
            None
        );
        assert_eq!(match_path("/upload-tokens", "/upload-tokens/"), None);
        assert_eq!(
            match_path("/videos/{videoId}/status", "/videos/v1/status"),
            Some(vec![("videoId", "v1".to_owned())])
        );
    }

    #[test]
    fn unknown_paths_are_404_and_wrong_methods_405_listing_the_others() {
        let tokens = RouteSet::all(TOKEN_ROUTES);
        assert!(matches!(tokens.find(&Method::GET, "/nope"), Match::None));
        match tokens.find(&Method::PUT, "/upload-tokens") {
            Match::OtherMethods(methods) => {
                let response = not_allowed("/upload-tokens", methods);
                assert_eq!(response.status(), 405);
                assert_eq!(response.headers()["allow"], "GET, POST");
            }
            _ => panic!("PUT /upload-tokens is a 405"),
        }
        match RouteSet::all(MEDIA_ROUTES).find(&Method::PUT, "/videos/v1") {
            Match::OtherMethods(methods) => {
                assert_eq!(
                    not_allowed("/videos/v1", methods).headers()["allow"],
                    "GET, PATCH, DELETE"
                );
            }
            _ => panic!("PUT /videos/v1 is a 405"),
        }
    }
}
