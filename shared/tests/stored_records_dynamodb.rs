//! Video and chunk items written to DynamoDB (moto) before schema versions existed read back
//! through the store, and what the store writes now keeps their field names and bytes, plus
//! `"v":1`.

#![cfg(feature = "dynamodb")]

mod stored_records;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use stored_records::{DYNAMODB_ITEMS, chunks, dynamodb_videos, field_names};
use upload_tokens_core::domain::VideoId;
use upload_tokens_core::store::dynamodb::DynamoStore;
use upload_tokens_core::store::dynamodb::schema::{PK, create_table};
use upload_tokens_core::store::{StoreError, VideoStore as _};

/// A fresh table holding the fixture's items exactly as the old code wrote them, and a client
/// for raw reads; `None` without moto (outside CI).
async fn store_with_fixture(test: &str) -> Option<(DynamoStore, Client, String)> {
    let url = test_gate::require_moto(test)?;
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    let client = Client::new(&config);
    static N: AtomicU32 = AtomicU32::new(0);
    let table = format!(
        "stored-records-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        chrono::Utc::now().timestamp_subsec_nanos()
    );
    create_table(&client, &table).await.expect("table");
    for item in fixture_items() {
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item))
            .send()
            .await
            .expect("fixture item");
    }
    Some((
        DynamoStore::new(client.clone(), table.clone()),
        client,
        table,
    ))
}

/// The fixture's items, from DynamoDB's JSON notation.
fn fixture_items() -> Vec<HashMap<String, AttributeValue>> {
    let items: Value = serde_json::from_str(DYNAMODB_ITEMS).expect("fixture");
    items
        .as_array()
        .expect("items")
        .iter()
        .map(|item| {
            item.as_object()
                .expect("an item")
                .iter()
                .map(|(name, typed)| {
                    let value = match (typed.get("S"), typed.get("N")) {
                        (Some(s), None) => AttributeValue::S(s.as_str().expect("S").to_owned()),
                        (None, Some(n)) => AttributeValue::N(n.as_str().expect("N").to_owned()),
                        _ => panic!("unexpected attribute {name}: {typed}"),
                    };
                    (name.clone(), value)
                })
                .collect()
        })
        .collect()
}

fn fixture_record(pk: &str) -> String {
    fixture_items()
        .into_iter()
        .find(|item| item.get(PK).and_then(|v| v.as_s().ok()).map(String::as_str) == Some(pk))
        .and_then(|item| item.get("record").and_then(|v| v.as_s().ok()).cloned())
        .expect("the fixture has this item")
}

async fn raw_record(client: &Client, table: &str, pk: &str) -> String {
    client
        .get_item()
        .table_name(table)
        .key(PK, AttributeValue::S(pk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem")
        .item
        .and_then(|item| item.get("record").and_then(|v| v.as_s().ok()).cloned())
        .expect("the item has a record")
}

fn video_pk(id: &VideoId) -> String {
    format!("VIDEO#{id}")
}

fn chunk_pk(id: &VideoId, index: u64) -> String {
    format!("CHUNK#{id}#{index}")
}

/// `text` with `"v":1` first: what today's code writes for the same values.
fn versioned(text: &str) -> String {
    format!("{{\"v\":1,{}", text.strip_prefix('{').expect("an object"))
}

#[tokio::test]
async fn unversioned_dynamodb_items_read_back_as_they_were_written() {
    let Some((store, _, _)) =
        store_with_fixture("unversioned_dynamodb_items_read_back_as_they_were_written").await
    else {
        return;
    };
    let (completed, uploading) = dynamodb_videos();
    let (completed_chunks, uploading_chunks) = chunks();
    for expected in [&completed, &uploading] {
        assert_eq!(
            store.get_video(&expected.video.id).await.expect("reads"),
            Some(expected.clone())
        );
    }
    for (video, chunks) in [
        (&completed, &completed_chunks),
        (&uploading, &uploading_chunks),
    ] {
        for (index, chunk) in chunks {
            assert_eq!(
                store
                    .get_chunk(&video.video.id, *index)
                    .await
                    .expect("reads"),
                Some(chunk.clone()),
                "chunk {index} of {}",
                video.video.id
            );
        }
    }
}

#[tokio::test]
async fn rewritten_dynamodb_items_differ_from_the_old_ones_only_by_their_version() {
    let Some((store, client, table)) = store_with_fixture(
        "rewritten_dynamodb_items_differ_from_the_old_ones_only_by_their_version",
    )
    .await
    else {
        return;
    };
    let (completed, uploading) = dynamodb_videos();
    stored_records::store_tokens_of(&store, &[&completed, &uploading]).await;
    for video in [&completed, &uploading] {
        let id = &video.video.id;
        let mut next = store.get_video(id).await.expect("reads").expect("there");
        next.version += 1;
        assert!(store.update_video(&next, None).await.expect("update"));
        let old = fixture_record(&video_pk(id));
        let new = raw_record(&client, &table, &video_pk(id)).await;
        assert_eq!(field_names(&new), field_names(&old));
        assert_eq!(new, versioned(&old));
        assert_eq!(store.get_video(id).await.expect("reads"), Some(next));
    }
    // Chunk records: written again (after removing the old items) through an update.
    let (_, uploading_chunks) = chunks();
    let id = &uploading.video.id;
    for (index, chunk) in &uploading_chunks {
        client
            .delete_item()
            .table_name(&table)
            .key(PK, AttributeValue::S(chunk_pk(id, *index)))
            .send()
            .await
            .expect("DeleteItem");
        let mut next = store.get_video(id).await.expect("reads").expect("there");
        next.version += 1;
        assert!(
            store
                .update_video(&next, Some((*index, chunk)))
                .await
                .expect("update")
        );
        let old = fixture_record(&chunk_pk(id, *index));
        let new = raw_record(&client, &table, &chunk_pk(id, *index)).await;
        assert_eq!(field_names(&new), field_names(&old));
        assert_eq!(new, versioned(&old));
    }
}

#[tokio::test]
async fn a_dynamodb_item_of_an_unknown_version_is_corrupt() {
    let Some((store, client, table)) =
        store_with_fixture("a_dynamodb_item_of_an_unknown_version_is_corrupt").await
    else {
        return;
    };
    let (completed, _) = dynamodb_videos();
    let id = &completed.video.id;
    let future = fixture_record(&video_pk(id)).replacen('{', "{\"v\":2,", 1);
    client
        .update_item()
        .table_name(&table)
        .key(PK, AttributeValue::S(video_pk(id)))
        .update_expression("SET #r = :r")
        .expression_attribute_names("#r", "record")
        .expression_attribute_values(":r", AttributeValue::S(future))
        .send()
        .await
        .expect("UpdateItem");
    match store.get_video(id).await {
        Err(StoreError::Corrupt(message)) => {
            assert!(message.contains("schema version 2"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}
