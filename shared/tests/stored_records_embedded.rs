//! Video and chunk records written to SQLite before schema versions existed read back through
//! the store, and what the store writes now keeps their field names and bytes, plus `"v":1`.

#![cfg(feature = "embedded")]

mod stored_records;

use rusqlite::{Connection, params};
use serde_json::Value;
use stored_records::{EMBEDDED_ROWS, chunks, embedded_videos, field_names};
use upload_tokens_core::domain::VideoId;
use upload_tokens_core::store::embedded::{DATABASE_FILE, EmbeddedStore};
use upload_tokens_core::store::{StoreError, VideoRecord, VideoStore as _};

/// A store holding the fixture's rows exactly as the old code wrote them, a connection to the
/// same file for raw reads, and the directory (removed on drop).
fn store_with_fixture() -> (EmbeddedStore, Connection, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(dir.path()).expect("store opens");
    let conn = Connection::open(dir.path().join(DATABASE_FILE)).expect("raw connection");
    let rows: Value = serde_json::from_str(EMBEDDED_ROWS).expect("fixture");
    for v in rows["videos"].as_array().expect("videos") {
        conn.execute(
            "INSERT INTO videos (id, project_id, token_id, uploading, created_ms, version, record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                v["id"].as_str(),
                v["project_id"].as_str(),
                v["token_id"].as_str(),
                v["uploading"].as_i64(),
                v["created_ms"].as_i64(),
                v["version"].as_i64(),
                v["record"].as_str(),
            ],
        )
        .expect("fixture video row");
    }
    for c in rows["video_chunks"].as_array().expect("chunks") {
        conn.execute(
            "INSERT INTO video_chunks (video_id, idx, record) VALUES (?1, ?2, ?3)",
            params![
                c["video_id"].as_str(),
                c["idx"].as_i64(),
                c["record"].as_str()
            ],
        )
        .expect("fixture chunk row");
    }
    (store, conn, dir)
}

fn fixture_text(table: &str, id: &VideoId, index: Option<u64>) -> String {
    let rows: Value = serde_json::from_str(EMBEDDED_ROWS).expect("fixture");
    let (id_column, want_index) = match index {
        Some(i) => ("video_id", Some(i)),
        None => ("id", None),
    };
    rows[table]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| {
            r[id_column] == id.as_str() && want_index.is_none_or(|i| r["idx"].as_u64() == Some(i))
        })
        .and_then(|r| r["record"].as_str())
        .expect("the fixture has this record")
        .to_owned()
}

fn raw_video(conn: &Connection, id: &VideoId) -> String {
    conn.query_row(
        "SELECT record FROM videos WHERE id = ?1",
        [id.as_str()],
        |r| r.get(0),
    )
    .expect("video row")
}

fn raw_chunk(conn: &Connection, id: &VideoId, index: u64) -> String {
    conn.query_row(
        "SELECT record FROM video_chunks WHERE video_id = ?1 AND idx = ?2",
        params![id.as_str(), index as i64],
        |r| r.get(0),
    )
    .expect("chunk row")
}

/// `text` with `"v":1` first: what today's code writes for the same values.
fn versioned(text: &str) -> String {
    format!("{{\"v\":1,{}", text.strip_prefix('{').expect("an object"))
}

#[tokio::test]
async fn unversioned_sqlite_records_read_back_as_they_were_written() {
    let (store, _conn, _dir) = store_with_fixture();
    let (completed, uploading) = embedded_videos();
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
    let token = uploading.video.token_id.as_ref().expect("token");
    assert_eq!(
        store.uploading_videos_of_token(token).await.expect("lists"),
        vec![uploading.clone()]
    );
    let token = completed.video.token_id.as_ref().expect("token");
    assert_eq!(
        store.uploading_videos_of_token(token).await.expect("lists"),
        Vec::<VideoRecord>::new()
    );
}

#[tokio::test]
async fn rewritten_sqlite_records_differ_from_the_old_ones_only_by_their_version() {
    let (store, conn, _dir) = store_with_fixture();
    let (completed, uploading) = embedded_videos();
    stored_records::store_tokens_of(&store, &[&completed, &uploading]).await;
    for video in [&completed, &uploading] {
        let id = &video.video.id;
        let mut next = store.get_video(id).await.expect("reads").expect("there");
        next.version += 1;
        assert!(store.update_video(&next, None).await.expect("update"));
        let old = fixture_text("videos", id, None);
        let new = raw_video(&conn, id);
        assert_eq!(field_names(&new), field_names(&old));
        assert_eq!(new, versioned(&old));
        assert_eq!(store.get_video(id).await.expect("reads"), Some(next));
    }
    // Chunk records: written again (after removing the old rows) through an update.
    let (_, uploading_chunks) = chunks();
    let id = &uploading.video.id;
    conn.execute(
        "DELETE FROM video_chunks WHERE video_id = ?1",
        [id.as_str()],
    )
    .expect("delete");
    for (index, chunk) in &uploading_chunks {
        let mut next = store.get_video(id).await.expect("reads").expect("there");
        next.version += 1;
        assert!(
            store
                .update_video(&next, Some((*index, chunk)))
                .await
                .expect("update")
        );
        let old = fixture_text("video_chunks", id, Some(*index));
        let new = raw_chunk(&conn, id, *index);
        assert_eq!(field_names(&new), field_names(&old));
        assert_eq!(new, versioned(&old));
    }
}

#[tokio::test]
async fn a_sqlite_record_of_an_unknown_version_is_corrupt() {
    let (store, conn, _dir) = store_with_fixture();
    let (completed, _) = embedded_videos();
    let id = &completed.video.id;
    let future = fixture_text("videos", id, None).replacen('{', "{\"v\":2,", 1);
    conn.execute(
        "UPDATE videos SET record = ?2 WHERE id = ?1",
        params![id.as_str(), future],
    )
    .expect("update");
    match store.get_video(id).await {
        Err(StoreError::Corrupt(message)) => {
            assert!(message.contains("schema version 2"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}
