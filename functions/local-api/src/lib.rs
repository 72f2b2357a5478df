//! The local server: every upload-tokens endpoint in one process, through the same handlers as
//! the Lambda functions, on the embedded SQLite store (default) or on DynamoDB.
//!
//! Also the library the end-to-end tests drive: [`start`] binds, serves in the background and
//! returns a [`Server`] handle that stops cleanly.

mod options;
mod project;
mod secret;
mod serve;

pub use options::{Options, StoreKind, StoreOptions};
pub use project::DefaultProject;
pub use serve::{MAX_BODY_BYTES, Server, start};

use std::path::PathBuf;
use std::sync::Arc;
use upload_tokens_core::store::dynamodb::{DynamoStore, schema};
use upload_tokens_core::store::embedded::EmbeddedStore;
use upload_tokens_core::store::{Store, StoreError};

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
    match options.store {
        StoreKind::Embedded => Ok(Arc::new(EmbeddedStore::open(&options.data_dir)?)),
        StoreKind::Aws => {
            let table = options.table.clone().ok_or_else(|| {
                LocalError::Usage("--store aws needs --table (or UPLOAD_TOKENS_TABLE)".into())
            })?;
            let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let client = aws_sdk_dynamodb::Client::new(&config);
            if options.create_table {
                ensure_table(&client, &table).await?;
            }
            Ok(Arc::new(DynamoStore::new(client, table)))
        }
    }
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
