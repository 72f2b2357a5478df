//! How domain records map to DynamoDB items and back.

use super::schema::{CREATED_SK, EXPIRES_AT_MS, EXPIRY_SK, LIST_PK, PK, PROJECT_ID, TTL_ATTRIBUTE};
use crate::auth::SecretHash;
use crate::domain::{KeyId, ProjectId, TokenId, TokenName, TokenUsage, Ttl, UploadToken};
use crate::store::{ApiKeyRecord, RefreshRecord, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Prefix of the item found by an API key's id.
pub(super) const KEY_ID_PREFIX: &str = "KEYID#";

const TOKEN_ID: &str = "tokenId";
const TTL_SECONDS: &str = "ttl";
const CREATED_AT_MS: &str = "createdAtMs";
const NAME: &str = "name";
/// The token's policy document (`store::stored`), absent when it limits nothing.
const POLICY: &str = "policy";
/// `maxUploads` of the policy again, where the condition of a video's creation reads it.
pub(super) const MAX_UPLOADS: &str = "maxUploads";
const VALUE_HASH: &str = "valueHash";
const CREATED_BY: &str = "createdBy";
const UPDATED_BY: &str = "updatedBy";
const UPDATED_AT_MS: &str = "updatedAtMs";
/// Version of the name, lifetime and policy (PATCH is conditional on it).
pub(super) const TOKEN_VERSION: &str = "version";
/// Usage counters, changed only by `ADD` in the transactions of the uploads they count.
pub(super) const UPLOADS: &str = "uploads";
pub(super) const COMPLETED_UPLOADS: &str = "completedUploads";
pub(super) const BYTES_RECEIVED: &str = "bytesReceived";
pub(super) const LAST_USED_AT_MS: &str = "lastUsedAtMs";
const KEY_ID: &str = "keyId";
const KEY_HASH: &str = "keyHash";

/// Expiry sort value of tokens that never expire: after every real expiry.
const NEVER_EXPIRES: &str = "999999999999999";

/// Attribute value constructors.
pub(super) mod attr {
    use aws_sdk_dynamodb::types::AttributeValue;

    /// A string attribute.
    pub fn s(v: impl Into<String>) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    /// A number attribute.
    pub fn n(v: impl ToString) -> AttributeValue {
        AttributeValue::N(v.to_string())
    }
}

pub(super) fn token_pk(id: &TokenId) -> String {
    format!("TOKEN#{id}")
}

pub(super) fn key_hash_pk(hash: &SecretHash) -> String {
    format!("APIKEY#{}", hash.to_hex())
}

pub(super) fn key_id_pk(id: &KeyId) -> String {
    format!("{KEY_ID_PREFIX}{id}")
}

pub(super) fn refresh_pk(hash: &SecretHash) -> String {
    format!("REFRESH#{}", hash.to_hex())
}

/// The listing partition of a project's api.video-face tokens (the only ones
/// `GET /upload-tokens` lists).
pub(super) fn list_pk(project: &ProjectId) -> String {
    format!("TOKENS#{project}")
}

/// The listing partition of a project's named tokens, in the same indexes: `/v2/tokens` merges
/// it with [`list_pk`]'s.
pub(super) fn named_list_pk(project: &ProjectId) -> String {
    format!("NAMEDTOKENS#{project}")
}

/// The listing partition of `token`.
pub(super) fn token_list_pk(token: &UploadToken) -> String {
    if token.value_is_shown() {
        list_pk(&token.project_id)
    } else {
        named_list_pk(&token.project_id)
    }
}

pub(super) fn expiry_sk(token: &UploadToken) -> String {
    match token.expires_at() {
        Some(at) => format!("{:015}#{}", at.timestamp_millis(), token.id),
        None => format!("{NEVER_EXPIRES}#{}", token.id),
    }
}

/// The smallest expiry sort key of a token still active at `now`, exclusive: `"<now>#~"` sorts
/// after every `"<now>#to…"` (`~` follows every letter and digit), so `expirySk > floor` keeps
/// exactly the tokens expiring after `now`.
pub(super) fn expiry_floor(now: DateTime<Utc>) -> String {
    format!("{:015}#~", now.timestamp_millis())
}

/// Native TTL wants epoch seconds; round up so DynamoDB never deletes an item early.
pub(super) fn ttl_seconds(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis().div_euclid(1000) + i64::from(at.timestamp_millis().rem_euclid(1000) > 0)
}

pub(super) fn token_item(
    token: &UploadToken,
) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let mut item = HashMap::from([
        (PK.to_owned(), attr::s(token_pk(&token.id))),
        (TOKEN_ID.to_owned(), attr::s(token.id.as_str())),
        (PROJECT_ID.to_owned(), attr::s(token.project_id.as_str())),
        (
            CREATED_AT_MS.to_owned(),
            attr::n(token.created_at.timestamp_millis()),
        ),
        (LIST_PK.to_owned(), attr::s(token_list_pk(token))),
        (
            CREATED_SK.to_owned(),
            attr::s(token.creation_order.to_string()),
        ),
        (UPLOADS.to_owned(), attr::n(token.usage.uploads)),
        (
            COMPLETED_UPLOADS.to_owned(),
            attr::n(token.usage.completed_uploads),
        ),
        (
            BYTES_RECEIVED.to_owned(),
            attr::n(token.usage.bytes_received),
        ),
    ]);
    item.extend(
        token_settings(token)?
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_owned(), v?))),
    );
    if let Some(at) = token.usage.last_used_at {
        item.insert(LAST_USED_AT_MS.to_owned(), attr::n(at.timestamp_millis()));
    }
    if let Some(hash) = &token.value_hash {
        item.insert(VALUE_HASH.to_owned(), attr::s(hash.to_hex()));
    }
    if let Some(by) = &token.created_by {
        item.insert(CREATED_BY.to_owned(), attr::s(by.as_str()));
    }
    Ok(item)
}

/// The attributes a token's creation sets and a PATCH changes (`None`: absent, removed by a
/// PATCH): lifetime, name, policy, who and when, version.
pub(super) fn token_settings(
    token: &UploadToken,
) -> Result<Vec<(&'static str, Option<AttributeValue>)>, StoreError> {
    let expires = token.expires_at();
    Ok(vec![
        (TTL_SECONDS, Some(attr::n(token.ttl.seconds()))),
        (EXPIRY_SK, Some(attr::s(expiry_sk(token)))),
        (
            EXPIRES_AT_MS,
            expires.map(|at| attr::n(at.timestamp_millis())),
        ),
        (TTL_ATTRIBUTE, expires.map(|at| attr::n(ttl_seconds(at)))),
        (NAME, token.name.as_ref().map(|n| attr::s(n.as_str()))),
        (
            POLICY,
            crate::store::stored::encode_policy(&token.policy)?.map(attr::s),
        ),
        (MAX_UPLOADS, token.policy.max_uploads.map(attr::n)),
        (
            UPDATED_BY,
            token.updated_by.as_ref().map(|k| attr::s(k.as_str())),
        ),
        (
            UPDATED_AT_MS,
            Some(attr::n(token.updated_at.timestamp_millis())),
        ),
        (TOKEN_VERSION, Some(attr::n(token.version))),
    ])
}

pub(super) fn api_key_item(pk: String, key: &ApiKeyRecord) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (PK.to_owned(), attr::s(pk)),
        (KEY_ID.to_owned(), attr::s(key.key_id.as_str())),
        (PROJECT_ID.to_owned(), attr::s(key.project_id.as_str())),
        (KEY_HASH.to_owned(), attr::s(key.hash.to_hex())),
        (
            CREATED_AT_MS.to_owned(),
            attr::n(key.created_at.timestamp_millis()),
        ),
    ])
}

pub(super) fn refresh_item(record: &RefreshRecord) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (PK.to_owned(), attr::s(refresh_pk(&record.hash))),
        (KEY_ID.to_owned(), attr::s(record.key_id.as_str())),
        (PROJECT_ID.to_owned(), attr::s(record.project_id.as_str())),
        (KEY_HASH.to_owned(), attr::s(record.hash.to_hex())),
        (
            EXPIRES_AT_MS.to_owned(),
            attr::n(record.expires_at.timestamp_millis()),
        ),
        (
            TTL_ATTRIBUTE.to_owned(),
            attr::n(ttl_seconds(record.expires_at)),
        ),
    ])
}

/// A raw item being decoded; every missing or malformed attribute is [`StoreError::Corrupt`].
pub(super) struct Item(pub HashMap<String, AttributeValue>);

impl Item {
    fn corrupt(&self, name: &str) -> StoreError {
        let pk = self
            .0
            .get(PK)
            .and_then(|v| v.as_s().ok())
            .map_or("?", |s| s);
        StoreError::Corrupt(format!("item {pk}: attribute {name}"))
    }

    fn s(&self, name: &str) -> Result<&str, StoreError> {
        self.0
            .get(name)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
            .ok_or_else(|| self.corrupt(name))
    }

    fn n(&self, name: &str) -> Result<i64, StoreError> {
        self.0
            .get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| self.corrupt(name))
    }

    fn millis(&self, name: &str) -> Result<DateTime<Utc>, StoreError> {
        DateTime::from_timestamp_millis(self.n(name)?).ok_or_else(|| self.corrupt(name))
    }

    fn project(&self) -> Result<ProjectId, StoreError> {
        ProjectId::parse(self.s(PROJECT_ID)?).map_err(|_| self.corrupt(PROJECT_ID))
    }

    fn key_id(&self) -> Result<KeyId, StoreError> {
        KeyId::parse(self.s(KEY_ID)?).map_err(|_| self.corrupt(KEY_ID))
    }

    fn hash(&self) -> Result<SecretHash, StoreError> {
        SecretHash::from_hex(self.s(KEY_HASH)?).ok_or_else(|| self.corrupt(KEY_HASH))
    }

    /// A number that older items may lack (0 then).
    fn count(&self, name: &str) -> Result<u64, StoreError> {
        match self.0.get(name) {
            None => Ok(0),
            Some(_) => u64::try_from(self.n(name)?).map_err(|_| self.corrupt(name)),
        }
    }

    fn optional_s(&self, name: &str) -> Result<Option<&str>, StoreError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(_) => self.s(name).map(Some),
        }
    }

    fn optional_key_id(&self, name: &str) -> Result<Option<KeyId>, StoreError> {
        self.optional_s(name)?
            .map(|id| KeyId::parse(id).map_err(|_| self.corrupt(name)))
            .transpose()
    }

    pub(super) fn token(self) -> Result<UploadToken, StoreError> {
        let created_at = self.millis(CREATED_AT_MS)?;
        Ok(UploadToken {
            id: TokenId::parse(self.s(TOKEN_ID)?).map_err(|_| self.corrupt(TOKEN_ID))?,
            project_id: self.project()?,
            ttl: u32::try_from(self.n(TTL_SECONDS)?)
                .ok()
                .and_then(|s| Ttl::from_seconds(s).ok())
                .ok_or_else(|| self.corrupt(TTL_SECONDS))?,
            created_at,
            creation_order: self
                .s(CREATED_SK)?
                .parse()
                .map_err(|_| self.corrupt(CREATED_SK))?,
            name: self
                .optional_s(NAME)?
                .map(|n| TokenName::parse(n).ok_or_else(|| self.corrupt(NAME)))
                .transpose()?,
            policy: crate::store::stored::decode_policy(self.optional_s(POLICY)?)?,
            created_by: self.optional_key_id(CREATED_BY)?,
            updated_by: self.optional_key_id(UPDATED_BY)?,
            updated_at: match self.0.get(UPDATED_AT_MS) {
                None => created_at,
                Some(_) => self.millis(UPDATED_AT_MS)?,
            },
            usage: TokenUsage {
                uploads: self.count(UPLOADS)?,
                completed_uploads: self.count(COMPLETED_UPLOADS)?,
                bytes_received: self.count(BYTES_RECEIVED)?,
                last_used_at: match self.0.get(LAST_USED_AT_MS) {
                    None => None,
                    Some(_) => Some(self.millis(LAST_USED_AT_MS)?),
                },
            },
            value_hash: self
                .optional_s(VALUE_HASH)?
                .map(|h| SecretHash::from_hex(h).ok_or_else(|| self.corrupt(VALUE_HASH)))
                .transpose()?,
            version: self.count(TOKEN_VERSION)?,
        })
    }

    pub(super) fn api_key(self) -> Result<ApiKeyRecord, StoreError> {
        Ok(ApiKeyRecord {
            key_id: self.key_id()?,
            project_id: self.project()?,
            hash: self.hash()?,
            created_at: self.millis(CREATED_AT_MS)?,
        })
    }

    pub(super) fn refresh(self) -> Result<RefreshRecord, StoreError> {
        Ok(RefreshRecord {
            hash: self.hash()?,
            key_id: self.key_id()?,
            project_id: self.project()?,
            expires_at: self.millis(EXPIRES_AT_MS)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ProjectId;

    #[test]
    fn token_round_trips_through_an_item() {
        let ttl = Ttl::from_seconds(60).expect("valid");
        let token = UploadToken::create(ProjectId::generate(), ttl, Utc::now());
        assert_eq!(
            Item(token_item(&token).expect("item")).token().ok(),
            Some(token)
        );
    }

    #[test]
    fn a_token_item_written_before_policies_reads_as_an_unlimited_unused_token() {
        let token = UploadToken::create(
            ProjectId::generate(),
            Ttl::from_seconds(60).expect("valid"),
            Utc::now(),
        );
        // Exactly the attributes the release before policies wrote.
        let mut item = token_item(&token).expect("item");
        item.retain(|k, _| {
            [
                PK,
                TOKEN_ID,
                PROJECT_ID,
                TTL_SECONDS,
                CREATED_AT_MS,
                LIST_PK,
                CREATED_SK,
                EXPIRY_SK,
                EXPIRES_AT_MS,
                TTL_ATTRIBUTE,
            ]
            .contains(&k.as_str())
        });
        assert_eq!(Item(item).token().ok(), Some(token));
    }

    #[test]
    fn never_expiring_token_has_no_ttl_attribute_and_sorts_last() {
        let token = UploadToken::create(ProjectId::generate(), Ttl::NEVER, Utc::now());
        let item = token_item(&token).expect("item");
        assert!(!item.contains_key(TTL_ATTRIBUTE));
        assert!(!item.contains_key(EXPIRES_AT_MS));
        let far = DateTime::from_timestamp(253_402_300_799, 0).expect("year 9999");
        let late = UploadToken::create(
            token.project_id.clone(),
            Ttl::from_seconds(Ttl::MAX).expect("valid"),
            far,
        );
        assert!(expiry_sk(&late) < expiry_sk(&token));
    }

    #[test]
    fn ttl_attribute_rounds_up_to_the_second() {
        let at = DateTime::from_timestamp_millis(10_001).expect("valid");
        assert_eq!(ttl_seconds(at), 11);
        let exact = DateTime::from_timestamp_millis(10_000).expect("valid");
        assert_eq!(ttl_seconds(exact), 10);
    }

    #[test]
    fn expiry_floor_splits_tokens_at_now() {
        let now = Utc::now();
        let mut token = UploadToken::create(
            ProjectId::generate(),
            Ttl::from_seconds(1).expect("valid"),
            now,
        );
        // Expires exactly at `now`: not active, so below the floor.
        token.created_at = now - chrono::TimeDelta::seconds(1);
        let now = crate::domain::UploadToken::create(token.project_id.clone(), Ttl::NEVER, now)
            .created_at;
        assert!(expiry_sk(&token) < expiry_floor(now));
        token.created_at = now - chrono::TimeDelta::milliseconds(999);
        assert!(expiry_sk(&token) > expiry_floor(now));
    }
}
