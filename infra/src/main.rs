//! `upload-tokens-admin`: operator commands against either store.
//!
//! ```text
//! upload-tokens-admin create-key [--project prXXXX]      # prints the new key once
//! upload-tokens-admin revoke-key akXXXX
//! upload-tokens-admin list-keys [--project prXXXX]
//! upload-tokens-admin --store aws --table T create-table
//! ```
//! Store flags are the local server's: `--store embedded --data-dir DIR` (default) or
//! `--store aws --table T` with the standard AWS configuration (region, credentials,
//! `AWS_ENDPOINT_URL`).

use chrono::Utc;
use clap::{Parser, Subcommand};
use local_api::{StoreKind, StoreOptions, open_store};
use std::process::ExitCode;
use upload_tokens_core::auth::ApiKey;
use upload_tokens_core::domain::{KeyId, ProjectId, format_timestamp};
use upload_tokens_core::store::ApiKeyRecord;
use upload_tokens_core::store::dynamodb::schema;

#[derive(Debug, Parser)]
#[command(name = "upload-tokens-admin", version, about)]
struct Cli {
    #[command(flatten)]
    store: StoreOptions,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the DynamoDB table (--store aws --table T) with the schema template.yaml declares.
    CreateTable,
    /// Create an API key (for a new project unless --project is given) and print it once.
    CreateKey {
        /// Existing project to add the key to.
        #[arg(long)]
        project: Option<String>,
    },
    /// Revoke an API key by its id (akXXXX): its access and refresh tokens stop working too.
    RevokeKey {
        /// The key's id, as printed by create-key or list-keys.
        key_id: String,
    },
    /// List API keys (ids and projects, never the keys).
    ListKeys {
        /// Only this project's keys.
        #[arg(long)]
        project: Option<String>,
    },
}

/// A failed command, printed as one line.
#[derive(Debug, thiserror::Error)]
enum AdminError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Local(#[from] local_api::LocalError),
    #[error("store: {0}")]
    Store(#[from] upload_tokens_core::store::StoreError),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("upload-tokens-admin: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), AdminError> {
    if let Command::CreateTable = cli.command {
        return create_table(&cli.store).await;
    }
    let store = open_store(&cli.store).await?;
    match cli.command {
        Command::CreateTable => Ok(()),
        Command::CreateKey { project } => {
            let project_id = match project {
                Some(p) => parse_project(&p)?,
                None => ProjectId::generate(),
            };
            let key = ApiKey::generate();
            let record = ApiKeyRecord {
                key_id: KeyId::generate(),
                project_id,
                hash: key.hash(),
                created_at: Utc::now(),
            };
            store.insert_api_key(&record).await?;
            println!("project: {}", record.project_id);
            println!("key id:  {}", record.key_id);
            println!("API key: {}", key.expose());
            eprintln!(
                "Store the API key now: it is kept only as a hash and cannot be shown again."
            );
            Ok(())
        }
        Command::RevokeKey { key_id } => {
            let id =
                KeyId::parse(&key_id).map_err(|e| AdminError::Usage(format!("{key_id}: {e}")))?;
            if store.revoke_api_key(&id).await? {
                println!("revoked {id}");
                Ok(())
            } else {
                Err(AdminError::Usage(format!("no API key {id}")))
            }
        }
        Command::ListKeys { project } => {
            let project = project.as_deref().map(parse_project).transpose()?;
            for key in store.list_api_keys(project.as_ref()).await? {
                println!(
                    "{}\t{}\t{}",
                    key.key_id,
                    key.project_id,
                    format_timestamp(key.created_at)
                );
            }
            Ok(())
        }
    }
}

fn parse_project(p: &str) -> Result<ProjectId, AdminError> {
    ProjectId::parse(p).map_err(|e| AdminError::Usage(format!("{p}: {e}")))
}

async fn create_table(options: &StoreOptions) -> Result<(), AdminError> {
    let (StoreKind::Aws, Some(table)) = (options.store, options.table.as_deref()) else {
        return Err(AdminError::Usage(
            "create-table needs --store aws --table NAME".into(),
        ));
    };
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    schema::create_table(&aws_sdk_dynamodb::Client::new(&config), table).await?;
    println!(
        "created table {table} (on-demand, TTL on {})",
        schema::TTL_ATTRIBUTE
    );
    Ok(())
}
