//! `/videos/{id}`: read, edit, delete a video; `/videos/{id}/status`: what the upload has
//! received (how a client resumes).

use super::body::json_object;
use super::respond::{json, no_content};
use super::{ApiError, AppWithBlobs, Call, Request, Response};
use crate::domain::{UploadMode, VideoId, VideoPatch, format_timestamp};
use crate::store::VideoRecord;
use crate::usecases::UseCaseError;
use crate::usecases::videos::{self, DownloadDeps, DownloadLink};
use http::StatusCode;
use serde::Serialize;

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

/// A metadata pair on the wire.
#[derive(Debug, Serialize)]
struct MetadataBody {
    key: String,
    value: String,
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
    metadata: Vec<MetadataBody>,
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
    app: &AppWithBlobs,
    req: &Request,
    record: &VideoRecord,
) -> Result<VideoBody, ApiError> {
    let v = &record.video;
    let mp4 = videos::download_link(download_deps(app), record, app.settings.download_valid_for)
        .await?
        .map(|link| match link {
            DownloadLink::Url(url) => url,
            DownloadLink::Signed { path_and_query } => format!(
                "{}{path_and_query}",
                super::links::base_url(&app.settings, req)
            ),
        });
    Ok(VideoBody {
        video_id: v.id.to_string(),
        title: v.title.clone(),
        description: v.description.clone(),
        tags: v.tags.clone(),
        metadata: v
            .metadata
            .iter()
            .map(|m| MetadataBody {
                key: m.key.clone(),
                value: m.value.clone(),
            })
            .collect(),
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
        assets: AssetsBody { mp4 },
    })
}

fn download_deps(app: &AppWithBlobs) -> DownloadDeps<'_> {
    DownloadDeps {
        videos: app.app.store.as_ref(),
        blobs: app.blobs.as_ref(),
        signer: &app.app.signer,
        clock: app.app.clock.as_ref(),
    }
}

/// Checks a `/downloads/{id}?expires&signature` link and returns the completed video it opens.
pub async fn authorize_download(
    app: &AppWithBlobs,
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
    Ok(videos::authorize_download(download_deps(app), &id, expires, &signature).await?)
}

/// The `{videoId}` path parameter; a malformed one is as unknown as any other.
fn video_id(call: &Call) -> Result<VideoId, ApiError> {
    VideoId::parse(call.param("videoId")).map_err(|_| ApiError::NotFound("videoId"))
}

/// The caller's video the path names, as it is now: a single-request direct upload whose file
/// arrived is checked and completed first (a refused one is gone: 404).
async fn read(app: &AppWithBlobs, call: &Call) -> Result<crate::store::VideoRecord, ApiError> {
    let principal = call.principal()?;
    let record = videos::owned_video(
        app.app.store.as_ref(),
        &principal.project_id,
        &video_id(call)?,
    )
    .await?;
    if !crate::usecases::direct::awaits_post(&record) {
        return Ok(record);
    }
    crate::usecases::direct::settle_post(super::direct::deps(app), record)
        .await
        .map_err(|e| match e {
            UseCaseError::Policy(_)
            | UseCaseError::Rule(_)
            | UseCaseError::TokenGone
            | UseCaseError::DirectInvalid(_) => ApiError::NotFound("videoId"),
            other => other.into(),
        })
}

/// `GET /videos/{videoId}`.
pub(super) async fn get(app: &AppWithBlobs, call: Call) -> Result<Response, ApiError> {
    let record = read(app, &call).await?;
    Ok(json(
        StatusCode::OK,
        &video_body(app, &call.request, &record).await?,
    ))
}

/// `PATCH /videos/{videoId}` with any of title, description, tags, metadata, public, panoramic,
/// mp4Support.
pub(super) async fn update(app: &AppWithBlobs, call: Call) -> Result<Response, ApiError> {
    let principal = call.principal()?;
    let patch = VideoPatch::parse(&json_object(call.request.body().whole()?)?).map_err(|e| {
        ApiError::InvalidAttribute {
            name: e.name,
            detail: e.detail.to_owned(),
        }
    })?;
    let record = videos::update_video(
        app.app.store.as_ref(),
        app.app.clock.as_ref(),
        &principal.project_id,
        &video_id(&call)?,
        &patch,
    )
    .await?;
    Ok(json(
        StatusCode::OK,
        &video_body(app, &call.request, &record).await?,
    ))
}

/// `DELETE /videos/{videoId}`: the record, then the stored bytes (or the unfinished upload).
pub(super) async fn delete(app: &AppWithBlobs, call: Call) -> Result<Response, ApiError> {
    let principal = call.principal()?;
    videos::delete_video(
        app.app.store.as_ref(),
        app.blobs.as_ref(),
        &principal.project_id,
        &video_id(&call)?,
    )
    .await?;
    Ok(no_content())
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
pub(super) async fn status(app: &AppWithBlobs, call: Call) -> Result<Response, ApiError> {
    let record = read(app, &call).await?;
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
