//! `itemsTotal` without a scan (DESIGN.md, "Counts without scans"): how many of a project's
//! shown tokens (the api.video face) are active, in a few reads whatever their number.
//!
//! - **Counter shards** `TOKENCOUNT#<project>#<shard>`: `live` is tokens created minus tokens
//!   deleted, each change `ADD`ed to a random one of [`SHARDS`] items in the transaction of the
//!   create or delete, so a busy project has no hot key. Native TTL never touches them.
//! - **Expiry buckets** `TOKENEXPIRY#<project>#<minute>#<shard>`: `n` is how many tokens expire
//!   in that minute, changed in the same transactions (and by a PATCH that moves an expiry to
//!   another minute). They carry `listPk = TOKENEXPIRY#<project>` and `expirySk =
//!   <minute>#<shard>`, so the expiry index finds a project's past buckets.
//! - **The total at `now`** (minute `m`): `Σ live − Σ n` over every bucket up to `m`, plus the
//!   tokens of minute `m` still active (an index range of at most a minute's expiries, read as
//!   a count). Tokens that expire need no write at all: native TTL may delete their items at any
//!   time after, and nothing counts on it.
//! - **Folding**: a bucket at least [`FOLD_MARGIN_MINUTES`] old is folded into a shard (deleted,
//!   conditional on its `n`, and its `n` subtracted from `live`, in one transaction), so a
//!   total reads the buckets of the last few minutes, never every minute since the first token.
//!   The margin lets a reader whose clock is behind the folder's still count right.
//!
//! Buckets of the last two minutes are read by key; older ones are found on the expiry index,
//! which is eventually consistent, but no bucket changes once its minute is over (a token's
//! expiry only changes while it is active), so a bucket found there has been still for at
//! least a minute. Shards and buckets are then read in one `TransactGetItems`: a snapshot, so a
//! fold running meanwhile is seen entirely or not at all.

use super::items::attr;
use super::schema::{EXPIRY_SK, LIST_PK, PK};
use super::{DynamoStore, QUERY_PAGE_LIMIT};
use crate::domain::{ProjectId, UploadToken};
use crate::internal::InternalError;
use crate::store::StoreError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Get, Select, TransactGetItem, TransactWriteItem, Update,
};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Counter shards (and expiry-bucket shards) per project. Each item takes up to 1,000 writes/s,
/// so 4 of them outrun the project's listing partition on each index (about 1,000 token writes
/// a second, docs/scale.md); more would only make every total read more items.
pub const SHARDS: u32 = 4;
/// Minutes a bucket waits, once its minute is over, before it is folded.
const FOLD_MARGIN_MINUTES: i64 = 2;
/// Length of a bucket, in milliseconds.
const BUCKET_MS: i64 = 60_000;
/// Items of one `TransactWriteItems`.
const TRANSACTION_ITEMS: usize = 100;
/// Items of one `TransactGetItems`: DynamoDB takes 100, moto still enforces the former 25.
const SNAPSHOT_ITEMS: usize = 25;

const LIVE: &str = "live";
const COUNT: &str = "n";

/// Prefix of the counter shards' partition keys.
pub const COUNT_PREFIX: &str = "TOKENCOUNT#";
/// Prefix of the expiry buckets' partition keys, and of their listing partition.
pub const EXPIRY_PREFIX: &str = "TOKENEXPIRY#";

fn shard_pk(project: &ProjectId, shard: u32) -> String {
    format!("{COUNT_PREFIX}{project}#{shard}")
}

fn bucket_list_pk(project: &ProjectId) -> String {
    format!("{EXPIRY_PREFIX}{project}")
}

fn bucket_sk(minute: i64, shard: u32) -> String {
    format!("{minute:015}#{shard}")
}

fn bucket_pk(project: &ProjectId, minute: i64, shard: u32) -> String {
    format!("{EXPIRY_PREFIX}{project}#{}", bucket_sk(minute, shard))
}

/// The minute a token expiring at `at` is counted in.
fn minute_of(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis().div_euclid(BUCKET_MS)
}

fn random_shard() -> u32 {
    rand::random::<u32>() % SHARDS
}

/// Whether `token` counts in its project's total: only the api.video face's tokens are listed
/// with a total.
fn counted(token: &UploadToken) -> bool {
    token.value_is_shown()
}

impl DynamoStore {
    fn add_live(&self, project: &ProjectId, delta: i64) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .key(PK, attr::s(shard_pk(project, random_shard())))
            .update_expression("ADD #live :d")
            .expression_attribute_names("#live", LIVE)
            .expression_attribute_values(":d", attr::n(delta))
            .build()
            .map_err(StoreError::backend)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    fn add_to_bucket(
        &self,
        project: &ProjectId,
        expires: DateTime<Utc>,
        delta: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        let (minute, shard) = (minute_of(expires), random_shard());
        let update = Update::builder()
            .table_name(&self.table)
            .key(PK, attr::s(bucket_pk(project, minute, shard)))
            .update_expression("SET #lp = :lp, #sk = :sk ADD #n :d")
            .expression_attribute_names("#lp", LIST_PK)
            .expression_attribute_names("#sk", EXPIRY_SK)
            .expression_attribute_names("#n", COUNT)
            .expression_attribute_values(":lp", attr::s(bucket_list_pk(project)))
            .expression_attribute_values(":sk", attr::s(bucket_sk(minute, shard)))
            .expression_attribute_values(":d", attr::n(delta))
            .build()
            .map_err(StoreError::backend)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// What the transaction creating (`delta` 1) or deleting (`-1`) `token` also writes.
    pub(super) fn count_change(
        &self,
        token: &UploadToken,
        delta: i64,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        if !counted(token) {
            return Ok(Vec::new());
        }
        let mut writes = vec![self.add_live(&token.project_id, delta)?];
        if let Some(at) = token.expires_at() {
            writes.push(self.add_to_bucket(&token.project_id, at, delta)?);
        }
        Ok(writes)
    }

    /// What the transaction changing `old`'s lifetime to `new`'s also writes: nothing unless
    /// its expiry moves to another minute.
    pub(super) fn expiry_change(
        &self,
        old: &UploadToken,
        new: &UploadToken,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let (before, after) = (old.expires_at(), new.expires_at());
        if !counted(new) || before.map(minute_of) == after.map(minute_of) {
            return Ok(Vec::new());
        }
        let mut writes = Vec::new();
        if let Some(at) = before {
            writes.push(self.add_to_bucket(&new.project_id, at, -1)?);
        }
        if let Some(at) = after {
            writes.push(self.add_to_bucket(&new.project_id, at, 1)?);
        }
        Ok(writes)
    }

    /// How many of the project's shown tokens are active at `now` (see the module's text).
    pub(super) async fn count_shown(
        &self,
        project: &ProjectId,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let minute = now.timestamp_millis().div_euclid(BUCKET_MS);
        let recent: Vec<String> = (0..SHARDS)
            .flat_map(|s| {
                [
                    bucket_pk(project, minute - 1, s),
                    bucket_pk(project, minute, s),
                ]
            })
            .collect();
        let (mut past, still_active) = tokio::try_join!(
            self.past_buckets(project, minute - 1),
            self.active_within_minute(project, now, minute),
        )?;
        let foldable = bucket_sk(minute - FOLD_MARGIN_MINUTES, 0);
        // A project nobody listed for a while: fold first, by batches, until the snapshot
        // below fits one transaction. Only buckets of the last minutes cannot be folded.
        let room = SNAPSHOT_ITEMS - SHARDS as usize - recent.len();
        while past.len() > room {
            let batch: Vec<String> = past
                .iter()
                .filter(|(_, sk)| *sk < foldable)
                .take(TRANSACTION_ITEMS - 1)
                .map(|(pk, _)| pk.clone())
                .collect();
            if batch.is_empty() {
                return Err(InternalError::new("too many expiry buckets of recent minutes").into());
            }
            self.fold(project, &batch).await?;
            past.retain(|(pk, _)| !batch.contains(pk));
        }
        let to_fold: Vec<String> = past
            .iter()
            .filter(|(_, sk)| *sk < foldable)
            .map(|(pk, _)| pk.clone())
            .collect();
        let mut keys: Vec<String> = (0..SHARDS).map(|s| shard_pk(project, s)).collect();
        keys.extend(recent);
        keys.extend(past.into_iter().map(|(pk, _)| pk));
        let items = self.snapshot(&keys).await?;
        let mut total = 0i64;
        for (pk, item) in &items {
            let (name, sign) = if pk.starts_with(COUNT_PREFIX) {
                (LIVE, 1)
            } else {
                (COUNT, -1)
            };
            total += sign * number(item, name)?;
        }
        total += i64::try_from(still_active).unwrap_or(i64::MAX);
        if !to_fold.is_empty() {
            let values: HashMap<String, i64> = items
                .iter()
                .filter(|(pk, _)| to_fold.contains(pk))
                .map(|(pk, item)| Ok((pk.clone(), number(item, COUNT)?)))
                .collect::<Result<_, StoreError>>()?;
            // Best effort: a failure here changes no total, the next listing folds them.
            if let Err(e) = self.fold_values(project, &values).await {
                tracing::warn!(error = %crate::internal::ErrorChain(&e), "expiry buckets not folded");
            }
        }
        Ok(u64::try_from(total).unwrap_or(0))
    }

    /// A Query of the expiry index's partition `list_pk` (tokens or buckets of one project),
    /// whose sort key (`#sk`) meets `sk_condition`.
    fn expiry_index_query(
        &self,
        list_pk: String,
        sk_condition: &str,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(super::schema::BY_EXPIRY_KEYS_INDEX)
            .key_condition_expression(format!("#lp = :lp AND {sk_condition}"))
            .expression_attribute_names("#lp", LIST_PK)
            .expression_attribute_names("#sk", EXPIRY_SK)
            .expression_attribute_values(":lp", attr::s(list_pk))
    }

    /// The project's buckets of minutes before `before` still on the expiry index: (pk, sk).
    async fn past_buckets(
        &self,
        project: &ProjectId,
        before: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut found = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .expiry_index_query(bucket_list_pk(project), "#sk < :before")
                .expression_attribute_values(":before", attr::s(bucket_sk(before, 0)))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(StoreError::backend)?;
            for item in out.items.unwrap_or_default() {
                found.push((string(&item, PK)?, string(&item, EXPIRY_SK)?));
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(found),
            }
        }
    }

    /// How many of the project's shown tokens expiring in `minute` are still active at `now`.
    async fn active_within_minute(
        &self,
        project: &ProjectId,
        now: DateTime<Utc>,
        minute: i64,
    ) -> Result<u64, StoreError> {
        let mut total = 0u64;
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .expiry_index_query(super::items::list_pk(project), "#sk BETWEEN :now AND :end")
                .expression_attribute_values(":now", attr::s(super::items::expiry_floor(now)))
                .expression_attribute_values(
                    ":end",
                    attr::s(format!("{:015}", (minute + 1) * BUCKET_MS)),
                )
                .select(Select::Count)
                .limit(QUERY_PAGE_LIMIT)
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

    /// The items with these partition keys that exist, read together as one snapshot.
    async fn snapshot(
        &self,
        keys: &[String],
    ) -> Result<Vec<(String, HashMap<String, AttributeValue>)>, StoreError> {
        let gets = keys
            .iter()
            .map(|pk| {
                Get::builder()
                    .table_name(&self.table)
                    .key(PK, attr::s(pk.clone()))
                    .build()
                    .map(|get| TransactGetItem::builder().get(get).build())
                    .map_err(StoreError::backend)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .transact_get_items()
            .set_transact_items(Some(gets))
            .send()
            .await
            .map_err(StoreError::backend)?;
        // By each item's own key, not by position: moto leaves missing items out.
        out.responses()
            .iter()
            .filter_map(|r| r.item())
            .map(|item| Ok((string(item, PK)?, item.clone())))
            .collect()
    }

    /// Folds these buckets (at most a transaction's worth): reads their counts (consistent),
    /// folds those still there, and tries again if another reader folded some meanwhile. When
    /// it returns, none of them is left.
    async fn fold(&self, project: &ProjectId, keys: &[String]) -> Result<(), StoreError> {
        for _ in 0..10 {
            let values = self.counts_of(keys).await?;
            if values.is_empty() || self.fold_values(project, &values).await? {
                return Ok(());
            }
        }
        Err(StoreError::backend(InternalError::new(
            "expiry buckets still changing after 10 folds",
        )))
    }

    /// The `n` of each of these buckets that exists (consistent reads).
    async fn counts_of(&self, keys: &[String]) -> Result<HashMap<String, i64>, StoreError> {
        self.items_by_pk(keys)
            .await?
            .into_iter()
            .map(|(pk, item)| Ok((pk, number(&item, COUNT)?)))
            .collect()
    }

    /// Deletes these buckets, each if it still holds the count given, and subtracts their sum
    /// from a shard, in one transaction; `false` when a bucket was folded by someone else
    /// meanwhile (nothing is written then: no total changes either way).
    async fn fold_values(
        &self,
        project: &ProjectId,
        values: &HashMap<String, i64>,
    ) -> Result<bool, StoreError> {
        if values.is_empty() {
            return Ok(true);
        }
        if values.len() >= TRANSACTION_ITEMS {
            return Err(InternalError::new("too many buckets for one fold").into());
        }
        let mut writes = Vec::with_capacity(values.len() + 1);
        for (pk, n) in values {
            let delete = Delete::builder()
                .table_name(&self.table)
                .key(PK, attr::s(pk.clone()))
                .condition_expression("#n = :n")
                .expression_attribute_names("#n", COUNT)
                .expression_attribute_values(":n", attr::n(*n))
                .build()
                .map_err(StoreError::backend)?;
            writes.push(TransactWriteItem::builder().delete(delete).build());
        }
        let sum: i64 = values.values().sum();
        writes.push(self.add_live(project, -sum)?);
        self.transact(writes).await
    }
}

impl DynamoStore {
    /// Writes many new tokens with batch writes, and their counts summed (one update per
    /// counter, not one transaction per token). Not an API: for benchmarks that seed large
    /// projects on moto (`tests/benches/list.rs`), whose transactions copy the whole table. The
    /// tokens must be new: nothing is conditional.
    #[doc(hidden)]
    pub async fn insert_tokens_at_once(&self, tokens: &[UploadToken]) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        for batch in tokens.chunks(25) {
            let mut writes = batch
                .iter()
                .map(|t| {
                    let put = PutRequest::builder()
                        .set_item(Some(super::items::token_item(t)?))
                        .build()
                        .map_err(StoreError::backend)?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            while !writes.is_empty() {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(self.table.clone(), writes)
                    .send()
                    .await
                    .map_err(StoreError::backend)?;
                writes = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
            }
        }
        let mut live: HashMap<&ProjectId, i64> = HashMap::new();
        let mut buckets: HashMap<(&ProjectId, DateTime<Utc>), i64> = HashMap::new();
        for t in tokens.iter().filter(|t| counted(t)) {
            *live.entry(&t.project_id).or_default() += 1;
            if let Some(at) = t.expires_at() {
                // Any instant of the minute names its bucket.
                let minute = DateTime::from_timestamp_millis(minute_of(at) * BUCKET_MS)
                    .ok_or_else(|| InternalError::new("expiry out of range"))?;
                *buckets.entry((&t.project_id, minute)).or_default() += 1;
            }
        }
        let mut updates = Vec::new();
        for (project, n) in live {
            updates.push(self.add_live(project, n)?);
        }
        for ((project, minute), n) in buckets {
            updates.push(self.add_to_bucket(project, minute, n)?);
        }
        for write in updates {
            let Some(update) = write.update else {
                continue;
            };
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(update.key))
                .update_expression(update.update_expression)
                .set_expression_attribute_names(update.expression_attribute_names)
                .set_expression_attribute_values(update.expression_attribute_values)
                .send()
                .await
                .map_err(StoreError::backend)?;
        }
        Ok(())
    }
}

fn string(item: &HashMap<String, AttributeValue>, name: &str) -> Result<String, StoreError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .ok_or_else(|| StoreError::Corrupt(format!("counter item without {name}")))
}

/// A counter attribute; absent counts as 0 (a shard only ever `ADD`ed to).
fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Result<i64, StoreError> {
    match item.get(name) {
        None => Ok(0),
        Some(v) => v
            .as_n()
            .ok()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| StoreError::Corrupt(format!("counter {name} is not a number"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_sort_by_minute_on_the_index() {
        assert!(bucket_sk(9, 7) < bucket_sk(10, 0));
        assert!(bucket_sk(10, 7) < bucket_sk(11, 0));
        let project = ProjectId::generate();
        assert!(bucket_pk(&project, 3, 1).starts_with(&bucket_list_pk(&project)));
        assert!(shard_pk(&project, 0).starts_with(COUNT_PREFIX));
    }

    #[test]
    fn an_expiry_on_a_minute_belongs_to_that_minute() {
        let at = |ms| DateTime::from_timestamp_millis(ms).expect("time");
        assert_eq!(minute_of(at(120_000)), 2);
        assert_eq!(minute_of(at(119_999)), 1);
    }
}
