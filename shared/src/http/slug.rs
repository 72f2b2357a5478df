//! Every problem kind the API answers with: its slug (the end of the problem's `type` URI), its
//! HTTP status and its fixed title. The one list: responses are built from it, and the problem
//! table in `docs/api.md` is checked against it by a test.

macro_rules! slugs {
    ($($(#[$doc:meta])* $variant:ident = ($slug:literal, $status:literal, $title:literal),)*) => {
        /// A kind of problem.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Slug {
            $($(#[$doc])* $variant,)*
        }

        impl Slug {
            /// Every kind, in the documentation's order.
            pub const ALL: &'static [Slug] = &[$(Slug::$variant,)*];

            /// The slug, e.g. `resource-not-found`.
            pub fn as_str(self) -> &'static str {
                match self { $(Slug::$variant => $slug,)* }
            }

            /// The HTTP status every problem of this kind has.
            pub fn status(self) -> u16 {
                match self { $(Slug::$variant => $status,)* }
            }

            /// The fixed, short title.
            pub fn title(self) -> &'static str {
                match self { $(Slug::$variant => $title,)* }
            }
        }
    };
}

slugs! {
    /// A body attribute has an unacceptable value.
    InvalidAttribute = ("invalid-attribute", 400, "An attribute is invalid."),
    /// The body is not the JSON object expected.
    InvalidPayload = ("invalid-payload", 400, "The request body is invalid."),
    /// A query parameter has an unacceptable value.
    InvalidQueryParameter = ("invalid-query-parameter", 400, "A query parameter is invalid."),
    /// No usable `Authorization` header.
    MissingAuthorizationHeader = ("authentication-missing-authorization-header", 401, "The Authorization header is missing."),
    /// Basic credentials that are not a valid API key.
    InvalidApiKey = ("authentication-invalid-api-key", 401, "The API key is invalid."),
    /// A Bearer token that is not a valid access token of a live key.
    InvalidAccessToken = ("authentication-invalid-access-token", 401, "The access token is invalid or expired."),
    /// `/auth/api-key` or `/auth/refresh` with credentials that do not check out.
    InvalidUserCredentials = ("authentication-invalid-user-credentials", 400, "The credentials are invalid."),
    /// `/upload` without `?token=`.
    MissingUploadToken = ("authentication-missing-upload-token", 401, "The upload token is missing."),
    /// An unknown, expired or deleted upload token.
    InvalidUploadToken = ("authentication-invalid-upload-token", 401, "The upload token is invalid."),
    /// No such resource visible to the caller.
    ResourceNotFound = ("resource-not-found", 404, "The requested resource was not found."),
    /// No such route.
    UnrecognizedRequestUrl = ("unrecognized-request-url", 404, "Unrecognized request URL."),
    /// The route exists, not with this method.
    MethodNotAllowed = ("method-not-allowed", 405, "Method not allowed."),
    /// The body is larger than this deployment accepts.
    PayloadTooLarge = ("payload-too-large", 413, "The request body is too large."),
    /// A malformed `Content-Range`.
    ContentRangeInvalid = ("video-content-range-invalid", 400, "The Content-Range header is invalid."),
    /// Byte ranges and part numbers (or a whole file) mixed in one upload.
    ContentRangeMixed = ("video-content-range-mixed", 400, "Byte ranges and part numbers cannot be mixed."),
    /// The announced total changed.
    ContentRangeTotalChanged = ("video-content-range-total-changed", 400, "The total changed during the upload."),
    /// Not the next chunk.
    ContentRangeOutOfOrder = ("video-content-range-out-of-order", 400, "This is not the next chunk."),
    /// The range's length differs from the file part's size.
    ContentRangeLengthMismatch = ("video-content-range-length-mismatch", 400, "The range does not match the file part's size."),
    /// Different bytes for a stored chunk, or an overlapping range.
    ContentRangeConflict = ("video-content-range-conflict", 400, "This chunk was already received with different content."),
    /// A chunk past the announced total.
    ContentRangePastTotal = ("video-content-range-past-total", 400, "The chunk goes past the announced total."),
    /// More parts than an upload may have.
    ContentRangeTooManyParts = ("video-content-range-too-many-parts", 400, "Too many parts."),
    /// The body is not `multipart/form-data`.
    UploadedFileNotMultipart = ("uploaded-file-not-multipart", 400, "The request is not multipart/form-data."),
    /// The multipart body does not parse.
    UploadedFileMalformed = ("uploaded-file-malformed", 400, "The multipart body is malformed."),
    /// No file part.
    UploadedFileMissing = ("uploaded-file-missing", 400, "No file part."),
    /// More than one file part.
    UploadedFileMultiple = ("uploaded-file-multiple", 400, "More than one file part."),
    /// An empty file part.
    UploadedFileEmpty = ("uploaded-file-empty", 400, "The file part is empty."),
    /// Over the maximum file size.
    UploadedFileTooLarge = ("uploaded-file-too-large", 400, "The file is larger than allowed."),
    /// A new chunk for a complete file.
    UploadedFileAlreadyComplete = ("uploaded-file-already-complete", 400, "This video's file is already complete."),
    /// A chunk without `videoId` that is not a first chunk and continues no single upload.
    UploadedFileVideoIdRequired = ("uploaded-file-video-id-required", 400, "Send the videoId of the upload this chunk continues."),
    /// `videoId` names no video of the token's project.
    UploadedFileVideoNotFound = ("uploaded-file-video-not-found", 404, "The video to upload to was not found."),
    /// The file (announced or received) is larger than the token's `maxFileBytes`.
    FileTooLarge = ("file-too-large", 413, "The file is larger than this token allows."),
    /// The file's declared type or content is not one of the token's `allowedContentTypes`.
    ContentTypeNotAllowed = ("content-type-not-allowed", 415, "This token does not allow files of this type."),
    /// The token started its `maxUploads` videos already.
    UploadLimitReached = ("upload-limit-reached", 403, "This token has started all the uploads it allows."),
    /// The request's `Origin` is not one of the token's `allowedOrigins`.
    OriginNotAllowed = ("origin-not-allowed", 403, "This token does not accept uploads from this origin."),
    /// A direct upload's key or upload id that is not the token's video's.
    DirectUploadForbidden = ("direct-upload-forbidden", 403, "This key or upload id is not this token's."),
    /// A direct-upload request that cannot be served (a part number, parts that differ from the store's).
    DirectUploadInvalid = ("direct-upload-invalid", 400, "The direct upload request is invalid."),
    /// A tus request without `Tus-Resumable: 1.0.0`.
    TusVersionUnsupported = ("tus-version-unsupported", 412, "This server speaks tus 1.0.0."),
    /// A tus header that is missing or malformed.
    TusHeaderInvalid = ("tus-header-invalid", 400, "A tus header is missing or invalid."),
    /// A tus PATCH whose `Upload-Offset` is not the upload's offset.
    TusOffsetMismatch = ("tus-offset-mismatch", 409, "Upload-Offset is not the upload's offset."),
    /// A tus PATCH (or creation with data) whose body is not `application/offset+octet-stream`.
    TusContentTypeInvalid = ("tus-content-type-invalid", 415, "Upload bytes are sent as application/offset+octet-stream."),
    /// A tus upload past `Tus-Max-Size`, or past its own `Upload-Length`.
    TusUploadTooLarge = ("tus-upload-too-large", 413, "The upload is larger than allowed."),
    /// A tus termination of a complete upload (a video: its project's API key deletes it).
    TusUploadComplete = ("tus-upload-complete", 403, "The upload is complete; the API key deletes videos."),
    /// A list cursor that was forged, altered, or made for another project.
    CursorInvalid = ("invalid-cursor", 400, "The cursor is invalid."),
    /// Conditional writes kept losing to concurrent changes.
    VideoBusy = ("video-busy", 409, "The video is being changed by other requests."),
    /// An expired or forged local download link.
    DownloadLinkInvalid = ("download-link-invalid", 403, "The download link is invalid or expired."),
    /// Something failed on our side; the log has the cause.
    InternalError = ("internal-error", 500, "Something went wrong on our side; please retry."),
}

impl std::fmt::Display for Slug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Slug;
    use std::collections::HashSet;

    #[test]
    fn slugs_are_unique_and_statuses_are_errors() {
        let mut seen = HashSet::new();
        for slug in Slug::ALL {
            assert!(seen.insert(slug.as_str()), "{slug} listed twice");
            assert!((400..600).contains(&slug.status()), "{slug}");
            assert!(slug.title().ends_with('.'), "{slug}");
        }
    }

    #[test]
    fn the_docs_problem_table_is_this_list() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md");
        let text = std::fs::read_to_string(path).expect("docs/api.md is readable");
        let section = text
            .split("\n## Problems")
            .nth(1)
            .expect("docs/api.md has a ## Problems section");
        let section = section.split("\n## ").next().unwrap_or(section);
        let rows: Vec<(String, String, String)> = section
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
                (
                    cells[0].trim_matches('`').to_owned(),
                    cells[1].to_owned(),
                    cells[2].to_owned(),
                )
            })
            .collect();
        let want: Vec<(String, String, String)> = Slug::ALL
            .iter()
            .map(|s| {
                (
                    s.as_str().to_owned(),
                    s.status().to_string(),
                    s.title().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            rows, want,
            "docs/api.md's problem table must list Slug::ALL, in order"
        );
    }
}
