//! The store suite over `DynamoStore` against a moto server, and what only DynamoDB has.
//!
//! `UPLOAD_TOKENS_TEST_MOTO_URL` (e.g. `http://127.0.0.1:5123`) names the moto server; without
//! it the tests are skipped, except in CI (`CI=true`) where that is a failure. The client is
//! built from that URL with dummy credentials, so a developer's real AWS account is never
//! touched. Each test makes its own table (tests run in parallel).

#![cfg(feature = "dynamodb")]

#[macro_use]
mod store_suite;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use store_suite::{Subject, at_ms, at_s, token};
use upload_tokens_core::domain::{ProjectId, TokenId};
use upload_tokens_core::store::TokenWriter as _;
use upload_tokens_core::store::dynamodb::DynamoStore;
use upload_tokens_core::store::dynamodb::schema::{PK, TTL_ATTRIBUTE, create_table};

/// A table name no other test (or run) uses.
fn unique_table() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "upload-tokens-test-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A client for the moto server only, whatever the environment's AWS settings.
async fn client(url: &str) -> Client {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .load()
        .await;
    Client::new(&config)
}

/// A client and a fresh table of its own, or `None` when moto is not available.
async fn table() -> Option<(Client, String)> {
    let url = test_gate::require_moto("dynamodb_store")?;
    let client = client(&url).await;
    let table = unique_table();
    create_table(&client, &table).await.expect("create table");
    Some((client, table))
}

async fn setup() -> Option<Subject<DynamoStore>> {
    let (client, table) = table().await?;
    Some(Subject::new(DynamoStore::new(client, table), ()))
}

store_suite!(setup);

async fn raw_token_item(
    client: &Client,
    table: &str,
    id: &TokenId,
) -> HashMap<String, AttributeValue> {
    client
        .get_item()
        .table_name(table)
        .key(PK, AttributeValue::S(format!("TOKEN#{id}")))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem")
        .item
        .expect("the token's item exists")
}

#[tokio::test]
async fn native_ttl_attribute_is_absent_for_never_expiring_tokens_and_epoch_seconds_otherwise() {
    let Some((client, table)) = table().await else {
        return;
    };
    let store = DynamoStore::new(client.clone(), table.clone());
    let project = ProjectId::generate();

    let never = token(&project, 0, at_s(0));
    store.insert_token(&never).await.expect("insert");
    let item = raw_token_item(&client, &table, &never.id).await;
    assert!(
        !item.contains_key(TTL_ATTRIBUTE),
        "a never-expiring token must not carry {TTL_ATTRIBUTE}: {item:?}"
    );

    // Expiry on a whole second: exactly that second.
    let whole = token(
        &project,
        3600,
        at_s(0) - chrono::TimeDelta::milliseconds(250),
    );
    let expiry = whole.expires_at().expect("expires");
    assert_eq!(expiry.timestamp_subsec_millis(), 0, "test data");
    store.insert_token(&whole).await.expect("insert");
    let item = raw_token_item(&client, &table, &whole.id).await;
    assert_eq!(
        item.get(TTL_ATTRIBUTE),
        Some(&AttributeValue::N(expiry.timestamp().to_string())),
        "epoch seconds of the expiry"
    );

    // Expiry within a second: never earlier than the expiry (DynamoDB must not delete early).
    let fractional = token(&project, 60, at_ms(0));
    let expiry = fractional.expires_at().expect("expires");
    assert_ne!(expiry.timestamp_subsec_millis(), 0, "test data");
    store.insert_token(&fractional).await.expect("insert");
    let item = raw_token_item(&client, &table, &fractional.id).await;
    let seconds: i64 = item
        .get(TTL_ATTRIBUTE)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .expect("a numeric TTL attribute");
    assert!(
        seconds == expiry.timestamp() || seconds == expiry.timestamp() + 1,
        "{seconds} is not the epoch second of {expiry}"
    );
    assert!(
        seconds * 1000 >= expiry.timestamp_millis(),
        "native TTL must not fire before the token expires"
    );
}
