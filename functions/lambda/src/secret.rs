//! The access-token signing secret: from Secrets Manager in a deployed stack (read once per
//! execution environment, on the first request that needs it, never during init), or from an
//! environment variable (local runs, benchmarks).

use crate::InitError;
use upload_tokens_core::auth::SigningKey;

/// Environment variable naming the Secrets Manager secret (ARN or name) holding the secret.
pub const SIGNING_SECRET_ARN_ENV: &str = "SIGNING_SECRET_ARN";
/// Environment variable holding the secret itself (≥ 32 bytes), when there is no ARN.
pub const SIGNING_SECRET_ENV: &str = "SIGNING_SECRET";

/// Where the signing key comes from.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// The key itself, from the environment.
    Env(SigningKey),
    /// A Secrets Manager secret, fetched when first needed.
    SecretsManager {
        /// The configuration its client is built from, at the fetch: the client serves that one
        /// call, so init does not pay for building it.
        config: Box<aws_config::SdkConfig>,
        /// Secret ARN or name.
        secret_id: String,
    },
}

/// Why the secret could not be had on a request (the request gets a 500; the next one retries).
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Secrets Manager refused or failed.
    #[error("reading the signing secret {secret_id}: {source}")]
    Fetch {
        /// The secret asked for.
        secret_id: String,
        /// What failed.
        #[source]
        source: Box<aws_sdk_secretsmanager::Error>,
    },
    /// The secret is not a string of at least 32 bytes.
    #[error("the signing secret {0} must be a string of at least 32 bytes")]
    Unusable(String),
}

impl SecretSource {
    /// From `SIGNING_SECRET_ARN` (preferred) or `SIGNING_SECRET`.
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, InitError> {
        if let Ok(secret_id) = std::env::var(SIGNING_SECRET_ARN_ENV) {
            return Ok(Self::SecretsManager {
                config: Box::new(config.clone()),
                secret_id,
            });
        }
        let secret = std::env::var(SIGNING_SECRET_ENV).map_err(|_| InitError::Env {
            name: SIGNING_SECRET_ARN_ENV,
            problem: "not set (nor SIGNING_SECRET)",
        })?;
        SigningKey::new(secret.into_bytes())
            .map(Self::Env)
            .ok_or(InitError::Env {
                name: SIGNING_SECRET_ENV,
                problem: "must be at least 32 bytes",
            })
    }

    /// The key: at once from the environment, or one `GetSecretValue`.
    pub async fn key(&self) -> Result<SigningKey, SecretError> {
        match self {
            Self::Env(key) => Ok(key.clone()),
            Self::SecretsManager { config, secret_id } => {
                let output = aws_sdk_secretsmanager::Client::new(config)
                    .get_secret_value()
                    .secret_id(secret_id)
                    .send()
                    .await
                    .map_err(|e| SecretError::Fetch {
                        secret_id: secret_id.clone(),
                        source: Box::new(e.into()),
                    })?;
                output
                    .secret_string()
                    .and_then(|s| SigningKey::new(s.as_bytes().to_vec()))
                    .ok_or_else(|| SecretError::Unusable(secret_id.clone()))
            }
        }
    }
}
