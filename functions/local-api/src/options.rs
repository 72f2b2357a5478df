//! Command-line flags (each with an environment variable). `--addr`, `--data-dir` and
//! `--api-key` are a public interface: keep them stable.

use clap::{Args, Parser, ValueEnum};
use std::path::PathBuf;

/// Where tokens and keys are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// SQLite in the data directory: nothing to install.
    Embedded,
    /// A DynamoDB table, configured the standard AWS way.
    Aws,
}

/// Store selection, shared with the admin command.
#[derive(Debug, Clone, Args)]
pub struct StoreOptions {
    /// Where state lives: the SQLite database, the default project's key, the signing secret.
    #[arg(long, env = "UPLOAD_TOKENS_DATA_DIR", default_value = ".local-data")]
    pub data_dir: PathBuf,

    /// `embedded` (SQLite in --data-dir) or `aws` (DynamoDB --table).
    #[arg(long, env = "UPLOAD_TOKENS_STORE", value_enum, default_value_t = StoreKind::Embedded)]
    pub store: StoreKind,

    /// DynamoDB table, with --store aws.
    #[arg(long, env = "UPLOAD_TOKENS_TABLE")]
    pub table: Option<String>,

    /// S3 bucket for uploaded files, with --store aws.
    #[arg(long, env = "UPLOAD_TOKENS_BUCKET")]
    pub bucket: Option<String>,

    /// With --store aws: create the table (and bucket) if missing (handy against moto).
    #[arg(long, env = "UPLOAD_TOKENS_CREATE_TABLE")]
    pub create_table: bool,

    /// Days without a chunk after which an unfinished upload is abandoned: resuming it answers
    /// 404, and it is removed (the embedded store is swept hourly; on AWS, by DynamoDB's TTL).
    #[arg(long, env = "UPLOAD_TOKENS_ABANDONED_UPLOAD_DAYS", default_value_t = 7,
          value_parser = clap::value_parser!(u64).range(1..=3650))]
    pub abandoned_upload_days: u64,
}

impl StoreOptions {
    /// The abandoned-upload period.
    pub fn abandon_after(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.abandoned_upload_days * 24 * 3600)
    }
}

/// Serve every upload-tokens endpoint locally.
#[derive(Debug, Clone, Parser)]
#[command(name = "local-api", version, about)]
pub struct Options {
    /// Address to listen on.
    #[arg(long, env = "UPLOAD_TOKENS_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: String,

    /// Use this API key for the default project instead of the generated one.
    #[arg(long, env = "UPLOAD_TOKENS_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,

    /// Refuse what API Gateway + Lambda would refuse: requests whose event exceeds 6,291,456
    /// bytes once the body is base64-encoded (≈ 4.5 MiB of file), with a 413 problem.
    #[arg(long, env = "UPLOAD_TOKENS_LAMBDA_LIMITS")]
    pub lambda_limits: bool,

    /// Largest file accepted by /upload, in bytes.
    #[arg(long, env = "UPLOAD_TOKENS_MAX_UPLOAD_BYTES", default_value_t = 50 * 1024 * 1024 * 1024)]
    pub max_upload_bytes: u64,

    /// `Access-Control-Allow-Origin` of /upload.
    #[arg(long, env = "UPLOAD_TOKENS_ALLOW_ORIGIN", default_value = "*")]
    pub allow_origin: String,

    /// Serve HTTPS with a self-signed certificate for localhost and 127.0.0.1, generated at
    /// start and written to <data-dir>/tls/cert.pem (the browser uploader only speaks HTTPS).
    #[arg(long, env = "UPLOAD_TOKENS_TLS")]
    pub tls: bool,

    /// Serve HTTPS with this PEM certificate chain (with --tls-key) instead of a generated one.
    #[arg(long, env = "UPLOAD_TOKENS_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert.
    #[arg(long, env = "UPLOAD_TOKENS_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// The base URL links (`assets.mp4`) start with, e.g. `https://videos.example.com`; by
    /// default the address the server listens on.
    #[arg(long, env = "UPLOAD_TOKENS_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Behind a reverse proxy: build links from `X-Forwarded-Proto` (http or https) and
    /// `X-Forwarded-Host` when they are valid (--public-url, when given, still wins).
    #[arg(long, env = "UPLOAD_TOKENS_TRUST_PROXY")]
    pub trust_proxy: bool,

    /// How many /upload requests may be read and processed at once; more wait their turn
    /// (their bodies unread).
    #[arg(long, env = "UPLOAD_TOKENS_MAX_CONCURRENT_UPLOADS", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_concurrent_uploads: u32,

    /// Seconds a client has to send a request's head, counted from the connection's start or
    /// from the previous response (so it is also how long an idle keep-alive connection lives).
    #[arg(long, env = "UPLOAD_TOKENS_HEADER_TIMEOUT", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,

    /// Seconds a request body may stay silent before the connection is closed; a JSON body
    /// (every route but /upload) must also arrive whole within this time.
    #[arg(long, env = "UPLOAD_TOKENS_BODY_IDLE_TIMEOUT", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_idle_timeout: u64,

    /// Store selection.
    #[command(flatten)]
    pub store: StoreOptions,
}

impl Options {
    /// Defaults with a given data directory and address (tests, embedding).
    pub fn new(data_dir: impl Into<PathBuf>, addr: impl Into<String>) -> Self {
        Self {
            addr: addr.into(),
            api_key: None,
            lambda_limits: false,
            max_upload_bytes: 50 * 1024 * 1024 * 1024,
            allow_origin: "*".into(),
            tls: false,
            tls_cert: None,
            tls_key: None,
            public_url: None,
            trust_proxy: false,
            max_concurrent_uploads: 4,
            header_timeout: 30,
            body_idle_timeout: 30,
            store: StoreOptions {
                data_dir: data_dir.into(),
                store: StoreKind::Embedded,
                table: None,
                bucket: None,
                create_table: false,
                abandoned_upload_days: 7,
            },
        }
    }
}
