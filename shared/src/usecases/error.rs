//! Why a workflow did not complete: the use-case layer's one error type.

use crate::domain::{InvalidPolicyField, PolicyViolation, UploadRuleError};
use crate::internal::InternalError;
use crate::store::StoreError;

/// A workflow's failure. The HTTP layer turns each into one problem.
#[derive(Debug, thiserror::Error)]
pub enum UseCaseError {
    /// No such resource visible to the caller; names the parameter that designated it.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// `/auth/*` credentials that do not check out; names the attribute.
    #[error("invalid credentials ({0})")]
    InvalidCredentials(&'static str),
    /// A chunk that breaks the upload rules.
    #[error(transparent)]
    Rule(#[from] UploadRuleError),
    /// An upload its token's policy does not allow.
    #[error(transparent)]
    Policy(#[from] PolicyViolation),
    /// The upload token was deleted or expired during the request.
    #[error("the upload token is gone")]
    TokenGone,
    /// A body field with an unacceptable value, named as the request named it.
    #[error(transparent)]
    InvalidField(#[from] InvalidPolicyField),
    /// A direct upload's key or upload id that is not its token's video's.
    #[error("not this token's upload")]
    NotThisUpload,
    /// A direct-upload request that cannot be served as it is (says why).
    #[error("invalid direct upload request: {0}")]
    DirectInvalid(String),
    /// A list cursor that is not one this service made for this project.
    #[error("invalid cursor")]
    CursorInvalid,
    /// The video a chunk names (or would continue) is not one of the token's project.
    #[error("upload target not found: {0}")]
    UploadTargetNotFound(&'static str),
    /// A chunk without `videoId` that is not a first chunk and continues no single upload.
    #[error("videoId required: {0}")]
    VideoIdRequired(String),
    /// A signed download link that is forged or expired.
    #[error("download link invalid or expired")]
    DownloadLinkInvalid,
    /// A request that would end a complete upload, which only the project's API key may delete.
    #[error("the upload is complete")]
    UploadComplete,
    /// Every attempt at a conditional write lost to another writer.
    #[error("too many concurrent changes")]
    Busy,
    /// The store failed.
    #[error("store failure")]
    Store(StoreError),
    /// Something else failed on our side.
    #[error("internal error")]
    Internal(#[from] InternalError),
}

impl From<StoreError> for UseCaseError {
    /// A token gone under a write is the caller's business; the rest are failures (the use
    /// case that can hit `UploadLimitReached` names the limit itself).
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::TokenGone => Self::TokenGone,
            other => Self::Store(other),
        }
    }
}
