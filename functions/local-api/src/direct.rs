//! The local server as the bucket of S3-direct uploads, on the embedded file store: the signed
//! part URLs (`PUT /direct/{video}/parts/{n}?uploadId&expires&signature`, answering an `ETag`
//! as S3 does) and the signed POST form (`POST /direct/{video}/post`, the fields then the
//! file). They only store bytes where the file blob store keeps them; what counts as uploaded is
//! still decided by the signing endpoints' completion check, as on S3.

use crate::Blobs;
use crate::serve::{BodyError, BodyWatch, Shared, closing, timed_out, watched};
use axum::body::Body;
use axum::extract::{Path, State};
use futures_util::StreamExt;
use http::{HeaderValue, StatusCode, header};
use std::sync::Arc;
use upload_tokens_core::domain::VideoId;
use upload_tokens_core::http::{ApiError, ErrorFormat, direct_deps};
use upload_tokens_core::store::StoreError;
use upload_tokens_core::store::blob_files::{FileBlobStore, MAX_PART_BYTES, WriteError};
use upload_tokens_core::usecases::UseCaseError;
use upload_tokens_core::usecases::direct;

/// A refusal in the shape the signing endpoints use.
fn refusal(e: impl Into<ApiError>) -> http::Response<Body> {
    e.into()
        .into_response_as(ErrorFormat::Message)
        .map(Body::from)
}

/// What a browser on another page needs to read the answer (and its `ETag`).
fn with_cors(shared: &Shared, mut response: http::Response<Body>) -> http::Response<Body> {
    let headers = response.headers_mut();
    if let Ok(origin) = HeaderValue::from_str(&shared.media.settings.allow_origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("ETag, Location"),
    );
    response
}

/// `OPTIONS /direct/…`: the preflight of a part PUT or a form POST from another page.
pub(crate) async fn preflight(State(shared): State<Arc<Shared>>) -> http::Response<Body> {
    let mut response = http::Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("PUT, POST, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    with_cors(&shared, response)
}

/// The file blob store; `None` on `--store aws`, whose signing endpoints hand out S3's URLs,
/// never these.
fn files(shared: &Shared) -> Option<&FileBlobStore> {
    match &shared.blobs {
        Blobs::Files(files) => Some(files),
        Blobs::S3(_) => None,
    }
}

/// A signed URL's query parameter.
fn query_param(uri: &http::Uri, name: &str) -> Option<String> {
    form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The answer to bytes that could not be stored.
fn write_refusal(e: WriteError, watch: &BodyWatch) -> http::Response<Body> {
    match (watch.failure(), e) {
        (Some(BodyError::TooSlow), _) => closing(timed_out()),
        (_, WriteError::TooLarge(max)) => closing(refusal(ApiError::PayloadTooLarge(format!(
            "at most {max} bytes here"
        )))),
        (_, WriteError::Store(StoreError::BlobGone(_))) => {
            refusal(UseCaseError::UploadTargetNotFound(
                "this upload is gone (completed, aborted or abandoned)",
            ))
        }
        (_, WriteError::Body(_)) => closing(refusal(ApiError::reject(
            upload_tokens_core::http::Slug::UploadedFileMalformed,
            None,
            "the body did not arrive whole",
        ))),
        (_, WriteError::Store(e)) => refusal(e),
    }
}

/// `PUT /direct/{video}/parts/{number}?uploadId&expires&signature`: stores the body as that
/// part (replacing an earlier one), answers 200 with its `ETag`.
pub(crate) async fn put_part(
    State(shared): State<Arc<Shared>>,
    Path((video, number)): Path<(String, u32)>,
    uri: http::Uri,
    body: Body,
) -> http::Response<Body> {
    let response = async {
        let files = files(&shared).ok_or_else(|| refusal(ApiError::UnknownRoute))?;
        let (Ok(id), Some(upload_id), Some(expires), Some(signature)) = (
            VideoId::parse(&video),
            query_param(&uri, "uploadId"),
            query_param(&uri, "expires").and_then(|e| e.parse::<i64>().ok()),
            query_param(&uri, "signature"),
        ) else {
            return Err(refusal(UseCaseError::DownloadLinkInvalid));
        };
        let record = direct::authorize_local_part(
            direct_deps(&shared.media),
            &id,
            &upload_id,
            number,
            expires,
            &signature,
        )
        .await
        .map_err(refusal)?;
        let _permit = Arc::clone(&shared.uploads)
            .acquire_owned()
            .await
            .map_err(|_| refusal(ApiError::UnknownRoute))?;
        let watch = Arc::new(BodyWatch::default());
        let source = Arc::new(tokio::sync::Mutex::new(body.into_data_stream()));
        let stream = watched(source, MAX_PART_BYTES, shared.body_idle, Arc::clone(&watch));
        let etag = files
            .write_part(&record.blob_key(), &upload_id, number, Box::pin(stream))
            .await
            .map_err(|e| write_refusal(e, &watch))?;
        let mut response = http::Response::new(Body::empty());
        if let Ok(value) = HeaderValue::from_str(&format!("\"{etag}\"")) {
            response.headers_mut().insert(header::ETAG, value);
        }
        Ok::<_, http::Response<Body>>(response)
    }
    .await;
    with_cors(&shared, response.unwrap_or_else(|refused| refused))
}

/// `POST /direct/{video}/post`: a browser-style upload form (`Content-Type`, `max`, `expires`,
/// `signature`, then `file`), as `GET …/s3/params` handed it out; 204 with `ETag` and
/// `Location` once the file is stored where the completion check finds it.
pub(crate) async fn post_form(
    State(shared): State<Arc<Shared>>,
    Path(video): Path<String>,
    headers: http::HeaderMap,
    body: Body,
) -> http::Response<Body> {
    let response = async {
        let files = files(&shared).ok_or_else(|| refusal(ApiError::UnknownRoute))?;
        let id = VideoId::parse(&video).map_err(|_| refusal(UseCaseError::DownloadLinkInvalid))?;
        let boundary = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|ct| multer::parse_boundary(ct).ok())
            .ok_or_else(|| {
                refusal(ApiError::InvalidPayload(
                    "send a multipart/form-data form".into(),
                ))
            })?;
        let _permit = Arc::clone(&shared.uploads)
            .acquire_owned()
            .await
            .map_err(|_| refusal(ApiError::UnknownRoute))?;
        let watch = Arc::new(BodyWatch::default());
        let source = Arc::new(tokio::sync::Mutex::new(body.into_data_stream()));
        let stream = watched(
            source,
            direct::MAX_POST_BYTES + 1024 * 1024,
            shared.body_idle,
            Arc::clone(&watch),
        );
        let mut form = multer::Multipart::new(stream, boundary);
        let mut fields = std::collections::HashMap::new();
        let malformed = |e: multer::Error| {
            refusal(ApiError::InvalidPayload(format!(
                "the form could not be read: {e}"
            )))
        };
        while let Some(field) = form.next_field().await.map_err(malformed)? {
            let name = field.name().unwrap_or_default().to_owned();
            if name != "file" {
                // Fields are short; a long one is not ours.
                let value = field.text().await.map_err(malformed)?;
                if value.len() > 4096 {
                    return Err(refusal(ApiError::InvalidPayload(format!(
                        "field {name} is too long"
                    ))));
                }
                fields.insert(name.to_ascii_lowercase(), value);
                continue;
            }
            let get = |name: &str| fields.get(name).cloned().unwrap_or_default();
            let allowed = direct::authorize_local_post(
                direct_deps(&shared.media),
                &id,
                &get("content-type"),
                get("max").parse().unwrap_or(0),
                get("expires").parse().unwrap_or(0),
                &get("signature"),
            )
            .await
            .map_err(refusal)?;
            let chunks = field.map(|chunk| chunk.map_err(std::io::Error::other));
            let etag = files
                .write_post(&allowed.record.blob_key(), Box::pin(chunks), allowed.max)
                .await
                .map_err(|e| write_refusal(e, &watch))?;
            let mut response = http::Response::new(Body::empty());
            *response.status_mut() = StatusCode::NO_CONTENT;
            if let Ok(value) = HeaderValue::from_str(&format!("\"{etag}\"")) {
                response.headers_mut().insert(header::ETAG, value);
            }
            if let Ok(value) = HeaderValue::from_str(&format!("/direct/{id}/post")) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            return Ok(response);
        }
        Err(refusal(ApiError::InvalidPayload(
            "the form has no file field".into(),
        )))
    }
    .await;
    with_cors(&shared, response.unwrap_or_else(|refused| refused))
}
