//! The DynamoDB adapter: one on-demand table, native TTL, two sparse GSIs for listings.
//!
//! - Reads of single items are strongly consistent and re-check expiry: native TTL deletes
//!   hours or days late.
//! - Every create is a conditional put (`attribute_not_exists(pk)`): nothing is overwritten.
//! - Listings Query a per-project GSI in the requested order, never Scan. Expired tokens are
//!   excluded by the key condition on the expiry index, and by a filter on the creation index.
//!   A page past the middle is read from the other end; the tokens before a page are skipped
//!   on a keys-only copy of the index. `itemsTotal` comes from counters ([`counts`]).

mod counts;
mod items;
pub mod schema;
mod videos;

use super::{
    ApiKeyAdmin, ApiKeyReader, ApiKeyRecord, RefreshRecord, RefreshTokenStore, StoreError,
    TokenDeleter, TokenLister, TokenPage, TokenReader, TokenUpdater, TokenWriter,
};
use crate::auth::SecretHash;
use crate::domain::{
    CreationOrder, KeyId, ListQuery, PageReading, ProjectId, SortBy, SortOrder, TokenId,
    UploadToken,
};
use crate::internal::InternalError;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValue, TransactWriteItem, Update,
};
use chrono::{DateTime, Utc};
use items::{Item, attr};
use schema::{
    BY_CREATED_KEYS_INDEX, BY_EXPIRY_KEYS_INDEX, CREATED_SK, EXPIRES_AT_MS, EXPIRY_SK, LIST_PK, PK,
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
            // A token per attempt of ours: when the SDK sends the same attempt again because
            // its reply was lost (a reset, a 500 after the write applied), DynamoDB answers the
            // retry as it answered the first, success, instead of failing its conditions against
            // its own write (10-minute window). moto ignores the token, which is why the callers
            // still recognise their own writes when a condition fails.
            let result = self
                .client
                .transact_write_items()
                .client_request_token(format!("{:032x}", rand::random::<u128>()))
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

    /// A Query of the keys of the project's shown tokens active at `now`, in `sort_by`'s order,
    /// ascending when `forward`.
    fn shown_tokens_query(
        &self,
        project: &ProjectId,
        sort_by: SortBy,
        forward: bool,
        now: DateTime<Utc>,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_names("#lp", LIST_PK)
            .expression_attribute_values(":lp", attr::s(items::list_pk(project)))
            .scan_index_forward(forward);
        match sort_by {
            SortBy::Ttl => request
                .index_name(BY_EXPIRY_KEYS_INDEX)
                .key_condition_expression("#lp = :lp AND #sk > :now")
                .expression_attribute_names("#sk", EXPIRY_SK)
                .expression_attribute_values(":now", attr::s(items::expiry_floor(now))),
            SortBy::CreatedAt => request
                .index_name(BY_CREATED_KEYS_INDEX)
                .key_condition_expression("#lp = :lp")
                .filter_expression("attribute_not_exists(#exp) OR #exp > :nowms")
                .expression_attribute_names("#exp", EXPIRES_AT_MS)
                .expression_attribute_values(":nowms", attr::n(now.timestamp_millis())),
        }
    }

    /// Reads one page as `reading` says: the keys of the skipped tokens are passed over on the
    /// index, then the page's tokens read from the table, from the key of the last one skipped.
    async fn page(
        &self,
        project: &ProjectId,
        query: &ListQuery,
        reading: PageReading,
        now: DateTime<Utc>,
    ) -> Result<Vec<UploadToken>, StoreError> {
        let forward = (query.sort_order() == SortOrder::Asc) != reading.reversed;
        let start = if reading.skip == 0 {
            None
        } else {
            match self
                .key_after_skipping(project, query.sort_by(), forward, reading.skip, now)
                .await?
            {
                Some(key) => Some(key),
                None => return Ok(Vec::new()),
            }
        };
        let mut tokens = self
            .read_tokens(project, query.sort_by(), forward, start, reading.take, now)
            .await?;
        if reading.reversed {
            tokens.reverse();
        }
        Ok(tokens)
    }

    /// The index key of the `skip`-th active token in the order (`None`: there are fewer).
    async fn key_after_skipping(
        &self,
        project: &ProjectId,
        sort_by: SortBy,
        forward: bool,
        skip: u64,
        now: DateTime<Utc>,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let sort_key = match sort_by {
            SortBy::CreatedAt => CREATED_SK,
            SortBy::Ttl => EXPIRY_SK,
        };
        let mut left = skip;
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .shown_tokens_query(project, sort_by, forward, now)
                .limit(i32::try_from(left).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(StoreError::backend)?;
            let found = out.items.unwrap_or_default();
            if let Some(mut last) = usize::try_from(left)
                .ok()
                .and_then(|left| found.into_iter().nth(left - 1))
            {
                // The key alone (the creation index's copy holds the expiry too).
                last.retain(|name, _| name == PK || name == LIST_PK || name == sort_key);
                return Ok(Some(last));
            }
            left -= u64::try_from(out.count).unwrap_or(0);
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(None),
            }
        }
    }

    /// Up to `take` active tokens in the order, after `start` (from the first without it).
    async fn read_tokens(
        &self,
        project: &ProjectId,
        sort_by: SortBy,
        forward: bool,
        start: Option<HashMap<String, AttributeValue>>,
        take: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<UploadToken>, StoreError> {
        self.tokens_from_index(take, now, start, |start| {
            self.shown_tokens_query(project, sort_by, forward, now)
                .set_exclusive_start_key(start)
        })
        .await
    }

    /// Up to `take` tokens active at `now`, in the order of the keys `query` (a Query of a
    /// keys-only index, from the start key it is given) returns: the keys a page at a time, then
    /// the tokens themselves from the table (`BatchGetItem`, consistent). A token deleted or
    /// expired in between is passed over.
    async fn tokens_from_index(
        &self,
        take: usize,
        now: DateTime<Utc>,
        mut start: Option<HashMap<String, AttributeValue>>,
        query: impl Fn(
            Option<HashMap<String, AttributeValue>>,
        ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<Vec<UploadToken>, StoreError> {
        let mut tokens = Vec::with_capacity(take);
        while tokens.len() < take {
            let limit = i32::try_from(take - tokens.len())
                .unwrap_or(i32::MAX)
                .min(QUERY_PAGE_LIMIT);
            let out = query(start.take())
                .limit(limit)
                .send()
                .await
                .map_err(StoreError::backend)?;
            let keys: Vec<String> = out
                .items
                .unwrap_or_default()
                .iter()
                .filter_map(|item| item.get(PK).and_then(|v| v.as_s().ok()).cloned())
                .collect();
            for token in self.tokens_by_pk(&keys).await? {
                // The index conditions already exclude expired tokens; keep the rule in one
                // place anyway so a future index change cannot leak one.
                if token.is_active(now) && tokens.len() < take {
                    tokens.push(token);
                }
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        Ok(tokens)
    }

    /// The token items with these partition keys that exist, in the keys' order (consistent
    /// reads, 100 keys a request).
    async fn tokens_by_pk(&self, keys: &[String]) -> Result<Vec<UploadToken>, StoreError> {
        let mut found = self.items_by_pk(keys).await?;
        keys.iter()
            .filter_map(|pk| found.remove(pk))
            .map(|raw| Item(raw).token())
            .collect()
    }

    /// The items with these partition keys (and no sort key) that exist, by partition key:
    /// consistent BatchGetItem reads of 100 keys a request, unprocessed keys asked again.
    pub(super) async fn items_by_pk(
        &self,
        keys: &[String],
    ) -> Result<HashMap<String, HashMap<String, AttributeValue>>, StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut found = HashMap::new();
        for batch in keys.chunks(100) {
            let mut wanted = KeysAndAttributes::builder().consistent_read(true);
            for pk in batch {
                wanted = wanted.keys(HashMap::from([(PK.to_owned(), attr::s(pk.clone()))]));
            }
            let mut request = Some(HashMap::from([(
                self.table.clone(),
                wanted.build().map_err(StoreError::backend)?,
            )]));
            while let Some(items) = request.take().filter(|r| !r.is_empty()) {
                let out = self
                    .client
                    .batch_get_item()
                    .set_request_items(Some(items))
                    .send()
                    .await
                    .map_err(StoreError::backend)?;
                for item in out.responses.unwrap_or_default().into_values().flatten() {
                    if let Some(pk) = item.get(PK).and_then(|v| v.as_s().ok()).cloned() {
                        found.insert(pk, item);
                    }
                }
                request = out.unprocessed_keys;
            }
        }
        Ok(found)
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
        let counts = self.count_change(token, 1)?;
        if counts.is_empty() {
            // A named token counts in no total: one conditional put.
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(items::token_item(token)?))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .send()
                .await;
            return match result {
                Ok(_) => Ok(()),
                Err(e) if condition_failed(&e) => Err(StoreError::AlreadyExists),
                Err(e) => Err(StoreError::backend(e)),
            };
        }
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(items::token_item(token)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(StoreError::backend)?;
        let mut writes = vec![TransactWriteItem::builder().put(put).build()];
        writes.extend(counts);
        if self.transact(writes).await? {
            Ok(())
        } else {
            Err(StoreError::AlreadyExists)
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
        let mut update = Update::builder()
            .table_name(&self.table)
            .key(PK, attr::s(items::token_pk(&token.id)));
        for (i, (name, value)) in items::token_settings(token)?.into_iter().enumerate() {
            update = update.expression_attribute_names(format!("#a{i}"), name);
            match value {
                Some(value) => {
                    sets.push(format!("#a{i} = :a{i}"));
                    update = update.expression_attribute_values(format!(":a{i}"), value);
                }
                None => removes.push(format!("#a{i}")),
            }
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let update = update
            .update_expression(expression)
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
            .build()
            .map_err(StoreError::backend)?;
        // A shown token whose expiry moves to another minute moves between expiry buckets in
        // the same transaction: the stored expiry is read first (the version condition then
        // guarantees it is still the one read).
        let mut writes = vec![TransactWriteItem::builder().update(update).build()];
        if token.value_is_shown() {
            match self.find_token(&token.id, now).await? {
                Some(old) if old.version == expected && old.project_id == token.project_id => {
                    writes.extend(self.expiry_change(&old, token)?);
                }
                _ => return Ok(false),
            }
        }
        self.transact(writes).await
    }
}

impl DynamoStore {
    /// Up to `limit` active tokens of one listing partition, newest first, created before
    /// `before`: a Query of the creation index from that key on, expired tokens filtered out,
    /// and the tokens read from the table.
    async fn newest_in(
        &self,
        list_pk: String,
        before: Option<&CreationOrder>,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<UploadToken>, StoreError> {
        self.tokens_from_index(limit, now, None, |start| {
            let request = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_CREATED_KEYS_INDEX)
                .expression_attribute_names("#lp", LIST_PK)
                .expression_attribute_values(":lp", attr::s(list_pk.clone()))
                .filter_expression("attribute_not_exists(#exp) OR #exp > :nowms")
                .expression_attribute_names("#exp", EXPIRES_AT_MS)
                .expression_attribute_values(":nowms", attr::n(now.timestamp_millis()))
                .scan_index_forward(false)
                .set_exclusive_start_key(start);
            match before {
                Some(before) => request
                    .key_condition_expression("#lp = :lp AND #sk < :before")
                    .expression_attribute_names("#sk", CREATED_SK)
                    .expression_attribute_values(":before", attr::s(before.to_string())),
                None => request.key_condition_expression("#lp = :lp"),
            }
        })
        .await
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
        if query.offset() == 0 {
            // The first page needs no total to be read: both at once.
            let forward = query.sort_order() == SortOrder::Asc;
            let (total, tokens) = tokio::try_join!(
                self.count_shown(project, now),
                self.read_tokens(project, query.sort_by(), forward, None, query.limit(), now)
            )?;
            return Ok(TokenPage { tokens, total });
        }
        let total = self.count_shown(project, now).await?;
        let tokens = match query.reading(total) {
            Some(reading) => self.page(project, query, reading, now).await?,
            None => Vec::new(),
        };
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
        // The counters need the token's expiry: read it, then delete it on the condition that
        // it is still that token (same version: a PATCH could move its expiry), counted out in
        // the same transaction. A PATCH in between makes us read again.
        for _ in 0..10 {
            let Some(token) = self.get_token(project, id, now).await? else {
                return Ok(false);
            };
            let delete = Delete::builder()
                .table_name(&self.table)
                .key(PK, attr::s(items::token_pk(id)))
                .condition_expression(
                    "#p = :p AND (attribute_not_exists(#exp) OR #exp > :now) \
                     AND (attribute_not_exists(#v) OR #v = :v)",
                )
                .expression_attribute_names("#p", PROJECT_ID)
                .expression_attribute_names("#exp", EXPIRES_AT_MS)
                .expression_attribute_names("#v", items::TOKEN_VERSION)
                .expression_attribute_values(":p", attr::s(project.as_str()))
                .expression_attribute_values(":now", attr::n(now.timestamp_millis()))
                .expression_attribute_values(":v", attr::n(token.version))
                .build()
                .map_err(StoreError::backend)?;
            let mut writes = vec![TransactWriteItem::builder().delete(delete).build()];
            writes.extend(self.count_change(&token, -1)?);
            if self.transact(writes).await? {
                return Ok(true);
            }
        }
        Err(StoreError::backend(InternalError::new(
            "token still changing after 10 deletion attempts",
        )))
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
