//! One behavioural suite for every `VideoStore` adapter: `video_suite!(make_store)` expands to
//! one `#[tokio::test]` per behaviour, `make_store` being an `async fn() -> Option<S>` (`None`:
//! the backend is not available here and the test is skipped).

use chrono::{TimeDelta, Utc};
use upload_tokens_core::domain::{ProjectId, ReceivedChunk, TokenId, Ttl, UploadToken, Video};
use upload_tokens_core::store::{TokenWriter, VideoRecord};

/// A new, empty video of `token` created `seconds_ago`.
pub fn video(token: Option<&TokenId>, seconds_ago: i64) -> VideoRecord {
    VideoRecord {
        video: Video::new(
            ProjectId::generate(),
            token.cloned(),
            Some("clip.mp4"),
            Utc::now() - TimeDelta::seconds(seconds_ago),
        ),
        progress: Default::default(),
        blob: Default::default(),
        version: 0,
        lease: None,
    }
}

/// A new token, stored (a video of a token counts in its usage, so the token must exist).
pub async fn stored_token(store: &(impl TokenWriter + ?Sized)) -> TokenId {
    let token = UploadToken::create(ProjectId::generate(), Ttl::NEVER, Utc::now());
    store.insert_token(&token).await.expect("token stored");
    token.id
}

/// A chunk record.
pub fn chunk(offset: u64, size: u64, tag: &str) -> ReceivedChunk {
    ReceivedChunk {
        offset,
        size,
        part: 0,
        sha256: tag.repeat(64 / tag.len().max(1)),
    }
}

/// Expands to the suite's tests.
#[macro_export]
macro_rules! video_suite {
    ($make:path) => {
        mod video_suite_tests {
            use super::*;
            use upload_tokens_core::domain::TokenId;
            use upload_tokens_core::store::{StoreError, VideoRecord, VideoStore};
            use $crate::video_suite::{chunk, stored_token, video};

            #[tokio::test]
            async fn inserted_video_reads_back_at_version_zero() {
                let Some(store) = $make().await else { return };
                let v = video(None, 0);
                store.insert_video(&v).await.expect("insert");
                assert_eq!(
                    store.get_video(&v.video.id).await.expect("get"),
                    Some(v.clone())
                );
                assert!(matches!(
                    store.insert_video(&v).await,
                    Err(StoreError::AlreadyExists)
                ));
            }

            #[tokio::test]
            async fn update_is_conditional_on_the_version() {
                let Some(store) = $make().await else { return };
                let v = video(None, 0);
                store.insert_video(&v).await.expect("insert");
                let mut first = v.clone();
                first.video.title = "first".into();
                first.version = 1;
                let mut second = v.clone();
                second.video.title = "second".into();
                second.version = 1;
                assert!(store.update_video(&first, None).await.expect("first"));
                assert!(
                    !store.update_video(&second, None).await.expect("second"),
                    "a writer that read version 0 loses once version 1 is stored"
                );
                let stored = store
                    .get_video(&v.video.id)
                    .await
                    .expect("get")
                    .expect("there");
                assert_eq!(stored.video.title, "first");
                assert_eq!(stored.version, 1);
            }

            #[tokio::test]
            async fn a_chunk_is_recorded_with_its_update_or_not_at_all() {
                let Some(store) = $make().await else { return };
                let v = video(None, 0);
                store.insert_video(&v).await.expect("insert");
                let mut next = v.clone();
                next.version = 1;
                next.progress.chunk_count = 1;
                next.progress.received_bytes = 10;
                let c = chunk(0, 10, "a");
                assert!(
                    store
                        .update_video(&next, Some((0, &c)))
                        .await
                        .expect("update")
                );
                assert_eq!(
                    store.get_chunk(&v.video.id, 0).await.expect("chunk"),
                    Some(c.clone())
                );
                // A stale writer's chunk is not recorded.
                let mut stale = v.clone();
                stale.version = 1;
                assert!(
                    !store
                        .update_video(&stale, Some((10, &chunk(10, 5, "b"))))
                        .await
                        .expect("stale")
                );
                assert_eq!(store.get_chunk(&v.video.id, 10).await.expect("chunk"), None);
                // Recording the same index twice fails the whole write, video included.
                let mut again = next.clone();
                again.version = 2;
                again.video.title = "changed".into();
                assert!(
                    !store
                        .update_video(&again, Some((0, &chunk(0, 10, "c"))))
                        .await
                        .expect("again")
                );
                let stored = store
                    .get_video(&v.video.id)
                    .await
                    .expect("get")
                    .expect("there");
                assert_eq!(stored.version, 1);
                assert_eq!(stored.video.title, v.video.title);
                assert_eq!(
                    store.get_chunk(&v.video.id, 0).await.expect("chunk"),
                    Some(c)
                );
            }

            #[tokio::test]
            async fn concurrent_updates_from_one_version_have_exactly_one_winner() {
                let Some(store) = $make().await else { return };
                let store = std::sync::Arc::new(store);
                let v = video(None, 0);
                store.insert_video(&v).await.expect("insert");
                let tasks: Vec<_> = (0..8u64)
                    .map(|i| {
                        let store = store.clone();
                        let mut next = v.clone();
                        next.version = 1;
                        next.video.title = format!("writer {i}");
                        tokio::spawn(async move {
                            store
                                .update_video(&next, Some((0, &chunk(0, 1, "z"))))
                                .await
                                .expect("update")
                        })
                    })
                    .collect();
                let mut wins = 0;
                for t in tasks {
                    if t.await.expect("task") {
                        wins += 1;
                    }
                }
                assert_eq!(wins, 1);
            }

            #[tokio::test]
            async fn delete_is_conditional_and_final() {
                let Some(store) = $make().await else { return };
                let v = video(None, 0);
                store.insert_video(&v).await.expect("insert");
                let stale = VideoRecord {
                    version: 7,
                    ..v.clone()
                };
                assert!(!store.delete_video(&stale).await.expect("stale delete"));
                assert!(store.delete_video(&v).await.expect("delete"));
                assert_eq!(store.get_video(&v.video.id).await.expect("get"), None);
                assert!(!store.delete_video(&v).await.expect("again"));
            }

            #[tokio::test]
            async fn a_tokens_latest_video_is_the_one_inserted_last_complete_or_not() {
                let Some(store) = $make().await else { return };
                let token = stored_token(&*store).await;
                assert!(
                    store
                        .latest_video_of_token(&token)
                        .await
                        .expect("read")
                        .is_none()
                );
                let first = video(Some(&token), 10);
                let second = video(Some(&token), 5);
                let other = video(Some(&stored_token(&*store).await), 1);
                for v in [&first, &second, &other] {
                    store.insert_video(v).await.expect("insert");
                }
                let mut done = second.clone();
                done.version = 1;
                done.progress.completed = true;
                assert!(store.update_video(&done, None).await.expect("complete"));
                let latest = store.latest_video_of_token(&token).await.expect("read");
                assert_eq!(
                    latest.map(|r| (r.video.id, r.progress.completed)),
                    Some((second.video.id.clone(), true))
                );
            }

            #[tokio::test]
            async fn a_tokens_unfinished_uploads_are_found_oldest_first() {
                let Some(store) = $make().await else { return };
                let token = stored_token(&*store).await;
                let older = video(Some(&token), 10);
                let newer = video(Some(&token), 5);
                let other = video(Some(&stored_token(&*store).await), 1);
                for v in [&newer, &older, &other] {
                    store.insert_video(v).await.expect("insert");
                }
                let found: Vec<_> = store
                    .uploading_videos_of_token(&token)
                    .await
                    .expect("query")
                    .into_iter()
                    .map(|r| r.video.id)
                    .collect();
                assert_eq!(found, [older.video.id.clone(), newer.video.id.clone()]);
                // A completed upload is no longer listed.
                let mut done = older.clone();
                done.version = 1;
                done.progress.completed = true;
                assert!(store.update_video(&done, None).await.expect("complete"));
                let found: Vec<_> = store
                    .uploading_videos_of_token(&token)
                    .await
                    .expect("query")
                    .into_iter()
                    .map(|r| r.video.id)
                    .collect();
                assert_eq!(found, std::slice::from_ref(&newer.video.id));
                assert!(
                    store
                        .uploading_videos_of_token(&TokenId::generate())
                        .await
                        .expect("query")
                        .is_empty()
                );
            }
        }
    };
}
