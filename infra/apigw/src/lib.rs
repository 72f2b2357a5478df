//! A local API Gateway HTTP API for the deployed form of a SAM template: it reads the template's
//! functions, routes and CORS configuration, and answers HTTP on 127.0.0.1 the way API Gateway
//! does, by running the real function binaries as child processes against a local Lambda
//! Runtime API ([`runtime_api`]), one invocation at a time per process.
//!
//! ```no_run
//! # async fn example() -> Result<(), apigw_emulator::EmulatorError> {
//! let options = apigw_emulator::Options::new("template.yaml", "target/lambda-local", "table", "bucket");
//! let emulator = apigw_emulator::Emulator::start(options).await?;
//! println!("{}", emulator.url());
//! emulator.stop().await;
//! # Ok(()) }
//! ```
//!
//! What it emulates and where it differs from AWS: docs/emulator.md.

pub mod event;
mod pool;
pub mod runtime_api;
pub mod template;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use pool::{Invoked, Pool};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use template::{Cors, Route, Template};
use tokio::sync::watch;

/// The largest event Lambda accepts for a synchronous invocation (and the largest response).
pub const LAMBDA_PAYLOAD_LIMIT: usize = 6_291_456;
/// API Gateway HTTP API's largest request body.
pub const API_GATEWAY_BODY_LIMIT: usize = 10 * 1024 * 1024;
/// API Gateway HTTP API's integration timeout.
pub const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Environment variables passed from the emulator to every function process (the AWS SDK's
/// endpoint, credentials and region, and the log level), when set.
pub const PASSED_THROUGH: &[&str] = &[
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_EC2_METADATA_DISABLED",
    "RUST_LOG",
];

/// How to run the emulator.
#[derive(Debug, Clone)]
pub struct Options {
    /// The SAM template.
    pub template: PathBuf,
    /// Where the function binaries are (each by its `Metadata.BuildProperties.Binary` name).
    pub bin_dir: PathBuf,
    /// Where to listen: a loopback address (port 0 for a free one).
    pub addr: SocketAddr,
    /// The DynamoDB table name given for `!Ref` to the template's table.
    pub table: String,
    /// The S3 bucket name given for `!Ref` to the template's bucket.
    pub bucket: String,
    /// The value given for a `!Ref` to a Secrets Manager secret: a variable `X_ARN` naming the
    /// secret becomes `X` holding this value (the functions read either). Random if unset.
    pub secret_value: Option<String>,
    /// Template parameter values (instead of their defaults).
    pub parameters: BTreeMap<String, String>,
    /// API Gateway's integration timeout (30 s on AWS): a function still running then gets a
    /// 503, and its process is killed.
    pub integration_timeout: Duration,
    /// Most processes (execution environments) per function at once.
    pub max_instances: usize,
    /// Whether the functions' stdout and stderr go to the emulator's (else they are discarded).
    pub function_logs: bool,
}

impl Options {
    /// Defaults: a free loopback port, a random secret, the template's parameter defaults, 30 s,
    /// four processes per function, function logs discarded.
    pub fn new(
        template: impl Into<PathBuf>,
        bin_dir: impl Into<PathBuf>,
        table: impl Into<String>,
        bucket: impl Into<String>,
    ) -> Self {
        Self {
            template: template.into(),
            bin_dir: bin_dir.into(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            table: table.into(),
            bucket: bucket.into(),
            secret_value: None,
            parameters: BTreeMap::new(),
            integration_timeout: INTEGRATION_TIMEOUT,
            max_instances: 4,
            function_logs: false,
        }
    }
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The template cannot be emulated.
    #[error(transparent)]
    Template(#[from] template::TemplateError),
    /// A function's binary is not in the binary directory.
    #[error("{function}: binary {path} not found (build the functions first)")]
    MissingBinary {
        /// The function's logical id.
        function: String,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A bad option.
    #[error("{0}")]
    Usage(String),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

struct Gateway {
    routes: Vec<(Route, Arc<Pool>)>,
    pools: Vec<Arc<Pool>>,
    cors: Option<Cors>,
    integration_timeout: Duration,
    stopping: watch::Receiver<bool>,
    requests: AtomicU64,
}

/// A running emulator. Dropping it (or [`Emulator::stop`]) kills every function process.
pub struct Emulator {
    addr: SocketAddr,
    gateway: Arc<Gateway>,
    stopping: watch::Sender<bool>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Emulator {
    /// Reads the template, checks every binary is there, and listens.
    pub async fn start(options: Options) -> Result<Self, EmulatorError> {
        if !options.addr.ip().is_loopback() {
            return Err(EmulatorError::Usage(format!(
                "{} is not a loopback address: the emulator has no authentication of its own",
                options.addr
            )));
        }
        if options.max_instances == 0 {
            return Err(EmulatorError::Usage(
                "max instances must be at least 1".into(),
            ));
        }
        let template = Template::load(&options.template, &options.parameters)?;
        let secret = options.secret_value.clone().unwrap_or_else(|| {
            let bytes: [u8; 32] = rand::random();
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        });
        let mut routes = Vec::new();
        let mut pools = Vec::new();
        for function in template.functions {
            let binary = options.bin_dir.join(&function.binary);
            if !binary.is_file() {
                return Err(EmulatorError::MissingBinary {
                    function: function.name,
                    path: binary,
                });
            }
            let environment = pool::environment(&function, &options, &secret)?;
            let pool = Arc::new(Pool::new(
                function.clone(),
                binary,
                environment,
                options.max_instances,
                options.function_logs,
            ));
            for route in &function.routes {
                routes.push((route.clone(), pool.clone()));
            }
            pools.push(pool);
        }
        let listener = tokio::net::TcpListener::bind(options.addr)
            .await
            .map_err(|source| EmulatorError::Bind {
                addr: options.addr,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                addr: options.addr,
                source,
            })?;
        let (stopping, stop_signal) = watch::channel(false);
        let gateway = Arc::new(Gateway {
            routes,
            pools,
            cors: template.cors,
            integration_timeout: options.integration_timeout,
            stopping: stop_signal.clone(),
            requests: AtomicU64::new(0),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(gateway.clone())
            .into_make_service_with_connect_info::<SocketAddr>();
        let mut shutdown = stop_signal;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = shutdown.wait_for(|stop| *stop).await;
                })
                .await;
        });
        Ok(Self {
            addr,
            gateway,
            stopping,
            server: Some(server),
        })
    }

    /// The base URL: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many function processes are running now (idle or busy).
    pub fn processes(&self) -> usize {
        self.gateway.pools.iter().map(|p| p.running()).sum()
    }

    /// Stops listening, answers requests in flight with 503, and kills every function process.
    pub async fn stop(mut self) {
        self.stopping.send_replace(true);
        for pool in &self.gateway.pools {
            pool.shut_down().await;
        }
        if let Some(mut server) = self.server.take() {
            // In-flight requests see the stop signal at once and answer 503; idle connections
            // close. A connection still open after that is cut.
            if tokio::time::timeout(Duration::from_secs(5), &mut server)
                .await
                .is_err()
            {
                server.abort();
            }
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stopping.send_replace(true);
        for pool in &self.gateway.pools {
            pool.kill_idle();
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// API Gateway's own answers: JSON `{"message": …}`.
fn gateway_answer(status: StatusCode, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Matches a path against a route's template; returns the decoded path parameters and how many
/// segments matched literally (more is more specific).
fn match_path(template: &str, path: &str) -> Option<(BTreeMap<String, String>, usize)> {
    let mut params = BTreeMap::new();
    let mut literal = 0;
    let pattern: Vec<&str> = template.split('/').collect();
    let segments: Vec<&str> = path.split('/').collect();
    for (i, part) in pattern.iter().enumerate() {
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            if let Some(greedy) = name.strip_suffix('+') {
                let rest = segments.get(i..)?.join("/");
                if rest.is_empty() {
                    return None;
                }
                params.insert(greedy.to_owned(), decode(&rest));
                return Some((params, literal));
            }
            let segment = segments.get(i).filter(|s| !s.is_empty())?;
            params.insert(name.to_owned(), decode(segment));
        } else if segments.get(i) == Some(part) {
            literal += usize::from(!part.is_empty());
        } else {
            return None;
        }
    }
    (pattern.len() == segments.len()).then_some((params, literal))
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

impl Gateway {
    /// The most specific route for the request: literal segments first, then an exact method
    /// over `ANY`.
    fn route(
        &self,
        method: &Method,
        path: &str,
    ) -> Option<(&Route, &Arc<Pool>, BTreeMap<String, String>)> {
        self.routes
            .iter()
            .filter(|(route, _)| route.method == "ANY" || route.method == method.as_str())
            .filter_map(|(route, pool)| {
                let (params, literal) = match_path(&route.path, path)?;
                Some((route, pool, params, literal))
            })
            .max_by_key(|(route, _, _, literal)| (*literal, route.method != "ANY"))
            .map(|(route, pool, params, _)| (route, pool, params))
    }

    fn origin_allowed<'a>(&self, cors: &Cors, origin: &'a str) -> Option<&'a str> {
        if cors.allow_origins.iter().any(|o| o == "*") {
            return Some("*");
        }
        cors.allow_origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin))
            .then_some(origin)
    }

    /// API Gateway answers a CORS preflight itself (with CORS configured, for every path).
    fn preflight(&self, headers: &HeaderMap) -> Option<Response<Body>> {
        let cors = self.cors.as_ref()?;
        let origin = headers.get(http::header::ORIGIN)?.to_str().ok()?;
        headers.get(http::header::ACCESS_CONTROL_REQUEST_METHOD)?;
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        if let Some(allowed) = self.origin_allowed(cors, origin) {
            let h = response.headers_mut();
            insert(h, "access-control-allow-origin", allowed);
            insert(
                h,
                "access-control-allow-methods",
                &cors.allow_methods.join(","),
            );
            insert(
                h,
                "access-control-allow-headers",
                &cors.allow_headers.join(","),
            );
            if let Some(age) = cors.max_age {
                insert(h, "access-control-max-age", &age.to_string());
            }
            if cors.allow_credentials {
                insert(h, "access-control-allow-credentials", "true");
            }
        }
        Some(response)
    }

    /// On a CORS request API Gateway replaces the integration's CORS headers with its own.
    fn cors_headers(&self, request: &HeaderMap, response: &mut HeaderMap) {
        let Some(cors) = &self.cors else { return };
        let names: Vec<_> = response
            .keys()
            .filter(|k| k.as_str().starts_with("access-control-"))
            .cloned()
            .collect();
        for name in names {
            response.remove(name);
        }
        let origin = request
            .get(http::header::ORIGIN)
            .and_then(|o| o.to_str().ok());
        if let Some(allowed) = origin.and_then(|o| self.origin_allowed(cors, o)) {
            insert(response, "access-control-allow-origin", allowed);
            if !cors.expose_headers.is_empty() {
                insert(
                    response,
                    "access-control-expose-headers",
                    &cors.expose_headers.join(","),
                );
            }
            if cors.allow_credentials {
                insert(response, "access-control-allow-credentials", "true");
            }
        }
    }
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

async fn handle(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response<Body> {
    let n = gateway.requests.fetch_add(1, Ordering::Relaxed);
    let request_id = format!("{:x}{n:06x}", chrono::Utc::now().timestamp_millis());
    let mut response = serve(&gateway, peer, request, &request_id).await;
    insert(response.headers_mut(), "apigw-requestid", &request_id);
    response
}

async fn serve(
    gateway: &Gateway,
    peer: SocketAddr,
    request: Request<Body>,
    request_id: &str,
) -> Response<Body> {
    let time = chrono::Utc::now();
    let (parts, body) = request.into_parts();
    if parts.method == Method::OPTIONS
        && let Some(response) = gateway.preflight(&parts.headers)
    {
        return response;
    }
    let path = parts.uri.path();
    let Some((route, pool, path_parameters)) = gateway.route(&parts.method, path) else {
        return gateway_answer(StatusCode::NOT_FOUND, "Not Found");
    };
    let body: Bytes = match axum::body::to_bytes(body, API_GATEWAY_BODY_LIMIT).await {
        Ok(body) => body,
        Err(_) => {
            return gateway_answer(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
        }
    };
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    let route_key = route.key();
    let source_ip = peer.ip().to_string();
    let context = event::RequestContext {
        route_key: &route_key,
        path_parameters: &path_parameters,
        api_id: "local",
        domain_name: &host,
        source_ip: &source_ip,
        request_id,
        time,
    };
    let payload = event::build(&parts.method, &parts.uri, &parts.headers, &body, &context);
    let payload = Bytes::from(payload.to_string());
    if payload.len() > LAMBDA_PAYLOAD_LIMIT {
        return gateway_answer(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    }
    let mut stopping = gateway.stopping.clone();
    let invoked = pool
        .invoke(payload, gateway.integration_timeout, &mut stopping)
        .await;
    let answer = match invoked {
        Invoked::Answer(body) if body.len() > LAMBDA_PAYLOAD_LIMIT => {
            eprintln!("{}: response over Lambda's 6 MB", pool.name());
            None
        }
        Invoked::Answer(body) => match event::parse_response(&body) {
            Ok(answer) => Some(answer),
            Err(e) => {
                eprintln!("{}: {e}", pool.name());
                None
            }
        },
        Invoked::Failed(why) => {
            eprintln!("{}: {why}", pool.name());
            None
        }
        Invoked::Unavailable(why) => {
            eprintln!("{}: {why}", pool.name());
            return gateway_answer(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
        }
    };
    let Some(answer) = answer else {
        return gateway_answer(StatusCode::BAD_GATEWAY, "Internal Server Error");
    };
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = answer.status;
    *response.headers_mut() = answer.headers;
    gateway.cors_headers(&parts.headers, response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::match_path;

    #[test]
    fn path_templates_match_whole_segments() {
        let (params, literal) =
            match_path("/videos/{videoId}/status", "/videos/vi1/status").expect("matches");
        assert_eq!(params["videoId"], "vi1");
        assert_eq!(literal, 2);
        assert!(match_path("/videos/{videoId}", "/videos/vi1/status").is_none());
        assert!(match_path("/videos/{videoId}", "/videos/").is_none());
        assert!(match_path("/upload", "/upload/").is_none());
        assert!(match_path("/upload-tokens", "/upload-tokens").is_some());
        let (params, _) = match_path("/files/{key+}", "/files/a/b%20c").expect("greedy");
        assert_eq!(params["key"], "a/b c");
    }
}
