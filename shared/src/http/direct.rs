//! `/upload/{token}/s3/…`: the signing endpoints of Uppy's S3 uploader (`@uppy/aws-s3` 6.x with
//! `companionEndpoint: "<base>/upload/<token>"`, 5.x with `endpoint`), on an upload token. They
//! speak what those clients send and read (Companion's protocol): query strings with `+` for
//! spaces, JSON bodies, a bare array from the parts listing; errors as `{"message": …}` (5.x
//! shows it; 6.x shows the status). [`crate::usecases::direct`] does the work.

use super::body::json_object;
use super::links::base_url;
use super::respond::{json, no_content};
use super::{ApiError, AppWithBlobs, Call, Request, Response, Slug};
use crate::store::blob::DirectPart;
use crate::usecases::direct::{self, DirectDeps, Target};
use crate::usecases::videos::{DownloadLink, download_link};
use http::StatusCode;
use serde_json::{Map, Value, json};

/// What the direct-upload use cases need, from the media routes' state.
pub fn deps(app: &AppWithBlobs) -> DirectDeps<'_> {
    DirectDeps {
        videos: app.app.store.as_ref(),
        tokens: app.app.store.as_ref(),
        blobs: app.blobs.as_ref(),
        clock: app.app.clock.as_ref(),
        signer: &app.app.signer,
        max_file_bytes: app.settings.max_file_bytes,
    }
}

/// The query's parameters, `+` decoded as a space (Uppy 6.x builds them with
/// `URLSearchParams`; 5.x percent-encodes).
fn query(call: &Call) -> Vec<(String, String)> {
    form_urlencoded::parse(call.request.uri().query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn bad(name: &str, detail: impl Into<String>) -> ApiError {
    ApiError::reject(Slug::InvalidQueryParameter, Some(name), detail)
}

/// The `key` query parameter every request about an upload carries.
fn key(query: &[(String, String)]) -> Result<&str, ApiError> {
    param(query, "key")
        .filter(|k| !k.is_empty())
        .ok_or_else(|| bad("key", "pass the upload's key: ?key=<key>"))
}

fn url(target: Target, app: &AppWithBlobs, request: &Request) -> String {
    match target {
        Target::Url(url) => url,
        Target::Local(path) => format!("{}{path}", base_url(&app.settings, request)),
    }
}

/// The file's name (its video's title), if one is given: at most 255 characters.
fn file_name<'a>(name: Option<&'a str>, field: &'static str) -> Result<Option<&'a str>, ApiError> {
    match name.filter(|n| !n.is_empty()) {
        Some(n) if n.chars().count() > 255 => Err(ApiError::reject(
            Slug::InvalidQueryParameter,
            Some(field),
            "filename is at most 255 characters",
        )),
        other => Ok(other),
    }
}

/// A JSON object body, which these routes require (Uppy always sends one).
fn object_body(call: &Call) -> Result<Map<String, Value>, ApiError> {
    let body = call.request.body().whole()?;
    if body.is_empty() {
        return Err(ApiError::InvalidPayload(
            "the body must be a JSON object".into(),
        ));
    }
    json_object(body)
}

/// The declared type of a file (`type`), `application/octet-stream` when none is given.
fn content_type(declared: Option<&str>) -> Result<String, ApiError> {
    let declared = declared.filter(|t| !t.trim().is_empty());
    match declared {
        None => Ok("application/octet-stream".to_owned()),
        Some(t) if t.len() <= 255 && t.bytes().all(|b| (0x20..0x7f).contains(&b)) => {
            Ok(t.to_owned())
        }
        Some(_) => Err(bad("type", "type is a MIME type of printable ASCII")),
    }
}

/// `GET /upload/{token}/s3/params?filename=&type=&metadata[k]=v`: a single-request upload, as a
/// POST form (`{method, url, fields, headers, expires}`, and the `videoId` it makes).
pub(super) async fn params(app: &AppWithBlobs, call: Call) -> Result<Response, ApiError> {
    let token = call.upload_token()?.clone();
    let query = query(&call);
    let file_name = file_name(param(&query, "filename"), "filename")?;
    let content_type = content_type(param(&query, "type"))?;
    let started = direct::start_post(deps(app), &token, file_name, &content_type).await?;
    let key = started.record.blob_key();
    let mut fields = Map::new();
    let local = matches!(started.url, Target::Local(_));
    if local {
        // Uppy 6.3 wants a concrete `key` among the fields; the local form ignores it.
        fields.insert(
            "key".into(),
            crate::store::blob::direct_post_key(&key).into(),
        );
    }
    for (name, value) in started.fields {
        fields.insert(name, value.into());
    }
    let url = url(started.url, app, &call.request);
    Ok(json(
        StatusCode::OK,
        &json!({
            "method": "POST",
            "url": url,
            "fields": fields,
            "headers": {},
            "expires": direct::URL_LIFETIME.as_secs(),
            "key": key,
            "videoId": started.record.video.id.as_str(),
        }),
    ))
}

/// `POST /upload/{token}/s3/multipart` `{filename, type, metadata}` → `{key, uploadId, videoId}`.
pub(super) async fn create(app: &AppWithBlobs, call: Call) -> Result<Response, ApiError> {
    let token = call.upload_token()?.clone();
    let body = object_body(&call)?;
    let file_name = match body.get("filename") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => file_name(Some(name), "filename")?,
        Some(_) => {
            return Err(ApiError::InvalidAttribute {
                name: "filename",
                detail: "filename is a string".into(),
            });
        }
    };
    let declared = match body.get("type") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(t.as_str()),
        Some(_) => {
            return Err(ApiError::InvalidAttribute {
                name: "type",
                detail: "type is a string".into(),
            });
        }
    };
    if !matches!(
        body.get("metadata"),
        None | Some(Value::Null | Value::Object(_))
    ) {
        return Err(ApiError::InvalidAttribute {
            name: "metadata",
            detail: "metadata is an object".into(),
        });
    }
    let content_type = content_type(declared)?;
    let record = direct::start_multipart(deps(app), &token, file_name, &content_type).await?;
    Ok(json(
        StatusCode::OK,
        &json!({
            "key": record.blob_key(),
            "uploadId": record.blob.upload_id,
            "videoId": record.video.id.as_str(),
        }),
    ))
}

/// `GET /upload/{token}/s3/multipart/{uploadId}/{partNumber}?key=` → `{url, expires}`.
pub(super) async fn sign_part(app: &AppWithBlobs, call: Call) -> Result<Response, ApiError> {
    let token = call.upload_token()?.clone();
    let query = query(&call);
    if call.param("partNumber") == "complete" {
        // `…/{uploadId}/complete` is the completion's path, which takes only POST.
        return Err(ApiError::MethodNotAllowed("POST".into()));
    }
    let number = call
        .param("partNumber")
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=direct::MAX_PART_NUMBER).contains(n))
        .ok_or_else(|| bad("partNumber", "a part number is 1 to 10000"))?;
    let (target, expires) = direct::sign_part(
        deps(app),
        &token,
        key(&query)?,
        call.param("uploadId"),
        number,
    )
    .await?;
    Ok(json(
        StatusCode::OK,
        &json!({ "url": url(target, app, &call.request), "expires": expires }),
    ))
}

/// `GET /upload/{token}/s3/multipart/{uploadId}/batch?key=&partNumbers=1,2` →
/// `{presignedUrls: {"1": url, …}}` (Companion's; neither Uppy version calls it).
pub(super) async fn sign_batch(app: &AppWithBlobs, call: Call) -> Result<Response, ApiError> {
    let token = call.upload_token()?.clone();
    let query = query(&call);
    let numbers = param(&query, "partNumbers")
        .unwrap_or("")
        .split(',')
        .map(|n| n.trim().parse::<u32>())
        .collect::<Result<Vec<_>, _>>()
        .ok()
        .filter(|n| (1..=100).contains(&n.len()))
        .ok_or_else(|| bad("partNumbers", "1 to 100 comma-separated part numbers"))?;
    let key = key(&query)?;
    let mut urls = Map::new();
    for number in numbers {
        let (target, _) =
            direct::sign_part(deps(app), &token, key, call.param("uploadId"), number).await?;
        urls.insert(number.to_string(), url(target, app, &call.request).into());
    }
    Ok(json(StatusCode::OK, &json!({ "presignedUrls": urls })))
}

/// `GET /upload/{token}/s3/multipart/{uploadId}?key=` → `[{PartNumber, ETag, Size}]`, every
/// part the store holds.
pub(super) async fn list_parts(app: &AppWithBlobs, call: Call) -> Result<Response, ApiError> {
    let token = call.upload_token()?.clone();
    let query = query(&call);
    let parts = direct::list_parts(deps(app), &token, key(&query)?, call.param("uploadId")).await?;
    let parts: Vec<Value> = parts
        .iter()
        .map(|p: &DirectPart| json!({ "PartNumber": p.number, "ETag": p.etag, "Size": p.size }))
        .collect();
    Ok(json(StatusCode::OK, &parts))
}

/// `POST /upload/{token}/s3/multipart/{uploadId}/complete?key=` `{parts: [{PartNumber, ETag}]}`
/// → `{location, key, videoId}` once the server has checked the upload; 413/415 (and the
/// upload gone) if its policy refuses it.
pub(super) async fn complete(app: &AppWithBlobs, call: Call) -> Result<Response, ApiError> {
    let token = call.upload_token()?.clone();
    let query = query(&call);
    let body = object_body(&call)?;
    let parts = body
        .get("parts")
        .and_then(Value::as_array)
        .and_then(|parts| {
            parts
                .iter()
                .map(|p| {
                    let number = u32::try_from(p.get("PartNumber")?.as_u64()?).ok()?;
                    Some((number, p.get("ETag")?.as_str()?.to_owned()))
                })
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| ApiError::InvalidAttribute {
            name: "parts",
            detail: "parts is an array of {PartNumber, ETag}".into(),
        })?;
    let key = key(&query)?.to_owned();
    let record = direct::complete(deps(app), &token, &key, call.param("uploadId"), &parts).await?;
    let location = location(app, &call.request, &record).await?;
    Ok(json(
        StatusCode::OK,
        &json!({ "location": location, "key": key, "videoId": record.video.id.as_str() }),
    ))
}

/// Where the uploaded file can be read: its time-limited download link.
async fn location(
    app: &AppWithBlobs,
    request: &Request,
    record: &crate::store::VideoRecord,
) -> Result<Option<String>, ApiError> {
    let deps = crate::usecases::videos::DownloadDeps {
        videos: app.app.store.as_ref(),
        blobs: app.blobs.as_ref(),
        signer: &app.app.signer,
        clock: app.app.clock.as_ref(),
    };
    Ok(download_link(deps, record, app.settings.download_valid_for)
        .await?
        .map(|link| match link {
            DownloadLink::Url(url) => url,
            DownloadLink::Signed { path_and_query } => {
                format!("{}{path_and_query}", base_url(&app.settings, request))
            }
        }))
}

/// `DELETE /upload/{token}/s3/multipart/{uploadId}?key=` → 204: the upload aborted, its video
/// removed.
pub(super) async fn abort(app: &AppWithBlobs, call: Call) -> Result<Response, ApiError> {
    let token = call.upload_token()?.clone();
    let query = query(&call);
    direct::abort(deps(app), &token, key(&query)?, call.param("uploadId")).await?;
    Ok(no_content())
}
