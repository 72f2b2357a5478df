//! Uploads straight to the store (S3-direct, the protocol of Uppy's `@uppy/aws-s3`): the client
//! writes the bytes to presigned URLs (S3's, or the local server's own), the server only signs,
//! and checks before anything counts as uploaded. The same videos, tokens and policy as
//! `/upload`: a video is started (and counted against `maxUploads`) when the upload starts, and
//! becomes uploaded only when the server has listed what the store holds and checked it
//! (`maxFileBytes` on the size, `allowedContentTypes` on the first bytes); a refusal removes
//! the bytes and the video.
//!
//! Keys and upload ids are the server's: a request naming a key or an upload id that is not
//! its token's video's is refused. Presigned URLs expire no later than the token.

use super::UseCaseError;
use super::abandoned;
use super::lease::Leases;
use super::retry::{Attempt, until_done};
use crate::auth::AccessTokenSigner;
use crate::domain::{
    Clock, PolicyViolation, ReceivedChunk, SNIFF_BYTES, TokenPolicy, UploadProgress, UploadToken,
    Video, VideoId,
};
use crate::internal::InternalError;
use crate::store::blob::{BlobProgress, BlobStore, DirectPart, DirectPost, MIN_PART_BYTES};
use crate::store::{StoreError, TokenReader, VideoRecord, VideoStore};
use std::time::Duration;

/// Longest a presigned URL lives (less when the token expires sooner).
pub const URL_LIFETIME: Duration = Duration::from_secs(3600);
/// Largest single-request upload (S3's limit for a POST).
pub const MAX_POST_BYTES: u64 = 5 * 1024 * 1024 * 1024;
/// Most parts of a multipart upload.
pub const MAX_PART_NUMBER: u32 = 10_000;

/// What direct uploads need.
#[derive(Clone, Copy)]
pub struct DirectDeps<'a> {
    /// Videos.
    pub videos: &'a dyn VideoStore,
    /// Tokens (a posted upload is checked against its token's policy as it is now).
    pub tokens: &'a dyn TokenReader,
    /// Where the bytes are.
    pub blobs: &'a dyn BlobStore,
    /// Where "now" comes from.
    pub clock: &'a dyn Clock,
    /// Signs the local server's own URLs, when the store has none.
    pub signer: &'a AccessTokenSigner,
    /// Largest file accepted, in bytes.
    pub max_file_bytes: u64,
}

/// Where a client sends bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A presigned URL of the store.
    Url(String),
    /// A signed path of this server (the caller puts its base URL before it).
    Local(String),
}

/// A single-request upload, started: the video, and the form that writes its file.
#[derive(Debug, Clone)]
pub struct StartedPost {
    /// The new video.
    pub record: VideoRecord,
    /// Where the form goes.
    pub url: Target,
    /// Its fields, in order (the file goes last).
    pub fields: Vec<(String, String)>,
}

/// How long a URL for `token` may live from `now`: [`URL_LIFETIME`], or until the token expires.
fn url_lifetime(token: &UploadToken, now: chrono::DateTime<chrono::Utc>) -> Duration {
    token
        .expires_at()
        .and_then(|at| (at - now).to_std().ok())
        .map_or(URL_LIFETIME, |left| left.min(URL_LIFETIME))
        .max(Duration::from_secs(1))
}

/// The largest file `policy` lets a direct upload write.
fn size_limit(deps: &DirectDeps<'_>, policy: &TokenPolicy) -> u64 {
    deps.max_file_bytes
        .min(policy.max_file_bytes.unwrap_or(u64::MAX))
}

/// A new video of `token` for a direct upload (the token's preset applied), counted against
/// its `maxUploads` as it is stored.
async fn new_video(
    deps: &DirectDeps<'_>,
    token: &UploadToken,
    file_name: Option<&str>,
    id: VideoId,
    upload_id: Option<String>,
) -> Result<VideoRecord, UseCaseError> {
    let mut video = Video::new(
        token.project_id.clone(),
        Some(token.id.clone()),
        file_name,
        deps.clock.now(),
    );
    video.id = id;
    if let Some(preset) = &token.policy.video {
        preset.apply_to(&mut video);
    }
    let record = VideoRecord {
        video,
        progress: UploadProgress::direct(),
        blob: BlobProgress {
            upload_id,
            ..BlobProgress::default()
        },
        version: 0,
        lease: None,
    };
    match deps.videos.insert_video(&record).await {
        Ok(()) => Ok(record),
        Err(StoreError::AlreadyExists) => match deps.videos.get_video(&record.video.id).await? {
            // A create whose reply was lost and which the SDK retried finds itself.
            Some(stored) if stored.video == record.video => Ok(stored),
            _ => Err(InternalError::new("a new video's random id is already taken").into()),
        },
        Err(StoreError::UploadLimitReached) => Err(PolicyViolation::UploadLimitReached {
            max: token.policy.max_uploads.unwrap_or_default(),
        }
        .into()),
        Err(e) => Err(e.into()),
    }
}

/// `GET params`: starts a single-request upload of a file declared `content_type`: a new video,
/// and a form whose policy fixes the key, the type, and 1 to the token's (or the deployment's)
/// limit of bytes.
pub async fn start_post(
    deps: DirectDeps<'_>,
    token: &UploadToken,
    file_name: Option<&str>,
    content_type: &str,
) -> Result<StartedPost, UseCaseError> {
    token.policy.check_declared_type(Some(content_type))?;
    let max = size_limit(&deps, &token.policy).min(MAX_POST_BYTES);
    let record = new_video(&deps, token, file_name, VideoId::generate(), None).await?;
    let lifetime = url_lifetime(token, deps.clock.now());
    let key = record.blob_key();
    let form = deps
        .blobs
        .direct_post_form(&key, content_type, max, lifetime)
        .await?;
    let (url, fields) = match form {
        Some(form) => (Target::Url(form.url), form.fields),
        None => {
            let expires = deps.clock.now().timestamp() + lifetime.as_secs() as i64;
            let id = &record.video.id;
            let signature = deps
                .signer
                .sign(&post_message(id, content_type, max, expires));
            (
                Target::Local(format!("/direct/{id}/post")),
                vec![
                    ("Content-Type".to_owned(), content_type.to_owned()),
                    ("max".to_owned(), max.to_string()),
                    ("expires".to_owned(), expires.to_string()),
                    ("signature".to_owned(), signature),
                ],
            )
        }
    };
    tracing::info!(video = %record.video.id, "direct upload started (one request)");
    Ok(StartedPost {
        record,
        url,
        fields,
    })
}

fn post_message(id: &VideoId, content_type: &str, max: u64, expires: i64) -> String {
    format!("direct-post.v1:{id}:{max}:{expires}:{content_type}")
}

fn part_message(id: &VideoId, upload_id: &str, number: u32, expires: i64) -> String {
    format!("direct-part.v1:{id}:{upload_id}:{number}:{expires}")
}

/// What a local signed POST form allows, once its signature checks out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostAllowance {
    /// The video it writes.
    pub record: VideoRecord,
    /// The content type it was signed for.
    pub content_type: String,
    /// Most bytes.
    pub max: u64,
}

/// Checks the fields of a local POST form (the local server plays S3): the video's upload,
/// unexpired, signed by this server for exactly this type and size.
pub async fn authorize_local_post(
    deps: DirectDeps<'_>,
    id: &VideoId,
    content_type: &str,
    max: u64,
    expires: i64,
    signature: &str,
) -> Result<PostAllowance, UseCaseError> {
    if expires <= deps.clock.now().timestamp()
        || !deps
            .signer
            .verify_signature(&post_message(id, content_type, max, expires), signature)
    {
        return Err(UseCaseError::DownloadLinkInvalid);
    }
    match deps.videos.get_video(id).await? {
        Some(record) if record.is_uploading() && record.blob.upload_id.is_none() => {
            Ok(PostAllowance {
                record,
                content_type: content_type.to_owned(),
                max,
            })
        }
        _ => Err(UseCaseError::UploadTargetNotFound(
            "no single-request upload is waiting for this video",
        )),
    }
}

/// Checks a local signed part URL: the video's own, unfinished upload, unexpired.
pub async fn authorize_local_part(
    deps: DirectDeps<'_>,
    id: &VideoId,
    upload_id: &str,
    number: u32,
    expires: i64,
    signature: &str,
) -> Result<VideoRecord, UseCaseError> {
    if expires <= deps.clock.now().timestamp()
        || !deps
            .signer
            .verify_signature(&part_message(id, upload_id, number, expires), signature)
    {
        return Err(UseCaseError::DownloadLinkInvalid);
    }
    match deps.videos.get_video(id).await? {
        Some(record)
            if record.is_uploading() && record.blob.upload_id.as_deref() == Some(upload_id) =>
        {
            Ok(record)
        }
        _ => Err(UseCaseError::UploadTargetNotFound(
            "no multipart upload of this video has this id",
        )),
    }
}

/// `POST multipart`: starts a multipart upload of a file declared `content_type`: a new video
/// whose upload id the store made; its key is the video's blob key.
pub async fn start_multipart(
    deps: DirectDeps<'_>,
    token: &UploadToken,
    file_name: Option<&str>,
    content_type: &str,
) -> Result<VideoRecord, UseCaseError> {
    token.policy.check_declared_type(Some(content_type))?;
    // The video's id is chosen first: the upload is made for its key.
    let id = VideoId::generate();
    let key = format!("videos/{id}/source");
    let upload_id = deps.blobs.start_direct(&key, content_type).await?;
    let record = match new_video(&deps, token, file_name, id, Some(upload_id.clone())).await {
        Ok(record) => record,
        Err(e) => {
            if let Err(abort) = deps.blobs.abort_direct(&key, &upload_id).await {
                tracing::warn!(error = %crate::internal::ErrorChain(&abort), key, "unused upload not aborted");
            }
            return Err(e);
        }
    };
    tracing::info!(video = %record.video.id, "direct upload started (multipart)");
    Ok(record)
}

/// The token's direct upload that `key` and `upload_id` name; [`UseCaseError::NotThisUpload`]
/// when they are not its token's video's.
pub async fn upload_of(
    deps: DirectDeps<'_>,
    token: &UploadToken,
    key: &str,
    upload_id: &str,
) -> Result<VideoRecord, UseCaseError> {
    let id = key
        .strip_prefix("videos/")
        .and_then(|rest| rest.strip_suffix("/source"))
        .and_then(|id| VideoId::parse(id).ok())
        .ok_or(UseCaseError::NotThisUpload)?;
    match deps.videos.get_video(&id).await? {
        Some(record)
            if record.video.token_id.as_ref() == Some(&token.id)
                && record.blob.upload_id.as_deref() == Some(upload_id) =>
        {
            Ok(record)
        }
        Some(_) => Err(UseCaseError::NotThisUpload),
        None => Err(UseCaseError::UploadTargetNotFound(
            "this upload is gone (aborted, refused or abandoned): start a new upload",
        )),
    }
}

/// `GET multipart/{uploadId}/{partNumber}`: where the client PUTs part `number`, and for how
/// many seconds.
pub async fn sign_part(
    deps: DirectDeps<'_>,
    token: &UploadToken,
    key: &str,
    upload_id: &str,
    number: u32,
) -> Result<(Target, u64), UseCaseError> {
    if !(1..=MAX_PART_NUMBER).contains(&number) {
        return Err(UseCaseError::DirectInvalid(format!(
            "a part number is 1 to {MAX_PART_NUMBER}"
        )));
    }
    let record = upload_of(deps, token, key, upload_id).await?;
    if record.progress.completed {
        return Err(UseCaseError::DirectInvalid(
            "this upload is complete".into(),
        ));
    }
    let lifetime = url_lifetime(token, deps.clock.now());
    let target = match deps
        .blobs
        .direct_part_url(key, upload_id, number, lifetime)
        .await?
    {
        Some(url) => Target::Url(url),
        None => {
            let expires = deps.clock.now().timestamp() + lifetime.as_secs() as i64;
            let id = &record.video.id;
            let signature = deps
                .signer
                .sign(&part_message(id, upload_id, number, expires));
            Target::Local(format!(
                "/direct/{id}/parts/{number}?uploadId={upload_id}&expires={expires}&signature={signature}"
            ))
        }
    };
    Ok((target, lifetime.as_secs()))
}

/// `GET multipart/{uploadId}`: the parts the store holds.
pub async fn list_parts(
    deps: DirectDeps<'_>,
    token: &UploadToken,
    key: &str,
    upload_id: &str,
) -> Result<Vec<DirectPart>, UseCaseError> {
    let record = upload_of(deps, token, key, upload_id).await?;
    if record.progress.completed {
        return Ok(Vec::new());
    }
    parts_or_gone(deps, &record, upload_id).await
}

/// The parts of `record`'s upload. An upload gone from the store was either aborted by the
/// bucket's lifecycle rule (the video is removed: 404), or completed by a request whose commit
/// did not happen (its reply lost, a crash): then it is completed again with its parts.
async fn parts_or_gone(
    deps: DirectDeps<'_>,
    record: &VideoRecord,
    upload_id: &str,
) -> Result<Vec<DirectPart>, UseCaseError> {
    let key = record.blob_key();
    match deps.blobs.direct_parts(&key, upload_id).await {
        Err(StoreError::BlobGone(what)) => {
            if deps
                .blobs
                .completed_direct(&key, upload_id, None)
                .await?
                .is_some()
            {
                return Err(UseCaseError::DirectInvalid(
                    "this upload was completed: complete it again with its parts".into(),
                ));
            }
            gone(deps, record, &what).await
        }
        other => Ok(other?),
    }
}

/// Removes `record`, whose upload the store no longer has (aborted by the lifecycle rule).
async fn gone<T>(
    deps: DirectDeps<'_>,
    record: &VideoRecord,
    what: &str,
) -> Result<T, UseCaseError> {
    tracing::warn!(video = %record.video.id, what, "a direct upload's parts are gone");
    abandoned::remove(deps.videos, deps.blobs, record).await?;
    Err(UseCaseError::UploadTargetNotFound(abandoned::GONE))
}

/// `POST multipart/{uploadId}/complete`: the server's check. It lists the parts itself (they
/// must be the ones the client names), checks their sizes, the total against `maxFileBytes`
/// and the file's first bytes against `allowedContentTypes`, then completes the video. A
/// refusal removes the bytes and the video. A complete retried (its reply lost), or sent twice
/// at once, finds the video uploaded, or the store's completion of exactly these parts and
/// commits it: never a second video, never other bytes.
pub async fn complete(
    deps: DirectDeps<'_>,
    token: &UploadToken,
    key: &str,
    upload_id: &str,
    claimed: &[(u32, String)],
) -> Result<VideoRecord, UseCaseError> {
    let record = upload_of(deps, token, key, upload_id).await?;
    if record.progress.completed {
        return Ok(record);
    }
    let named: Vec<(u32, &str)> = claimed
        .iter()
        .map(|(n, etag)| (*n, etag.trim_matches('"')))
        .collect();
    let total = match deps.blobs.direct_parts(key, upload_id).await {
        Ok(parts) => {
            let total = checked_parts(&parts, &named)?;
            if let Err(refusal) = check_size(&deps, &token.policy, total) {
                refuse(deps, &record).await;
                return Err(refusal);
            }
            match deps.blobs.finish_direct(key, upload_id, &parts).await {
                Ok(()) => total,
                // A concurrent complete got there first: its object is these parts, or not.
                Err(e) => match deps
                    .blobs
                    .completed_direct(key, upload_id, Some(&named))
                    .await?
                {
                    Some(size) => size,
                    None => return completed_meanwhile(deps, &record, e.into()).await,
                },
            }
        }
        Err(StoreError::BlobGone(what)) => {
            match deps
                .blobs
                .completed_direct(key, upload_id, Some(&named))
                .await?
            {
                // Completed by an earlier attempt whose commit did not happen.
                Some(size) => size,
                None if deps
                    .blobs
                    .completed_direct(key, upload_id, None)
                    .await?
                    .is_some() =>
                {
                    return completed_meanwhile(
                        deps,
                        &record,
                        UseCaseError::DirectInvalid(
                            "the parts named are not the ones this upload was completed with"
                                .into(),
                        ),
                    )
                    .await;
                }
                None => return gone(deps, &record, &what).await,
            }
        }
        Err(e) => return Err(e.into()),
    };
    if let Err(refusal) = check_size(&deps, &token.policy, total) {
        refuse(deps, &record).await;
        return Err(refusal);
    }
    let first = deps.blobs.read_start(key, SNIFF_BYTES).await?;
    if let Err(refusal) = token.policy.check_file_start(&first, true) {
        refuse(deps, &record).await;
        return Err(refusal.into());
    }
    let committed = commit(deps, record, total).await?;
    if let Err(e) = deps.blobs.forget_direct(key, upload_id).await {
        tracing::warn!(error = %crate::internal::ErrorChain(&e), video = %committed.video.id, "a completed upload's parts were not let go (removed with the video)");
    }
    Ok(committed)
}

/// The parts the store lists, checked against those the client names; their total size.
fn checked_parts(parts: &[DirectPart], named: &[(u32, &str)]) -> Result<u64, UseCaseError> {
    let listed: Vec<(u32, &str)> = parts.iter().map(|p| (p.number, p.etag.as_str())).collect();
    if parts.is_empty() || listed != named {
        return Err(UseCaseError::DirectInvalid(format!(
            "the parts named ({}) are not the {} part(s) the store holds: list them \
             (GET multipart/{{uploadId}}) and complete with those",
            named.len(),
            listed.len()
        )));
    }
    if let Some((_, full)) = parts.split_last()
        && let Some(small) = full.iter().find(|p| p.size < MIN_PART_BYTES)
    {
        return Err(UseCaseError::DirectInvalid(format!(
            "part {} has {} bytes: every part but the last has at least 5 MiB",
            small.number, small.size
        )));
    }
    Ok(parts.iter().map(|p| p.size).sum())
}

/// `record` as it is now if a concurrent request completed it, else `error`.
async fn completed_meanwhile(
    deps: DirectDeps<'_>,
    record: &VideoRecord,
    error: UseCaseError,
) -> Result<VideoRecord, UseCaseError> {
    match deps.videos.get_video(&record.video.id).await? {
        Some(now) if now.progress.completed => Ok(now),
        _ => Err(error),
    }
}

/// The size of a direct upload against the deployment's maximum and the token's.
fn check_size(deps: &DirectDeps<'_>, policy: &TokenPolicy, total: u64) -> Result<(), UseCaseError> {
    if total > deps.max_file_bytes {
        return Err(crate::domain::UploadRuleError::TooLarge {
            max: deps.max_file_bytes,
        }
        .into());
    }
    Ok(policy.check_size(total)?)
}

/// Removes a refused upload: the video record, then every byte of it.
async fn refuse(deps: DirectDeps<'_>, record: &VideoRecord) {
    if let Err(e) = abandoned::remove(deps.videos, deps.blobs, record).await {
        tracing::warn!(error = %crate::internal::ErrorChain(&e), video = %record.video.id, "a refused direct upload was not removed");
    }
}

/// The video of a checked direct upload of `size` bytes, committed as uploaded (and counted in
/// its token's usage), retried from a fresh read if it changed meanwhile.
async fn commit(
    deps: DirectDeps<'_>,
    record: VideoRecord,
    size: u64,
) -> Result<VideoRecord, UseCaseError> {
    let id = record.video.id.clone();
    let (id, first) = (&id, &record);
    until_done(move |attempt| async move {
        let mut next = if attempt == 0 {
            first.clone()
        } else {
            match deps.videos.get_video(id).await? {
                Some(now) if now.progress.completed => return Ok(Attempt::Done(now)),
                Some(now) => now,
                None => {
                    return Err(UseCaseError::UploadTargetNotFound(
                        "the video was deleted during the upload",
                    ));
                }
            }
        };
        next.progress.complete_direct(size);
        next.lease = None;
        next.blob.staged = 0;
        next.blob.written = size;
        next.blob.completed = true;
        next.version += 1;
        let now = deps.clock.now();
        next.video.updated_at = now;
        next.video.published_at = Some(now);
        let chunk = ReceivedChunk {
            offset: 0,
            size,
            part: 0,
            sha256: String::new(),
        };
        let committed = match deps.videos.update_video(&next, Some((0, &chunk))).await {
            Ok(committed) => committed,
            // Applied, its reply lost: the re-read tells.
            Err(e) => match deps.videos.get_video(id).await {
                Ok(Some(now)) if now.version == next.version && now.progress.completed => true,
                _ => return Err(e.into()),
            },
        };
        if committed {
            tracing::info!(video = %next.video.id, bytes = size, "direct upload complete");
            Ok(Attempt::Done(next))
        } else {
            Ok(Attempt::Lost)
        }
    })
    .await
}

/// `DELETE multipart/{uploadId}`: aborts the upload and removes its video.
pub async fn abort(
    deps: DirectDeps<'_>,
    token: &UploadToken,
    key: &str,
    upload_id: &str,
) -> Result<(), UseCaseError> {
    let record = upload_of(deps, token, key, upload_id).await?;
    if record.progress.completed {
        return Err(UseCaseError::DirectInvalid(
            "this upload is complete: delete the video instead".into(),
        ));
    }
    if abandoned::remove(deps.videos, deps.blobs, &record).await? {
        tracing::info!(video = %record.video.id, "direct upload aborted");
        Ok(())
    } else {
        Err(UseCaseError::Busy)
    }
}

/// A single-request upload waiting for its check (a POST form was handed out, nothing is
/// accepted yet): checks and completes it if its file arrived, else returns it as it is. The
/// file is checked against its token's policy as the token is now; a token deleted or expired
/// meanwhile refuses it. What reading such a video does, and on AWS the bucket's
/// `ObjectCreated` event.
pub async fn settle_post(
    deps: DirectDeps<'_>,
    record: VideoRecord,
) -> Result<VideoRecord, UseCaseError> {
    let leases = Leases {
        videos: deps.videos,
        clock: deps.clock,
    };
    let holder = crate::domain::random_alphanumeric(20);
    let mut record = record;
    for _ in 0..crate::usecases::WRITE_ATTEMPTS {
        if !awaits_post(&record) {
            return Ok(record);
        }
        // Only the lease holder moves a posted file into place: two settles (the bucket's
        // event and a read) never copy two different posts over each other.
        let Some(mut held) = leases.take(record.clone(), &holder).await? else {
            record = deps
                .videos
                .get_video(&record.video.id)
                .await?
                .ok_or(UseCaseError::UploadTargetNotFound(abandoned::GONE))?;
            continue;
        };
        let checked = held.record.clone();
        let outcome = leases
            .write_under(&mut held, settle_held(deps, &checked))
            .await;
        return match outcome {
            Ok(Settled::Accepted(claim)) => {
                let committed = commit(deps, held.record, claim.size).await?;
                // Only now: until the video records the file, a check started again (after a
                // crash) must find the claim and accept the same bytes again.
                if let Err(e) = deps
                    .blobs
                    .drop_direct_post(&committed.blob_key(), &claim)
                    .await
                {
                    tracing::warn!(error = %crate::internal::ErrorChain(&e), video = %committed.video.id, "an accepted post's claim was not dropped (the bucket's lifecycle removes it)");
                }
                Ok(committed)
            }
            Ok(Settled::NotYet) => {
                leases.release(&held.record).await;
                Ok(held.record)
            }
            Ok(Settled::Refused(refusal)) => {
                tracing::info!(video = %held.record.video.id, error = %refusal, "a posted file is refused");
                refuse(deps, &held.record).await;
                Err(refusal)
            }
            Err(e) => {
                leases.release(&held.record).await;
                Err(e)
            }
        };
    }
    Err(UseCaseError::Busy)
}

/// Under the write lease of `record`: takes its posted file, if any, checks it against its
/// token's policy as the token is now (a token deleted or expired meanwhile refuses it), and
/// moves it into place (the claim kept until the video records it). A refusal deletes the
/// posted file and is returned.
async fn settle_held(deps: DirectDeps<'_>, record: &VideoRecord) -> Result<Settled, StoreError> {
    let key = record.blob_key();
    // Re-claimed when posted over between the claim and the move.
    for _ in 0..3 {
        let Some(claim) = deps.blobs.claim_direct_post(&key, SNIFF_BYTES).await? else {
            return Ok(Settled::NotYet);
        };
        let token = match &record.video.token_id {
            Some(id) => deps.tokens.find_token(id, deps.clock.now()).await?,
            None => None,
        };
        let verdict = match &token {
            None => Err(UseCaseError::TokenGone),
            Some(_) if claim.size == 0 => {
                Err(UseCaseError::DirectInvalid("the file is empty".into()))
            }
            Some(token) => check_size(&deps, &token.policy, claim.size)
                .and_then(|()| Ok(token.policy.check_file_start(&claim.first, true)?)),
        };
        if let Err(refusal) = verdict {
            deps.blobs.drop_direct_post(&key, &claim).await?;
            return Ok(Settled::Refused(refusal));
        }
        match deps.blobs.accept_direct_post(&key, &claim).await {
            Ok(()) => return Ok(Settled::Accepted(claim)),
            Err(StoreError::BlobGone(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(InternalError::new("a posted file kept changing while it was checked").into())
}

/// What [`settle_held`] found.
enum Settled {
    /// The posted file passed its checks and is in place; its claim is still held.
    Accepted(DirectPost),
    /// The posted file was refused, and deleted.
    Refused(UseCaseError),
    /// No file was posted yet.
    NotYet,
}

/// Whether `record` is a single-request direct upload whose file is not checked yet.
pub fn awaits_post(record: &VideoRecord) -> bool {
    record.progress.mode == Some(crate::domain::UploadMode::Direct)
        && !record.progress.completed
        && record.blob.upload_id.is_none()
}

/// The bucket's `ObjectCreated` events for single-request uploads: settles the video of each
/// posted object's key ([`crate::store::blob::direct_post_key`]'s), as reading it would; how
/// many were completed. A refused file is removed with its video (logged); a failure of the
/// store is returned, so that the event is delivered again.
pub async fn settle_posted_keys(
    deps: DirectDeps<'_>,
    keys: impl IntoIterator<Item = &str>,
) -> Result<usize, StoreError> {
    let mut completed = 0;
    for key in keys {
        let Some(id) = crate::store::blob::video_of_direct_post_key(key) else {
            tracing::info!(key, "an object that is not a posted upload");
            continue;
        };
        let Some(record) = deps.videos.get_video(&id).await? else {
            tracing::info!(video = %id, "a posted object of no video");
            continue;
        };
        match settle_post(deps, record).await {
            Ok(record) if record.progress.completed => completed += 1,
            Ok(_) => {}
            Err(UseCaseError::Store(e)) => return Err(e),
            // Refused (and removed), or changed meanwhile: logged by settle_post.
            Err(e) => tracing::info!(video = %id, error = %e, "a posted object not completed"),
        }
    }
    Ok(completed)
}
