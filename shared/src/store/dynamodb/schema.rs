//! The table's schema, in one place: [`create_table`] (used by the admin command and the tests)
//! builds it from these constants, and a test checks `template.yaml` declares the same.

use super::StoreError;
use crate::internal::InternalError;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use std::time::Duration;

/// Partition key of every item: `TOKEN#<id>`, `APIKEY#<hash>`, `KEYID#<id>`, `REFRESH#<hash>`,
/// `VIDEO#<id>`, `CHUNK#<video>#<index>`, `UPLOADS#<token>`.
pub const PK: &str = "pk";
/// The prefix of every partition key value the code writes or reads, table and index alike
/// (`pk` of the items, `listPk` of the listing indexes). `template.yaml` grants each function
/// `dynamodb:LeadingKeys` patterns made of these; `infra/tests/template_iam.rs` checks them.
pub const KEY_PREFIXES: &[&str] = &[
    "TOKEN#",
    "APIKEY#",
    "KEYID#",
    "REFRESH#",
    "VIDEO#",
    "CHUNK#",
    "UPLOADS#",
    "TOKENS#",
    "NAMEDTOKENS#",
    "TOKENCOUNT#",
    "TOKENEXPIRY#",
];

/// Owning project of tokens and keys.
pub const PROJECT_ID: &str = "projectId";
/// Expiry in epoch milliseconds, the attribute reads compare against `now`.
pub const EXPIRES_AT_MS: &str = "expiresAtMs";
/// Native TTL attribute (epoch seconds, rounded up); absent on items that never expire.
pub const TTL_ATTRIBUTE: &str = "expiresAt";
/// GSI partition key of token items: `TOKENS#<projectId>` (absent on other items: sparse).
pub const LIST_PK: &str = "listPk";
/// GSI sort key in creation order (a ULID).
pub const CREATED_SK: &str = "createdSk";
/// GSI sort key in expiry order: 15-digit expiry milliseconds (all 9s when never) `#` token id.
pub const EXPIRY_SK: &str = "expirySk";
/// Index listing a project's tokens by creation: keys and the expiry only (a page's tokens are
/// then read from the table), so that the usage counters every chunk updates write no index.
pub const BY_CREATED_KEYS_INDEX: &str = "tokenKeysByCreated";
/// Index listing a project's tokens by remaining lifetime, keys only; also where a project's
/// expiry buckets are found (their `listPk` is `TOKENEXPIRY#<project>`).
pub const BY_EXPIRY_KEYS_INDEX: &str = "tokenKeysByExpiry";

/// Key attributes and their types (all strings).
pub const KEY_ATTRIBUTES: &[&str] = &[PK, LIST_PK, CREATED_SK, EXPIRY_SK];

/// What an index holds besides the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexProjection {
    /// Every attribute.
    All,
    /// The keys and these attributes.
    Include(&'static [&'static str]),
    /// The keys alone.
    KeysOnly,
}

/// Global secondary indexes: (name, partition key, sort key, projection). They hold keys (and
/// the expiry the creation order filters on), never what changes as tokens are used.
pub const INDEXES: &[(&str, &str, &str, IndexProjection)] = &[
    (
        BY_CREATED_KEYS_INDEX,
        LIST_PK,
        CREATED_SK,
        IndexProjection::Include(&[EXPIRES_AT_MS]),
    ),
    (
        BY_EXPIRY_KEYS_INDEX,
        LIST_PK,
        EXPIRY_SK,
        IndexProjection::KeysOnly,
    ),
];

/// Creates the table (on-demand, both GSIs), waits until it is active, and turns on native TTL.
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .map_err(StoreError::backend)
    };
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(PK, KeyType::Hash)?);
    for name in KEY_ATTRIBUTES {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(*name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(StoreError::backend)?,
        );
    }
    for (name, hash, range, projection) in INDEXES {
        let projection = match projection {
            IndexProjection::All => Projection::builder().projection_type(ProjectionType::All),
            IndexProjection::KeysOnly => {
                Projection::builder().projection_type(ProjectionType::KeysOnly)
            }
            IndexProjection::Include(names) => Projection::builder()
                .projection_type(ProjectionType::Include)
                .set_non_key_attributes(Some(names.iter().map(|n| (*n).to_owned()).collect())),
        };
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(*name)
                .key_schema(key(hash, KeyType::Hash)?)
                .key_schema(key(range, KeyType::Range)?)
                .projection(projection.build())
                .build()
                .map_err(StoreError::backend)?,
        );
    }
    request.send().await.map_err(StoreError::backend)?;
    wait_active(client, table).await?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .map_err(StoreError::backend)?,
        )
        .send()
        .await
        .map_err(StoreError::backend)?;
    Ok(())
}

async fn wait_active(client: &Client, table: &str) -> Result<(), StoreError> {
    use aws_sdk_dynamodb::types::TableStatus;
    for _ in 0..300 {
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(StoreError::backend)?;
        let table = out.table();
        let indexes_active = table
            .map(|t| t.global_secondary_indexes())
            .unwrap_or_default()
            .iter()
            .all(|i| i.index_status() == Some(&aws_sdk_dynamodb::types::IndexStatus::Active));
        if table.and_then(|t| t.table_status()) == Some(&TableStatus::Active) && indexes_active {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err(StoreError::backend(InternalError::new(format!(
        "table {table} did not become active in 5 minutes"
    ))))
}
