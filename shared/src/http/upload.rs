//! `POST /upload?token=<token>`: a frontend holding only an upload token sends a file, whole or
//! in chunks of any size, into the token's project. The route table has checked the token; this
//! parses the chunk and renders the video ([`crate::usecases::chunks`] does the work).

use super::multipart;
use super::respond::json;
use super::videos::video_body;
use super::{ApiError, AppWithBlobs, Call, Response, Slug, cors};
use crate::domain::{ContentRange, UploadToken};
use crate::usecases::chunks::{self, ChunkDeps};
use http::{StatusCode, header};

/// `POST /upload`: 201 with the video, for a stored chunk and for a retried one alike.
pub(super) async fn upload(app: &AppWithBlobs, call: Call) -> Result<Response, ApiError> {
    let token = call.upload_token()?.clone();
    let headers = call.request.headers();
    let range = ContentRange::parse(
        headers
            .get("content-range")
            .map(|v| v.to_str().unwrap_or("\u{0}")),
    )
    .map_err(|e| {
        ApiError::reject(
            Slug::ContentRangeInvalid,
            Some("Content-Range"),
            e.to_string(),
        )
    })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (parts, body) = call.request.into_parts();
    let form = multipart::parse(
        content_type.as_deref(),
        body,
        app.settings.spool_dir.as_deref(),
        app.settings.max_file_bytes,
    )
    .await?;
    let deps = chunk_deps(app, &token);
    let accepted = chunks::accept_upload_chunk(
        deps,
        &token,
        form.video_id.as_deref(),
        form.file_name.as_deref(),
        form.content_type.as_deref(),
        range,
        form.file,
    )
    .await?;
    let request = http::Request::from_parts(parts, super::Body::default());
    Ok(json(
        StatusCode::CREATED,
        &video_body(app, &request, &accepted.record).await?,
    ))
}

/// What the upload machinery needs for a chunk of `token`, from the media routes' state (every
/// protocol that takes chunks: `/upload`, tus).
pub(super) fn chunk_deps<'a>(app: &'a AppWithBlobs, token: &'a UploadToken) -> ChunkDeps<'a> {
    ChunkDeps {
        videos: app.app.store.as_ref(),
        blobs: app.blobs.as_ref(),
        clock: app.app.clock.as_ref(),
        max_file_bytes: app.settings.max_file_bytes,
        abandon_after: app.settings.abandon_after,
        policy: &token.policy,
    }
}

/// `OPTIONS /upload`: the CORS preflight (answered by API Gateway itself on AWS).
pub(super) async fn preflight(app: &AppWithBlobs, _call: Call) -> Result<Response, ApiError> {
    Ok(cors::preflight(&app.settings.allow_origin))
}
