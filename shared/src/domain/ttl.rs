//! The lifetime an upload token is created with.

use serde_json::Value;
use std::time::Duration;

/// Seconds an upload token stays active after creation; 0 means it never expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ttl(u32);

/// Why a `ttl` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTtl {
    /// Not a JSON integer (a string, a fraction, a boolean, null, an array...).
    #[error("ttl must be an integer number of seconds")]
    NotAnInteger,
    /// An integer outside 0..=2147483647.
    #[error("ttl must be between 0 and {max}", max = Ttl::MAX)]
    OutOfRange,
}

impl Ttl {
    /// The largest accepted ttl: 2^31 - 1 seconds (about 68 years).
    pub const MAX: u32 = i32::MAX as u32;

    /// A token that never expires.
    pub const NEVER: Ttl = Ttl(0);

    /// From a number of seconds already known to be valid.
    pub fn from_seconds(seconds: u32) -> Result<Self, InvalidTtl> {
        if seconds <= Self::MAX {
            Ok(Self(seconds))
        } else {
            Err(InvalidTtl::OutOfRange)
        }
    }

    /// From the JSON value of the `ttl` attribute. Only JSON integers are accepted: `1.0`, `"10"`,
    /// `true` or `null` are refused rather than coerced.
    pub fn from_json(value: &Value) -> Result<Self, InvalidTtl> {
        let Value::Number(n) = value else {
            return Err(InvalidTtl::NotAnInteger);
        };
        if let Some(u) = n.as_u64() {
            u32::try_from(u)
                .map_err(|_| InvalidTtl::OutOfRange)
                .and_then(Self::from_seconds)
        } else if n.as_i64().is_some() {
            Err(InvalidTtl::OutOfRange)
        } else {
            Err(InvalidTtl::NotAnInteger)
        }
    }

    /// The ttl in seconds, as given at creation.
    pub fn seconds(self) -> u32 {
        self.0
    }

    /// How long the token lives, or `None` when it never expires.
    pub fn lifetime(self) -> Option<Duration> {
        (self.0 > 0).then(|| Duration::from_secs(u64::from(self.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_in_range_are_accepted() {
        assert_eq!(Ttl::from_json(&json!(0)), Ok(Ttl::NEVER));
        assert_eq!(Ttl::from_json(&json!(3600)).map(Ttl::seconds), Ok(3600));
        assert_eq!(
            Ttl::from_json(&json!(2147483647)).map(Ttl::seconds),
            Ok(2147483647)
        );
    }

    #[test]
    fn out_of_range_integers_are_refused() {
        assert_eq!(Ttl::from_json(&json!(-1)), Err(InvalidTtl::OutOfRange));
        assert_eq!(
            Ttl::from_json(&json!(2147483648u64)),
            Err(InvalidTtl::OutOfRange)
        );
        assert_eq!(
            Ttl::from_json(&json!(u64::MAX)),
            Err(InvalidTtl::OutOfRange)
        );
    }

    #[test]
    fn non_integers_are_refused() {
        for v in [
            json!(1.5),
            json!(1.0),
            json!("10"),
            json!(null),
            json!(true),
            json!([]),
            json!({}),
        ] {
            assert_eq!(Ttl::from_json(&v), Err(InvalidTtl::NotAnInteger), "{v}");
        }
    }

    #[test]
    fn zero_never_expires() {
        assert_eq!(Ttl::NEVER.lifetime(), None);
        assert_eq!(
            Ttl::from_seconds(5).ok().and_then(Ttl::lifetime),
            Some(Duration::from_secs(5))
        );
    }
}
