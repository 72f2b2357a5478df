//! The HTTP layer's error: every way a request can fail, and the problem each one becomes.

use super::Response;
use super::problem::Problem;
use super::respond;
use crate::store::StoreError;
use http::{HeaderValue, StatusCode, header};

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
    /// The route exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    /// A request refused with a specific problem (uploads and videos build their own).
    #[error("rejected: {}", .0.title)]
    Rejected(Box<Problem>),
    /// The store failed; the client gets a generic 500, the log gets the cause.
    #[error("store failure")]
    Store(#[from] StoreError),
}

impl ApiError {
    /// A 4xx with its own slug, title and detail, naming `name` if given.
    pub fn reject(
        status: u16,
        slug: &str,
        title: &str,
        name: Option<&str>,
        detail: impl Into<String>,
    ) -> Self {
        let mut problem = Problem::new(slug, title, status);
        if let Some(name) = name {
            problem = problem.with_name(name);
        }
        Self::Rejected(Box::new(problem.with_detail(detail)))
    }

    /// The problem document describing this error to the client (never internals).
    pub fn problem(&self) -> Problem {
        match self {
            ApiError::InvalidAttribute { name, detail } => {
                Problem::new("invalid-attribute", "An attribute is invalid.", 400)
                    .with_name(name)
                    .with_detail(detail.clone())
            }
            ApiError::InvalidPayload(detail) => {
                Problem::new("invalid-payload", "The request body is invalid.", 400)
                    .with_name("body")
                    .with_detail(detail.clone())
            }
            ApiError::InvalidQueryParameter { name, detail } => Problem::new(
                "invalid-query-parameter",
                "A query parameter is invalid.",
                400,
            )
            .with_name(name)
            .with_detail(detail.clone()),
            ApiError::MissingAuthorization(detail) => Problem::new(
                "authentication-missing-authorization-header",
                "The Authorization header is missing.",
                401,
            )
            .with_detail(*detail),
            ApiError::InvalidApiKey => Problem::new(
                "authentication-invalid-api-key",
                "The API key is invalid.",
                401,
            ),
            ApiError::InvalidAccessToken => Problem::new(
                "authentication-invalid-access-token",
                "The access token is invalid or expired.",
                401,
            ),
            ApiError::InvalidCredentials(name) => Problem::new(
                "authentication-invalid-user-credentials",
                "The credentials are invalid.",
                400,
            )
            .with_name(name),
            ApiError::NotFound(name) => Problem::new(
                "resource-not-found",
                "The requested resource was not found.",
                404,
            )
            .with_name(name),
            ApiError::PayloadTooLarge(detail) => {
                Problem::new("payload-too-large", "The request body is too large.", 413)
                    .with_detail(detail.clone())
            }
            ApiError::UnknownRoute => {
                Problem::new("unrecognized-request-url", "Unrecognized request URL.", 404)
            }
            ApiError::MethodNotAllowed(allowed) => {
                Problem::new("method-not-allowed", "Method not allowed.", 405)
                    .with_detail(format!("allowed methods: {allowed}"))
            }
            ApiError::Rejected(problem) => (**problem).clone(),
            ApiError::Store(_) => Problem::new(
                "internal-error",
                "Something went wrong on our side; please retry.",
                500,
            ),
        }
    }

    /// The response for this error, logging server-side failures with their cause.
    pub fn into_response(self) -> Response {
        let problem = self.problem();
        if problem.status >= 500 {
            tracing::error!(error = %self, cause = ?std::error::Error::source(&self), "request failed");
        }
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = respond::problem(status, &problem);
        let headers = response.headers_mut();
        match &self {
            ApiError::MethodNotAllowed(allowed) => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allowed));
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
