//! The video store suite over DynamoDB on moto (`UPLOAD_TOKENS_TEST_MOTO_URL`; required in CI).

mod video_suite;

use aws_config::{BehaviorVersion, Region};
use std::sync::atomic::{AtomicU32, Ordering};
use upload_tokens_core::store::dynamodb::{DynamoStore, schema};

const MOTO_ENV: &str = "UPLOAD_TOKENS_TEST_MOTO_URL";

/// A store over a fresh table, or `None` (after saying so) outside CI without moto.
async fn dynamodb() -> Option<DynamoStore> {
    let url = match std::env::var(MOTO_ENV) {
        Ok(url) => url,
        Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{MOTO_ENV} is not set; CI must run the DynamoDB tests against moto")
        }
        Err(_) => {
            eprintln!("skipped: {MOTO_ENV} is not set (run ./infra/test.sh)");
            return None;
        }
    };
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
