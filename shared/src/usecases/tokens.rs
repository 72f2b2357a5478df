//! Upload tokens: create, list, get, delete, each scoped to the caller's project.

use super::UseCaseError;
use crate::domain::{Clock, ListQuery, ProjectId, TokenId, Ttl, UploadToken};
use crate::internal::InternalError;
use crate::store::{StoreError, TokenDeleter, TokenLister, TokenPage, TokenReader, TokenWriter};

/// Creates a token of `project` living `ttl`.
pub async fn create_token<S: TokenWriter + TokenReader + ?Sized>(
    tokens: &S,
    clock: &dyn Clock,
    project: ProjectId,
    ttl: Ttl,
) -> Result<UploadToken, UseCaseError> {
    let token = UploadToken::create(project, ttl, clock.now());
    match tokens.insert_token(&token).await {
        Ok(()) => {}
        // A create whose reply was lost and which the SDK retried finds its own token.
        Err(StoreError::AlreadyExists)
            if tokens
                .get_token(&token.project_id, &token.id, clock.now())
                .await?
                .is_some_and(|stored| stored == token) => {}
        Err(StoreError::AlreadyExists) => {
            return Err(InternalError::new(
                "a new token's random id is already taken: the random generator is broken",
            )
            .into());
        }
        Err(e) => return Err(e.into()),
    }
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
