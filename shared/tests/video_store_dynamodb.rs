//! The video store suite over DynamoDB on moto (`UPLOAD_TOKENS_TEST_MOTO_URL`; required in CI).

mod video_suite;

use aws_config::{BehaviorVersion, Region};
use std::sync::atomic::{AtomicU32, Ordering};
use upload_tokens_core::store::dynamodb::{DynamoStore, schema};

/// A store over a fresh table, or `None` (after saying so) outside CI without moto.
async fn dynamodb() -> Option<DynamoStore> {
    let url = test_gate::require_moto("video_store_dynamodb")?;
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    static N: AtomicU32 = AtomicU32::new(0);
    let table = format!(
        "videos-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        chrono::Utc::now().timestamp_subsec_nanos()
    );
    schema::create_table(&client, &table).await.expect("table");
    Some(DynamoStore::new(client, table))
}

video_suite!(dynamodb);
