//! The `Content-Range` header of `POST /upload`: `bytes <from>-<to>/<total|*>`,
//! `part <n>/<total|*>`, or absent (the whole file in one request).

use std::fmt;

/// Most parts one upload may have (S3's limit on a multipart upload).
pub const MAX_PARTS: u32 = 10_000;

/// A parsed `Content-Range`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentRange {
    /// No header: the request carries the whole file.
    Whole,
    /// Bytes `from..=to` of a file of `total` bytes (`None`: not known yet).
    Bytes {
        /// First byte, inclusive.
        from: u64,
        /// Last byte, inclusive.
        to: u64,
        /// File size, if the client knows it.
        total: Option<u64>,
    },
    /// Part `n` (from 1) of `total` parts (`None`: not known yet).
    Part {
        /// Part number.
        n: u32,
        /// Number of parts, if the client knows it.
        total: Option<u32>,
    },
}

/// Why a `Content-Range` header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidContentRange {
    /// Not of the grammar `(bytes a-b|part n)/(total|*)`.
    #[error("Content-Range must be `bytes <from>-<to>/<total|*>` or `part <n>/<total|*>`")]
    Syntax,
    /// `to` before `from`.
    #[error("the range ends before it starts")]
    Reversed,
    /// The range reaches past the total.
    #[error("the range ends at or past the total size")]
    PastTotal,
    /// `part 0`, or a part number above the total.
    #[error("part numbers start at 1 and cannot exceed the total")]
    PartNumber,
    /// A total of 0.
    #[error("the total must be at least 1")]
    ZeroTotal,
    /// More parts than an upload can have.
    #[error("an upload has at most {MAX_PARTS} parts")]
    TooManyParts,
}

impl ContentRange {
    /// Parses the header's value (`None`: no header).
    pub fn parse(header: Option<&str>) -> Result<Self, InvalidContentRange> {
        let Some(value) = header else {
            return Ok(Self::Whole);
        };
        let value = value.trim();
        let (unit_and_range, total) = value.rsplit_once('/').ok_or(InvalidContentRange::Syntax)?;
        let total = match total {
            "*" => None,
            digits => Some(number(digits)?),
        };
        if let Some(range) = unit_and_range.strip_prefix("bytes ") {
            let (from, to) = range.split_once('-').ok_or(InvalidContentRange::Syntax)?;
            let (from, to) = (number(from)?, number(to)?);
            if to < from {
                return Err(InvalidContentRange::Reversed);
            }
            match total {
                Some(0) => Err(InvalidContentRange::ZeroTotal),
                Some(t) if to >= t => Err(InvalidContentRange::PastTotal),
                _ => Ok(Self::Bytes { from, to, total }),
            }
        } else if let Some(n) = unit_and_range.strip_prefix("part ") {
            let n = u32::try_from(number(n)?).map_err(|_| InvalidContentRange::TooManyParts)?;
            let total = total
                .map(|t| u32::try_from(t).map_err(|_| InvalidContentRange::TooManyParts))
                .transpose()?;
            match total {
                Some(0) => Err(InvalidContentRange::ZeroTotal),
                _ if n == 0 => Err(InvalidContentRange::PartNumber),
                Some(t) if n > t => Err(InvalidContentRange::PartNumber),
                Some(t) if t > MAX_PARTS => Err(InvalidContentRange::TooManyParts),
                _ if n > MAX_PARTS => Err(InvalidContentRange::TooManyParts),
                _ => Ok(Self::Part { n, total }),
            }
        } else {
            Err(InvalidContentRange::Syntax)
        }
    }

    /// Whether this request completes the file: no header, `part n/n`, or a range ending at
    /// `total - 1`.
    pub fn is_last(&self) -> bool {
        match *self {
            Self::Whole => true,
            Self::Bytes { to, total, .. } => total == Some(to + 1),
            Self::Part { n, total } => total == Some(n),
        }
    }
}

impl fmt::Display for ContentRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let star = |t: Option<u64>| t.map_or_else(|| "*".to_owned(), |t| t.to_string());
        match *self {
            Self::Whole => f.write_str("(whole file)"),
            Self::Bytes { from, to, total } => write!(f, "bytes {from}-{to}/{}", star(total)),
            Self::Part { n, total } => write!(f, "part {n}/{}", star(total.map(u64::from))),
        }
    }
}

fn number(s: &str) -> Result<u64, InvalidContentRange> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidContentRange::Syntax);
    }
    s.parse().map_err(|_| InvalidContentRange::Syntax)
}

#[cfg(test)]
mod tests {
    use super::*;
    use InvalidContentRange as E;

    fn parse(s: &str) -> Result<ContentRange, InvalidContentRange> {
        ContentRange::parse(Some(s))
    }

    #[test]
    fn accepted_forms() {
        assert_eq!(ContentRange::parse(None), Ok(ContentRange::Whole));
        assert_eq!(
            parse("bytes 0-9/10"),
            Ok(ContentRange::Bytes {
                from: 0,
                to: 9,
                total: Some(10)
            })
        );
        assert_eq!(
            parse("bytes 10-19/*"),
            Ok(ContentRange::Bytes {
                from: 10,
                to: 19,
                total: None
            })
        );
        assert_eq!(
            parse("part 1/3"),
            Ok(ContentRange::Part {
                n: 1,
                total: Some(3)
            })
        );
        assert_eq!(
            parse("part 7/*"),
            Ok(ContentRange::Part { n: 7, total: None })
        );
    }

    #[test]
    fn refused_forms_say_why() {
        assert_eq!(parse("bytes 5-2/10"), Err(E::Reversed));
        assert_eq!(parse("part 0/3"), Err(E::PartNumber));
        assert_eq!(parse("part 4/3"), Err(E::PartNumber));
        assert_eq!(parse("part 1/0"), Err(E::ZeroTotal));
        assert_eq!(parse("bytes 0-9/5"), Err(E::PastTotal));
        assert_eq!(parse("bytes 0-0/0"), Err(E::ZeroTotal));
        assert_eq!(parse("part 1/10001"), Err(E::TooManyParts));
        assert_eq!(parse("part 10001/*"), Err(E::TooManyParts));
        for bad in [
            "bytes a-b/c",
            "bytes 1-2",
            "part x/2",
            "chunks 1/2",
            "bytes -1-2/3",
            "part 1/",
            "bytes 1-2/3/4",
            "",
            "part +1/2",
            "bytes 99999999999999999999-1/*",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn last_chunk_is_recognised() {
        assert!(ContentRange::Whole.is_last());
        assert!(parse("bytes 5-9/10").map(|r| r.is_last()).unwrap_or(false));
        assert!(!parse("bytes 0-4/10").map(|r| r.is_last()).unwrap_or(true));
        assert!(!parse("bytes 0-4/*").map(|r| r.is_last()).unwrap_or(true));
        assert!(parse("part 3/3").map(|r| r.is_last()).unwrap_or(false));
        assert!(!parse("part 3/*").map(|r| r.is_last()).unwrap_or(true));
    }
}
