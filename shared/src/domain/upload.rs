//! The rules of a chunked upload: what order chunks come in, what a retry is, when the file is
//! complete. Pure: the handler asks [`UploadProgress::judge`], stores the bytes, then records.

use super::{ContentRange, MAX_PARTS};

/// How a video's chunks are numbered; fixed by its first chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadMode {
    /// One request without `Content-Range`.
    Whole,
    /// `Content-Range: bytes a-b/total`.
    Bytes,
    /// `Content-Range: part n/total`.
    Part,
    /// The client sent the bytes to the store itself (S3-direct: a POST form, or a multipart
    /// upload of its own parts); the server only checked and completed them.
    Direct,
}

/// A chunk that was stored: kept apart from the video (one record per chunk), so an upload of
/// thousands of chunks never outgrows a store item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedChunk {
    /// Offset of its first byte in the file.
    pub offset: u64,
    /// Its size in bytes.
    pub size: u64,
    /// Part number (part mode) or 0.
    pub part: u32,
    /// Hex SHA-256 of its bytes: how a retry is told from a different chunk.
    pub sha256: String,
}

/// What has been received of one video's file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadProgress {
    /// Numbering, once the first chunk arrived.
    pub mode: Option<UploadMode>,
    /// Announced total: bytes (bytes mode) or parts (part mode); file size once complete.
    pub total: Option<u64>,
    /// Chunks stored (contiguous from offset 0, in order).
    pub chunk_count: u32,
    /// Bytes stored: the offset the next chunk starts at.
    pub received_bytes: u64,
    /// The file is complete.
    pub completed: bool,
    /// Created by tus (SPEC §10): a byte-range upload whose length may be told at creation, or
    /// later, and which only tus requests continue.
    pub tus: Option<TusUpload>,
}

/// What a tus creation said that HEAD repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TusUpload {
    /// `Upload-Metadata` as sent, if any.
    pub metadata: Option<String>,
}

/// A chunk as it arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingChunk {
    /// Its `Content-Range`.
    pub range: ContentRange,
    /// Size of the file part in bytes (≥ 1).
    pub size: u64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
}

/// What to do with a chunk that obeys the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Already stored with the same bytes: acknowledge, store nothing.
    Duplicate,
    /// Store it; `last` completes the file.
    Accept {
        /// This chunk completes the file.
        last: bool,
        /// Where it goes.
        chunk: ReceivedChunk,
    },
}

/// Why a chunk breaks the rules. Each maps to one problem slug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadRuleError {
    /// `bytes` and `part` (or a whole-file request) mixed in one video.
    #[error("this video's upload uses {was}; a request used {now}")]
    MixedModes {
        /// Mode of the video.
        was: &'static str,
        /// Mode of the request.
        now: &'static str,
    },
    /// The announced total differs from an earlier one.
    #[error("the total changed from {was} to {now}")]
    TotalChanged {
        /// Earlier total.
        was: u64,
        /// This request's total.
        now: u64,
    },
    /// Not the next chunk.
    #[error("expected {expected}")]
    OutOfOrder {
        /// What the server expects next, e.g. `part 3` or `bytes from offset 10485760`.
        expected: String,
    },
    /// A range's length differs from the file part's size.
    #[error("the range covers {range} bytes but the file part has {file}")]
    LengthMismatch {
        /// Bytes the range names.
        range: u64,
        /// Bytes received.
        file: u64,
    },
    /// A part or range already stored, sent again with different bytes or size.
    #[error("{what} was already received with different content")]
    Conflict {
        /// Which part or range.
        what: String,
    },
    /// A chunk past the announced total.
    #[error("the chunk goes past the announced total of {total}")]
    PastTotal {
        /// The total.
        total: u64,
    },
    /// The video's file is complete.
    #[error("this video's file is already complete")]
    Completed,
    /// Over the configured maximum size.
    #[error("the file would exceed the maximum of {max} bytes")]
    TooLarge {
        /// The limit.
        max: u64,
    },
    /// More than [`MAX_PARTS`] parts.
    #[error("an upload has at most {MAX_PARTS} parts")]
    TooManyParts,
}

impl UploadMode {
    fn of(range: &ContentRange) -> Self {
        match range {
            ContentRange::Whole => Self::Whole,
            ContentRange::Bytes { .. } => Self::Bytes,
            ContentRange::Part { .. } => Self::Part,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Whole => "a single request",
            Self::Bytes => "byte ranges",
            Self::Part => "part numbers",
            Self::Direct => "an upload straight to the store",
        }
    }
}

impl UploadProgress {
    /// The key under which a chunk with this range is (or would be) recorded: its part number,
    /// its first byte's offset, or 0 for a whole file. Look the stored chunk up by it before
    /// [`judge`](Self::judge).
    pub fn chunk_index(range: &ContentRange) -> u64 {
        match *range {
            ContentRange::Whole => 0,
            ContentRange::Bytes { from, .. } => from,
            ContentRange::Part { n, .. } => u64::from(n),
        }
    }

    /// Whether a chunk at `index` would lie in what is already stored (so it is a retry or a
    /// conflict, and the stored chunk at `index` must be looked up).
    pub fn covers(&self, range: &ContentRange) -> bool {
        let index = Self::chunk_index(range);
        match UploadMode::of(range) {
            UploadMode::Whole => self.chunk_count > 0,
            UploadMode::Bytes => index < self.received_bytes,
            UploadMode::Part => index <= u64::from(self.chunk_count),
            UploadMode::Direct => false,
        }
    }

    /// The file size, once known (complete, or announced in bytes mode).
    pub fn file_size(&self) -> Option<u64> {
        match (self.completed, self.mode) {
            (true, _) => Some(self.received_bytes),
            (false, Some(UploadMode::Bytes)) => self.total,
            _ => None,
        }
    }

    /// Decides what to do with `chunk`, given the chunk stored at its index (`stored`, looked up
    /// when [`covers`](Self::covers) says so) and at most `max_bytes` per file.
    pub fn judge(
        &self,
        chunk: &IncomingChunk,
        stored: Option<&ReceivedChunk>,
        max_bytes: u64,
    ) -> Result<Verdict, UploadRuleError> {
        let mode = UploadMode::of(&chunk.range);
        if let Some(was) = self.mode
            && was != mode
        {
            return Err(UploadRuleError::MixedModes {
                was: was.name(),
                now: mode.name(),
            });
        }
        let announced = match chunk.range {
            ContentRange::Whole => Some(chunk.size),
            ContentRange::Bytes { total, .. } => total,
            ContentRange::Part { total, .. } => total.map(u64::from),
        };
        if let (Some(was), Some(now)) = (self.total, announced)
            && was != now
            && mode != UploadMode::Whole
        {
            return Err(UploadRuleError::TotalChanged { was, now });
        }
        let total = self.total.or(announced);
        // An announced size beyond the maximum is refused at the first chunk, not found out
        // near the end (a part count beyond the maximum is refused as the header is parsed).
        if let (UploadMode::Bytes, Some(t)) = (mode, total)
            && t > max_bytes
        {
            return Err(UploadRuleError::TooLarge { max: max_bytes });
        }
        let next_offset = self.received_bytes;
        let (offset, part, index) = match chunk.range {
            ContentRange::Whole => (0, 0, 0),
            ContentRange::Bytes { from, to, .. } => {
                let range = to - from + 1;
                if range != chunk.size {
                    return Err(UploadRuleError::LengthMismatch {
                        range,
                        file: chunk.size,
                    });
                }
                (from, 0, from)
            }
            ContentRange::Part { n, .. } => (next_offset, n, u64::from(n)),
        };
        if self.mode.is_some() && self.covers(&chunk.range) {
            // Inside what is stored: the same bytes again are a retry; anything else (different
            // bytes, or a range overlapping a stored chunk without matching it) a conflict.
            return match stored {
                Some(s) if s.sha256 == chunk.sha256 && s.size == chunk.size => {
                    Ok(Verdict::Duplicate)
                }
                _ => Err(UploadRuleError::Conflict {
                    what: describe(mode, index),
                }),
            };
        }
        if self.completed {
            return Err(UploadRuleError::Completed);
        }
        let past_total = match chunk.range {
            ContentRange::Bytes { to, .. } => total.filter(|t| to >= *t),
            ContentRange::Part { n, .. } => total.filter(|t| u64::from(n) > *t),
            ContentRange::Whole => None,
        };
        if let Some(total) = past_total {
            return Err(UploadRuleError::PastTotal { total });
        }
        let expected = match mode {
            UploadMode::Whole => 0,
            UploadMode::Bytes => next_offset,
            UploadMode::Part => u64::from(self.chunk_count) + 1,
            UploadMode::Direct => 0,
        };
        if index != expected {
            return Err(UploadRuleError::OutOfOrder {
                expected: describe(mode, expected),
            });
        }
        if part > MAX_PARTS {
            return Err(UploadRuleError::TooManyParts);
        }
        let end = offset + chunk.size;
        if end > max_bytes {
            return Err(UploadRuleError::TooLarge { max: max_bytes });
        }
        let last = match chunk.range {
            ContentRange::Whole => true,
            ContentRange::Bytes { .. } => total == Some(end),
            ContentRange::Part { n, .. } => total == Some(u64::from(n)),
        };
        Ok(Verdict::Accept {
            last,
            chunk: ReceivedChunk {
                offset,
                size: chunk.size,
                part,
                sha256: chunk.sha256.clone(),
            },
        })
    }

    /// A tus upload just created: nothing received, its length known or deferred.
    pub fn tus(length: Option<u64>, metadata: Option<String>) -> Self {
        Self {
            mode: Some(UploadMode::Bytes),
            total: length,
            tus: Some(TusUpload { metadata }),
            ..Self::default()
        }
    }

    /// Whether the upload's length is yet to be told (tus `Upload-Defer-Length`).
    pub fn length_deferred(&self) -> bool {
        self.total.is_none() && !self.completed
    }

    /// A direct upload (S3-direct) about to be written by the client itself.
    pub fn direct() -> Self {
        Self {
            mode: Some(UploadMode::Direct),
            ..Self::default()
        }
    }

    /// Records that a direct upload's `size` bytes are all in the store: the file is complete.
    pub fn complete_direct(&mut self, size: u64) {
        self.mode = Some(UploadMode::Direct);
        self.total = Some(size);
        self.chunk_count = 1;
        self.received_bytes = size;
        self.completed = true;
    }

    /// Records an accepted chunk (what [`judge`](Self::judge) returned for `incoming`).
    pub fn record(&mut self, incoming: &IncomingChunk, chunk: ReceivedChunk, last: bool) {
        let mode = UploadMode::of(&incoming.range);
        self.mode = Some(mode);
        let announced = match incoming.range {
            ContentRange::Whole => None,
            ContentRange::Bytes { total, .. } => total,
            ContentRange::Part { total, .. } => total.map(u64::from),
        };
        if self.total.is_none() {
            self.total = announced;
        }
        self.chunk_count += 1;
        self.received_bytes = chunk.offset + chunk.size;
        if last {
            self.completed = true;
            if mode != UploadMode::Part {
                self.total = Some(self.received_bytes);
            }
        }
    }
}

fn describe(mode: UploadMode, index: u64) -> String {
    match mode {
        UploadMode::Whole => "the whole file".into(),
        UploadMode::Bytes => format!("bytes from offset {index}"),
        UploadMode::Part => format!("part {index}"),
        UploadMode::Direct => "an upload straight to the store".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u64 = 1 << 40;

    fn chunk(range: &str, size: u64, tag: &str) -> IncomingChunk {
        IncomingChunk {
            range: ContentRange::parse((!range.is_empty()).then_some(range)).expect("valid"),
            size,
            sha256: tag.into(),
        }
    }

    /// The progress and the chunk records a store would keep beside it.
    #[derive(Default)]
    struct Upload {
        p: UploadProgress,
        stored: Vec<(u64, ReceivedChunk)>,
    }

    impl Upload {
        fn judge(&self, c: &IncomingChunk, max: u64) -> Result<Verdict, UploadRuleError> {
            let index = UploadProgress::chunk_index(&c.range);
            let stored = self
                .stored
                .iter()
                .find(|(i, _)| *i == index)
                .map(|(_, r)| r);
            self.p.judge(c, stored, max)
        }
    }

    fn feed(u: &mut Upload, c: &IncomingChunk) -> Result<Verdict, UploadRuleError> {
        let verdict = u.judge(c, MAX)?;
        if let Verdict::Accept { last, chunk } = verdict.clone() {
            u.stored
                .push((UploadProgress::chunk_index(&c.range), chunk.clone()));
            u.p.record(c, chunk, last);
        }
        Ok(verdict)
    }

    #[test]
    fn whole_file_completes_at_once() {
        let mut p = Upload::default();
        assert!(matches!(
            feed(&mut p, &chunk("", 10, "a")),
            Ok(Verdict::Accept { last: true, .. })
        ));
        assert!(p.p.completed);
        assert_eq!(p.p.file_size(), Some(10));
        assert_eq!(feed(&mut p, &chunk("", 10, "a")), Ok(Verdict::Duplicate));
        assert!(matches!(
            feed(&mut p, &chunk("", 10, "b")),
            Err(UploadRuleError::Conflict { .. })
        ));
    }

    #[test]
    fn byte_ranges_in_order_with_unknown_total() {
        let mut p = Upload::default();
        assert!(matches!(
            feed(&mut p, &chunk("bytes 0-4/*", 5, "a")),
            Ok(Verdict::Accept { last: false, .. })
        ));
        assert!(matches!(
            feed(&mut p, &chunk("bytes 5-9/*", 5, "b")),
            Ok(Verdict::Accept { last: false, .. })
        ));
        assert!(matches!(
            feed(&mut p, &chunk("bytes 10-11/12", 2, "c")),
            Ok(Verdict::Accept { last: true, .. })
        ));
        assert_eq!(p.p.file_size(), Some(12));
    }

    #[test]
    fn out_of_order_chunk_names_the_expected_offset_or_part() {
        let mut p = Upload::default();
        feed(&mut p, &chunk("bytes 0-4/20", 5, "a")).expect("first");
        assert_eq!(
            p.judge(&chunk("bytes 10-14/20", 5, "x"), MAX),
            Err(UploadRuleError::OutOfOrder {
                expected: "bytes from offset 5".into()
            })
        );
        let q = Upload::default();
        assert_eq!(
            q.judge(&chunk("part 2/3", 5, "x"), MAX),
            Err(UploadRuleError::OutOfOrder {
                expected: "part 1".into()
            })
        );
    }

    #[test]
    fn retried_chunk_is_a_duplicate_and_changed_bytes_a_conflict() {
        let mut p = Upload::default();
        feed(&mut p, &chunk("part 1/*", 5, "a")).expect("first");
        assert_eq!(
            feed(&mut p, &chunk("part 1/*", 5, "a")),
            Ok(Verdict::Duplicate)
        );
        assert!(matches!(
            p.judge(&chunk("part 1/*", 5, "z"), MAX),
            Err(UploadRuleError::Conflict { .. })
        ));
        assert_eq!(p.p.chunk_count, 1);
    }

    #[test]
    fn overlapping_range_is_a_conflict() {
        let mut p = Upload::default();
        feed(&mut p, &chunk("bytes 0-9/*", 10, "a")).expect("first");
        assert!(matches!(
            p.judge(&chunk("bytes 5-14/*", 10, "b"), MAX),
            Err(UploadRuleError::Conflict { .. })
        ));
    }

    #[test]
    fn modes_cannot_mix_and_totals_cannot_change() {
        let mut p = Upload::default();
        feed(&mut p, &chunk("bytes 0-4/10", 5, "a")).expect("first");
        assert!(matches!(
            p.judge(&chunk("part 2/2", 5, "b"), MAX),
            Err(UploadRuleError::MixedModes { .. })
        ));
        assert!(matches!(
            p.judge(&chunk("", 5, "b"), MAX),
            Err(UploadRuleError::MixedModes { .. })
        ));
        assert_eq!(
            p.judge(&chunk("bytes 5-9/11", 5, "b"), MAX),
            Err(UploadRuleError::TotalChanged { was: 10, now: 11 })
        );
    }

    #[test]
    fn range_length_must_match_the_file() {
        let p = Upload::default();
        assert_eq!(
            p.judge(&chunk("bytes 0-9/*", 9, "a"), MAX),
            Err(UploadRuleError::LengthMismatch { range: 10, file: 9 })
        );
    }

    #[test]
    fn parts_complete_on_n_of_n_and_then_refuse_new_chunks() {
        let mut p = Upload::default();
        feed(&mut p, &chunk("part 1/*", 5, "a")).expect("1");
        feed(&mut p, &chunk("part 2/*", 5, "b")).expect("2");
        assert!(matches!(
            feed(&mut p, &chunk("part 3/3", 1, "c")),
            Ok(Verdict::Accept { last: true, .. })
        ));
        assert_eq!(p.p.file_size(), Some(11));
        assert_eq!(
            feed(&mut p, &chunk("part 3/3", 1, "c")),
            Ok(Verdict::Duplicate)
        );
        assert_eq!(
            p.judge(&chunk("part 4/*", 1, "d"), MAX),
            Err(UploadRuleError::Completed)
        );
    }

    #[test]
    fn size_limit_is_enforced() {
        let p = Upload::default();
        assert_eq!(
            p.judge(&chunk("bytes 0-99/100", 100, "a"), 50),
            Err(UploadRuleError::TooLarge { max: 50 })
        );
    }

    #[test]
    fn an_announced_total_beyond_the_limits_is_refused_at_the_first_chunk() {
        let p = Upload::default();
        assert_eq!(
            p.judge(&chunk("bytes 0-9/9999999999999999999", 10, "a"), MAX),
            Err(UploadRuleError::TooLarge { max: MAX })
        );
        assert_eq!(
            p.judge(&chunk("bytes 0-9/51", 10, "a"), 50),
            Err(UploadRuleError::TooLarge { max: 50 })
        );
        assert!(ContentRange::parse(Some("part 1/10001")).is_err());
        assert!(p.judge(&chunk("part 1/10000", 10, "a"), MAX).is_ok());
        assert!(p.judge(&chunk("bytes 0-9/50", 10, "a"), 50).is_ok());
    }
}
