//! Videos on DynamoDB: one item per video (`VIDEO#<id>`, the record as the versioned JSON
//! document of `store::stored` plus a version that every write is conditional on) and one item
//! per received chunk (`CHUNK#<video>#<index>`, its document), written in the same transaction.
//! Chunk items carry native TTL: they only serve to recognise retries, and a video's never
//! outlive it by more than that.
//!
//! A token's unfinished uploads are found through `UPLOADS#<token>`, a string set of video ids
//! added to in the transaction that creates the video and taken off in the one that completes
//! or deletes it: a strongly consistent read, unlike a GSI, which matters because clients send
//! the next chunk milliseconds after the first. So it holds only unfinished uploads, and a
//! token with 100,000 completed uploads reads it as fast as a new one.

use super::items::{self, Item, attr};
use super::schema::{EXPIRES_AT_MS, PK, PROJECT_ID, TTL_ATTRIBUTE};
use super::{DynamoStore, condition_failed};
use crate::domain::{ReceivedChunk, TokenId, VideoId};
use crate::internal::InternalError;
use crate::store::{StoreError, VideoRecord, VideoStore, stored};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, KeysAndAttributes, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use std::collections::HashMap;

const RECORD: &str = "record";
const VIDEO_IDS: &str = "videoIds";
const VERSION: &str = "version";
/// On `UPLOADS#<token>`: the id of the video the token created last.
const LATEST_VIDEO: &str = "latestVideoId";
/// How long chunk records are kept for retries after they were written (30 days).
const CHUNK_RETENTION_SECONDS: i64 = 30 * 24 * 3600;

fn video_pk(id: &VideoId) -> String {
    format!("VIDEO#{id}")
}

fn chunk_pk(id: &VideoId, index: u64) -> String {
    format!("CHUNK#{id}#{index}")
}

fn uploads_pk(token: &TokenId) -> String {
    format!("UPLOADS#{token}")
}

/// The item of `record`. An unfinished upload's carries native TTL at the moment it becomes
/// abandoned (reads do not wait for it: the use cases check the period themselves); a complete
/// video's none.
fn video_item(
    record: &VideoRecord,
    abandon_after: std::time::Duration,
) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let mut item = HashMap::from([
        (PK.to_owned(), attr::s(video_pk(&record.video.id))),
        (
            PROJECT_ID.to_owned(),
            attr::s(record.video.project_id.as_str()),
        ),
        (VERSION.to_owned(), attr::n(record.version)),
        (RECORD.to_owned(), attr::s(stored::encode_video(record)?)),
    ]);
    if let Some(at) = record.abandoned_at(abandon_after) {
        item.insert(TTL_ATTRIBUTE.to_owned(), attr::n(at.timestamp()));
    }
    Ok(item)
}

fn decode(item: &HashMap<String, AttributeValue>) -> Result<VideoRecord, StoreError> {
    let text = item
        .get(RECORD)
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::Corrupt("video item without record".into()))?;
    let mut record = stored::decode_video(text)?;
    record.version = item
        .get(VERSION)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| StoreError::Corrupt("video item without version".into()))?;
    Ok(record)
}

impl DynamoStore {
    /// The write that takes `record` off its token's unfinished uploads (none without a token).
    fn forget_upload(&self, record: &VideoRecord) -> Result<Option<TransactWriteItem>, StoreError> {
        let Some(token) = &record.video.token_id else {
            return Ok(None);
        };
        let update = Update::builder()
            .table_name(&self.table)
            .key(PK, attr::s(uploads_pk(token)))
            .update_expression("DELETE #ids :ids")
            .expression_attribute_names("#ids", VIDEO_IDS)
            .expression_attribute_values(
                ":ids",
                AttributeValue::Ss(vec![record.video.id.to_string()]),
            )
            .build()
            .map_err(StoreError::backend)?;
        Ok(Some(TransactWriteItem::builder().update(update).build()))
    }

    /// Takes ids that are no longer unfinished uploads (completed, deleted, expired) off the
    /// token's set: it then stays as small as the token's unfinished uploads. Best effort.
    async fn prune_uploads(&self, token: &TokenId, stale: Vec<String>) {
        for batch in stale.chunks(100) {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(PK, attr::s(uploads_pk(token)))
                .update_expression("DELETE #ids :ids")
                .expression_attribute_names("#ids", VIDEO_IDS)
                .expression_attribute_values(":ids", AttributeValue::Ss(batch.to_vec()))
                .send()
                .await;
            if let Err(e) = result {
                tracing::warn!(error = %crate::internal::ErrorChain(&StoreError::backend(e)), token = %token, "finished uploads not pruned");
                return;
            }
        }
    }
}

impl DynamoStore {
    /// The write that counts `record`'s creation in its token's usage, conditional on the token
    /// being active at the video's creation and below its `maxUploads`; returns the token's
    /// item when it refuses, to tell which.
    fn count_upload(
        &self,
        token: &TokenId,
        record: &VideoRecord,
    ) -> Result<TransactWriteItem, StoreError> {
        let now = record.video.created_at.timestamp_millis();
        let update = Update::builder()
            .table_name(&self.table)
            .key(PK, attr::s(items::token_pk(token)))
            .update_expression("SET #n = if_not_exists(#n, :zero) + :one, #last = :now")
            .condition_expression(
                "attribute_exists(#pk) AND (attribute_not_exists(#exp) OR #exp > :now) \
                 AND (attribute_not_exists(#max) OR attribute_not_exists(#n) OR #n < #max)",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#n", items::UPLOADS)
            .expression_attribute_names("#max", items::MAX_UPLOADS)
            .expression_attribute_names("#last", items::LAST_USED_AT_MS)
            .expression_attribute_names("#exp", EXPIRES_AT_MS)
            .expression_attribute_values(":zero", attr::n(0))
            .expression_attribute_values(":one", attr::n(1))
            .expression_attribute_values(":now", attr::n(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(StoreError::backend)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The write that counts a stored chunk of `record` (and its completion) in its token's
    /// usage, conditional on the token still existing.
    fn count_chunk(
        &self,
        token: &TokenId,
        record: &VideoRecord,
        size: u64,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .key(PK, attr::s(items::token_pk(token)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#bytes", items::BYTES_RECEIVED)
            .expression_attribute_names("#last", items::LAST_USED_AT_MS)
            .expression_attribute_values(":size", attr::n(size))
            .expression_attribute_values(
                ":now",
                attr::n(record.video.updated_at.timestamp_millis()),
            );
        update = if record.is_uploading() {
            update.update_expression("ADD #bytes :size SET #last = :now")
        } else {
            update
                .update_expression("ADD #bytes :size, #done :one SET #last = :now")
                .expression_attribute_names("#done", items::COMPLETED_UPLOADS)
                .expression_attribute_values(":one", attr::n(1))
        };
        Ok(TransactWriteItem::builder()
            .update(update.build().map_err(StoreError::backend)?)
            .build())
    }
}

#[async_trait]
impl VideoStore for DynamoStore {
    async fn insert_video(&self, record: &VideoRecord) -> Result<(), StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(video_item(record, self.abandon_after)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(StoreError::backend)?;
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        if let Some(token) = &record.video.token_id {
            let update = Update::builder()
                .table_name(&self.table)
                .key(PK, attr::s(uploads_pk(token)))
                .update_expression("ADD #ids :ids SET #latest = :id")
                .expression_attribute_names("#ids", VIDEO_IDS)
                .expression_attribute_names("#latest", LATEST_VIDEO)
                .expression_attribute_values(
                    ":ids",
                    AttributeValue::Ss(vec![record.video.id.to_string()]),
                )
                .expression_attribute_values(":id", attr::s(record.video.id.as_str()))
                .build()
                .map_err(StoreError::backend)?;
            items.push(TransactWriteItem::builder().update(update).build());
            items.push(self.count_upload(token, record)?);
        }
        let Some(refusals) = self.transact_or_refusals(items).await? else {
            return Ok(());
        };
        // The token's write is the last: its refusal says why, unless the video exists.
        match refusals.iter().find(|r| r.index == 2) {
            Some(_) if refusals.iter().any(|r| r.index == 0) => Err(StoreError::AlreadyExists),
            Some(refused) => Err(match &refused.item {
                Some(item)
                    if item.contains_key(items::MAX_UPLOADS)
                        && Item(item.clone())
                            .token()
                            .is_ok_and(|t| t.is_active(record.video.created_at)) =>
                {
                    StoreError::UploadLimitReached
                }
                _ => StoreError::TokenGone,
            }),
            None => Err(StoreError::AlreadyExists),
        }
    }

    async fn get_video(&self, id: &VideoId) -> Result<Option<VideoRecord>, StoreError> {
        self.get_consistent(video_pk(id))
            .await?
            .as_ref()
            .map(decode)
            .transpose()
    }

    async fn update_video(
        &self,
        record: &VideoRecord,
        chunk: Option<(u64, &ReceivedChunk)>,
    ) -> Result<bool, StoreError> {
        let expected = record
            .version
            .checked_sub(1)
            .ok_or_else(|| InternalError::new("update_video without a new version"))?;
        let item = video_item(record, self.abandon_after)?;
        let Some((index, chunk)) = chunk else {
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("#v = :expected")
                .expression_attribute_names("#v", VERSION)
                .expression_attribute_values(":expected", attr::n(expected))
                .send()
                .await;
            return match result {
                Ok(_) => Ok(true),
                Err(e) if condition_failed(&e) => Ok(false),
                Err(e) => Err(StoreError::backend(e)),
            };
        };
        let put_video = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("#v = :expected")
            .expression_attribute_names("#v", VERSION)
            .expression_attribute_values(":expected", attr::n(expected))
            .build()
            .map_err(StoreError::backend)?;
        let expires = chrono::Utc::now().timestamp() + CHUNK_RETENTION_SECONDS;
        let put_chunk = Put::builder()
            .table_name(&self.table)
            .set_item(Some(HashMap::from([
                (PK.to_owned(), attr::s(chunk_pk(&record.video.id, index))),
                (RECORD.to_owned(), attr::s(stored::encode_chunk(chunk)?)),
                (TTL_ATTRIBUTE.to_owned(), attr::n(expires)),
            ])))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(StoreError::backend)?;
        let mut items = vec![
            TransactWriteItem::builder().put(put_video).build(),
            TransactWriteItem::builder().put(put_chunk).build(),
        ];
        // The chunk that completes the upload takes it off its token's unfinished uploads.
        if !record.is_uploading() {
            items.extend(self.forget_upload(record)?);
        }
        let counted = match &record.video.token_id {
            Some(token) => {
                items.push(self.count_chunk(token, record, chunk.size)?);
                Some(items.len() - 1)
            }
            None => None,
        };
        match self.transact_or_refusals(items).await? {
            None => Ok(true),
            // Only the token's condition failed: it was deleted, not a lost race.
            Some(refusals)
                if counted.is_some() && refusals.iter().all(|r| Some(r.index) == counted) =>
            {
                Err(StoreError::TokenGone)
            }
            Some(_) => Ok(false),
        }
    }

    async fn get_chunk(
        &self,
        id: &VideoId,
        index: u64,
    ) -> Result<Option<ReceivedChunk>, StoreError> {
        self.get_consistent(chunk_pk(id, index))
            .await?
            .as_ref()
            .and_then(|item| item.get(RECORD))
            .and_then(|v| v.as_s().ok())
            .map(|text| stored::decode_chunk(text))
            .transpose()
    }

    async fn delete_video(&self, record: &VideoRecord) -> Result<bool, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key(PK, attr::s(video_pk(&record.video.id)))
            .condition_expression("#v = :version")
            .expression_attribute_names("#v", VERSION)
            .expression_attribute_values(":version", attr::n(record.version))
            .build()
            .map_err(StoreError::backend)?;
        let mut items = vec![TransactWriteItem::builder().delete(delete).build()];
        if record.is_uploading() {
            items.extend(self.forget_upload(record)?);
        }
        self.transact(items).await
    }

    async fn latest_video_of_token(
        &self,
        token: &TokenId,
    ) -> Result<Option<VideoRecord>, StoreError> {
        // Only the one attribute: a set left large by an older version is not read (nor paid
        // for) by every first chunk.
        let latest = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, attr::s(uploads_pk(token)))
            .projection_expression("#latest")
            .expression_attribute_names("#latest", LATEST_VIDEO)
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::backend)?
            .item
            .as_ref()
            .and_then(|item| item.get(LATEST_VIDEO))
            .and_then(|v| v.as_s().ok())
            .and_then(|id| VideoId::parse(id).ok());
        match latest {
            Some(id) => self.get_video(&id).await,
            None => Ok(None),
        }
    }

    async fn uploading_videos_of_token(
        &self,
        token: &TokenId,
    ) -> Result<Vec<VideoRecord>, StoreError> {
        let ids: Vec<String> = self
            .get_consistent(uploads_pk(token))
            .await?
            .as_ref()
            .and_then(|item| item.get(VIDEO_IDS))
            .and_then(|v| v.as_ss().ok())
            .cloned()
            .unwrap_or_default();
        let mut videos = Vec::new();
        // BatchGetItem takes 100 keys at a time and may leave some unprocessed: go round.
        for batch in ids.chunks(100) {
            let mut keys: Vec<HashMap<String, AttributeValue>> = batch
                .iter()
                .map(|id| HashMap::from([(PK.to_owned(), attr::s(format!("VIDEO#{id}")))]))
                .collect();
            while !keys.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut keys)))
                    .consistent_read(true)
                    .build()
                    .map_err(StoreError::backend)?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(StoreError::backend)?;
                for item in out
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .into_iter()
                    .flatten()
                {
                    videos.push(decode(item)?);
                }
                if let Some(rest) = out.unprocessed_keys().and_then(|u| u.get(&self.table)) {
                    keys = rest.keys().to_vec();
                }
            }
        }
        // Items written before completions took themselves off the set, or videos deleted
        // since: prune them.
        let stale: Vec<String> = ids
            .iter()
            .filter(|id| {
                !videos
                    .iter()
                    .any(|v| v.video.id.as_str() == id.as_str() && v.is_uploading())
            })
            .cloned()
            .collect();
        if !stale.is_empty() {
            self.prune_uploads(token, stale).await;
        }
        videos.retain(VideoRecord::is_uploading);
        videos.sort_by(|a, b| {
            (a.video.created_at, &a.video.id).cmp(&(b.video.created_at, &b.video.id))
        });
        Ok(videos)
    }
}
