//! How domain records map to DynamoDB items and back.

use super::schema::{CREATED_SK, EXPIRES_AT_MS, EXPIRY_SK, LIST_PK, PK, PROJECT_ID, TTL_ATTRIBUTE};
use crate::auth::SecretHash;
use crate::domain::{KeyId, ProjectId, TokenId, Ttl, UploadToken};
use crate::store::{ApiKeyRecord, RefreshRecord, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Prefix of the item found by an API key's id.
pub(super) const KEY_ID_PREFIX: &str = "KEYID#";

const TOKEN_ID: &str = "tokenId";
const TTL_SECONDS: &str = "ttl";
const CREATED_AT_MS: &str = "createdAtMs";
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

pub(super) fn list_pk(project: &ProjectId) -> String {
    format!("TOKENS#{project}")
}

fn expiry_sk(token: &UploadToken) -> String {
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
fn ttl_seconds(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis().div_euclid(1000) + i64::from(at.timestamp_millis().rem_euclid(1000) > 0)
}

pub(super) fn token_item(token: &UploadToken) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        (PK.to_owned(), attr::s(token_pk(&token.id))),
        (TOKEN_ID.to_owned(), attr::s(token.id.as_str())),
        (PROJECT_ID.to_owned(), attr::s(token.project_id.as_str())),
        (TTL_SECONDS.to_owned(), attr::n(token.ttl.seconds())),
        (
            CREATED_AT_MS.to_owned(),
            attr::n(token.created_at.timestamp_millis()),
        ),
        (LIST_PK.to_owned(), attr::s(list_pk(&token.project_id))),
        (
            CREATED_SK.to_owned(),
            attr::s(token.creation_order.to_string()),
        ),
        (EXPIRY_SK.to_owned(), attr::s(expiry_sk(token))),
    ]);
    if let Some(at) = token.expires_at() {
        item.insert(EXPIRES_AT_MS.to_owned(), attr::n(at.timestamp_millis()));
        item.insert(TTL_ATTRIBUTE.to_owned(), attr::n(ttl_seconds(at)));
    }
    item
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

    pub(super) fn token(self) -> Result<UploadToken, StoreError> {
        Ok(UploadToken {
            id: TokenId::parse(self.s(TOKEN_ID)?).map_err(|_| self.corrupt(TOKEN_ID))?,
            project_id: self.project()?,
            ttl: u32::try_from(self.n(TTL_SECONDS)?)
                .ok()
                .and_then(|s| Ttl::from_seconds(s).ok())
                .ok_or_else(|| self.corrupt(TTL_SECONDS))?,
            created_at: self.millis(CREATED_AT_MS)?,
            creation_order: self
                .s(CREATED_SK)?
                .parse()
                .map_err(|_| self.corrupt(CREATED_SK))?,
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
        assert_eq!(Item(token_item(&token)).token().ok(), Some(token));
    }

    #[test]
    fn never_expiring_token_has_no_ttl_attribute_and_sorts_last() {
        let token = UploadToken::create(ProjectId::generate(), Ttl::NEVER, Utc::now());
        let item = token_item(&token);
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
