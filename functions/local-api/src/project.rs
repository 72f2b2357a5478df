//! The default project of a local installation and its API key, kept in the data directory so a
//! restart keeps them.

use crate::LocalError;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;
use upload_tokens_core::auth::ApiKey;
use upload_tokens_core::domain::{KeyId, ProjectId};
use upload_tokens_core::store::{ApiKeyRecord, Store, StoreError};

const FILE: &str = "default-project.json";

/// The project the local server creates on first start, and the key it prints.
#[derive(Debug, Clone)]
pub struct DefaultProject {
    /// The project.
    pub project_id: ProjectId,
    /// Its key (generated, or given with `--api-key`).
    pub api_key: ApiKey,
    /// Where the key came from: the banner prints it only when it was just generated.
    pub key_origin: KeyOrigin,
}

/// Where the default project's key came from at this start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    /// Generated now (first start): shown once.
    Generated,
    /// Read from the data directory (generated at an earlier start, or given then).
    Saved,
    /// Given with `--api-key`: never echoed.
    Given,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Saved {
    project_id: String,
    api_key: String,
}

/// Writes a file readable only by its owner, atomically (temp file, fsync, rename).
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

impl DefaultProject {
    /// Loads the saved project (or creates one), applies `--api-key` if given, and makes sure
    /// the key is registered in `store` (a fresh DynamoDB table, say).
    pub async fn ensure(
        data_dir: &Path,
        store: &dyn Store,
        api_key: Option<&str>,
    ) -> Result<Self, LocalError> {
        let path = data_dir.join(FILE);
        let io = |source| LocalError::DataDir {
            path: path.clone(),
            source,
        };
        upload_tokens_core::store::private::create_private_dir(data_dir).map_err(io)?;
        let saved: Option<Saved> =
            match std::fs::read(&path) {
                Ok(bytes) => Some(serde_json::from_slice(&bytes).map_err(|e| {
                    LocalError::Usage(format!("{} is not valid: {e}", path.display()))
                })?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(io(e)),
            };
        let corrupt = |what: &str| LocalError::Usage(format!("{}: bad {what}", path.display()));
        let project_id = match &saved {
            Some(s) => ProjectId::parse(&s.project_id).map_err(|_| corrupt("projectId"))?,
            None => ProjectId::generate(),
        };
        let previous = match &saved {
            Some(s) => Some(ApiKey::parse(&s.api_key).map_err(|_| corrupt("apiKey"))?),
            None => None,
        };
        let (api_key, key_origin) = match (api_key, &previous) {
            (Some(given), _) => (
                ApiKey::parse(given).map_err(|e| LocalError::Usage(format!("--api-key: {e}")))?,
                KeyOrigin::Given,
            ),
            (None, Some(previous)) => (previous.clone(), KeyOrigin::Saved),
            (None, None) => (ApiKey::generate(), KeyOrigin::Generated),
        };
        let this = Self {
            project_id,
            api_key,
            key_origin,
        };
        this.register(store).await?;
        // A new --api-key replaces the default key: the previous one stops working (and its
        // refresh tokens with it).
        if let Some(previous) = previous
            && previous.hash() != this.api_key.hash()
            && let Some(record) = store.api_key_by_hash(&previous.hash()).await?
            && record.project_id == this.project_id
        {
            store.revoke_api_key(&record.key_id).await?;
            tracing::info!(
                key_id = record.key_id.as_str(),
                "previous default API key revoked"
            );
        }
        let json = serde_json::to_vec_pretty(&Saved {
            project_id: this.project_id.to_string(),
            api_key: this.api_key.expose().to_owned(),
        })
        .map_err(|e| LocalError::Usage(e.to_string()))?;
        write_private(&path, &json).map_err(io)?;
        Ok(this)
    }

    async fn register(&self, store: &dyn Store) -> Result<(), LocalError> {
        match store.api_key_by_hash(&self.api_key.hash()).await? {
            Some(existing) if existing.project_id == self.project_id => Ok(()),
            Some(_) => Err(LocalError::Usage(
                "this API key already belongs to another project".into(),
            )),
            None => {
                let record = ApiKeyRecord {
                    key_id: KeyId::generate(),
                    project_id: self.project_id.clone(),
                    hash: self.api_key.hash(),
                    created_at: Utc::now(),
                };
                match store.insert_api_key(&record).await {
                    // Another process registered it at the same moment: fine.
                    Ok(()) | Err(StoreError::AlreadyExists) => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }
}
