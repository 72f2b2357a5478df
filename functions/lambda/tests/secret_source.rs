//! The signing secret read from Secrets Manager (moto's, started by the test command), as a
//! deployed function reads it on its first request; and the functions' own AWS configuration
//! (environment credentials, their HTTPS client) talking to an endpoint.

use aws_config::{BehaviorVersion, Region};
use upload_tokens_lambda::{SecretError, SecretSource};

async fn config(url: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .test_credentials()
        .load()
        .await
}

async fn create(client: &aws_sdk_secretsmanager::Client, value: &str) -> String {
    let name = format!(
        "signing-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    client
        .create_secret()
        .name(&name)
        .secret_string(value)
        .send()
        .await
        .expect("secret created")
        .arn()
        .expect("an ARN")
        .to_owned()
}

#[tokio::test]
async fn the_key_comes_from_the_secret_named_by_its_arn() {
    let Some(url) = test_gate::require_moto("secret_source") else {
        return;
    };
    let config = config(&url).await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let arn = create(&client, &"k".repeat(64)).await;
    let source = SecretSource::SecretsManager {
        config: Box::new(config),
        secret_id: arn,
    };
    let keys = source.keys().await.expect("the secret is read");
    // Never rotated: no AWSPREVIOUS, which is no error.
    assert!(keys.previous().is_none());
    // The same secret signs and verifies: a token signed with it checks out with the key read.
    let signer = upload_tokens_core::auth::AccessTokenSigner::with_keys(keys);
    let same = upload_tokens_core::auth::AccessTokenSigner::new(
        upload_tokens_core::auth::SigningKey::new("k".repeat(64).into_bytes()).expect("long"),
    );
    assert_eq!(signer.sign("message"), same.sign("message"));
}

#[tokio::test]
async fn a_short_or_missing_secret_is_an_error_not_a_weak_key() {
    let Some(url) = test_gate::require_moto("secret_source") else {
        return;
    };
    let config = config(&url).await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let short = create(&client, "too-short").await;
    let source = SecretSource::SecretsManager {
        config: Box::new(config.clone()),
        secret_id: short,
    };
    assert!(matches!(source.keys().await, Err(SecretError::Unusable(_))));
    let missing = SecretSource::SecretsManager {
        config: Box::new(config),
        secret_id: "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf".into(),
    };
    assert!(matches!(
        missing.keys().await,
        Err(SecretError::Fetch {
            stage: "AWSCURRENT",
            ..
        })
    ));
}

#[tokio::test]
async fn the_functions_aws_configuration_reaches_the_endpoint_in_the_environment() {
    // The test command exports AWS_ENDPOINT_URL, AWS_REGION and credentials, as Lambda does.
    let Some(url) = test_gate::require_moto("secret_source") else {
        return;
    };
    assert_eq!(
        std::env::var("AWS_ENDPOINT_URL").ok().as_deref(),
        Some(url.as_str())
    );
    let config = upload_tokens_lambda::aws_config().await;
    assert_eq!(config.region().map(|r| r.as_ref()), Some("us-east-1"));
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let arn = create(&secrets, &"s".repeat(40)).await;
    let source = SecretSource::SecretsManager {
        config: Box::new(config.clone()),
        secret_id: arn,
    };
    source
        .keys()
        .await
        .expect("read through the functions' own client");
    // And DynamoDB through the same configuration.
    aws_sdk_dynamodb::Client::new(&config)
        .list_tables()
        .send()
        .await
        .expect("DynamoDB answers");
}
