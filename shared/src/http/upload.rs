//! `POST /upload?token=<token>`: a frontend holding only an upload token sends a file, whole or
//! in chunks of any size, into the token's project.
//!
//! Each chunk: check the token (strongly consistent, expiry included), judge the chunk against
//! the video's progress, append its bytes to the blob, then commit progress and chunk record in
//! one conditional write. A lost race re-reads and judges again, so a retry is acknowledged and
//! stored once, and two writers can never corrupt the progress.

use super::cors;
use super::multipart::{self, UploadForm};
use super::respond::{finish, json};
use super::videos::{WRITE_ATTEMPTS, contention, video_body};
use super::{ApiError, Media, Request, Response};
use crate::domain::{
    ContentRange, IncomingChunk, InvalidContentRange, TokenId, UploadMode, UploadProgress,
    UploadRuleError, UploadToken, Verdict, Video, VideoId,
};
use crate::store::{StoreError, VideoRecord};
use http::{StatusCode, header};
use sha2::{Digest, Sha256};

/// `POST /upload`.
pub async fn upload(media: &Media, req: Request) -> Response {
    let origin = media.limits.allow_origin.clone();
    let response = finish(accept_chunk(media, req).await);
    cors::allow_origin(response, &origin)
}

/// `OPTIONS /upload`: the CORS preflight.
pub fn upload_preflight(media: &Media) -> Response {
    cors::preflight(&media.limits.allow_origin)
}

async fn accept_chunk(media: &Media, req: Request) -> Result<Response, ApiError> {
    // Authorization headers are ignored: the token in the query is the only credential.
    let token = upload_token(media, &req).await?;
    let range = ContentRange::parse(
        req.headers()
            .get("content-range")
            .map(|v| v.to_str().unwrap_or("\u{0}")),
    )
    .map_err(range_error)?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (parts, body) = req.into_parts();
    let form = multipart::parse(content_type.as_deref(), body).await?;
    let chunk = IncomingChunk {
        range,
        size: form.file.len() as u64,
        sha256: hex(&Sha256::digest(&form.file)),
    };
    // Refuse what no video could accept before creating one: a rejected request stores nothing.
    if form.video_id.is_none() && !continues_an_upload(&range) {
        UploadProgress::default()
            .judge(&chunk, None, media.limits.max_file_bytes)
            .map_err(rule_error)?;
    }
    let mut record = target_video(media, &token, &form, &chunk).await?;
    let request = Request::from_parts(parts, bytes::Bytes::new());
    for attempt in 0..WRITE_ATTEMPTS {
        if attempt > 0 {
            record = media
                .app
                .store
                .get_video(&record.video.id)
                .await?
                .ok_or_else(|| video_not_found("the video was deleted during the upload"))?;
        }
        let index = UploadProgress::chunk_index(&chunk.range);
        let stored = if record.progress.mode.is_some() && record.progress.covers(&chunk.range) {
            media.app.store.get_chunk(&record.video.id, index).await?
        } else {
            None
        };
        let verdict = record
            .progress
            .judge(&chunk, stored.as_ref(), media.limits.max_file_bytes)
            .map_err(rule_error)?;
        let (last, received) = match verdict {
            Verdict::Duplicate => {
                return Ok(json(
                    StatusCode::CREATED,
                    &video_body(media, &request, &record).await?,
                ));
            }
            Verdict::Accept { last, chunk } => (last, chunk),
        };
        let key = record.blob_key();
        let blob = media
            .blobs
            .append(&key, &record.blob, form.file.clone(), last)
            .await?;
        let mut next = record.clone();
        next.progress.record(&chunk, received.clone(), last);
        next.blob = blob;
        next.version += 1;
        let now = media.app.clock.now();
        next.video.updated_at = now;
        if last {
            next.video.published_at = Some(now);
        }
        if media
            .app
            .store
            .update_video(&next, Some((index, &received)))
            .await?
        {
            if let Err(e) = media.blobs.release(&key, &record.blob, &next.blob).await {
                tracing::warn!(error = %e, video = %next.video.id, "staged bytes not released");
            }
            tracing::info!(
                video = %next.video.id,
                range = %chunk.range,
                bytes = chunk.size,
                complete = last,
                "chunk stored"
            );
            return Ok(json(
                StatusCode::CREATED,
                &video_body(media, &request, &next).await?,
            ));
        }
    }
    Err(contention())
}

/// The active token named by `?token=`; 401 otherwise (one answer for unknown, expired and
/// deleted tokens).
async fn upload_token(media: &Media, req: &Request) -> Result<UploadToken, ApiError> {
    let value = form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::reject(
                401,
                "authentication-missing-upload-token",
                "The upload token is missing.",
                Some("token"),
                "call POST /upload?token=<upload token>",
            )
        })?;
    let invalid = || {
        ApiError::reject(
            401,
            "authentication-invalid-upload-token",
            "The upload token is invalid.",
            Some("token"),
            "the upload token is unknown, expired or deleted",
        )
    };
    let id = TokenId::parse(&value).map_err(|_| invalid())?;
    media
        .app
        .store
        .find_token(&id, media.app.clock.now())
        .await?
        .ok_or_else(invalid)
}

/// Whether a chunk without `videoId` can only belong to an upload already under way.
fn continues_an_upload(range: &ContentRange) -> bool {
    match *range {
        ContentRange::Whole => false,
        ContentRange::Bytes { from, .. } => from > 0,
        ContentRange::Part { n, .. } => n > 1,
    }
}

/// The video this chunk goes to: the one named by `videoId`, the one the missing-videoId rule
/// designates, or a new one for a first chunk.
async fn target_video(
    media: &Media,
    token: &UploadToken,
    form: &UploadForm,
    chunk: &IncomingChunk,
) -> Result<VideoRecord, ApiError> {
    if let Some(video) = &form.video_id {
        let id = VideoId::parse(video).map_err(|_| video_not_found("no video has this videoId"))?;
        return match media.app.store.get_video(&id).await? {
            Some(record) if record.video.project_id == token.project_id => Ok(record),
            _ => Err(video_not_found(
                "no video of this token's project has this videoId",
            )),
        };
    }
    if continues_an_upload(&chunk.range) {
        return attach(media, token, &chunk.range).await;
    }
    let record = VideoRecord {
        video: Video::new(
            token.project_id.clone(),
            Some(token.id.clone()),
            form.file_name.as_deref(),
            media.app.clock.now(),
        ),
        progress: UploadProgress::default(),
        blob: Default::default(),
        version: 0,
    };
    match media.app.store.insert_video(&record).await {
        Ok(()) => Ok(record),
        Err(StoreError::AlreadyExists) => Err(ApiError::Store(StoreError::Corrupt(
            "video id collision".into(),
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The clients' one-shot chunked methods never send `videoId` after the first chunk. Such a
/// chunk goes to the token's upload that it exactly continues, when there is exactly one.
async fn attach(
    media: &Media,
    token: &UploadToken,
    range: &ContentRange,
) -> Result<VideoRecord, ApiError> {
    let uploads = media.app.store.uploading_videos_of_token(&token.id).await?;
    let continues = |r: &&VideoRecord| {
        let p = &r.progress;
        match *range {
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
        _ => Err(ApiError::reject(
            400,
            "uploaded-file-video-id-required",
            "Send the videoId of the upload this chunk continues.",
            Some("videoId"),
            format!(
                "{range} is not a first chunk and does not continue exactly one upload of this \
                 token: send the videoId returned by the first chunk"
            ),
        )),
    }
}

fn video_not_found(detail: &str) -> ApiError {
    ApiError::reject(
        404,
        "uploaded-file-video-not-found",
        "The video to upload to was not found.",
        Some("videoId"),
        detail,
    )
}

fn range_error(e: InvalidContentRange) -> ApiError {
    ApiError::reject(
        400,
        "video-content-range-invalid",
        "The Content-Range header is invalid.",
        Some("Content-Range"),
        e.to_string(),
    )
}

fn rule_error(e: UploadRuleError) -> ApiError {
    let (slug, title) = match e {
        UploadRuleError::MixedModes { .. } => (
            "video-content-range-mixed",
            "Byte ranges and part numbers cannot be mixed.",
        ),
        UploadRuleError::TotalChanged { .. } => (
            "video-content-range-total-changed",
            "The total changed during the upload.",
        ),
        UploadRuleError::OutOfOrder { .. } => (
            "video-content-range-out-of-order",
            "This is not the next chunk.",
        ),
        UploadRuleError::LengthMismatch { .. } => (
            "video-content-range-length-mismatch",
            "The range does not match the file part's size.",
        ),
        UploadRuleError::Conflict { .. } => (
            "video-content-range-conflict",
            "This chunk was already received with different content.",
        ),
        UploadRuleError::PastTotal { .. } => (
            "video-content-range-past-total",
            "The chunk goes past the announced total.",
        ),
        UploadRuleError::TooManyParts => ("video-content-range-too-many-parts", "Too many parts."),
        UploadRuleError::Completed => (
            "uploaded-file-already-complete",
            "This video's file is already complete.",
        ),
        UploadRuleError::TooLarge { .. } => (
            "uploaded-file-too-large",
            "The file is larger than allowed.",
        ),
    };
    let name = match e {
        UploadRuleError::Completed | UploadRuleError::TooLarge { .. } => "file",
        _ => "Content-Range",
    };
    let detail = match &e {
        UploadRuleError::OutOfOrder { expected } => {
            format!("expected {expected}; GET /videos/{{videoId}}/status tells what was received")
        }
        other => other.to_string(),
    };
    ApiError::reject(400, slug, title, Some(name), detail)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
