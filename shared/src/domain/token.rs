//! Upload tokens and the rule that decides whether one is active.

use super::{ProjectId, TokenId, Ttl};
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

/// A delegated upload token owned by a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadToken {
    /// The token itself (also its identifier).
    pub id: TokenId,
    /// The project whose API key created it.
    pub project_id: ProjectId,
    /// Lifetime given at creation.
    pub ttl: Ttl,
    /// Creation instant, millisecond precision.
    pub created_at: DateTime<Utc>,
    /// Exact creation order.
    pub creation_order: CreationOrder,
}

impl UploadToken {
    /// A new token for `project_id`, created `now`.
    pub fn create(project_id: ProjectId, ttl: Ttl, now: DateTime<Utc>) -> Self {
        let created_at = truncate_to_millis(now);
        Self {
            id: TokenId::generate(),
            project_id,
            ttl,
            created_at,
            creation_order: CreationOrder::next(created_at),
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
}

/// Drops sub-millisecond precision, which the stores do not keep.
pub(crate) fn truncate_to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
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
