//! The DynamoDB adapter: one on-demand table, native TTL, two sparse GSIs for listings.
//!
//! - Reads of single items are strongly consistent and re-check expiry: native TTL deletes
//!   hours or days late.
//! - Every create is a conditional put (`attribute_not_exists(pk)`): nothing is overwritten.
//! - Listings Query a per-project GSI in the requested order, never Scan. Expired tokens are
//!   excluded by the key condition on the expiry index, and by a filter on the creation index.

mod items;
pub mod schema;
mod videos;

use super::{
    ApiKeyAdmin, ApiKeyReader, ApiKeyRecord, RefreshRecord, RefreshTokenStore, StoreError,
    TokenDeleter, TokenLister, TokenPage, TokenReader, TokenUpdater, TokenWriter,
};
use crate::auth::SecretHash;
use crate::domain::{
    CreationOrder, KeyId, ListQuery, ProjectId, SortBy, SortOrder, TokenId, UploadToken,
};
use crate::internal::InternalError;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValue, Select, TransactWriteItem,
};
use chrono::{DateTime, Utc};
use items::{Item, attr};
use schema::{
    BY_CREATED_INDEX, BY_EXPIRY_INDEX, CREATED_SK, EXPIRES_AT_MS, EXPIRY_SK, LIST_PK, PK,
    PROJECT_ID,
};
use std::collections::HashMap;

/// DynamoDB-backed store over one table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// How long an unfinished upload's item lives without a change: its TTL.
    abandon_after: std::time::Duration,
}

/// Largest number of items asked for in one Query page.
const QUERY_PAGE_LIMIT: i32 = 1000;

impl DynamoStore {
    /// A store over `table`, through an already configured client (built once per process).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            abandon_after: crate::store::DEFAULT_ABANDON_AFTER,
        }
    }

    /// Unfinished uploads' items expire (native TTL) `after` their last change rather than
    /// the default 7 days: the abandoned-upload period, as the bucket's lifecycle rules have it.
    pub fn abandoning_uploads_after(mut self, after: std::time::Duration) -> Self {
        self.abandon_after = after;
        self
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The client (for tools and tests that read the table's items themselves).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The item with this partition key, read strongly consistent.
    pub(super) async fn get_consistent(
        &self,
        pk: String,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, attr::s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::backend)?;
        Ok(out.item)
    }

    /// Writes `items` in one transaction; `false` when one of their conditions failed (nothing
    /// was written then).
    pub(super) async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<bool, StoreError> {
        Ok(self.transact_or_refusals(items).await?.is_none())
    }

    /// Writes `items` in one transaction; when conditions failed, which ones (by index), each
    /// with the item as it was if its write asked for it (`ReturnValuesOnConditionCheckFailure`).
    pub(super) async fn transact_or_refusals(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Option<Vec<Refusal>>, StoreError> {
        let mut attempt = 0u32;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(None),
                Err(e) if transaction_cancelled_for(&e, "ConditionalCheckFailed") => {
                    return Ok(Some(refusals(&e)));
                }
                // Another transaction on one of the items (two uploads of one token): nothing
                // was applied, so it is safe to try again.
                Err(e) if attempt < 10 && transaction_cancelled_for(&e, "TransactionConflict") => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(
                        20 * u64::from(attempt) + u64::from(rand_jitter()),
                    ))
                    .await;
                }
                Err(e) => return Err(StoreError::backend(e)),
            }
        }
    }

    /// Counts the project's tokens active at `now`, by the expiry index's key condition.
    async fn count_active(
        &self,
        project: &ProjectId,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut total = 0u64;
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_EXPIRY_INDEX)
                .key_condition_expression("#lp = :lp AND #sk > :now")
                .expression_attribute_names("#lp", LIST_PK)
                .expression_attribute_names("#sk", EXPIRY_SK)
                .expression_attribute_values(":lp", attr::s(items::list_pk(project)))
                .expression_attribute_values(":now", attr::s(items::expiry_floor(now)))
                .select(Select::Count)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(StoreError::backend)?;
            total += u64::try_from(out.count()).unwrap_or(0);
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(total),
            }
        }
    }

    /// Reads the page: skips `query.offset()` active tokens in order, then takes up to a page.
    async fn page(
        &self,
        project: &ProjectId,
        query: &ListQuery,
        now: DateTime<Utc>,
    ) -> Result<Vec<UploadToken>, StoreError> {
        let mut to_skip = query.offset();
        let want = query.limit();
        let mut tokens = Vec::with_capacity(want);
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let needed = to_skip.saturating_add(want.saturating_sub(tokens.len()) as u64);
            let limit = i32::try_from(needed)
                .unwrap_or(i32::MAX)
                .min(QUERY_PAGE_LIMIT);
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .expression_attribute_names("#lp", LIST_PK)
                .expression_attribute_values(":lp", attr::s(items::list_pk(project)))
                .scan_index_forward(query.sort_order() == SortOrder::Asc)
                .limit(limit)
                .set_exclusive_start_key(start.take());
            request = match query.sort_by() {
                SortBy::Ttl => request
                    .index_name(BY_EXPIRY_INDEX)
                    .key_condition_expression("#lp = :lp AND #sk > :now")
                    .expression_attribute_names("#sk", EXPIRY_SK)
                    .expression_attribute_values(":now", attr::s(items::expiry_floor(now))),
                SortBy::CreatedAt => request
                    .index_name(BY_CREATED_INDEX)
                    .key_condition_expression("#lp = :lp")
                    .filter_expression("attribute_not_exists(#exp) OR #exp > :nowms")
                    .expression_attribute_names("#exp", EXPIRES_AT_MS)
                    .expression_attribute_values(":nowms", attr::n(now.timestamp_millis())),
            };
            let out = request.send().await.map_err(StoreError::backend)?;
            for raw in out.items.unwrap_or_default() {
                let token = Item(raw).token()?;
                // Both index conditions already exclude expired tokens; keep the rule in one
                // place anyway so a future index change cannot leak one.
                if !token.is_active(now) {
                    continue;
                }
                if to_skip > 0 {
                    to_skip -= 1;
                } else {
                    tokens.push(token);
                    if tokens.len() == want {
                        return Ok(tokens);
                    }
                }
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(tokens),
            }
        }
    }
}

/// Whether an SDK error is a failed condition (the item was not in the expected state).
fn condition_failed<E, R>(err: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

/// Whether a transaction was cancelled because one of its conditions failed.
/// A few milliseconds of jitter, so that two retrying writers do not meet again.
fn rand_jitter() -> u8 {
    rand::random::<u8>() % 20
}

/// One write of a cancelled transaction whose condition failed.
#[derive(Debug)]
pub(super) struct Refusal {
    /// Its index among the transaction's writes.
    pub index: usize,
    /// The item as it was, when the write asked for it.
    pub item: Option<HashMap<String, AttributeValue>>,
}

/// The writes of a cancelled transaction whose conditions failed.
fn refusals<R>(
    err: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> Vec<Refusal> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    let Some(TransactWriteItemsError::TransactionCanceledException(c)) = err.as_service_error()
    else {
        return Vec::new();
    };
    c.cancellation_reasons()
        .iter()
        .enumerate()
        .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
        .map(|(index, r)| Refusal {
            index,
            item: r.item().cloned(),
        })
        .collect()
}

/// Whether a transaction was cancelled with `code` among its reasons.
fn transaction_cancelled_for<R>(
    err: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
    code: &str,
) -> bool {
    err.as_service_error()
        .and_then(|e| match e {
            aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => Some(c),
            _ => None,
        })
        .is_some_and(|c| {
            c.cancellation_reasons()
                .iter()
                .any(|r| r.code() == Some(code))
        })
}

#[async_trait]
impl TokenWriter for DynamoStore {
    async fn insert_token(&self, token: &UploadToken) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(items::token_item(token)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Err(StoreError::AlreadyExists),
            Err(e) => Err(StoreError::backend(e)),
        }
    }
}

#[async_trait]
impl TokenReader for DynamoStore {
    async fn get_token(
        &self,
        project: &ProjectId,
        id: &TokenId,
        now: DateTime<Utc>,
    ) -> Result<Option<UploadToken>, StoreError> {
        Ok(self
            .find_token(id, now)
            .await?
            .filter(|token| token.project_id == *project))
    }

    async fn find_token(
        &self,
        id: &TokenId,
        now: DateTime<Utc>,
    ) -> Result<Option<UploadToken>, StoreError> {
        let Some(raw) = self.get_consistent(items::token_pk(id)).await? else {
            return Ok(None);
        };
        let token = Item(raw).token()?;
        Ok(token.is_active(now).then_some(token))
    }
}

#[async_trait]
impl TokenUpdater for DynamoStore {
    async fn update_token(
        &self,
        token: &UploadToken,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let expected = token
            .version
            .checked_sub(1)
            .ok_or_else(|| InternalError::new("update_token without a new version"))?;
        let mut sets = Vec::new();
        let mut removes = Vec::new();
        let mut request = self.client.update_item().table_name(&self.table);
        for (i, (name, value)) in items::token_settings(token)?.into_iter().enumerate() {
            request = request.expression_attribute_names(format!("#a{i}"), name);
            match value {
                Some(value) => {
                    sets.push(format!("#a{i} = :a{i}"));
                    request = request.expression_attribute_values(format!(":a{i}"), value);
                }
                None => removes.push(format!("#a{i}")),
            }
        }
        let mut update = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            update.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let result = request
            .key(PK, attr::s(items::token_pk(&token.id)))
            .update_expression(update)
            .condition_expression(
                "#pk_ = :pk_ AND #p = :p AND (attribute_not_exists(#v) OR #v = :expected) \
                 AND (attribute_not_exists(#exp_) OR #exp_ > :now)",
            )
            .expression_attribute_names("#pk_", PK)
            .expression_attribute_names("#p", PROJECT_ID)
            .expression_attribute_names("#v", items::TOKEN_VERSION)
            .expression_attribute_names("#exp_", EXPIRES_AT_MS)
            .expression_attribute_values(":pk_", attr::s(items::token_pk(&token.id)))
            .expression_attribute_values(":p", attr::s(token.project_id.as_str()))
            .expression_attribute_values(":expected", attr::n(expected))
            .expression_attribute_values(":now", attr::n(now.timestamp_millis()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(StoreError::backend(e)),
        }
    }
}

impl DynamoStore {
    /// Up to `limit` active tokens of one listing partition, newest first, created before
    /// `before`: a Query of the creation index from that key on, expired tokens filtered out.
    async fn newest_in(
        &self,
        list_pk: String,
        before: Option<&CreationOrder>,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<UploadToken>, StoreError> {
        let mut tokens = Vec::with_capacity(limit);
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_CREATED_INDEX)
                .expression_attribute_names("#lp", LIST_PK)
                .expression_attribute_values(":lp", attr::s(list_pk.clone()))
                .filter_expression("attribute_not_exists(#exp) OR #exp > :nowms")
                .expression_attribute_names("#exp", EXPIRES_AT_MS)
                .expression_attribute_values(":nowms", attr::n(now.timestamp_millis()))
                .scan_index_forward(false)
                .limit(i32::try_from(limit - tokens.len()).unwrap_or(QUERY_PAGE_LIMIT))
                .set_exclusive_start_key(start.take());
            request = match before {
                Some(before) => request
                    .key_condition_expression("#lp = :lp AND #sk < :before")
                    .expression_attribute_names("#sk", CREATED_SK)
                    .expression_attribute_values(":before", attr::s(before.to_string())),
                None => request.key_condition_expression("#lp = :lp"),
            };
            let out = request.send().await.map_err(StoreError::backend)?;
            for raw in out.items.unwrap_or_default() {
                let token = Item(raw).token()?;
                if token.is_active(now) {
                    tokens.push(token);
                }
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() && tokens.len() < limit => start = Some(key),
                _ => return Ok(tokens),
            }
        }
    }
}

#[async_trait]
impl TokenLister for DynamoStore {
    async fn list_newest(
        &self,
        project: &ProjectId,
        before: Option<&CreationOrder>,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<UploadToken>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // The two faces' tokens live in two partitions of the creation index: the newest
        // `limit` of their union are among the newest `limit` of each.
        let (shown, named) = tokio::try_join!(
            self.newest_in(items::list_pk(project), before, limit, now),
            self.newest_in(items::named_list_pk(project), before, limit, now),
        )?;
        let mut tokens: Vec<UploadToken> = shown.into_iter().chain(named).collect();
        tokens.sort_by_key(|t| std::cmp::Reverse(t.creation_order));
        tokens.truncate(limit);
        Ok(tokens)
    }

    async fn list_tokens(
        &self,
        project: &ProjectId,
        query: &ListQuery,
        now: DateTime<Utc>,
    ) -> Result<TokenPage, StoreError> {
        let (total, tokens) = tokio::try_join!(
            self.count_active(project, now),
            self.page(project, query, now)
        )?;
        Ok(TokenPage { tokens, total })
    }
}

#[async_trait]
impl TokenDeleter for DynamoStore {
    async fn delete_token(
        &self,
        project: &ProjectId,
        id: &TokenId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, attr::s(items::token_pk(id)))
            .condition_expression("#p = :p AND (attribute_not_exists(#exp) OR #exp > :now)")
            .expression_attribute_names("#p", PROJECT_ID)
            .expression_attribute_names("#exp", EXPIRES_AT_MS)
            .expression_attribute_values(":p", attr::s(project.as_str()))
            .expression_attribute_values(":now", attr::n(now.timestamp_millis()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(StoreError::backend(e)),
        }
    }
}

#[async_trait]
impl ApiKeyReader for DynamoStore {
    async fn api_key_by_hash(&self, hash: &SecretHash) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.get_key_item(items::key_hash_pk(hash)).await
    }

    async fn api_key_by_id(&self, id: &KeyId) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.get_key_item(items::key_id_pk(id)).await
    }
}

impl DynamoStore {
    async fn get_key_item(&self, pk: String) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.get_consistent(pk)
            .await?
            .map(|raw| Item(raw).api_key())
            .transpose()
    }
}

#[async_trait]
impl ApiKeyAdmin for DynamoStore {
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        // Two items, written together: one found by the key's hash (Basic auth), one by its id
        // (access tokens, revocation).
        let put = |pk: String| -> Result<TransactWriteItem, StoreError> {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(items::api_key_item(pk, key)))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .build()
                .map_err(StoreError::backend)?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        let items = vec![
            put(items::key_hash_pk(&key.hash))?,
            put(items::key_id_pk(&key.key_id))?,
        ];
        if self.transact(items).await? {
            Ok(())
        } else {
            Err(StoreError::AlreadyExists)
        }
    }

    async fn revoke_api_key(&self, id: &KeyId) -> Result<bool, StoreError> {
        let Some(key) = self.api_key_by_id(id).await? else {
            return Ok(false);
        };
        // Both items must still be there: of two concurrent revocations, one reports it.
        let delete = |pk: String| -> Result<TransactWriteItem, StoreError> {
            let delete = Delete::builder()
                .table_name(&self.table)
                .key(PK, attr::s(pk))
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .build()
                .map_err(StoreError::backend)?;
            Ok(TransactWriteItem::builder().delete(delete).build())
        };
        // Refresh tokens of this key need no deleting: refreshing checks that the key still
        // exists, and native TTL removes them later.
        self.transact(vec![
            delete(items::key_id_pk(id))?,
            delete(items::key_hash_pk(&key.hash))?,
        ])
        .await
    }

    async fn list_api_keys(
        &self,
        project: Option<&ProjectId>,
    ) -> Result<Vec<ApiKeyRecord>, StoreError> {
        // An operator command over a handful of items: a filtered Scan is the honest tool.
        let mut keys = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let mut request = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(#pk, :prefix)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":prefix", attr::s(items::KEY_ID_PREFIX))
                .set_exclusive_start_key(start.take());
            if let Some(p) = project {
                request = request
                    .filter_expression("begins_with(#pk, :prefix) AND #p = :p")
                    .expression_attribute_names("#p", PROJECT_ID)
                    .expression_attribute_values(":p", attr::s(p.as_str()));
            }
            let out = request.send().await.map_err(StoreError::backend)?;
            for raw in out.items.unwrap_or_default() {
                keys.push(Item(raw).api_key()?);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        keys.sort_by(|a, b| (a.created_at, &a.key_id).cmp(&(b.created_at, &b.key_id)));
        Ok(keys)
    }
}

#[async_trait]
impl RefreshTokenStore for DynamoStore {
    async fn insert_refresh_token(&self, record: &RefreshRecord) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(items::refresh_item(record)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Err(StoreError::AlreadyExists),
            Err(e) => Err(StoreError::backend(e)),
        }
    }

    async fn take_refresh_token(
        &self,
        hash: &SecretHash,
        now: DateTime<Utc>,
    ) -> Result<Option<RefreshRecord>, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, attr::s(items::refresh_pk(hash)))
            .condition_expression("attribute_exists(#pk) AND #exp > :now")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#exp", EXPIRES_AT_MS)
            .expression_attribute_values(":now", attr::n(now.timestamp_millis()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => out.attributes.map(|raw| Item(raw).refresh()).transpose(),
            Err(e) if condition_failed(&e) => Ok(None),
            Err(e) => Err(StoreError::backend(e)),
        }
    }
}
