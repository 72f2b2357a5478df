//! `/upload/{token}/tus[/{videoId}]`: tus 1.0.0 with creation, creation-with-upload,
//! creation-defer-length, termination and expiration (SPEC §10), as tus-js-client, Uppy's Tus
//! plugin and the mobile tus SDKs speak it. The route table has checked the token; this reads
//! the tus headers and renders the answers, [`crate::usecases::tus`] does the work. Every
//! answer carries `Tus-Resumable`, refusals included (their body is one plain-text sentence).

use super::links::base_url;
use super::respond::no_content;
use super::upload::chunk_deps;
use super::{ApiError, AppWithBlobs, Body, Call, Request, Response, Slug, cors};
use crate::domain::{
    DeclaredLength, TUS_EXTENSIONS, TUS_VERSION, UploadMetadata, UploadToken, is_patch_type,
    parse_size, supported_version,
};
use crate::store::VideoRecord;
use crate::store::chunk_data::{ChunkData, Spool};
use crate::usecases::UseCaseError;
use crate::usecases::tus::{self, Creation};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, header};

/// Headers a browser page may read from tus answers.
const EXPOSE_HEADERS: &str = "Location, Upload-Offset, Upload-Length, Upload-Defer-Length, \
     Upload-Metadata, Upload-Expires, Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size";

/// Methods of the tus routes, for a browser's preflight.
const METHODS: &str = "POST, HEAD, PATCH, DELETE, OPTIONS";

/// Adds what every tus answer carries: `Tus-Resumable`, and the headers a page may read.
pub fn with_tus_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
    if response.status() == StatusCode::PRECONDITION_FAILED {
        response
            .headers_mut()
            .insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    }
    response
}

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str().map_err(|_| {
                ApiError::reject(
                    Slug::TusHeaderInvalid,
                    Some(name),
                    "must be printable ASCII",
                )
            })
        })
        .transpose()
}

fn header_error(e: crate::domain::InvalidTusHeader) -> ApiError {
    ApiError::reject(Slug::TusHeaderInvalid, Some(e.header), e.to_string())
}

/// `Tus-Resumable: 1.0.0`, or 412.
fn check_version(request: &Request) -> Result<(), ApiError> {
    if supported_version(text(request.headers(), "tus-resumable")?) {
        Ok(())
    } else {
        Err(ApiError::reject(
            Slug::TusVersionUnsupported,
            Some("Tus-Resumable"),
            format!("this server speaks tus {TUS_VERSION}: send Tus-Resumable: {TUS_VERSION}"),
        ))
    }
}

/// The use cases' refusals, as tus states them: an offset that is not the upload's is 409,
/// bytes past the maximum or past the upload's length 413.
fn tus_error(e: UseCaseError) -> ApiError {
    use crate::domain::UploadRuleError as Rule;
    match e {
        UseCaseError::Rule(rule @ (Rule::OutOfOrder { .. } | Rule::Conflict { .. })) => {
            let detail = match &rule {
                Rule::OutOfOrder { expected } => {
                    format!("the upload is at {expected}: HEAD tells the offset to go on from")
                }
                other => other.to_string(),
            };
            ApiError::reject(Slug::TusOffsetMismatch, Some("Upload-Offset"), detail)
        }
        UseCaseError::Rule(rule @ (Rule::TooLarge { .. } | Rule::PastTotal { .. })) => {
            ApiError::reject(
                Slug::TusUploadTooLarge,
                Some("Upload-Length"),
                rule.to_string(),
            )
        }
        UseCaseError::UploadTargetNotFound(detail) => {
            ApiError::reject(Slug::UploadedFileVideoNotFound, Some("upload"), detail)
        }
        other => other.into(),
    }
}

/// The body, gathered as it arrives (spooled past a few MiB on the local server), refused with
/// 413 once it passes `limit`.
async fn read_body(body: Body, app: &AppWithBlobs, limit: u64) -> Result<ChunkData, ApiError> {
    let mut stream = body.into_stream();
    let mut spool = Spool::new(app.settings.spool_dir.as_deref());
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|e| {
            ApiError::reject(
                Slug::InvalidPayload,
                Some("body"),
                format!("the body could not be read: {e}"),
            )
        })?;
        spool.push(piece).await?;
        if spool.len() > limit {
            return Err(ApiError::reject(
                Slug::TusUploadTooLarge,
                Some("body"),
                format!("the upload would exceed Tus-Max-Size ({limit} bytes)"),
            ));
        }
    }
    Ok(spool.finish().await?)
}

/// RFC 9110's date format, as `Upload-Expires` wants it.
fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// When the upload would be cleaned up, unless it completes: its token's expiry, or the
/// abandoned-upload deadline (§4), whichever comes first.
fn expires(app: &AppWithBlobs, token: &UploadToken, record: &VideoRecord) -> Option<DateTime<Utc>> {
    let abandoned = record.abandoned_at(app.settings.abandon_after)?;
    Some(token.expires_at().map_or(abandoned, |t| t.min(abandoned)))
}

fn set(response: &mut Response, name: &'static str, value: impl ToString) {
    if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
        response.headers_mut().insert(name, value);
    }
}

/// The upload's URL: absolute where this server knows its own (a configured public URL, the
/// local server), else the path, which clients resolve against the creation URL (API Gateway's
/// default stage has no prefix).
fn location(app: &AppWithBlobs, call: &Call, record: &VideoRecord) -> String {
    let path = format!("/upload/{}/tus/{}", call.param("token"), record.video.id);
    let settings = &app.settings;
    if settings.public_url.is_none() && settings.listen_url.is_none() && !settings.trust_proxy {
        path
    } else {
        format!("{}{path}", base_url(settings, &call.request))
    }
}

/// `OPTIONS /upload/{token}/tus`: what the server speaks (a browser's preflight, with
/// `Access-Control-Request-Method`, gets the CORS answer).
pub(super) async fn options(app: &AppWithBlobs, call: Call) -> Result<Response, ApiError> {
    if call
        .request
        .headers()
        .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return Ok(cors::preflight_for(METHODS, &app.settings.allow_origin));
    }
    let token = call.upload_token()?;
    let deps = chunk_deps(app, token);
    let mut response = no_content();
    set(&mut response, "tus-version", TUS_VERSION);
    set(&mut response, "tus-extension", TUS_EXTENSIONS);
    set(&mut response, "tus-max-size", tus::max_size(&deps));
    Ok(with_tus_headers(response))
}

/// `POST /upload/{token}/tus`: creates an upload (201 with its `Location`), with the first
/// bytes when the body has some (`Content-Type: application/offset+octet-stream`).
pub(super) async fn create(app: &AppWithBlobs, mut call: Call) -> Result<Response, ApiError> {
    check_version(&call.request)?;
    let token = call.upload_token()?.clone();
    let headers = call.request.headers();
    let length = DeclaredLength::parse(
        text(headers, "upload-length")?,
        text(headers, "upload-defer-length")?,
    )
    .map_err(header_error)?;
    if length == DeclaredLength::Known(0) {
        return Err(ApiError::reject(
            Slug::UploadedFileEmpty,
            Some("Upload-Length"),
            "a video has at least one byte",
        ));
    }
    let metadata =
        UploadMetadata::parse(text(headers, "upload-metadata")?).map_err(header_error)?;
    let creation = Creation {
        raw: metadata.raw.as_deref(),
        file_name: metadata.file_name().map_err(header_error)?,
        file_type: metadata.file_type().map_err(header_error)?,
    };
    let with_data = is_patch_type(text(headers, "content-type")?);
    let deps = chunk_deps(app, &token);
    let limit = tus::max_size(&deps).min(length.known().unwrap_or(u64::MAX));
    let data = read_body(std::mem::take(call.request.body_mut()), app, limit).await?;
    let data = match (data.is_empty(), with_data) {
        (true, _) => None,
        (false, true) => Some(data),
        (false, false) => return Err(patch_type_error()),
    };
    let record = tus::create(deps, &token, length, &creation, data)
        .await
        .map_err(tus_error)?;
    let mut response = no_content();
    *response.status_mut() = StatusCode::CREATED;
    set(&mut response, "location", location(app, &call, &record));
    set(
        &mut response,
        "upload-offset",
        record.progress.received_bytes,
    );
    if let Some(at) = expires(app, &token, &record) {
        set(&mut response, "upload-expires", http_date(at));
    }
    Ok(with_tus_headers(response))
}

fn patch_type_error() -> ApiError {
    ApiError::reject(
        Slug::TusContentTypeInvalid,
        Some("Content-Type"),
        "upload bytes are sent as Content-Type: application/offset+octet-stream",
    )
}

/// `HEAD /upload/{token}/tus/{videoId}`: where the upload stands.
pub(super) async fn head(app: &AppWithBlobs, call: Call) -> Result<Response, ApiError> {
    check_version(&call.request)?;
    let token = call.upload_token()?;
    let record = tus::status(chunk_deps(app, token), token, call.param("videoId"))
        .await
        .map_err(tus_error)?;
    let progress = &record.progress;
    let mut response = Response::new(bytes::Bytes::new());
    set(&mut response, "upload-offset", progress.received_bytes);
    match progress.total {
        Some(total) => set(&mut response, "upload-length", total),
        None => set(&mut response, "upload-defer-length", 1),
    }
    if let Some(metadata) = progress.tus.as_ref().and_then(|t| t.metadata.as_deref()) {
        set(&mut response, "upload-metadata", metadata);
    }
    if let Some(at) = expires(app, token, &record) {
        set(&mut response, "upload-expires", http_date(at));
    }
    set(&mut response, "cache-control", "no-store");
    Ok(with_tus_headers(response))
}

/// `PATCH /upload/{token}/tus/{videoId}` (or `POST` with `X-HTTP-Method-Override: PATCH`):
/// appends the body at `Upload-Offset`; 204 with the new offset.
pub(super) async fn patch(app: &AppWithBlobs, mut call: Call) -> Result<Response, ApiError> {
    let token = call.upload_token()?.clone();
    let headers = call.request.headers();
    if call.request.method() == http::Method::POST
        && !text(headers, "x-http-method-override")?
            .is_some_and(|m| m.eq_ignore_ascii_case("PATCH"))
    {
        return Err(ApiError::MethodNotAllowed("HEAD, PATCH, DELETE".into()));
    }
    check_version(&call.request)?;
    if !is_patch_type(text(headers, "content-type")?) {
        return Err(patch_type_error());
    }
    let offset = parse_size(
        "Upload-Offset",
        text(headers, "upload-offset")?.ok_or_else(|| {
            ApiError::reject(
                Slug::TusHeaderInvalid,
                Some("Upload-Offset"),
                "a PATCH carries Upload-Offset",
            )
        })?,
    )
    .map_err(header_error)?;
    let length = text(headers, "upload-length")?
        .map(|l| parse_size("Upload-Length", l))
        .transpose()
        .map_err(header_error)?;
    let deps = chunk_deps(app, &token);
    // What the length allows is the use case's to judge (a changed length is a 400): here
    // only the largest upload bounds the body.
    let limit = tus::max_size(&deps).saturating_sub(offset);
    let data = read_body(std::mem::take(call.request.body_mut()), app, limit).await?;
    let record = tus::patch(deps, &token, call.param("videoId"), offset, length, data)
        .await
        .map_err(tus_error)?;
    let mut response = no_content();
    set(
        &mut response,
        "upload-offset",
        record.progress.received_bytes,
    );
    if let Some(at) = expires(app, &token, &record) {
        set(&mut response, "upload-expires", http_date(at));
    }
    Ok(with_tus_headers(response))
}

/// `DELETE /upload/{token}/tus/{videoId}`: ends an unfinished upload; 204.
pub(super) async fn delete(app: &AppWithBlobs, call: Call) -> Result<Response, ApiError> {
    check_version(&call.request)?;
    let token = call.upload_token()?;
    tus::terminate(chunk_deps(app, token), token, call.param("videoId"))
        .await
        .map_err(tus_error)?;
    Ok(with_tus_headers(no_content()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_in_http_format() {
        let at = DateTime::parse_from_rfc3339("2014-06-25T16:00:00Z")
            .expect("date")
            .with_timezone(&Utc);
        assert_eq!(http_date(at), "Wed, 25 Jun 2014 16:00:00 GMT");
    }
}
