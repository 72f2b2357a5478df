//! In-process harness for the HTTP specs: `dispatch` over an `EmbeddedStore` in a temporary
//! directory, a `ManualClock`, and helpers to send requests and check responses.

#![allow(dead_code)] // Each spec file uses its own subset.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use http::{HeaderMap, Method, StatusCode};
use serde_json::Value;
use std::sync::Arc;
use tempfile::TempDir;
use upload_tokens_core::auth::{AccessTokenSigner, ApiKey, SigningKey};
use upload_tokens_core::domain::{KeyId, ManualClock, ProjectId};
use upload_tokens_core::http::{App, AppWithBlobs, MediaSettings, dispatch};
use upload_tokens_core::store::blob_files::FileBlobStore;
use upload_tokens_core::store::embedded::EmbeddedStore;
use upload_tokens_core::store::{ApiKeyAdmin, ApiKeyRecord};

/// Where the clock starts: 2100-01-02T03:04:05.678Z (far from the wall clock, with
/// milliseconds so that the seconds-only wire format is exercised).
pub fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2100-01-02T03:04:05.678Z")
        .expect("valid date")
        .with_timezone(&Utc)
}

/// The service in-process.
pub struct Api {
    pub media: AppWithBlobs,
    pub store: Arc<EmbeddedStore>,
    pub clock: Arc<ManualClock>,
    _dir: TempDir,
}

/// A registered API key.
#[derive(Debug, Clone)]
pub struct Key {
    pub key: ApiKey,
    pub key_id: KeyId,
    pub project: ProjectId,
}

impl Key {
    /// `Authorization: Basic base64(<key>:)`.
    pub fn basic(&self) -> String {
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:", self.key.expose()))
        )
    }

    /// `Authorization: Basic base64(<key>)`, without the colon.
    pub fn basic_without_colon(&self) -> String {
        format!("Basic {}", STANDARD.encode(self.key.expose()))
    }
}

/// A response, read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The `Content-Type` header, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get(http::header::CONTENT_TYPE)
            .map(|v| v.to_str().expect("ASCII content type"))
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts a 200 with `Content-Type: application/json` exactly, and returns the body.
    pub fn ok(&self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "body: {}", self.text());
        assert_eq!(self.content_type(), Some("application/json"));
        self.json()
    }

    /// The body as text (for messages).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts a problem+json error of this status and slug, naming `name` (when given), and
    /// returns the problem.
    pub fn problem(&self, status: u16, slug: &str, name: Option<&str>) -> Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text());
        assert_eq!(self.content_type(), Some("application/problem+json"));
        let p = self.json();
        let type_uri = p["type"].as_str().expect("type is a string");
        assert_eq!(
            type_uri,
            format!("https://docs.api.video/reference/{slug}"),
            "problem type"
        );
        assert!(p["title"].is_string(), "problem title: {p}");
        assert_eq!(p["status"], status, "problem status");
        if let Some(name) = name {
            assert_eq!(p["name"], name, "problem name: {p}");
        }
        p
    }
}

impl Api {
    /// A fresh service with an empty store, its clock at [`start`].
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(EmbeddedStore::open(&dir.path().join("data")).expect("open store"));
        let clock = Arc::new(ManualClock::new(start()));
        let signer =
            AccessTokenSigner::new(SigningKey::new(vec![7u8; 32]).expect("long enough key"));
        let blobs = FileBlobStore::new(dir.path().join("blobs")).expect("blob store");
        let media = AppWithBlobs {
            app: App {
                store: store.clone(),
                clock: clock.clone(),
                signer,
            },
            blobs: Arc::new(blobs),
            settings: MediaSettings::default(),
        };
        Self {
            media,
            store,
            clock,
            _dir: dir,
        }
    }

    /// Registers a new API key for `project`.
    pub async fn key_for(&self, project: &ProjectId) -> Key {
        let key = ApiKey::generate();
        let record = ApiKeyRecord {
            key_id: KeyId::generate(),
            project_id: project.clone(),
            hash: key.hash(),
            created_at: self.now(),
        };
        self.store
            .insert_api_key(&record)
            .await
            .expect("insert api key");
        Key {
            key,
            key_id: record.key_id,
            project: project.clone(),
        }
    }

    /// Registers a new API key for a new project.
    pub async fn new_key(&self) -> Key {
        self.key_for(&ProjectId::generate()).await
    }

    /// The clock's time.
    pub fn now(&self) -> DateTime<Utc> {
        use upload_tokens_core::domain::Clock as _;
        self.clock.now()
    }

    /// Moves the clock.
    pub fn advance(&self, by: TimeDelta) {
        self.clock.advance(by);
    }

    /// Sends a request with these headers and body.
    pub async fn send_with(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(body.into()).expect("valid request");
        let response = dispatch(&self.media, request).await;
        let (parts, body) = response.into_parts();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// Sends a request authorised by `auth` (a full `Authorization` value).
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        auth: &str,
        body: impl Into<Bytes>,
    ) -> Reply {
        self.send_with(method, uri, &[("authorization", auth)], body)
            .await
    }

    /// Where the embedded store keeps its database.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self._dir.path().join("data")
    }

    /// `POST /upload?token=` with `file` whole, declared as `application/octet-stream`.
    pub async fn upload(&self, token: &str, file: &[u8]) -> Reply {
        self.upload_with(token, file, "application/octet-stream", &[])
            .await
    }

    /// `POST /upload?token=` with `file` declared as `content_type`, and more headers.
    pub async fn upload_with(
        &self,
        token: &str,
        file: &[u8],
        content_type: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut body = format!(
            "--B0UNDARY\r\nContent-Disposition: form-data; name=\"file\"; \
             filename=\"clip.mp4\"\r\nContent-Type: {content_type}\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(file);
        body.extend_from_slice(b"\r\n--B0UNDARY--\r\n");
        let mut all = vec![("content-type", "multipart/form-data; boundary=B0UNDARY")];
        all.extend_from_slice(headers);
        self.send_with(Method::POST, &format!("/upload?token={token}"), &all, body)
            .await
    }

    /// `POST /upload-tokens` with a JSON body.
    pub async fn create(&self, auth: &str, body: &str) -> Reply {
        self.send_with(
            Method::POST,
            "/upload-tokens",
            &[
                ("authorization", auth),
                ("content-type", "application/json"),
            ],
            body.to_owned(),
        )
        .await
    }

    /// Creates a token with `ttl` and returns its JSON.
    pub async fn create_ok(&self, auth: &str, ttl: u32) -> Value {
        self.create(auth, &format!("{{\"ttl\":{ttl}}}")).await.ok()
    }

    /// `GET <uri>`.
    pub async fn get(&self, auth: &str, uri: &str) -> Reply {
        self.send(Method::GET, uri, auth, Bytes::new()).await
    }

    /// `DELETE <uri>`.
    pub async fn delete(&self, auth: &str, uri: &str) -> Reply {
        self.send(Method::DELETE, uri, auth, Bytes::new()).await
    }

    /// `GET /upload-tokens?<query>` → 200, its JSON.
    pub async fn list(&self, auth: &str, query: &str) -> Value {
        let uri = if query.is_empty() {
            "/upload-tokens".to_owned()
        } else {
            format!("/upload-tokens?{query}")
        };
        self.get(auth, &uri).await.ok()
    }

    /// How many active tokens the key's project has, per the listing.
    pub async fn total(&self, auth: &str) -> u64 {
        self.list(auth, "").await["pagination"]["itemsTotal"]
            .as_u64()
            .expect("itemsTotal")
    }

    /// The token ids of a listing.
    pub async fn listed_ids(&self, auth: &str, query: &str) -> Vec<String> {
        token_ids(&self.list(auth, query).await)
    }
}

/// The `token` of every item of a listing's `data`.
pub fn token_ids(listing: &Value) -> Vec<String> {
    listing["data"]
        .as_array()
        .expect("data is an array")
        .iter()
        .map(|t| t["token"].as_str().expect("token").to_owned())
        .collect()
}

/// Whether `s` is an upload token id: `to` + 22 of `[0-9A-Za-z]`.
pub fn is_token_id(s: &str) -> bool {
    s.len() == 24 && s.starts_with("to") && s[2..].bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The wire form of an instant: `2020-12-02T10:26:46+00:00`.
pub fn wire_date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// The keys of a JSON object, sorted.
pub fn keys(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}
