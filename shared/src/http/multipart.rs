//! Reading the `multipart/form-data` body of `POST /upload`.

use super::{ApiError, Slug};
use bytes::Bytes;

/// What an upload request carries.
#[derive(Debug)]
pub struct UploadForm {
    /// The file part's bytes.
    pub file: Bytes,
    /// The file part's file name, if any.
    pub file_name: Option<String>,
    /// The `videoId` field, if any.
    pub video_id: Option<String>,
}

fn bad(slug: Slug, detail: impl Into<String>) -> ApiError {
    ApiError::reject(slug, Some("file"), detail)
}

/// Parses the body: exactly one file part (a part with a file name, whatever its field name, or
/// a field named `file`), an optional `videoId` field before or after it; other fields ignored.
pub async fn parse(content_type: Option<&str>, body: Bytes) -> Result<UploadForm, ApiError> {
    let boundary = content_type
        .and_then(|ct| multer::parse_boundary(ct).ok())
        .ok_or_else(|| {
            bad(
                Slug::UploadedFileNotMultipart,
                "send the file as multipart/form-data with a boundary",
            )
        })?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let malformed = |e: multer::Error| {
        bad(
            Slug::UploadedFileMalformed,
            format!("the multipart body could not be read: {e}"),
        )
    };
    let mut file: Option<(Bytes, Option<String>)> = None;
    let mut video_id = None;
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        let file_name = field.file_name().map(str::to_owned);
        let name = field.name().map(str::to_owned);
        if file_name.is_some() || name.as_deref() == Some("file") {
            let bytes = field.bytes().await.map_err(malformed)?;
            if file.replace((bytes, file_name)).is_some() {
                return Err(bad(
                    Slug::UploadedFileMultiple,
                    "send exactly one file part per request",
                ));
            }
        } else if name.as_deref() == Some("videoId") {
            let text = field.text().await.map_err(malformed)?;
            // Empty (or ASCII spaces only) counts as absent, as docs/openapi.yaml says.
            let text = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
            video_id = Some(text.to_owned()).filter(|v| !v.is_empty());
        }
    }
    let (file, file_name) = file.ok_or_else(|| {
        bad(
            Slug::UploadedFileMissing,
            "the multipart body has no file part",
        )
    })?;
    if file.is_empty() {
        return Err(bad(
            Slug::UploadedFileEmpty,
            "a chunk carries at least one byte",
        ));
    }
    Ok(UploadForm {
        file,
        file_name,
        video_id,
    })
}
