//! The one retry loop around conditional writes. Each attempt reads what it needs, decides, and
//! writes conditionally; a lost condition means another writer got there first, so the next
//! attempt reads again and decides again (a retried request then sees its own earlier write).

use super::UseCaseError;

/// Most attempts before giving up with [`UseCaseError::Busy`].
pub const WRITE_ATTEMPTS: usize = 8;

/// What one attempt came to.
pub(crate) enum Attempt<T> {
    /// The conditional write went through (or nothing needed writing).
    Done(T),
    /// Another writer changed the item in between: try again from a fresh read.
    Lost,
}

/// Runs `attempt(0)`, `attempt(1)`, … until one is [`Attempt::Done`], at most
/// [`WRITE_ATTEMPTS`] times.
///
/// `attempt` returns a future that owns or borrows from outside what it needs (not from the
/// closure), so every attempt is independent of the last.
pub(crate) async fn until_done<T, F, Fut>(mut attempt: F) -> Result<T, UseCaseError>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<Attempt<T>, UseCaseError>>,
{
    for n in 0..WRITE_ATTEMPTS {
        if let Attempt::Done(value) = attempt(n).await? {
            return Ok(value);
        }
    }
    Err(UseCaseError::Busy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lost_attempts_are_retried_then_give_up_busy() {
        let mut calls = 0;
        let done = until_done(|n| {
            calls += 1;
            async move {
                Ok(if n == 2 {
                    Attempt::Done(n)
                } else {
                    Attempt::Lost
                })
            }
        })
        .await;
        assert!(matches!(done, Ok(2)));
        assert_eq!(calls, 3);

        let never: Result<(), _> = until_done(|_| async { Ok(Attempt::Lost) }).await;
        assert!(matches!(never, Err(UseCaseError::Busy)));
    }
}
