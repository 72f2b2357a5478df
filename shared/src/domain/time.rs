//! Time: one injectable clock, and the wire format of dates.

use chrono::{DateTime, SecondsFormat, Utc};
use std::sync::Mutex;

/// Where "now" comes from. Handlers and rules take it from here, never from the system directly,
/// so tests can move time.
pub trait Clock: Send + Sync {
    /// The current instant, with at least millisecond precision.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to (tests, benchmarks).
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock stopped at `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }

    /// Moves the clock by `by` (which may be negative).
    pub fn advance(&self, by: chrono::TimeDelta) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }

    /// Sets the clock to `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// RFC 3339 in UTC with seconds precision and a `+00:00` offset: `2020-12-02T10:26:46+00:00`.
pub fn format_timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_use_seconds_and_numeric_offset() {
        let at = DateTime::parse_from_rfc3339("2020-12-02T10:26:46.789Z")
            .map(|d| d.with_timezone(&Utc))
            .expect("valid date");
        assert_eq!(format_timestamp(at), "2020-12-02T10:26:46+00:00");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = Utc::now();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(chrono::TimeDelta::seconds(2));
        assert_eq!(clock.now(), start + chrono::TimeDelta::seconds(2));
    }
}
