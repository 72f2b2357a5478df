//! Re-reading a signer's keys from its [`SigningKeySource`]: when a token names a key the signer
//! does not hold (a rotation it has not seen yet), and when the keys it holds are old (so it
//! signs with the new secret soon after a rotation), never more often than a policy allows.

use super::access_token::{AccessClaims, AccessTokenError, AccessTokenSigner, Inner};
use super::signing_keys::{SigningKeySource, SigningKeys};
use crate::internal::ErrorChain;
use chrono::{DateTime, TimeDelta, Utc};
use std::sync::{Arc, Mutex, RwLock};

/// How often a signer with a [`SigningKeySource`] re-reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReloadPolicy {
    /// Least time between two reads, whatever prompts them: a flood of tokens naming unknown
    /// (forged) keys costs one read per interval, not one per request.
    pub min_interval: TimeDelta,
    /// Keys older than this are re-read before the next token is signed or verified, so every
    /// instance signs with a new secret within this time of its rotation.
    pub max_age: TimeDelta,
}

impl Default for ReloadPolicy {
    /// At most one read per 30 s; keys re-read once they are 5 minutes old.
    fn default() -> Self {
        Self {
            min_interval: TimeDelta::seconds(30),
            max_age: TimeDelta::seconds(300),
        }
    }
}

pub(super) struct Reload {
    source: Arc<dyn SigningKeySource>,
    policy: ReloadPolicy,
    state: Mutex<ReloadState>,
}

struct ReloadState {
    /// When the held keys were read.
    loaded_at: DateTime<Utc>,
    /// When a read was last started (successful or not).
    last_attempt: DateTime<Utc>,
}

impl AccessTokenSigner {
    /// A signer holding `keys`, read from `source` at `loaded_at`, that reads `source` again as
    /// `policy` says.
    pub fn reloading(
        keys: SigningKeys,
        loaded_at: DateTime<Utc>,
        source: Arc<dyn SigningKeySource>,
        policy: ReloadPolicy,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                keys: RwLock::new(Arc::new(keys)),
                reload: Some(Reload {
                    source,
                    policy,
                    state: Mutex::new(ReloadState {
                        loaded_at,
                        last_attempt: loaded_at,
                    }),
                }),
            }),
        }
    }

    /// [`issue`](Self::issue), after re-reading keys older than the policy's `max_age`.
    pub async fn issue_with_reload(&self, claims: &AccessClaims, now: DateTime<Utc>) -> String {
        self.reload_if_stale(now).await;
        self.issue(claims)
    }

    /// [`verify`](Self::verify), after re-reading stale keys; and when the token names a key
    /// not held, once more after re-reading them (at most once per `min_interval`: a forged key
    /// id cannot make every request read the source).
    pub async fn verify_with_reload(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<AccessClaims, AccessTokenError> {
        self.reload_if_stale(now).await;
        match self.verify(token, now) {
            Err(AccessTokenError::UnknownKey) if self.reload(now).await => self.verify(token, now),
            other => other,
        }
    }

    /// Re-reads the keys if they are older than the policy's `max_age`.
    pub async fn reload_if_stale(&self, now: DateTime<Utc>) {
        let Some(reload) = &self.inner.reload else {
            return;
        };
        let stale = {
            let state = reload.state.lock().unwrap_or_else(|e| e.into_inner());
            now - state.loaded_at >= reload.policy.max_age
        };
        if stale {
            self.reload(now).await;
        }
    }

    /// Re-reads the keys unless the last read started less than `min_interval` ago; whether
    /// they were read. A failed read keeps the keys held (and is logged).
    pub async fn reload(&self, now: DateTime<Utc>) -> bool {
        let Some(reload) = &self.inner.reload else {
            return false;
        };
        {
            let mut state = reload.state.lock().unwrap_or_else(|e| e.into_inner());
            // `abs`: a clock set back must not block reads until it catches up.
            if (now - state.last_attempt).abs() < reload.policy.min_interval {
                return false;
            }
            state.last_attempt = now;
        }
        match reload.source.load().await {
            Ok(keys) => {
                tracing::info!(
                    current = %keys.current().id(),
                    previous = keys.previous().map(|k| k.id().to_string()),
                    "signing keys read"
                );
                *self.inner.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
                let mut state = reload.state.lock().unwrap_or_else(|e| e.into_inner());
                state.loaded_at = now;
                true
            }
            Err(e) => {
                tracing::warn!(error = %ErrorChain(&e), "signing keys not re-read; keeping those held");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::signing_keys::{KeyLoadError, SigningKey, SigningKeyId};
    use super::*;
    use crate::domain::{KeyId, ProjectId};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn key(secret: &str) -> SigningKey {
        SigningKey::new(secret.repeat(32)).expect("long enough")
    }

    fn signer(secret: &str) -> AccessTokenSigner {
        AccessTokenSigner::new(key(secret))
    }

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            kid: KeyId::generate().to_string(),
            pid: ProjectId::generate().to_string(),
            exp,
        }
    }

    /// A source whose keys the test sets, counting reads.
    struct Source {
        keys: Mutex<Option<SigningKeys>>,
        reads: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl SigningKeySource for Source {
        async fn load(&self) -> Result<SigningKeys, KeyLoadError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            self.keys
                .lock()
                .expect("lock")
                .clone()
                .ok_or_else(|| KeyLoadError("unavailable".into()))
        }
    }

    fn reloading(start: DateTime<Utc>, keys: SigningKeys) -> (AccessTokenSigner, Arc<Source>) {
        let source = Arc::new(Source {
            keys: Mutex::new(Some(keys.clone())),
            reads: AtomicUsize::new(0),
        });
        let signer =
            AccessTokenSigner::reloading(keys, start, source.clone(), ReloadPolicy::default());
        (signer, source)
    }

    #[tokio::test]
    async fn an_unknown_key_prompts_one_read_per_interval() {
        let start = Utc::now();
        let (a, source) = reloading(start, SigningKeys::new(key("a")));
        let rotated = SigningKeys::new(key("b")).with_previous(Some(key("a")));
        *source.keys.lock().expect("lock") = Some(rotated.clone());
        let token = AccessTokenSigner::with_keys(rotated).issue(&claims(start.timestamp() + 999));

        // Within 30 s of the first read: no read, refused.
        let t = start + TimeDelta::seconds(10);
        assert_eq!(
            a.verify_with_reload(&token, t).await,
            Err(AccessTokenError::UnknownKey)
        );
        assert_eq!(source.reads.load(Ordering::SeqCst), 0);
        // Later: one read, accepted, and new tokens are signed with the new key.
        let t = start + TimeDelta::seconds(31);
        assert!(a.verify_with_reload(&token, t).await.is_ok());
        assert_eq!(source.reads.load(Ordering::SeqCst), 1);
        assert_eq!(a.keys().current().id(), key("b").id());
        // A forged key id, many times: at most one read per 30 s.
        let forged = format!("v2.{}{}", key("z").id(), &token[3 + SigningKeyId::LEN..]);
        for s in 32..61 {
            let t = start + TimeDelta::seconds(s);
            assert_eq!(
                a.verify_with_reload(&forged, t).await,
                Err(AccessTokenError::UnknownKey)
            );
        }
        assert_eq!(source.reads.load(Ordering::SeqCst), 1);
        let t = start + TimeDelta::seconds(61);
        assert!(a.verify_with_reload(&forged, t).await.is_err());
        assert_eq!(source.reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn old_keys_are_read_again_before_signing() {
        let start = Utc::now();
        let (a, source) = reloading(start, SigningKeys::new(key("a")));
        *source.keys.lock().expect("lock") =
            Some(SigningKeys::new(key("b")).with_previous(Some(key("a"))));
        let c = claims(start.timestamp() + 9999);
        let early = a
            .issue_with_reload(&c, start + TimeDelta::seconds(299))
            .await;
        assert!(early.starts_with(&format!("v2.{}.", key("a").id())));
        let late = a
            .issue_with_reload(&c, start + TimeDelta::seconds(300))
            .await;
        assert!(late.starts_with(&format!("v2.{}.", key("b").id())));
        assert_eq!(source.reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_read_keeps_the_keys_held() {
        let start = Utc::now();
        let (a, source) = reloading(start, SigningKeys::new(key("a")));
        *source.keys.lock().expect("lock") = None;
        let token = a.issue(&claims(start.timestamp() + 9999));
        let t = start + TimeDelta::seconds(400);
        assert!(a.verify_with_reload(&token, t).await.is_ok());
        assert_eq!(source.reads.load(Ordering::SeqCst), 1);
        assert_eq!(a.keys().current().id(), key("a").id());
    }

    #[tokio::test]
    async fn a_signer_without_source_never_reads() {
        let s = signer("a");
        let token = signer("b").issue(&claims(Utc::now().timestamp() + 10));
        assert_eq!(
            s.verify_with_reload(&token, Utc::now()).await,
            Err(AccessTokenError::UnknownKey)
        );
        assert!(!s.reload(Utc::now()).await);
    }
}
