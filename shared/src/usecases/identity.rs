//! Who a credential stands for: an API key, an access token obtained with one, or an upload
//! token. Parsing the credential out of a request is the HTTP layer's business.

use crate::auth::{AccessTokenSigner, ApiKey, NamedTokenValue, Principal, looks_like_access_token};
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

/// What a Bearer credential is taken for: an access token (`POST /auth/api-key`'s), or the API
/// key itself (as vidbeo's clients send it).
#[derive(Debug)]
pub enum BearerCredential<'a> {
    /// It begins as an access token does: it is checked as one, and only as one.
    AccessToken(&'a str),
    /// Anything else that is a well-formed API key.
    ApiKey(ApiKey),
    /// Neither: refused as an API key would be.
    Neither,
}

impl<'a> BearerCredential<'a> {
    /// Tells them apart by their form alone, without a store read: access tokens begin with
    /// `v2.` (`v1.` before signing key ids), generated API keys contain no `.`.
    pub fn classify(credential: &'a str) -> Self {
        if looks_like_access_token(credential) {
            Self::AccessToken(credential)
        } else {
            ApiKey::parse(credential).map_or(Self::Neither, Self::ApiKey)
        }
    }
}

/// The principal of a genuine, unexpired access token whose key is still live: revoking a key
/// ends its access tokens at once. A token naming a signing key the signer does not hold makes
/// it re-read its keys first (rate-limited; see [`AccessTokenSigner::verify_with_reload`]).
pub async fn principal_for_access_token(
    keys: &dyn ApiKeyReader,
    signer: &AccessTokenSigner,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<Principal>, StoreError> {
    let Ok(claims) = signer.verify_with_reload(token, now).await else {
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

/// The upload token with this value if it exists and is active at `now` (strongly consistent,
/// one read): one answer for unknown, malformed, expired and deleted tokens. An api.video
/// token's value is its id; a named token's (`ut_…`) names its id, and its stored hash must
/// match the value's.
pub async fn active_upload_token(
    tokens: &dyn TokenReader,
    value: &str,
    now: DateTime<Utc>,
) -> Result<Option<UploadToken>, StoreError> {
    if let Some(named) = NamedTokenValue::parse(value) {
        let presented = named.hash();
        return Ok(tokens.find_token(&named.id(), now).await?.filter(|token| {
            token
                .value_hash
                .as_ref()
                .is_some_and(|stored| stored.matches(&presented))
        }));
    }
    match TokenId::parse_shown(value) {
        Ok(id) => Ok(tokens
            .find_token(&id, now)
            .await?
            .filter(UploadToken::value_is_shown)),
        Err(_) => Ok(None),
    }
}
