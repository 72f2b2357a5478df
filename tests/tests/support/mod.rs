//! Starting local servers for the end-to-end tests, and what the tests need around them.

#![allow(dead_code)] // each test file uses a different part of this module

pub mod child;
pub mod upload;

use local_api::{Options, Server, StoreKind};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use upload_tokens_core::auth::ApiKey;
use upload_tokens_core::domain::{KeyId, ProjectId};
use upload_tokens_core::store::{ApiKeyRecord, Store};

/// Runs the Node script `script` of `tests/clients` with `args` (and `CHROMIUM` for the browser
/// scripts), asserts it succeeded, and parses the JSON line it prints last: its report.
pub fn node_report(
    script: &str,
    args: &[&std::ffi::OsStr],
    chromium: &str,
    label: &str,
) -> serde_json::Value {
    let clients = workspace().join("tests/clients");
    let output = tokio::task::block_in_place(|| {
        std::process::Command::new("node")
            .arg(clients.join(script))
            .args(args)
            .env("CHROMIUM", chromium)
            .current_dir(&clients)
            .output()
            .expect("node runs")
    });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed ({label})\nargs: {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let line = stdout.lines().last().unwrap_or_default();
    println!("{label}: {line}");
    serde_json::from_str(line).expect("a JSON result line")
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// A unique DynamoDB table name for one test.
pub fn table_name(test: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "e2e-{test}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Options for a server on a free loopback port with its own data dir.
pub fn options(data_dir: &std::path::Path, kind: StoreKind, table: Option<String>) -> Options {
    let mut options = Options::new(data_dir, "127.0.0.1:0");
    options.store.store = kind;
    // S3 bucket names: lowercase, digits and '-', like the table names made here.
    options.store.bucket = table.as_ref().map(|t| t.to_lowercase());
    options.store.table = table;
    options.store.create_table = kind == StoreKind::Aws;
    options
}

/// Starts a server (panics with the reason if it cannot). Its warnings and errors go to the
/// test's output, shown when the test fails.
pub async fn start(options: Options) -> Server {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_max_level(tracing_subscriber::filter::LevelFilter::WARN)
        .try_init();
    local_api::start(options)
        .await
        .expect("local server starts")
}

/// Set to a directory to run the API Gateway suites on function binaries other than
/// `target/lambda-local` (infra/test.sh builds those).
pub const LAMBDA_BIN_DIR_ENV: &str = "UPLOAD_TOKENS_LAMBDA_BIN_DIR";

/// Where the function binaries are: `$UPLOAD_TOKENS_LAMBDA_BIN_DIR`, else the `lambda-local`
/// profile's directory (Cargo.toml).
pub fn lambda_bin_dir() -> PathBuf {
    std::env::var_os(LAMBDA_BIN_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/lambda-local"))
}

/// What an end-to-end suite runs against: the local server (any store), or the deployed form
/// (the API Gateway emulator running the function binaries, on DynamoDB and S3 in moto).
pub enum Deployment {
    /// The local server, with the options it was started with.
    Local {
        server: Server,
        options: Box<Options>,
    },
    /// The API Gateway emulator and the functions, with a project key registered in the table.
    Gateway {
        emulator: apigw_emulator::Emulator,
        api_key: String,
        store: Arc<dyn Store>,
    },
}

impl Deployment {
    /// The local server with these options.
    pub async fn local(options: Options) -> Self {
        let server = start(options.clone()).await;
        Deployment::Local {
            server,
            options: Box::new(options),
        }
    }

    /// The deployed form on moto: a new table and bucket (created as the local server creates
    /// them), a project API key put in the table through the store, and the emulator serving
    /// template.yaml with the function binaries. `None` (skipped) without moto or without the
    /// binaries, except in CI, where either is a failure.
    pub async fn gateway(test: &str) -> Option<Self> {
        test_gate::require_moto(test)?;
        let bin_dir = lambda_bin_dir();
        if !test_gate::require_tool(test, &bin_dir.join("create-token")) {
            return None;
        }
        let table = table_name("gw");
        let bucket = table.to_lowercase();
        // The AWS store ignores the data directory.
        let opts = options(&workspace(), StoreKind::Aws, Some(table.clone()));
        let store = local_api::open_stores(&opts.store, Some(opts.max_upload_bytes))
            .await
            .expect("table and bucket created")
            .store;
        let key = ApiKey::generate();
        store
            .insert_api_key(&ApiKeyRecord {
                key_id: KeyId::generate(),
                project_id: ProjectId::generate(),
                hash: key.hash(),
                created_at: chrono::Utc::now(),
            })
            .await
            .expect("API key registered");
        let mut emulator_options =
            apigw_emulator::Options::new(workspace().join("template.yaml"), bin_dir, table, bucket);
        // The functions' JSON logs, for a failing test: UPLOAD_TOKENS_TEST_FUNCTION_LOGS=1.
        emulator_options.function_logs =
            std::env::var_os("UPLOAD_TOKENS_TEST_FUNCTION_LOGS").is_some();
        let emulator = apigw_emulator::Emulator::start(emulator_options)
            .await
            .expect("the API Gateway emulator starts");
        Some(Deployment::Gateway {
            emulator,
            api_key: key.expose().to_owned(),
            store,
        })
    }

    pub fn url(&self) -> String {
        match self {
            Deployment::Local { server, .. } => server.url(),
            Deployment::Gateway { emulator, .. } => emulator.url(),
        }
    }

    /// The project's API key.
    pub fn api_key(&self) -> &str {
        match self {
            Deployment::Local { server, .. } => server.project.api_key.expose(),
            Deployment::Gateway { api_key, .. } => api_key,
        }
    }

    pub fn behind_gateway(&self) -> bool {
        matches!(self, Deployment::Gateway { .. })
    }

    /// The store behind it (to register another project's key, say).
    pub async fn store(&self) -> Arc<dyn Store> {
        match self {
            Deployment::Local { options, .. } => local_api::open_store(&options.store)
                .await
                .expect("store opens"),
            Deployment::Gateway { store, .. } => store.clone(),
        }
    }

    pub async fn stop(self) {
        match self {
            Deployment::Local { server, .. } => server.stop().await.expect("server stops"),
            Deployment::Gateway { emulator, .. } => emulator.stop().await,
        }
    }
}

/// Something an [`Api`] client can talk to.
pub trait Target {
    fn url(&self) -> String;
    fn api_key(&self) -> &str;
    fn behind_gateway(&self) -> bool {
        false
    }
}

impl Target for Server {
    fn url(&self) -> String {
        Server::url(self)
    }
    fn api_key(&self) -> &str {
        self.project.api_key.expose()
    }
}

impl Target for Deployment {
    fn url(&self) -> String {
        Deployment::url(self)
    }
    fn api_key(&self) -> &str {
        Deployment::api_key(self)
    }
    fn behind_gateway(&self) -> bool {
        Deployment::behind_gateway(self)
    }
}

/// An HTTP client authenticated with `key` by Basic auth.
pub struct Api {
    pub base: String,
    pub key: String,
    pub http: reqwest::Client,
    /// Behind API Gateway: its own answers where the local server's router answers.
    pub behind_gateway: bool,
}

impl Api {
    pub fn new(target: &impl Target) -> Self {
        Self::with_key(target, target.api_key())
    }

    pub fn with_key(target: &impl Target, key: &str) -> Self {
        Self::at(&target.url(), key, target.behind_gateway())
    }

    /// A client of the server at `base` (a child process, say).
    pub fn at(base: &str, key: &str, behind_gateway: bool) -> Self {
        Self {
            base: base.to_owned(),
            key: key.to_owned(),
            http: reqwest::Client::new(),
            behind_gateway,
        }
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .basic_auth(&self.key, Some(""))
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request is answered");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.expect("body is readable");
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        Reply {
            status,
            content_type,
            text,
            json,
        }
    }

    pub async fn create(&self, body: &str) -> Reply {
        self.send(
            self.request(reqwest::Method::POST, "/upload-tokens")
                .header("content-type", "application/json")
                .body(body.to_owned()),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.request(reqwest::Method::DELETE, path)).await
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub text: String,
    pub json: serde_json::Value,
}

impl Reply {
    /// One of API Gateway's own answers (`{"message": …}`), not the functions'.
    pub fn assert_gateway(&self, status: u16, message: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(
            self.json,
            serde_json::json!({ "message": message }),
            "{}",
            self.text
        );
    }

    /// Asserts a problem+json of `status` whose type ends with `slug` (and names `name`).
    pub fn assert_problem(&self, status: u16, slug: &str, name: Option<&str>) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(
            self.content_type.as_deref(),
            Some("application/problem+json"),
            "{}",
            self.text
        );
        let ty = self.json["type"].as_str().unwrap_or_default();
        assert!(ty.ends_with(&format!("/{slug}")), "type {ty}, want {slug}");
        assert_eq!(self.json["status"], status);
        if let Some(name) = name {
            assert_eq!(self.json["name"], name, "{}", self.text);
        }
    }
}
