//! What the benchmarks share: the SDK configuration for the moto server `./infra/bench.sh`
//! starts.

/// The SDK configuration for the moto server at `UPLOAD_TOKENS_TEST_MOTO_URL` (set by
/// `./infra/bench.sh <bench>`), with moto's test credentials.
pub async fn moto_config(bench: &str) -> aws_config::SdkConfig {
    let url = std::env::var("UPLOAD_TOKENS_TEST_MOTO_URL")
        .unwrap_or_else(|_| panic!("UPLOAD_TOKENS_TEST_MOTO_URL: run ./infra/bench.sh {bench}"));
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "bench",
        ))
        .load()
        .await
}
