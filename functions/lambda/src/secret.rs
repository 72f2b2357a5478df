//! The access-token signing secret: from Secrets Manager in a deployed stack (read on the first
//! request that needs it, never during init, then again when a rotation shows), or from an
//! environment variable (local runs, benchmarks).
//!
//! From Secrets Manager the functions read two values: `AWSCURRENT`, which signs, and
//! `AWSPREVIOUS` (the value before the last rotation, absent until the first one), which still
//! verifies the tokens signed before it. So a rotation never makes instances disagree: a new
//! instance accepts the old instances' tokens, and an old instance that meets a token naming a
//! key it does not hold re-reads the secret (see `AccessTokenSigner::verify_with_reload`).

use crate::InitError;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use upload_tokens_core::auth::{
    AccessTokenSigner, KeyLoadError, ReloadPolicy, SigningKey, SigningKeySource, SigningKeys,
};

/// Environment variable naming the Secrets Manager secret (ARN or name) holding the secret.
pub const SIGNING_SECRET_ARN_ENV: &str = "SIGNING_SECRET_ARN";
/// Environment variable holding the secret itself (≥ 32 bytes), when there is no ARN.
pub const SIGNING_SECRET_ENV: &str = "SIGNING_SECRET";

/// The staging label of the secret's value in use.
const CURRENT: &str = "AWSCURRENT";
/// The staging label Secrets Manager moves to the value a rotation replaced.
const PREVIOUS: &str = "AWSPREVIOUS";

/// Where the signing keys come from.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// The key itself, from the environment: nothing to rotate.
    Env(SigningKey),
    /// A Secrets Manager secret, fetched when first needed and re-read after rotations.
    SecretsManager {
        /// The configuration its client is built from, at each read: reads are rare (the first
        /// request, then at most every 30 s when a rotation shows), so init does not pay for
        /// building a client.
        config: Box<aws_config::SdkConfig>,
        /// Secret ARN or name.
        secret_id: String,
    },
}

/// Why the secret could not be had on a request (the request gets a 500; the next one retries).
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Secrets Manager refused or failed.
    #[error("reading the signing secret {secret_id} ({stage}): {source}")]
    Fetch {
        /// The secret asked for.
        secret_id: String,
        /// The staging label asked for.
        stage: &'static str,
        /// What failed.
        #[source]
        source: Box<aws_sdk_secretsmanager::Error>,
    },
    /// The secret's current value is not a string of at least 32 bytes.
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

    /// The keys: at once from the environment; from Secrets Manager, the `AWSCURRENT` value
    /// (which signs) and the `AWSPREVIOUS` one if there is one, read concurrently.
    pub async fn keys(&self) -> Result<SigningKeys, SecretError> {
        match self {
            Self::Env(key) => Ok(SigningKeys::new(key.clone())),
            Self::SecretsManager { config, secret_id } => {
                let client = aws_sdk_secretsmanager::Client::new(config);
                let (current, previous) = tokio::join!(
                    read_stage(&client, secret_id, CURRENT),
                    read_stage(&client, secret_id, PREVIOUS),
                );
                let current = current?
                    .and_then(|s| SigningKey::new(s.into_bytes()))
                    .ok_or_else(|| SecretError::Unusable(secret_id.clone()))?;
                // A value too short to be a key never signed anything: as good as absent.
                let previous = previous?.and_then(|s| SigningKey::new(s.into_bytes()));
                Ok(SigningKeys::new(current).with_previous(previous))
            }
        }
    }

    /// A signer over the keys as they are `now`. From Secrets Manager, it re-reads the secret
    /// as `policy` says; from the environment, never.
    pub async fn signer(
        &self,
        now: DateTime<Utc>,
        policy: ReloadPolicy,
    ) -> Result<AccessTokenSigner, SecretError> {
        let keys = self.keys().await?;
        Ok(match self {
            Self::Env(_) => AccessTokenSigner::with_keys(keys),
            Self::SecretsManager { .. } => {
                AccessTokenSigner::reloading(keys, now, Arc::new(self.clone()), policy)
            }
        })
    }
}

#[async_trait::async_trait]
impl SigningKeySource for SecretSource {
    async fn load(&self) -> Result<SigningKeys, KeyLoadError> {
        self.keys().await.map_err(|e| KeyLoadError(Box::new(e)))
    }
}

/// The secret's string value under staging label `stage`; `None` if no version has that label
/// (for `AWSPREVIOUS`: before the first rotation) or the value is binary.
async fn read_stage(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
    stage: &'static str,
) -> Result<Option<String>, SecretError> {
    match client
        .get_secret_value()
        .secret_id(secret_id)
        .version_stage(stage)
        .send()
        .await
    {
        Ok(output) => Ok(output.secret_string),
        // Secrets Manager answers a missing label as it answers a missing secret; a missing
        // secret also fails the `AWSCURRENT` read, so nothing is hidden by this.
        Err(e)
            if stage == PREVIOUS
                && e.as_service_error()
                    .is_some_and(GetSecretValueError::is_resource_not_found_exception) =>
        {
            Ok(None)
        }
        Err(e) => Err(SecretError::Fetch {
            secret_id: secret_id.to_owned(),
            stage,
            source: Box::new(e.into()),
        }),
    }
}
