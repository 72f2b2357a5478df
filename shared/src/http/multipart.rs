//! Reading the `multipart/form-data` body of `POST /upload`, as it arrives: the file part is
//! gathered by a [`Spool`] (memory, then an unnamed local file), never the whole body at once.

use super::{ApiError, Body, Slug};
use crate::store::chunk_data::{ChunkData, Spool};
use std::path::Path;

/// What an upload request carries.
#[derive(Debug)]
pub struct UploadForm {
    /// The file part's bytes.
    pub file: ChunkData,
    /// The file part's file name, if any.
    pub file_name: Option<String>,
    /// The file part's declared `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The `videoId` field, if any.
    pub video_id: Option<String>,
}

fn bad(slug: Slug, detail: impl Into<String>) -> ApiError {
    ApiError::reject(slug, Some("file"), detail)
}

/// Parses the body: exactly one file part (a part with a file name, whatever its field name, or
/// a field named `file`), an optional `videoId` field before or after it, at most once; other
/// named fields ignored. A text part without a field name is malformed (RFC 7578 §4.2: every part
/// names its field; browsers never send one), so it is refused rather than ignored.
/// The file part is spooled to `spool_dir` past a few MiB (kept in memory without one), and
/// refused once it passes `max_file_bytes`.
pub async fn parse(
    content_type: Option<&str>,
    body: Body,
    spool_dir: Option<&Path>,
    max_file_bytes: u64,
) -> Result<UploadForm, ApiError> {
    let boundary = content_type
        .and_then(|ct| multer::parse_boundary(ct).ok())
        .ok_or_else(|| {
            bad(
                Slug::UploadedFileNotMultipart,
                "send the file as multipart/form-data with a boundary",
            )
        })?;
    let mut multipart = multer::Multipart::with_constraints(
        body.into_stream(),
        boundary,
        // Text fields (videoId) are small; the file part is bounded below, as it is spooled.
        multer::Constraints::new()
            .size_limit(multer::SizeLimit::new().for_field("videoId", 4 * 1024)),
    );
    let malformed = |e: multer::Error| {
        bad(
            Slug::UploadedFileMalformed,
            format!("the multipart body could not be read: {e}"),
        )
    };
    let mut file: Option<(ChunkData, Option<String>, Option<String>)> = None;
    let mut video_id = None;
    let mut seen_video_id = false;
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        let file_name = field.file_name().map(str::to_owned);
        let name = field.name().map(str::to_owned);
        let content_type = field.content_type().map(ToString::to_string);
        if file_name.is_some() || name.as_deref() == Some("file") {
            if file.is_some() {
                return Err(bad(
                    Slug::UploadedFileMultiple,
                    "send exactly one file part per request",
                ));
            }
            let mut spool = Spool::new(spool_dir);
            while let Some(bytes) = field.chunk().await.map_err(malformed)? {
                spool.push(bytes).await?;
                if spool.len() > max_file_bytes {
                    return Err(bad(
                        Slug::UploadedFileTooLarge,
                        format!("the file would exceed the maximum of {max_file_bytes} bytes"),
                    ));
                }
            }
            file = Some((spool.finish().await?, file_name, content_type));
        } else if name.as_deref().is_none_or(str::is_empty) {
            return Err(bad(
                Slug::UploadedFileMalformed,
                "every part names its field (Content-Disposition: form-data; name=\"…\")",
            ));
        } else if name.as_deref() == Some("videoId") {
            if seen_video_id {
                return Err(ApiError::reject(
                    Slug::UploadedFileMalformed,
                    Some("videoId"),
                    "send the videoId field at most once",
                ));
            }
            seen_video_id = true;
            let text = field.text().await.map_err(malformed)?;
            // Empty (or ASCII spaces only) counts as absent, as docs/openapi.yaml says.
            let text = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
            video_id = Some(text.to_owned()).filter(|v| !v.is_empty());
        }
    }
    let (file, file_name, content_type) = file.ok_or_else(|| {
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
        content_type,
        video_id,
    })
}
