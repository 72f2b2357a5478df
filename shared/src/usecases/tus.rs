//! tus 1.0 (SPEC §10) on an upload token: a creation makes a video of the token's project, each
//! PATCH is a chunk of it at a byte offset, judged, written and committed by the same machinery
//! as `POST /upload` ([`super::chunks`]), so the integrity rules (§4) and the token's policy
//! (§7) hold unchanged. What tus adds: the length told at creation (or later), and strict
//! offsets: a PATCH whose `Upload-Offset` is not the upload's offset is refused (409), a retry
//! of an applied PATCH included, and the client asks (HEAD) where to go on.

use super::UseCaseError;
use super::chunks::{self, ChunkDeps, Earlier};
use super::retry::{Attempt, until_done};
use crate::domain::{
    ContentRange, DeclaredLength, UploadProgress, UploadRuleError, UploadToken, VideoId,
};
use crate::internal::ErrorChain;
use crate::store::VideoRecord;
use crate::store::chunk_data::ChunkData;

/// The largest upload `deps` accept for the token (`Tus-Max-Size`): the deployment's maximum,
/// or the token's `maxFileBytes` when lower.
pub fn max_size(deps: &ChunkDeps<'_>) -> u64 {
    deps.max_file_bytes
        .min(deps.policy.max_file_bytes.unwrap_or(u64::MAX))
}

fn offset_mismatch(offset: u64) -> UseCaseError {
    UploadRuleError::OutOfOrder {
        expected: format!("Upload-Offset {offset}"),
    }
    .into()
}

/// The chunk a PATCH (or a creation with data) carries at `offset`, for an upload of `total`
/// bytes if known.
fn range(offset: u64, data: &ChunkData, total: Option<u64>) -> ContentRange {
    ContentRange::Bytes {
        from: offset,
        to: offset + data.len() - 1,
        total,
    }
}

/// What a creation's `Upload-Metadata` says, decoded (see [`crate::domain::UploadMetadata`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Creation<'a> {
    /// The header as sent, echoed by HEAD.
    pub raw: Option<&'a str>,
    /// `filename`: the video's title.
    pub file_name: Option<&'a str>,
    /// `filetype`: checked against the token's `allowedContentTypes`.
    pub file_type: Option<&'a str>,
}

/// `POST` (creation, with or without data): a new upload of the token, its length and metadata
/// checked against the deployment's maximum and the token's policy before anything is made.
///
/// A creation with data whose reply was lost, sent again, is recognised (the token's latest
/// upload is a tus upload holding exactly these bytes) and answered with the same upload.
pub async fn create(
    deps: ChunkDeps<'_>,
    token: &UploadToken,
    length: DeclaredLength,
    metadata: &Creation<'_>,
    data: Option<ChunkData>,
) -> Result<VideoRecord, UseCaseError> {
    deps.policy.check_declared_type(metadata.file_type)?;
    let total = length.known();
    if let Some(total) = total {
        if total > deps.max_file_bytes {
            return Err(UploadRuleError::TooLarge {
                max: deps.max_file_bytes,
            }
            .into());
        }
        deps.policy.check_size(total)?;
    }
    let file_name = metadata.file_name;
    let progress = UploadProgress::tus(total, metadata.raw.map(str::to_owned));
    let Some(data) = data.filter(|d| !d.is_empty()) else {
        let record = chunks::new_video(deps, token, file_name, progress, None).await?;
        tracing::info!(video = %record.video.id, "tus upload created");
        return Ok(record);
    };
    // Creation with upload: the first chunk is judged (and the file's first bytes checked)
    // before a video is made for it.
    let chunk = chunks::incoming(range(0, &data, total), &data);
    progress.judge(&chunk, None, deps.max_file_bytes)?;
    chunks::check_policy(deps, &progress, &chunk, &data).await?;
    let holder = &chunks::new_holder();
    let record = match chunks::earlier_first_chunk(deps, token, &chunk, holder, true).await? {
        Some(Earlier::Resent(record)) => return Ok(record),
        // Only uploads that never got a byte are taken over, and a tus upload is created with
        // its metadata: never one (see `earlier_first_chunk`).
        Some(Earlier::Abandoned(_)) | None => {
            chunks::new_video(deps, token, file_name, progress, Some(holder)).await?
        }
    };
    tracing::info!(video = %record.video.id, "tus upload created with data");
    Ok(chunks::write_chunk_as(deps, record, &chunk, &data, holder)
        .await?
        .record)
}

const NO_SUCH_UPLOAD: &str =
    "no tus upload of this token's project has this id: create one with POST";

/// The tus upload `id` of the token's project, to write to (an abandoned one is removed on the
/// way, and is not found).
async fn upload(
    deps: ChunkDeps<'_>,
    token: &UploadToken,
    id: &str,
) -> Result<VideoRecord, UseCaseError> {
    let record = chunks::named_video(deps, token, id).await?;
    if record.progress.tus.is_none() {
        return Err(UseCaseError::UploadTargetNotFound(NO_SUCH_UPLOAD));
    }
    Ok(record)
}

/// `HEAD`: the tus upload `id` of the token's project, as it is now. Reads only: an abandoned
/// upload is not found (and left to whoever writes next, or the sweep).
pub async fn status(
    deps: ChunkDeps<'_>,
    token: &UploadToken,
    id: &str,
) -> Result<VideoRecord, UseCaseError> {
    let not_found = || UseCaseError::UploadTargetNotFound(NO_SUCH_UPLOAD);
    let id = VideoId::parse(id).map_err(|_| not_found())?;
    match deps.videos.get_video(&id).await? {
        Some(record)
            if record.video.project_id == token.project_id
                && record.progress.tus.is_some()
                && !record.is_abandoned(deps.clock.now(), deps.abandon_after) =>
        {
            Ok(record)
        }
        _ => Err(not_found()),
    }
}

/// `PATCH` at `offset`: `data` appended if `offset` is the upload's offset (409 otherwise),
/// with `length` (`Upload-Length`) telling a deferred length. An empty body only tells the
/// length (completing the file when it is what was received), or changes nothing.
pub async fn patch(
    deps: ChunkDeps<'_>,
    token: &UploadToken,
    id: &str,
    offset: u64,
    length: Option<u64>,
    data: ChunkData,
) -> Result<VideoRecord, UseCaseError> {
    let record = upload(deps, token, id).await?;
    let progress = &record.progress;
    if offset != progress.received_bytes {
        return Err(offset_mismatch(progress.received_bytes));
    }
    if let (Some(was), Some(now)) = (progress.total, length)
        && was != now
    {
        return Err(UploadRuleError::TotalChanged { was, now }.into());
    }
    if data.is_empty() {
        return match length {
            Some(total) if progress.total.is_none() => {
                chunks::tell_length(deps, record, total).await
            }
            _ => Ok(record),
        };
    }
    if progress.completed {
        return Err(UploadRuleError::PastTotal {
            total: progress.received_bytes,
        }
        .into());
    }
    let total = length.or(progress.total);
    let chunk = chunks::incoming(range(offset, &data, total), &data);
    let accepted = chunks::write_chunk(deps, record, &chunk, &data).await?;
    if !accepted.stored {
        // Another request stored these very bytes at this offset first (a racing retry): the
        // offset moved, and tus says so.
        return Err(offset_mismatch(accepted.record.progress.received_bytes));
    }
    Ok(accepted.record)
}

/// `DELETE` (termination): an unfinished upload is removed with its bytes. A complete one is a
/// video of the project, which only the project's API key deletes.
pub async fn terminate(
    deps: ChunkDeps<'_>,
    token: &UploadToken,
    id: &str,
) -> Result<(), UseCaseError> {
    until_done(move |_| async move {
        let record = upload(deps, token, id).await?;
        if record.progress.completed {
            return Err(UseCaseError::UploadComplete);
        }
        if !deps.videos.delete_video(&record).await? {
            return Ok(Attempt::Lost);
        }
        // The record is gone first: nothing reaches the bytes any more; a failure here leaves
        // garbage for the lifecycle rules, never data.
        if let Err(e) = deps.blobs.remove(&record.blob_key(), &record.blob).await {
            tracing::warn!(error = %ErrorChain(&e), video = %record.video.id, "bytes of a terminated upload not removed");
        }
        tracing::info!(video = %record.video.id, "tus upload terminated");
        Ok(Attempt::Done(()))
    })
    .await
}
