//! Upload tokens and the rule that decides whether one is active.

use super::{KeyId, ProjectId, SecretHash, TokenId, TokenName, TokenPolicy, Ttl};
use chrono::{DateTime, TimeDelta, Utc};
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};
use ulid::{Generator, Ulid};

/// A sortable key recording when a token was created, finer than the seconds shown on the wire.
///
/// A ULID: 48 bits of milliseconds then 80 bits that are random, except that within one process
/// and one millisecond they count upwards, so tokens created by one process sort exactly in their
/// creation order. Across processes, order is exact down to the millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CreationOrder(Ulid);

impl CreationOrder {
    /// The next key for a token created at `at`; always greater than the previous one this
    /// process made for the same millisecond.
    pub fn next(at: DateTime<Utc>) -> Self {
        static GENERATOR: OnceLock<Mutex<Generator>> = OnceLock::new();
        let mut generator = GENERATOR
            .get_or_init(|| Mutex::new(Generator::new()))
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // Overflow of the 80-bit counter within one millisecond is not reachable in practice;
        // fall back to a fresh random ULID rather than fail the request.
        let ulid = generator
            .generate_from_datetime(at.into())
            .unwrap_or_else(|_| Ulid::from_datetime(at.into()));
        Self(ulid)
    }
}

impl fmt::Display for CreationOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for CreationOrder {
    type Err = ulid::DecodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ulid::from_string(s).map(Self)
    }
}

/// A delegated upload token owned by a project: what it allows, and what it was used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadToken {
    /// Its public id: the token itself on the api.video face (`to…`), or a named token's id.
    pub id: TokenId,
    /// The project whose API key created it.
    pub project_id: ProjectId,
    /// Lifetime from creation (changed by a PATCH of `ttl`).
    pub ttl: Ttl,
    /// Creation instant, millisecond precision.
    pub created_at: DateTime<Utc>,
    /// Exact creation order.
    pub creation_order: CreationOrder,
    /// A name (named tokens; optional on the api.video face).
    pub name: Option<TokenName>,
    /// What it allows.
    pub policy: TokenPolicy,
    /// The API key that created it (`None` for tokens made before this was recorded).
    pub created_by: Option<KeyId>,
    /// The API key that changed it last.
    pub updated_by: Option<KeyId>,
    /// Last change of its name, lifetime or policy (creation at first).
    pub updated_at: DateTime<Utc>,
    /// What it was used for. Kept by the stores, in the writes that start and feed uploads.
    pub usage: TokenUsage,
    /// A named token's value, as stored: its hash (the value is shown once). `None` on the
    /// api.video face, whose id is the value.
    pub value_hash: Option<SecretHash>,
    /// Version of its name, lifetime and policy: 0 when created, +1 on every change (changes
    /// are conditional on it). Usage changes do not count.
    pub version: u64,
}

/// What a token was used for: counters the stores keep exact, in the same conditional writes
/// as the uploads they count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenUsage {
    /// Videos it started.
    pub uploads: u64,
    /// Of those, the ones whose file is complete.
    pub completed_uploads: u64,
    /// Bytes of chunks it stored (a retried chunk counts once).
    pub bytes_received: u64,
    /// When it last started an upload or stored a chunk.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl UploadToken {
    /// A new api.video-face token (`to…`) for `project_id`, created `now`, allowing everything.
    pub fn create(project_id: ProjectId, ttl: Ttl, now: DateTime<Utc>) -> Self {
        Self::with_id(TokenId::generate(), project_id, ttl, now)
    }

    /// A new token with this id (a named token's is derived from its value).
    pub fn with_id(id: TokenId, project_id: ProjectId, ttl: Ttl, now: DateTime<Utc>) -> Self {
        let created_at = truncate_to_millis(now);
        Self {
            id,
            project_id,
            ttl,
            created_at,
            creation_order: CreationOrder::next(created_at),
            name: None,
            policy: TokenPolicy::default(),
            created_by: None,
            updated_by: None,
            updated_at: created_at,
            usage: TokenUsage::default(),
            value_hash: None,
            version: 0,
        }
    }

    /// When the token stops being active; `None` if it never expires.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.ttl
            .lifetime()
            .map(|d| self.created_at + TimeDelta::seconds(d.as_secs() as i64))
    }

    /// Active until, and not including, its expiry instant.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.expires_at().is_none_or(|expiry| now < expiry)
    }

    /// Whether its value is shown (the api.video face: the id is the value) rather than a
    /// secret shown once.
    pub fn value_is_shown(&self) -> bool {
        !self.id.is_named()
    }
}

/// Drops sub-millisecond precision, which the stores do not keep.
pub fn truncate_to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid date")
            .with_timezone(&Utc)
    }

    #[test]
    fn token_expires_exactly_ttl_after_creation() {
        let ttl = Ttl::from_seconds(10).expect("valid ttl");
        let token = UploadToken::create(ProjectId::generate(), ttl, at("2024-01-01T00:00:00.250Z"));
        assert_eq!(token.expires_at(), Some(at("2024-01-01T00:00:10.250Z")));
        assert!(token.is_active(at("2024-01-01T00:00:10.249Z")));
        assert!(!token.is_active(at("2024-01-01T00:00:10.250Z")));
        assert!(!token.is_active(at("2024-01-01T00:00:11.250Z")));
    }

    #[test]
    fn token_with_zero_ttl_never_expires() {
        let token = UploadToken::create(ProjectId::generate(), Ttl::NEVER, Utc::now());
        assert_eq!(token.expires_at(), None);
        assert!(token.is_active(at("9999-01-01T00:00:00Z")));
    }

    #[test]
    fn creation_order_follows_creation_within_one_millisecond() {
        let now = at("2024-01-01T00:00:00Z");
        let keys: Vec<_> = (0..1000).map(|_| CreationOrder::next(now)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn creation_order_round_trips_as_text() {
        let key = CreationOrder::next(Utc::now());
        assert_eq!(key.to_string().parse::<CreationOrder>().ok(), Some(key));
    }
}
