//! Upload tokens: create, list, get, delete, each scoped to the caller's project.

use super::UseCaseError;
use crate::domain::{Clock, ListQuery, ProjectId, TokenId, Ttl, UploadToken};
use crate::store::{TokenDeleter, TokenLister, TokenPage, TokenReader, TokenWriter};

/// Creates a token of `project` living `ttl`.
pub async fn create_token(
    tokens: &dyn TokenWriter,
    clock: &dyn Clock,
    project: ProjectId,
    ttl: Ttl,
) -> Result<UploadToken, UseCaseError> {
    let token = UploadToken::create(project, ttl, clock.now());
    tokens.insert_token(&token).await?;
    tracing::info!(token_ttl = ttl.seconds(), "upload token created");
    Ok(token)
}

/// One page of the project's active tokens, and how many there are.
pub async fn list_tokens(
    tokens: &dyn TokenLister,
    clock: &dyn Clock,
    project: &ProjectId,
    query: &ListQuery,
) -> Result<TokenPage, UseCaseError> {
    Ok(tokens.list_tokens(project, query, clock.now()).await?)
}

/// The project's active token `id`; [`UseCaseError::NotFound`] otherwise.
pub async fn get_token(
    tokens: &dyn TokenReader,
    clock: &dyn Clock,
    project: &ProjectId,
    id: &TokenId,
) -> Result<UploadToken, UseCaseError> {
    tokens
        .get_token(project, id, clock.now())
        .await?
        .ok_or(UseCaseError::NotFound("uploadToken"))
}

/// Deletes the project's active token `id`; [`UseCaseError::NotFound`] if there is none.
pub async fn delete_token(
    tokens: &dyn TokenDeleter,
    clock: &dyn Clock,
    project: &ProjectId,
    id: &TokenId,
) -> Result<(), UseCaseError> {
    if tokens.delete_token(project, id, clock.now()).await? {
        tracing::info!("upload token deleted");
        Ok(())
    } else {
        Err(UseCaseError::NotFound("uploadToken"))
    }
}
