//! The HTTP layer's error: every way a request can fail, and the problem each one becomes.

use super::problem::Problem;
use super::{Response, Slug, respond};
use crate::domain::{PolicyViolation, UploadRuleError};
use crate::internal::{ErrorChain, InternalError};
use crate::store::StoreError;
use crate::usecases::UseCaseError;
use http::{HeaderValue, StatusCode, header};

/// How a face's clients read errors: the same problem, rendered for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorFormat {
    /// RFC 7807 `application/problem+json` (the api.video face).
    Problem,
    /// vidbeo's envelope, `{"success":false,"result":null,"links":null,"errors":[{"code",
    /// "message","field"?}]}` (`/v2`).
    Envelope,
    /// `{"message": "…"}` (Uppy's S3 plugin shows `message`).
    Message,
    /// A plain-text sentence (tus clients show the body as is), with `Tus-Resumable`.
    Tus,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A body attribute has an unacceptable value.
    #[error("invalid attribute {name}: {detail}")]
    InvalidAttribute {
        /// Attribute name.
        name: &'static str,
        /// What is accepted.
        detail: String,
    },
    /// The body is not the JSON object expected.
    #[error("invalid payload: {0}")]
    InvalidPayload(String),
    /// A query parameter has an unacceptable value.
    #[error("invalid query parameter {name}: {detail}")]
    InvalidQueryParameter {
        /// Parameter name.
        name: &'static str,
        /// What is accepted.
        detail: String,
    },
    /// No usable `Authorization` header.
    #[error("missing authorization")]
    MissingAuthorization(&'static str),
    /// Basic credentials that are not a valid API key.
    #[error("invalid API key")]
    InvalidApiKey,
    /// A Bearer token that is not a valid, unexpired access token of a live key.
    #[error("invalid access token")]
    InvalidAccessToken,
    /// `/auth/api-key` or `/auth/refresh` with credentials that do not check out.
    #[error("invalid credentials")]
    InvalidCredentials(&'static str),
    /// The body is larger than this deployment accepts.
    #[error("payload too large")]
    PayloadTooLarge(String),
    /// No such resource visible to the caller.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// No such route.
    #[error("unrecognized request URL")]
    UnknownRoute,
    /// The route exists but not with these methods: the ones it has, for `Allow`.
    #[error("method not allowed")]
    MethodNotAllowed(String),
    /// A request refused with a specific problem (uploads and videos build their own).
    #[error("rejected: {}", .0.title)]
    Rejected(Box<Problem>),
    /// The store failed; the client gets a generic 500, the log gets the cause.
    #[error("store failure")]
    Store(#[from] StoreError),
    /// Something else failed on our side; the client gets a generic 500, the log the cause.
    #[error("internal error")]
    Internal(#[from] InternalError),
}

impl ApiError {
    /// A problem of kind `slug` with its own detail, naming `name` if given.
    pub fn reject(slug: Slug, name: Option<&str>, detail: impl Into<String>) -> Self {
        let mut problem = Problem::new(slug);
        if let Some(name) = name {
            problem = problem.with_name(name);
        }
        Self::Rejected(Box::new(problem.with_detail(detail)))
    }

    /// The problem document describing this error to the client (never internals).
    pub fn problem(&self) -> Problem {
        match self {
            ApiError::InvalidAttribute { name, detail } => Problem::new(Slug::InvalidAttribute)
                .with_name(name)
                .with_detail(detail.clone()),
            ApiError::InvalidPayload(detail) => Problem::new(Slug::InvalidPayload)
                .with_name("body")
                .with_detail(detail.clone()),
            ApiError::InvalidQueryParameter { name, detail } => {
                Problem::new(Slug::InvalidQueryParameter)
                    .with_name(name)
                    .with_detail(detail.clone())
            }
            ApiError::MissingAuthorization(detail) => {
                Problem::new(Slug::MissingAuthorizationHeader).with_detail(*detail)
            }
            ApiError::InvalidApiKey => Problem::new(Slug::InvalidApiKey),
            ApiError::InvalidAccessToken => Problem::new(Slug::InvalidAccessToken),
            ApiError::InvalidCredentials(name) => {
                Problem::new(Slug::InvalidUserCredentials).with_name(name)
            }
            ApiError::NotFound(name) => Problem::new(Slug::ResourceNotFound).with_name(name),
            ApiError::PayloadTooLarge(detail) => {
                Problem::new(Slug::PayloadTooLarge).with_detail(detail.clone())
            }
            ApiError::UnknownRoute => Problem::new(Slug::UnrecognizedRequestUrl),
            ApiError::MethodNotAllowed(allowed) => Problem::new(Slug::MethodNotAllowed)
                .with_detail(format!("allowed methods: {allowed}")),
            ApiError::Rejected(problem) => (**problem).clone(),
            ApiError::Store(_) | ApiError::Internal(_) => Problem::new(Slug::InternalError),
        }
    }

    /// The response for this error, logging server-side failures with their whole chain of
    /// causes.
    pub fn into_response(self) -> Response {
        self.into_response_as(ErrorFormat::Problem)
    }

    /// The response for this error in the format of the face the request came to (the same
    /// problem, rendered as that face's clients read errors).
    pub fn into_response_as(self, format: ErrorFormat) -> Response {
        let problem = self.problem();
        if problem.status >= 500 {
            tracing::error!(error = %ErrorChain(&self), "request failed");
        }
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = match format {
            ErrorFormat::Problem => respond::problem(status, &problem),
            ErrorFormat::Envelope => respond::envelope_error(status, &problem),
            ErrorFormat::Message => respond::message_error(status, &problem),
            ErrorFormat::Tus => super::tus::with_tus_headers(respond::text_error(status, &problem)),
        };
        let headers = response.headers_mut();
        match &self {
            ApiError::MethodNotAllowed(allowed) => {
                if let Ok(value) = HeaderValue::from_str(allowed) {
                    headers.insert(header::ALLOW, value);
                }
            }
            ApiError::MissingAuthorization(_)
            | ApiError::InvalidApiKey
            | ApiError::InvalidAccessToken => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"upload-tokens\", Bearer"),
                );
            }
            _ => {}
        }
        response
    }
}

impl From<UseCaseError> for ApiError {
    fn from(e: UseCaseError) -> Self {
        match e {
            UseCaseError::NotFound(name) => ApiError::NotFound(name),
            UseCaseError::InvalidCredentials(name) => ApiError::InvalidCredentials(name),
            UseCaseError::Rule(rule) => rule_problem(rule),
            UseCaseError::Policy(violation) => policy_problem(violation),
            UseCaseError::TokenGone => ApiError::reject(
                Slug::InvalidUploadToken,
                Some("token"),
                "the upload token was deleted or expired during the upload",
            ),
            UseCaseError::InvalidField(e) => {
                ApiError::reject(Slug::InvalidAttribute, Some(&e.field), e.detail)
            }
            UseCaseError::NotThisUpload => ApiError::reject(
                Slug::DirectUploadForbidden,
                Some("key"),
                "use the key and uploadId this token's upload was given",
            ),
            UseCaseError::DirectInvalid(detail) => {
                ApiError::reject(Slug::DirectUploadInvalid, None, detail)
            }
            UseCaseError::CursorInvalid => ApiError::reject(
                Slug::CursorInvalid,
                Some("cursor"),
                "use the cursor of a links.next URL this service returned, unchanged",
            ),
            UseCaseError::UploadTargetNotFound(detail) => {
                ApiError::reject(Slug::UploadedFileVideoNotFound, Some("videoId"), detail)
            }
            UseCaseError::VideoIdRequired(detail) => {
                ApiError::reject(Slug::UploadedFileVideoIdRequired, Some("videoId"), detail)
            }
            UseCaseError::DownloadLinkInvalid => ApiError::reject(
                Slug::DownloadLinkInvalid,
                None,
                "ask the API for the video again to get a fresh assets.mp4 link",
            ),
            UseCaseError::UploadComplete => ApiError::reject(
                Slug::TusUploadComplete,
                None,
                "this upload is complete: it is a video now, which DELETE /videos/{videoId} with the API key removes",
            ),
            UseCaseError::Busy => ApiError::reject(
                Slug::VideoBusy,
                Some("videoId"),
                "too many concurrent changes to this video; retry",
            ),
            UseCaseError::Store(e) => ApiError::Store(e),
            UseCaseError::Internal(e) => ApiError::Internal(e),
        }
    }
}

/// The problem of an upload its token's policy does not allow, naming the policy field.
fn policy_problem(v: PolicyViolation) -> ApiError {
    let (slug, name) = match v {
        PolicyViolation::FileTooLarge { .. } => (Slug::FileTooLarge, "maxFileBytes"),
        PolicyViolation::ContentTypeNotAllowed { .. } => {
            (Slug::ContentTypeNotAllowed, "allowedContentTypes")
        }
        PolicyViolation::UploadLimitReached { .. } => (Slug::UploadLimitReached, "maxUploads"),
        PolicyViolation::OriginNotAllowed { .. } => (Slug::OriginNotAllowed, "allowedOrigins"),
    };
    ApiError::reject(slug, Some(name), v.to_string())
}

/// The problem of a chunk that breaks the upload rules.
fn rule_problem(e: UploadRuleError) -> ApiError {
    let slug = match e {
        UploadRuleError::MixedModes { .. } => Slug::ContentRangeMixed,
        UploadRuleError::TotalChanged { .. } => Slug::ContentRangeTotalChanged,
        UploadRuleError::OutOfOrder { .. } => Slug::ContentRangeOutOfOrder,
        UploadRuleError::LengthMismatch { .. } => Slug::ContentRangeLengthMismatch,
        UploadRuleError::Conflict { .. } => Slug::ContentRangeConflict,
        UploadRuleError::PastTotal { .. } => Slug::ContentRangePastTotal,
        UploadRuleError::TooManyParts => Slug::ContentRangeTooManyParts,
        UploadRuleError::Completed => Slug::UploadedFileAlreadyComplete,
        UploadRuleError::TooLarge { .. } => Slug::UploadedFileTooLarge,
    };
    let name = match e {
        UploadRuleError::Completed | UploadRuleError::TooLarge { .. } => "file",
        _ => "Content-Range",
    };
    let detail = match &e {
        UploadRuleError::OutOfOrder { expected } => {
            format!("expected {expected}; GET /videos/{{videoId}}/status tells what was received")
        }
        other => other.to_string(),
    };
    ApiError::reject(slug, Some(name), detail)
}
