//! The upload machinery, whatever protocol the bytes come in by: find the video a chunk goes
//! to, judge the chunk against what was received, append its bytes to the blob, and commit the
//! progress and the chunk record in one conditional write. A lost race reads again and judges
//! again, so a retried chunk is acknowledged and stored once, and two writers can never corrupt
//! the progress.

use super::UseCaseError;
use super::abandoned;
use super::lease::Leases;
use super::retry::{Attempt, until_done};
use crate::domain::{
    Clock, ContentRange, IncomingChunk, PolicyViolation, ReceivedChunk, SNIFF_BYTES, TokenPolicy,
    UploadMode, UploadProgress, UploadRuleError, UploadToken, Verdict, Video, VideoId,
    random_alphanumeric, title_from_file_name,
};
use crate::internal::{ErrorChain, InternalError, crash_point};
use crate::store::blob::{BlobProgress, BlobStore};
use crate::store::chunk_data::ChunkData;
use crate::store::{StoreError, VideoRecord, VideoStore};
use std::time::Duration;

/// What the upload machinery needs.
#[derive(Clone, Copy)]
pub struct ChunkDeps<'a> {
    /// Videos and their chunk records.
    pub videos: &'a dyn VideoStore,
    /// Where the bytes go.
    pub blobs: &'a dyn BlobStore,
    /// Where "now" comes from.
    pub clock: &'a dyn Clock,
    /// Largest file accepted, in bytes.
    pub max_file_bytes: u64,
    /// How long an unfinished upload may go without a chunk before it is abandoned.
    pub abandon_after: Duration,
    /// What the upload's token allows (checked on every chunk: its size, and the file's first
    /// bytes).
    pub policy: &'a TokenPolicy,
}

impl<'a> ChunkDeps<'a> {
    fn leases(&self) -> Leases<'a> {
        Leases {
            videos: self.videos,
            clock: self.clock,
        }
    }
}

/// A chunk that was written, or recognised as already written.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The video after the chunk.
    pub record: VideoRecord,
    /// `false`: the same bytes were already stored (a retry); nothing was written.
    pub stored: bool,
}

/// A chunk as it arrives: its range and its bytes, summarised for the rules.
pub fn incoming(range: ContentRange, data: &ChunkData) -> IncomingChunk {
    IncomingChunk {
        range,
        size: data.len(),
        sha256: data.sha256().to_owned(),
    }
}

/// `POST /upload`'s workflow: the chunk goes to the video `video_id` names, or the one the
/// missing-videoId rule designates, or a new video of the token for a first chunk. A request
/// that no video could accept is refused before a video is created for it.
pub async fn accept_upload_chunk(
    deps: ChunkDeps<'_>,
    token: &UploadToken,
    video_id: Option<&str>,
    file_name: Option<&str>,
    declared_type: Option<&str>,
    range: ContentRange,
    data: ChunkData,
) -> Result<Accepted, UseCaseError> {
    let chunk = incoming(range, &data);
    deps.policy.check_declared_type(declared_type)?;
    if video_id.is_none() && !continues_an_upload(&chunk.range) {
        // Refused before a video is started (and counted against `maxUploads`).
        UploadProgress::default().judge(&chunk, None, deps.max_file_bytes)?;
        check_policy(deps, &UploadProgress::default(), &chunk, &data).await?;
    }
    let holder = &new_holder();
    let record = match video_id {
        Some(video) => named_video(deps, token, video).await?,
        None if continues_an_upload(&chunk.range) => continued_upload(deps, token, &range).await?,
        None => match earlier_first_chunk(deps, token, &chunk, holder, false).await? {
            Some(Earlier::Resent(record)) => {
                return Ok(Accepted {
                    record,
                    stored: false,
                });
            }
            Some(Earlier::Abandoned(mut record)) => {
                record.video.title = title_from_file_name(file_name);
                if let Some(preset) = &token.policy.video {
                    preset.apply_to(&mut record.video);
                }
                record
            }
            None => {
                new_video(
                    deps,
                    token,
                    file_name,
                    UploadProgress::default(),
                    Some(holder),
                )
                .await?
            }
        },
    };
    write_chunk_as(deps, record, &chunk, &data, holder).await
}

/// Judges `chunk` against `record` (the video as last read), appends its bytes and commits,
/// retrying from a fresh read of the video whenever another writer committed first.
///
/// Integrity: bytes move only under the video's write lease, taken by a conditional write on the
/// video after the chunk was judged. Of two requests racing on one chunk, only the lease holder
/// writes; the other waits, reads the outcome, and is judged against it (a retry with the same
/// bytes is acknowledged, different bytes are a conflict). A lease whose reply was lost is
/// recognised by its holder, which is unique to this call.
pub async fn write_chunk(
    deps: ChunkDeps<'_>,
    record: VideoRecord,
    chunk: &IncomingChunk,
    data: &ChunkData,
) -> Result<Accepted, UseCaseError> {
    write_chunk_as(deps, record, chunk, data, &new_holder()).await
}

/// The video for attempt `attempt` of a write: `first` as the caller read it, then as it is now
/// (another writer changed it in between).
async fn as_of_attempt(
    deps: ChunkDeps<'_>,
    first: &VideoRecord,
    attempt: usize,
) -> Result<VideoRecord, UseCaseError> {
    if attempt == 0 {
        return Ok(first.clone());
    }
    deps.videos
        .get_video(&first.video.id)
        .await?
        .ok_or(UseCaseError::UploadTargetNotFound(
            "the video was deleted during the upload",
        ))
}

/// A lease holder unique to one request.
pub(super) fn new_holder() -> String {
    random_alphanumeric(20)
}

pub(super) async fn write_chunk_as(
    deps: ChunkDeps<'_>,
    record: VideoRecord,
    chunk: &IncomingChunk,
    data: &ChunkData,
    holder: &str,
) -> Result<Accepted, UseCaseError> {
    let record = &record;
    until_done(move |attempt| async move {
        let record = as_of_attempt(deps, record, attempt).await?;
        write_once(deps, record, chunk, data, holder).await
    })
    .await
}

async fn write_once(
    deps: ChunkDeps<'_>,
    record: VideoRecord,
    chunk: &IncomingChunk,
    data: &ChunkData,
    holder: &str,
) -> Result<Attempt<Accepted>, UseCaseError> {
    let index = UploadProgress::chunk_index(&chunk.range);
    let stored = if record.progress.mode.is_some() && record.progress.covers(&chunk.range) {
        deps.videos.get_chunk(&record.video.id, index).await?
    } else {
        None
    };
    let verdict = record
        .progress
        .judge(chunk, stored.as_ref(), deps.max_file_bytes)?;
    let (last, received) = match verdict {
        Verdict::Duplicate => {
            // Possibly the retry of a request whose commit went through but whose reply, and
            // so its release of the staged bytes the chunk replaced, was lost.
            if let Some(earlier) = stored.as_ref().filter(|c| c.offset > 0) {
                let replaced = BlobProgress {
                    staged: 1,
                    written: earlier.offset,
                    ..BlobProgress::default()
                };
                release_staged(deps, &record, &replaced).await;
            }
            return Ok(Attempt::Done(Accepted {
                record,
                stored: false,
            }));
        }
        Verdict::Accept { last, chunk } => (last, chunk),
    };
    check_policy(deps, &record.progress, chunk, data).await?;
    store_under_lease(deps, record, chunk, received, last, data, holder).await
}

/// Tells a byte-range upload whose length was deferred (tus `Upload-Defer-Length`) that its
/// length is `total`, with no bytes (a tus PATCH whose body is empty). When `total` is what was
/// received, this completes the file: the blob is finished under the write lease and the
/// completion committed like a last chunk, of 0 bytes. Telling the same length again is a retry.
pub async fn tell_length(
    deps: ChunkDeps<'_>,
    record: VideoRecord,
    total: u64,
) -> Result<VideoRecord, UseCaseError> {
    let record = &record;
    let holder = &new_holder();
    until_done(move |attempt| async move {
        let record = as_of_attempt(deps, record, attempt).await?;
        let progress = &record.progress;
        let received = progress.received_bytes;
        match progress.total {
            Some(was) if was == total => return Ok(Attempt::Done(record)),
            Some(was) => {
                return Err(UploadRuleError::TotalChanged { was, now: total }.into());
            }
            None if total < received => {
                return Err(UploadRuleError::PastTotal { total }.into());
            }
            None if total > deps.max_file_bytes => {
                return Err(UploadRuleError::TooLarge {
                    max: deps.max_file_bytes,
                }
                .into());
            }
            None => deps.policy.check_size(total)?,
        }
        if total > received {
            let mut next = record.clone();
            next.progress.total = Some(total);
            next.version += 1;
            next.video.updated_at = deps.clock.now();
            return Ok(if deps.videos.update_video(&next, None).await? {
                Attempt::Done(next)
            } else {
                Attempt::Lost
            });
        }
        // The end, at an offset no chunk starts at: a chunk of 0 bytes records the completion
        // (and counts it in the token's usage) in the same write.
        let end = IncomingChunk {
            range: ContentRange::Bytes {
                from: received,
                to: received,
                total: Some(total),
            },
            size: 0,
            sha256: ChunkData::from(Vec::new()).sha256().to_owned(),
        };
        let chunk = ReceivedChunk {
            offset: received,
            size: 0,
            part: 0,
            sha256: end.sha256.clone(),
        };
        let empty = ChunkData::from(Vec::new());
        Ok(
            match store_under_lease(deps, record, &end, chunk, true, &empty, holder).await? {
                Attempt::Done(accepted) => Attempt::Done(accepted.record),
                Attempt::Lost => Attempt::Lost,
            },
        )
    })
    .await
}

/// Writes an accepted chunk's bytes under the video's write lease and commits the progress and
/// the chunk record in one conditional write.
async fn store_under_lease(
    deps: ChunkDeps<'_>,
    record: VideoRecord,
    chunk: &IncomingChunk,
    received: ReceivedChunk,
    last: bool,
    data: &ChunkData,
    holder: &str,
) -> Result<Attempt<Accepted>, UseCaseError> {
    let index = UploadProgress::chunk_index(&chunk.range);
    let leases = deps.leases();
    let Some(mut held) = leases.take(record, holder).await? else {
        return Ok(Attempt::Lost);
    };
    let key = held.record.blob_key();
    let before = held.record.blob.clone();
    let write = deps.blobs.append(&key, &before, data, last);
    let blob = match leases.write_under(&mut held, write).await {
        Ok(blob) => blob,
        Err(UseCaseError::Store(StoreError::BlobGone(what))) => {
            tracing::warn!(video = %held.record.video.id, what, "an unfinished upload's bytes are gone");
            abandoned::remove(deps.videos, deps.blobs, &held.record).await?;
            return Err(UseCaseError::UploadTargetNotFound(abandoned::GONE));
        }
        Err(e) => {
            leases.release(&held.record).await;
            return Err(e);
        }
    };
    crash_point("after-bytes");
    let mut next = held.record.clone();
    next.progress.record(chunk, received.clone(), last);
    next.blob = blob;
    next.lease = None;
    next.version += 1;
    let now = deps.clock.now();
    next.video.updated_at = now;
    if last {
        next.video.published_at = Some(now);
    }
    let committed = match deps
        .videos
        .update_video(&next, Some((index, &received)))
        .await
    {
        Ok(committed) => committed,
        // The write may have applied and only its reply been lost: look before failing.
        Err(e) => match deps.videos.get_video(&next.video.id).await {
            Ok(Some(now)) if now.version == next.version && now.progress == next.progress => true,
            _ => return Err(e.into()),
        },
    };
    if !committed {
        return Ok(Attempt::Lost);
    }
    crash_point("after-commit");
    release_staged(deps, &next, &before).await;
    tracing::info!(
        video = %next.video.id,
        range = %chunk.range,
        bytes = chunk.size,
        complete = last,
        "chunk stored"
    );
    Ok(Attempt::Done(Accepted {
        record: next,
        stored: true,
    }))
}

/// The token's policy on a chunk about to be stored after `progress`: the file's size so far
/// (and its announced total) against `maxFileBytes`, and, for its first bytes, their type
/// against `allowedContentTypes`.
pub(super) async fn check_policy(
    deps: ChunkDeps<'_>,
    progress: &UploadProgress,
    chunk: &IncomingChunk,
    data: &ChunkData,
) -> Result<(), UseCaseError> {
    let policy = deps.policy;
    policy.check_size(progress.received_bytes.saturating_add(chunk.size))?;
    if let ContentRange::Bytes {
        total: Some(total), ..
    } = chunk.range
    {
        policy.check_size(total)?;
    }
    if progress.received_bytes == 0 && policy.allowed_content_types.is_some() {
        let first = data
            .read(0, data.len().min(SNIFF_BYTES as u64) as usize)
            .await?;
        // Only for the message: a first chunk that is the whole file has no more to show.
        let whole = match chunk.range {
            ContentRange::Whole => true,
            ContentRange::Bytes { to, total, .. } => total == Some(to + 1),
            ContentRange::Part { total, .. } => total == Some(1),
        };
        policy.check_file_start(&first, whole)?;
    }
    Ok(())
}

/// Removes what `replaced` (an earlier state of `current`'s blob) needed and `current` no longer
/// does, such as a staged remainder. A few tries; what stays is garbage the bucket's lifecycle
/// rule expires, never data.
async fn release_staged(deps: ChunkDeps<'_>, current: &VideoRecord, replaced: &BlobProgress) {
    let key = current.blob_key();
    for attempt in 0..3u32 {
        match deps.blobs.release(&key, replaced, &current.blob).await {
            Ok(()) => return,
            Err(e) if attempt == 2 => {
                tracing::warn!(error = %ErrorChain(&e), video = %current.video.id, "staged bytes not released");
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50 << attempt)).await,
        }
    }
}

/// Whether a chunk without `videoId` can only belong to an upload already under way.
fn continues_an_upload(range: &ContentRange) -> bool {
    match *range {
        ContentRange::Whole => false,
        ContentRange::Bytes { from, .. } => from > 0,
        ContentRange::Part { n, .. } => n > 1,
    }
}

/// The video `videoId` names, if it is one of the token's project.
pub(super) async fn named_video(
    deps: ChunkDeps<'_>,
    token: &UploadToken,
    video: &str,
) -> Result<VideoRecord, UseCaseError> {
    let id = VideoId::parse(video)
        .map_err(|_| UseCaseError::UploadTargetNotFound("no video has this videoId"))?;
    for _ in 0..2 {
        match deps.videos.get_video(&id).await? {
            Some(record) if record.video.project_id == token.project_id => {
                if !record.is_abandoned(deps.clock.now(), deps.abandon_after) {
                    return Ok(record);
                }
                if abandoned::remove(deps.videos, deps.blobs, &record).await? {
                    return Err(UseCaseError::UploadTargetNotFound(abandoned::GONE));
                }
                // It changed meanwhile: read it again.
            }
            _ => break,
        }
    }
    Err(UseCaseError::UploadTargetNotFound(
        "no video of this token's project has this videoId",
    ))
}

/// What a first chunk finds among the token's uploads.
pub(super) enum Earlier {
    /// The token's latest upload is unfinished and holds only this very chunk (same range, same
    /// bytes): the first chunk sent again because its reply was lost. It must not start a second
    /// video. (A complete one is not matched: sending the same file again is a new video, as
    /// the official clients expect.)
    Resent(VideoRecord),
    /// The token's latest upload holds nothing and nobody is writing it: its first chunk never
    /// committed (a crash, a failure). This chunk takes it over rather than leave it behind.
    Abandoned(VideoRecord),
}

/// The token's latest upload, if this first chunk was already sent to it or it was abandoned
/// before its first chunk committed. Waits for a first chunk in flight to finish. `tus`: the
/// chunk comes with a tus creation, and only a tus upload can be its earlier self (an upload
/// that tus created empty is never taken over: its creation was answered).
pub(super) async fn earlier_first_chunk(
    deps: ChunkDeps<'_>,
    token: &UploadToken,
    chunk: &IncomingChunk,
    holder: &str,
    tus: bool,
) -> Result<Option<Earlier>, UseCaseError> {
    for _ in 0..2 {
        let Some(latest) = deps.videos.latest_video_of_token(&token.id).await? else {
            return Ok(None);
        };
        if latest.progress.tus.is_some() != tus {
            return Ok(None);
        }
        if latest.is_abandoned(deps.clock.now(), deps.abandon_after) {
            // A tus creation leaves it to the sweep (and to a request naming it): it holds
            // no rights to remove what it did not create.
            if !tus {
                abandoned::remove(deps.videos, deps.blobs, &latest).await?;
            }
            return Ok(None);
        }
        match latest.progress.chunk_count {
            0 if latest.progress.completed || latest.progress.mode.is_some() => return Ok(None),
            0 => match &latest.lease {
                Some(lease) if lease.until > deps.clock.now() => {
                    deps.leases().wait(&latest.video.id, holder).await?;
                }
                _ => return Ok(Some(Earlier::Abandoned(latest))),
            },
            1 if !latest.progress.completed => {
                let index = UploadProgress::chunk_index(&chunk.range);
                let stored = deps.videos.get_chunk(&latest.video.id, index).await?;
                let same = stored.is_some()
                    && matches!(
                        latest
                            .progress
                            .judge(chunk, stored.as_ref(), deps.max_file_bytes),
                        Ok(Verdict::Duplicate)
                    );
                return Ok(same.then_some(Earlier::Resent(latest)));
            }
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// A new, empty video of the token's project (`progress` as its upload starts), counted against
/// the token's `maxUploads`. For a first chunk, created with `holder`'s write lease already held,
/// so that nobody mistakes it for an abandoned one while its first chunk is being written.
pub(super) async fn new_video(
    deps: ChunkDeps<'_>,
    token: &UploadToken,
    file_name: Option<&str>,
    progress: UploadProgress,
    holder: Option<&str>,
) -> Result<VideoRecord, UseCaseError> {
    let now = deps.clock.now();
    let mut video = Video::new(
        token.project_id.clone(),
        Some(token.id.clone()),
        file_name,
        now,
    );
    if let Some(preset) = &token.policy.video {
        preset.apply_to(&mut video);
    }
    let mut record = VideoRecord {
        video,
        progress,
        blob: Default::default(),
        version: 0,
        lease: None,
    };
    if let Some(holder) = holder {
        deps.leases().for_new(&mut record, holder);
    }
    match deps.videos.insert_video(&record).await {
        Ok(()) => Ok(record),
        // A create whose reply was lost and which the SDK retried finds itself: success.
        Err(StoreError::AlreadyExists) => match deps.videos.get_video(&record.video.id).await? {
            Some(stored) if stored.video == record.video => Ok(stored),
            _ => Err(InternalError::new(
                "a new video's random id is already taken: the random generator is broken",
            )
            .into()),
        },
        Err(StoreError::UploadLimitReached) => Err(PolicyViolation::UploadLimitReached {
            max: token.policy.max_uploads.unwrap_or_default(),
        }
        .into()),
        Err(e) => Err(e.into()),
    }
}

/// The clients' one-shot chunked methods never send `videoId` after the first chunk. Such a
/// chunk goes to the token's upload that it exactly continues, when there is exactly one.
async fn continued_upload(
    deps: ChunkDeps<'_>,
    token: &UploadToken,
    range: &ContentRange,
) -> Result<VideoRecord, UseCaseError> {
    // Abandoned uploads are passed over (and removed on the way).
    let now = deps.clock.now();
    let (gone, uploads): (Vec<_>, Vec<_>) = deps
        .videos
        .uploading_videos_of_token(&token.id)
        .await?
        .into_iter()
        .partition(|r| r.is_abandoned(now, deps.abandon_after));
    abandoned::sweep(
        deps.videos,
        deps.blobs,
        deps.clock,
        deps.abandon_after,
        gone,
    )
    .await;
    let continues = |r: &&VideoRecord| {
        let p = &r.progress;
        // Only tus requests continue a tus upload (they name it in their URL).
        p.tus.is_none()
            && match *range {
                ContentRange::Part { n, total } => {
                    p.mode == Some(UploadMode::Part)
                        && total.is_some()
                        && p.total == total.map(u64::from)
                        && p.chunk_count + 1 == n
                }
                ContentRange::Bytes { from, total, .. } => {
                    p.mode == Some(UploadMode::Bytes)
                        && total.is_some()
                        && p.total == total
                        && p.received_bytes == from
                }
                ContentRange::Whole => false,
            }
    };
    let mut candidates = uploads.iter().filter(continues);
    match (candidates.next(), candidates.next()) {
        (Some(one), None) => Ok(one.clone()),
        _ => Err(UseCaseError::VideoIdRequired(format!(
            "{range} is not a first chunk and does not continue exactly one upload of this \
             token: send the videoId returned by the first chunk"
        ))),
    }
}
