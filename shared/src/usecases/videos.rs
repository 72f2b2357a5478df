//! Videos of a project: read, edit, delete, and the link that downloads a complete file.

use super::UseCaseError;
use super::retry::{Attempt, until_done};
use crate::auth::AccessTokenSigner;
use crate::domain::{Clock, ProjectId, VideoId, VideoPatch};
use crate::store::VideoRecord;
use crate::store::VideoStore;
use crate::store::blob::BlobStore;
use std::time::Duration;

/// The project's video `id`; [`UseCaseError::NotFound`] (`videoId`) otherwise.
pub async fn owned_video(
    videos: &dyn VideoStore,
    project: &ProjectId,
    id: &VideoId,
) -> Result<VideoRecord, UseCaseError> {
    match videos.get_video(id).await? {
        Some(record) if record.video.project_id == *project => Ok(record),
        _ => Err(UseCaseError::NotFound("videoId")),
    }
}

/// Applies `patch` to the project's video, conditionally on the version it read.
pub async fn update_video(
    videos: &dyn VideoStore,
    clock: &dyn Clock,
    project: &ProjectId,
    id: &VideoId,
    patch: &VideoPatch,
) -> Result<VideoRecord, UseCaseError> {
    until_done(move |_| async move {
        let mut record = owned_video(videos, project, id).await?;
        patch.clone().apply(&mut record.video, clock.now());
        record.version += 1;
        Ok(if videos.update_video(&record, None).await? {
            Attempt::Done(record)
        } else {
            Attempt::Lost
        })
    })
    .await
}

/// Deletes the project's video: the record, then its stored bytes (or unfinished upload).
pub async fn delete_video(
    videos: &dyn VideoStore,
    blobs: &dyn BlobStore,
    project: &ProjectId,
    id: &VideoId,
) -> Result<(), UseCaseError> {
    let deleted = until_done(move |_| async move {
        let record = owned_video(videos, project, id).await?;
        Ok(if videos.delete_video(&record).await? {
            Attempt::Done(record)
        } else {
            Attempt::Lost
        })
    })
    .await?;
    // The record is gone first, so nothing can reach half-deleted bytes; a failure here leaves
    // only unreachable garbage (and the log says so).
    if let Err(e) = blobs.remove(&deleted.blob_key(), &deleted.blob).await {
        tracing::error!(
            error = %crate::internal::ErrorChain(&e),
            video = %deleted.video.id,
            "stored bytes not removed"
        );
    }
    Ok(())
}

/// Where a complete file can be downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownloadLink {
    /// A time-limited URL of the blob store itself (a presigned S3 GET).
    Url(String),
    /// The blob store has no URLs: `/downloads/{video}?expires=…&signature=…` on this server.
    Signed {
        /// The link's path and query.
        path_and_query: String,
    },
}

/// What [`download_link`] and [`authorize_download`] need.
#[derive(Clone, Copy)]
pub struct DownloadDeps<'a> {
    /// The videos.
    pub videos: &'a dyn VideoStore,
    /// Where the bytes are.
    pub blobs: &'a dyn BlobStore,
    /// Signs links to this server.
    pub signer: &'a AccessTokenSigner,
    /// Where "now" comes from.
    pub clock: &'a dyn Clock,
}

/// The link to a complete file, valid for `valid_for`; `None` while the upload is unfinished.
pub async fn download_link(
    deps: DownloadDeps<'_>,
    record: &VideoRecord,
    valid_for: Duration,
) -> Result<Option<DownloadLink>, UseCaseError> {
    if !record.progress.completed {
        return Ok(None);
    }
    if let Some(url) = deps
        .blobs
        .download_url(&record.blob_key(), valid_for)
        .await?
    {
        return Ok(Some(DownloadLink::Url(url)));
    }
    let expires = deps.clock.now().timestamp() + valid_for.as_secs() as i64;
    let id = &record.video.id;
    let signature = deps.signer.sign(&download_message(id, expires));
    Ok(Some(DownloadLink::Signed {
        path_and_query: format!("/downloads/{id}?expires={expires}&signature={signature}"),
    }))
}

/// The complete video a signed link opens: [`UseCaseError::DownloadLinkInvalid`] when the link
/// is forged or expired, [`UseCaseError::NotFound`] when the video is gone or unfinished.
pub async fn authorize_download(
    deps: DownloadDeps<'_>,
    id: &VideoId,
    expires: i64,
    signature: &str,
) -> Result<VideoRecord, UseCaseError> {
    if expires <= deps.clock.now().timestamp()
        || !deps
            .signer
            .verify_signature(&download_message(id, expires), signature)
    {
        return Err(UseCaseError::DownloadLinkInvalid);
    }
    match deps.videos.get_video(id).await? {
        Some(record) if record.progress.completed => Ok(record),
        _ => Err(UseCaseError::NotFound("video")),
    }
}

fn download_message(id: &VideoId, expires: i64) -> String {
    format!("download:{id}:{expires}")
}
