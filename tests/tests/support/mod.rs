//! Starting local servers for the end-to-end tests, and what the tests need around them.

#![allow(dead_code)] // each test file uses a different part of this module

pub mod child;
pub mod upload;

use local_api::{Options, Server, StoreKind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

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

/// Starts a server (panics with the reason if it cannot).
pub async fn start(options: Options) -> Server {
    local_api::start(options)
        .await
        .expect("local server starts")
}

/// An HTTP client authenticated with `key` by Basic auth.
pub struct Api {
    pub base: String,
    pub key: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(server: &Server) -> Self {
        Self::with_key(server, server.project.api_key.expose())
    }

    pub fn with_key(server: &Server, key: &str) -> Self {
        Self::at(&server.url(), key)
    }

    /// A client of the server at `base` (a child process, say).
    pub fn at(base: &str, key: &str) -> Self {
        Self {
            base: base.to_owned(),
            key: key.to_owned(),
            http: reqwest::Client::new(),
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
