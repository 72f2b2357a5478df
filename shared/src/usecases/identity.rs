//! Who a credential stands for: an API key, an access token obtained with one, or an upload
//! token. Parsing the credential out of a request is the HTTP layer's business.

use crate::auth::{AccessTokenSigner, ApiKey, Principal};
use crate::domain::{TokenId, UploadToken};
use crate::store::{ApiKeyReader, StoreError, TokenReader};
use chrono::{DateTime, Utc};

/// The principal an API key stands for, if it is registered (hashes compared in constant time).
pub async fn principal_for_key(
    keys: &dyn ApiKeyReader,
    key: &ApiKey,
) -> Result<Option<Principal>, StoreError> {
    let presented = key.hash();
    let Some(record) = keys.api_key_by_hash(&presented).await? else {
        return Ok(None);
    };
    Ok(record.hash.matches(&presented).then_some(Principal {
        project_id: record.project_id,
        key_id: record.key_id,
    }))
}

/// The principal of a genuine, unexpired access token whose key is still live: revoking a key
/// ends its access tokens at once.
pub async fn principal_for_access_token(
    keys: &dyn ApiKeyReader,
    signer: &AccessTokenSigner,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<Principal>, StoreError> {
    let Ok(claims) = signer.verify(token, now) else {
        return Ok(None);
    };
    let (Some(key_id), Some(project_id)) = (claims.key_id(), claims.project_id()) else {
        return Ok(None);
    };
    Ok(match keys.api_key_by_id(&key_id).await? {
        Some(record) if record.project_id == project_id => Some(Principal { project_id, key_id }),
        _ => None,
    })
}

/// The upload token with this value if it exists and is active at `now` (strongly consistent):
/// one answer for unknown, malformed, expired and deleted tokens.
pub async fn active_upload_token(
    tokens: &dyn TokenReader,
    value: &str,
    now: DateTime<Utc>,
) -> Result<Option<UploadToken>, StoreError> {
    match TokenId::parse(value) {
        Ok(id) => tokens.find_token(&id, now).await,
        Err(_) => Ok(None),
    }
}
