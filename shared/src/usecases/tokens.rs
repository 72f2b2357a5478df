//! Upload tokens of both faces, each scoped to the caller's project: the api.video face's
//! (`to…`, the id is the value) and the named tokens of `/v2/tokens` (a secret `ut_…` value
//! shown once). One store holds both; an upload finds either with one read.

use super::UseCaseError;
use super::retry::{Attempt, until_done};
use crate::auth::{NamedTokenValue, Principal};
use crate::domain::{
    Clock, CreationOrder, ListQuery, PolicyPatch, ProjectId, TokenId, Ttl, UploadToken,
};
use crate::internal::InternalError;
use crate::store::{
    StoreError, TokenDeleter, TokenLister, TokenPage, TokenReader, TokenUpdater, TokenWriter,
};

/// What a new token is: its lifetime, and its name and policy as a patch of nothing.
#[derive(Debug, Clone, Default)]
pub struct NewToken {
    /// Lifetime (0: never expires).
    pub ttl: Ttl,
    /// Name and policy.
    pub settings: PolicyPatch,
}

/// `token` with `new`'s lifetime, name and policy, made by `principal` at `token.created_at`.
fn with_settings(mut token: UploadToken, new: NewToken, principal: &Principal) -> UploadToken {
    token.ttl = new.ttl;
    new.settings.apply(&mut token.policy, &mut token.name);
    token.created_by = Some(principal.key_id.clone());
    token.updated_by = Some(principal.key_id.clone());
    token
}

/// Creates an api.video-face token (`to…`) of the principal's project.
pub async fn create_token<S: TokenWriter + TokenReader + ?Sized>(
    tokens: &S,
    clock: &dyn Clock,
    principal: &Principal,
    new: NewToken,
) -> Result<UploadToken, UseCaseError> {
    let token = UploadToken::create(principal.project_id.clone(), new.ttl, clock.now());
    let token = with_settings(token, new, principal);
    insert(tokens, clock, &token).await?;
    Ok(token)
}

/// Creates a named token of the principal's project; its value, to be shown this once.
pub async fn create_named_token<S: TokenWriter + TokenReader + ?Sized>(
    tokens: &S,
    clock: &dyn Clock,
    principal: &Principal,
    new: NewToken,
) -> Result<(UploadToken, NamedTokenValue), UseCaseError> {
    let value = NamedTokenValue::generate();
    let token = UploadToken::with_id(
        value.id(),
        principal.project_id.clone(),
        new.ttl,
        clock.now(),
    );
    let mut token = with_settings(token, new, principal);
    token.value_hash = Some(value.hash());
    insert(tokens, clock, &token).await?;
    Ok((token, value))
}

async fn insert<S: TokenWriter + TokenReader + ?Sized>(
    tokens: &S,
    clock: &dyn Clock,
    token: &UploadToken,
) -> Result<(), UseCaseError> {
    match tokens.insert_token(token).await {
        Ok(()) => {}
        // A create whose reply was lost and which the SDK retried finds its own token.
        Err(StoreError::AlreadyExists)
            if tokens
                .get_token(&token.project_id, &token.id, clock.now())
                .await?
                .is_some_and(|stored| stored == *token) => {}
        Err(StoreError::AlreadyExists) => {
            return Err(InternalError::new(
                "a new token's random id is already taken: the random generator is broken",
            )
            .into());
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(
        token_ttl = token.ttl.seconds(),
        named = !token.value_is_shown(),
        limited = !token.policy.is_unlimited(),
        "upload token created"
    );
    Ok(())
}

/// Changes a token's lifetime and its name and policy (only what is given), as `principal`:
/// conditional on the version read, retried when another change came first. The token must
/// be the project's and active; [`UseCaseError::NotFound`] otherwise.
pub async fn update_token<S: TokenReader + TokenUpdater + ?Sized>(
    tokens: &S,
    clock: &dyn Clock,
    principal: &Principal,
    id: &TokenId,
    ttl: Option<Ttl>,
    settings: PolicyPatch,
) -> Result<UploadToken, UseCaseError> {
    let (ttl, settings) = (&ttl, &settings);
    until_done(move |_| async move {
        let now = clock.now();
        let mut token = tokens
            .get_token(&principal.project_id, id, now)
            .await?
            .ok_or(UseCaseError::NotFound("uploadToken"))?;
        if let Some(ttl) = ttl {
            token.ttl = *ttl;
        }
        settings.clone().apply(&mut token.policy, &mut token.name);
        token.updated_by = Some(principal.key_id.clone());
        token.updated_at = crate::domain::truncate_to_millis(now);
        token.version += 1;
        if tokens.update_token(&token, now).await? {
            tracing::info!(named = !token.value_is_shown(), "upload token changed");
            return Ok(Attempt::Done(token));
        }
        // Changed meanwhile, or gone (deleted, expired): the next read tells.
        Ok(Attempt::Lost)
    })
    .await
}

/// One page of the project's active api.video-face tokens, and how many there are.
pub async fn list_tokens(
    tokens: &dyn TokenLister,
    clock: &dyn Clock,
    project: &ProjectId,
    query: &ListQuery,
) -> Result<TokenPage, UseCaseError> {
    Ok(tokens.list_tokens(project, query, clock.now()).await?)
}

/// Up to `limit` of the project's active tokens of both faces, newest first, created before
/// `before`; and whether more follow.
pub async fn list_newest(
    tokens: &dyn TokenLister,
    clock: &dyn Clock,
    project: &ProjectId,
    before: Option<&CreationOrder>,
    limit: usize,
) -> Result<(Vec<UploadToken>, bool), UseCaseError> {
    let mut page = tokens
        .list_newest(project, before, limit + 1, clock.now())
        .await?;
    let more = page.len() > limit;
    page.truncate(limit);
    Ok((page, more))
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

/// Deletes the project's active token `id`; [`UseCaseError::NotFound`] if there is none. From
/// then on it authenticates nothing, on either face.
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
