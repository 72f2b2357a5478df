//! `/videos/{id}`: read, edit, delete a video; `/videos/{id}/status`: what the upload has
//! received (how a client resumes).

use super::body::json_object;
use super::respond::{finish, json, no_content};
use super::{ApiError, Media, Request, Response, authenticate};
use crate::domain::{Metadata, ProjectId, UploadMode, VideoId, VideoPatch, format_timestamp};
use crate::store::VideoRecord;
use http::{StatusCode, header};
use serde::Serialize;

/// Most attempts at a conditional write before giving up with a 500 (each lost one means another
/// writer changed the video in between).
pub(super) const WRITE_ATTEMPTS: usize = 8;

#[derive(Debug, Serialize)]
struct SourceBody {
    uri: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Debug, Serialize)]
struct AssetsBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    mp4: Option<String>,
}

/// A video on the wire.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct VideoBody {
    video_id: String,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    tags: Vec<String>,
    metadata: Vec<Metadata>,
    public: bool,
    panoramic: bool,
    mp4_support: bool,
    discarded: bool,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    published_at: Option<String>,
    source: SourceBody,
    assets: AssetsBody,
}

/// The Video JSON for `record`, with `assets.mp4` once the file is complete.
pub(super) async fn video_body(
    media: &Media,
    req: &Request,
    record: &VideoRecord,
) -> Result<VideoBody, ApiError> {
    let v = &record.video;
    Ok(VideoBody {
        video_id: v.id.to_string(),
        title: v.title.clone(),
        description: v.description.clone(),
        tags: v.tags.clone(),
        metadata: v.metadata.clone(),
        public: v.public,
        panoramic: v.panoramic,
        mp4_support: v.mp4_support,
        discarded: false,
        created_at: format_timestamp(v.created_at),
        updated_at: format_timestamp(v.updated_at),
        published_at: v.published_at.map(format_timestamp),
        source: SourceBody {
            uri: format!("/videos/{}/source", v.id),
            kind: "upload",
        },
        assets: AssetsBody {
            mp4: mp4_url(media, req, record).await?,
        },
    })
}

/// A presigned S3 GET on AWS; on stores without URLs, a link to this server signed with the
/// access-token key and valid as long.
async fn mp4_url(
    media: &Media,
    req: &Request,
    record: &VideoRecord,
) -> Result<Option<String>, ApiError> {
    if !record.progress.completed {
        return Ok(None);
    }
    let valid_for = media.limits.download_valid_for;
    if let Some(url) = media
        .blobs
        .download_url(&record.blob_key(), valid_for)
        .await?
    {
        return Ok(Some(url));
    }
    let expires = media.app.clock.now().timestamp() + valid_for.as_secs() as i64;
    let id = &record.video.id;
    let signature = media.app.signer.sign(&download_message(id, expires));
    Ok(Some(format!(
        "{}/downloads/{id}?expires={expires}&signature={signature}",
        base_url(req)
    )))
}

fn download_message(id: &VideoId, expires: i64) -> String {
    format!("download:{id}:{expires}")
}

/// `scheme://host` the client reached this server at.
fn base_url(req: &Request) -> String {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or("127.0.0.1");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().scheme_str())
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// Checks a `/downloads/{id}?expires&signature` link and returns the completed video it opens.
pub async fn authorize_download(
    media: &Media,
    video: &str,
    query: Option<&str>,
) -> Result<VideoRecord, ApiError> {
    let not_found = || ApiError::NotFound("video");
    let id = VideoId::parse(video).map_err(|_| not_found())?;
    let mut expires = None;
    let mut signature = None;
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "expires" => expires = v.parse::<i64>().ok(),
            "signature" => signature = Some(v.into_owned()),
            _ => {}
        }
    }
    let (Some(expires), Some(signature)) = (expires, signature) else {
        return Err(not_found());
    };
    if expires <= media.app.clock.now().timestamp()
        || !media
            .app
            .signer
            .verify_signature(&download_message(&id, expires), &signature)
    {
        return Err(ApiError::reject(
            403,
            "download-link-invalid",
            "The download link is invalid or expired.",
            None,
            "ask the API for the video again to get a fresh assets.mp4 link",
        ));
    }
    match media.app.store.get_video(&id).await? {
        Some(record) if record.progress.completed => Ok(record),
        _ => Err(not_found()),
    }
}

/// The caller's video, or 404 naming `videoId`.
async fn owned_video(
    media: &Media,
    project: &ProjectId,
    video: &str,
) -> Result<VideoRecord, ApiError> {
    let id = VideoId::parse(video).map_err(|_| ApiError::NotFound("videoId"))?;
    match media.app.store.get_video(&id).await? {
        Some(record) if record.video.project_id == *project => Ok(record),
        _ => Err(ApiError::NotFound("videoId")),
    }
}

/// `GET /videos/{videoId}`.
pub async fn get_video(media: &Media, req: &Request, video: &str) -> Response {
    finish(
        async {
            let principal = authenticate(&media.app, req).await?;
            let record = owned_video(media, &principal.project_id, video).await?;
            Ok(json(
                StatusCode::OK,
                &video_body(media, req, &record).await?,
            ))
        }
        .await,
    )
}

/// `PATCH /videos/{videoId}` with any of title, description, tags, metadata, public, panoramic,
/// mp4Support.
pub async fn update_video(media: &Media, req: &Request, video: &str) -> Response {
    finish(
        async {
            let principal = authenticate(&media.app, req).await?;
            let patch = VideoPatch::parse(&json_object(req.body())?).map_err(|e| {
                ApiError::InvalidAttribute {
                    name: e.name,
                    detail: e.detail.to_owned(),
                }
            })?;
            for _ in 0..WRITE_ATTEMPTS {
                let mut record = owned_video(media, &principal.project_id, video).await?;
                patch
                    .clone()
                    .apply(&mut record.video, media.app.clock.now());
                record.version += 1;
                if media.app.store.update_video(&record, None).await? {
                    return Ok(json(
                        StatusCode::OK,
                        &video_body(media, req, &record).await?,
                    ));
                }
            }
            Err(contention())
        }
        .await,
    )
}

/// `DELETE /videos/{videoId}`: the record, then the stored bytes (or the unfinished upload).
pub async fn delete_video(media: &Media, req: &Request, video: &str) -> Response {
    finish(
        async {
            let principal = authenticate(&media.app, req).await?;
            for _ in 0..WRITE_ATTEMPTS {
                let record = owned_video(media, &principal.project_id, video).await?;
                if media
                    .app
                    .store
                    .delete_video(&record.video.id, record.version)
                    .await?
                {
                    // The record is gone first, so nothing can reach half-deleted bytes; a
                    // failure here leaves only unreachable garbage (and the log says so).
                    if let Err(e) = media.blobs.remove(&record.blob_key(), &record.blob).await {
                        tracing::error!(error = %e, video = %record.video.id, "stored bytes not removed");
                    }
                    return Ok(no_content());
                }
            }
            Err(contention())
        }
        .await,
    )
}

#[derive(Debug, Serialize)]
struct BytesRange {
    from: u64,
    to: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<u64>,
}

#[derive(Debug, Serialize)]
struct ReceivedParts {
    parts: Vec<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<u64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Ingest {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    filesize: Option<u64>,
    received_bytes: Vec<BytesRange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    received_parts: Option<ReceivedParts>,
}

#[derive(Debug, Serialize)]
struct Encoding {
    playable: bool,
    qualities: Vec<String>,
}

#[derive(Debug, Serialize)]
struct StatusBody {
    ingest: Ingest,
    encoding: Encoding,
}

/// `GET /videos/{videoId}/status`: what the server has, so a client can resume.
pub async fn video_status(media: &Media, req: &Request, video: &str) -> Response {
    finish(
        async {
            let principal = authenticate(&media.app, req).await?;
            let record = owned_video(media, &principal.project_id, video).await?;
            let p = &record.progress;
            let filesize = p.file_size();
            let received_bytes = if p.received_bytes > 0 {
                vec![BytesRange {
                    from: 0,
                    to: p.received_bytes - 1,
                    total: filesize,
                }]
            } else {
                Vec::new()
            };
            let received_parts = (p.mode == Some(UploadMode::Part)).then(|| ReceivedParts {
                parts: (1..=p.chunk_count).collect(),
                total: p.total,
            });
            Ok(json(
                StatusCode::OK,
                &StatusBody {
                    ingest: Ingest {
                        status: if p.completed { "uploaded" } else { "uploading" },
                        filesize,
                        received_bytes,
                        received_parts,
                    },
                    encoding: Encoding {
                        playable: false,
                        qualities: Vec::new(),
                    },
                },
            ))
        }
        .await,
    )
}

/// Every attempt at a conditional write lost to another writer.
pub(super) fn contention() -> ApiError {
    ApiError::reject(
        409,
        "video-busy",
        "The video is being changed by other requests.",
        Some("videoId"),
        "too many concurrent changes to this video; retry",
    )
}
