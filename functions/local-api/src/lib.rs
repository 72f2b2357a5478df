//! The local server: every upload-tokens endpoint in one process, through the same handlers as
//! the Lambda functions, on the embedded SQLite store (default) or on DynamoDB.
//!
//! Also the library the end-to-end tests drive: [`start`] binds, serves in the background and
//! returns a [`Server`] handle that stops cleanly.

mod assets;
mod direct;
pub mod log_lines;
mod options;
mod project;
mod secret;
mod serve;
mod tls;

pub use assets::{OPENAPI_YAML, UPPY_JS, UPPY_VERSION, VIDEO_UPLOADER_JS, VIDEO_UPLOADER_VERSION};
pub use options::{Options, StoreKind, StoreOptions};
pub use project::{DefaultProject, KeyOrigin};
pub use serve::{ENVELOPE_BYTES, LAMBDA_EVENT_LIMIT, Server, start};
pub use tls::{GENERATED_CERT, Identity};

use std::path::PathBuf;
use std::sync::Arc;
use upload_tokens_core::store::blob::BlobStore;
use upload_tokens_core::store::blob_files::FileBlobStore;
use upload_tokens_core::store::dynamodb::{DynamoStore, schema};
use upload_tokens_core::store::embedded::EmbeddedStore;
use upload_tokens_core::store::s3::S3BlobStore;
use upload_tokens_core::store::{Store, StoreError};

/// The stores [`open_stores`] opened.
pub struct Opened {
    /// The state.
    pub store: Arc<dyn Store>,
    /// The bytes, when asked for.
    pub blobs: Option<Blobs>,
    /// The same store when it is the embedded one, which the server sweeps for abandoned
    /// uploads itself (on AWS, DynamoDB's TTL and the bucket's lifecycle rules do).
    pub embedded: Option<Arc<EmbeddedStore>>,
}

/// Where uploaded files go.
#[derive(Clone)]
pub enum Blobs {
    /// Files in the data directory, served by the local server itself.
    Files(Arc<FileBlobStore>),
    /// An S3 bucket; downloads are presigned URLs.
    S3(Arc<S3BlobStore>),
}

impl Blobs {
    /// As the handlers see it.
    pub fn as_store(&self) -> Arc<dyn BlobStore> {
        match self {
            Blobs::Files(f) => f.clone(),
            Blobs::S3(s) => s.clone(),
        }
    }
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Blobs::Files(_) => "Blobs::Files",
            Blobs::S3(_) => "Blobs::S3",
        })
    }
}

/// Why the local server (or the admin command) could not start.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// Bad flag combination or value.
    #[error("{0}")]
    Usage(String),
    /// The data directory or a file in it could not be used.
    #[error("{path}: {source}")]
    DataDir {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The store could not be opened or used.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The TLS certificate or key could not be made or used.
    #[error("TLS: {0}")]
    Tls(String),
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Opens the store the options name: SQLite in the data directory, or the DynamoDB table
/// (configured the standard AWS way: `AWS_REGION`, credentials, `AWS_ENDPOINT_URL`).
pub async fn open_store(options: &StoreOptions) -> Result<Arc<dyn Store>, LocalError> {
    Ok(open_stores(options, None).await?.store)
}

/// Opens the store and, with `blobs_up_to` (the largest file accepted), the blob store: files
/// in the data directory, or the S3 bucket (`--bucket`, created if missing with
/// `--create-table`).
pub async fn open_stores(
    options: &StoreOptions,
    blobs_up_to: Option<u64>,
) -> Result<Opened, LocalError> {
    match options.store {
        StoreKind::Embedded => {
            let embedded = Arc::new(EmbeddedStore::open(&options.data_dir)?);
            let blobs = if blobs_up_to.is_some() {
                Some(Blobs::Files(Arc::new(FileBlobStore::new(
                    options.data_dir.join("blobs"),
                )?)))
            } else {
                None
            };
            Ok(Opened {
                store: embedded.clone(),
                blobs,
                embedded: Some(embedded),
            })
        }
        StoreKind::Aws => {
            let table = options.table.clone().ok_or_else(|| {
                LocalError::Usage("--store aws needs --table (or UPLOAD_TOKENS_TABLE)".into())
            })?;
            let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let client = aws_sdk_dynamodb::Client::new(&config);
            if options.create_table {
                ensure_table(&client, &table).await?;
            }
            let blobs = match (blobs_up_to, &options.bucket) {
                (None, _) => None,
                (Some(_), None) => {
                    return Err(LocalError::Usage(
                        "--store aws needs --bucket (or UPLOAD_TOKENS_BUCKET) for uploads".into(),
                    ));
                }
                (Some(max_file_bytes), Some(bucket)) => {
                    let s3 = aws_sdk_s3::Client::from_conf(
                        aws_sdk_s3::config::Builder::from(&config)
                            .force_path_style(std::env::var("AWS_ENDPOINT_URL").is_ok())
                            .build(),
                    );
                    if options.create_table {
                        ensure_bucket(&s3, bucket).await?;
                    }
                    Some(Blobs::S3(Arc::new(
                        S3BlobStore::new(s3, bucket.clone())
                            .for_files_up_to(max_file_bytes)
                            .signing_with(config.credentials_provider()),
                    )))
                }
            };
            let store =
                DynamoStore::new(client, table).abandoning_uploads_after(options.abandon_after());
            Ok(Opened {
                store: Arc::new(store),
                blobs,
                embedded: None,
            })
        }
    }
}

/// Creates the bucket unless it exists.
async fn ensure_bucket(client: &aws_sdk_s3::Client, bucket: &str) -> Result<(), LocalError> {
    if client.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(());
    }
    tracing::info!(bucket, "creating S3 bucket");
    client
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| LocalError::Store(StoreError::backend(e)))?;
    // What S3-direct uploads from a page need (template.yaml's bucket has the same rule, for
    // its allowed origin): PUTs of parts and POSTs of forms, and the ETag readable. Any origin:
    // the presigned URL is the credential, and this is a bucket the local server made.
    use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
    let rule = CorsRule::builder()
        .allowed_origins("*")
        .allowed_methods("PUT")
        .allowed_methods("POST")
        .allowed_methods("GET")
        .allowed_headers("*")
        .expose_headers("ETag")
        .expose_headers("Location")
        .max_age_seconds(3000)
        .build()
        .map_err(|e| LocalError::Store(StoreError::backend(e)))?;
    let cors = CorsConfiguration::builder()
        .cors_rules(rule)
        .build()
        .map_err(|e| LocalError::Store(StoreError::backend(e)))?;
    client
        .put_bucket_cors()
        .bucket(bucket)
        .cors_configuration(cors)
        .send()
        .await
        .map_err(|e| LocalError::Store(StoreError::backend(e)))?;
    Ok(())
}

/// Creates the table unless it exists.
async fn ensure_table(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), LocalError> {
    match client.describe_table().table_name(table).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            tracing::info!(table, "creating DynamoDB table");
            Ok(schema::create_table(client, table).await?)
        }
        Err(e) => Err(StoreError::backend(e).into()),
    }
}
