//! The headers of tus 1.0.0 (<https://tus.io/protocols/resumable-upload>), parsed: what the
//! protocol's requests carry, before the upload rules judge them. Pure.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

/// The one protocol version spoken (`Tus-Resumable`, `Tus-Version`).
pub const TUS_VERSION: &str = "1.0.0";

/// The extensions served (`Tus-Extension`).
pub const TUS_EXTENSIONS: &str =
    "creation,creation-with-upload,creation-defer-length,termination,expiration";

/// The content type of a PATCH body.
pub const TUS_PATCH_TYPE: &str = "application/offset+octet-stream";

/// Longest `Upload-Metadata` value kept (it is echoed by every HEAD).
pub const MAX_METADATA_BYTES: usize = 4096;

/// A tus header that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{header}: {detail}")]
pub struct InvalidTusHeader {
    /// The header.
    pub header: &'static str,
    /// What it must be.
    pub detail: &'static str,
}

fn invalid(header: &'static str, detail: &'static str) -> InvalidTusHeader {
    InvalidTusHeader { header, detail }
}

/// A non-negative decimal integer, digits only (no sign, no spaces inside), as the tus headers
/// `Upload-Offset` and `Upload-Length` carry.
pub fn parse_size(header: &'static str, value: &str) -> Result<u64, InvalidTusHeader> {
    let value = value.trim();
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(header, "must be a non-negative decimal integer"));
    }
    value
        .parse()
        .map_err(|_| invalid(header, "must be a non-negative decimal integer"))
}

/// How a creation gives the upload's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclaredLength {
    /// `Upload-Length: n`.
    Known(u64),
    /// `Upload-Defer-Length: 1`: told by a later PATCH.
    Deferred,
}

impl DeclaredLength {
    /// From a creation's `Upload-Length` and `Upload-Defer-Length` headers: exactly one of them,
    /// the latter only as `1`.
    pub fn parse(length: Option<&str>, defer: Option<&str>) -> Result<Self, InvalidTusHeader> {
        match (length, defer) {
            (Some(_), Some(_)) => Err(invalid(
                "Upload-Length",
                "send Upload-Length or Upload-Defer-Length, not both",
            )),
            (Some(length), None) => Ok(Self::Known(parse_size("Upload-Length", length)?)),
            (None, Some(d)) if d.trim() == "1" => Ok(Self::Deferred),
            (None, Some(_)) => Err(invalid("Upload-Defer-Length", "its only value is 1")),
            (None, None) => Err(invalid(
                "Upload-Length",
                "a creation carries Upload-Length, or Upload-Defer-Length: 1",
            )),
        }
    }

    /// The length, if known.
    pub fn known(self) -> Option<u64> {
        match self {
            Self::Known(n) => Some(n),
            Self::Deferred => None,
        }
    }
}

/// `Upload-Metadata`, decoded: comma-separated `key base64(value)` pairs (a key alone has an
/// empty value). Kept as sent too, since HEAD answers with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadMetadata {
    /// The header as sent (trimmed), `None` if absent or empty.
    pub raw: Option<String>,
    /// The pairs, in order; keys unique. Values are bytes (tus allows any).
    pub pairs: Vec<(String, Vec<u8>)>,
}

impl UploadMetadata {
    /// Parses the header. Keys are non-empty and carry no spaces or commas; values are base64
    /// (padded or not); no key appears twice.
    pub fn parse(header: Option<&str>) -> Result<Self, InvalidTusHeader> {
        let Some(raw) = header.map(str::trim).filter(|h| !h.is_empty()) else {
            return Ok(Self::default());
        };
        if raw.len() > MAX_METADATA_BYTES {
            return Err(invalid("Upload-Metadata", "is at most 4096 bytes"));
        }
        let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
        for pair in raw.split(',') {
            let mut words = pair.trim().splitn(2, ' ');
            let key = words.next().unwrap_or_default();
            let value = words.next().map(str::trim).unwrap_or_default();
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(invalid(
                    "Upload-Metadata",
                    "each pair is a key of printable ASCII without spaces, then a space and a base64 value",
                ));
            }
            if value.contains(' ') {
                return Err(invalid("Upload-Metadata", "a value is one base64 word"));
            }
            let bytes = STANDARD
                .decode(value)
                .or_else(|_| STANDARD_NO_PAD.decode(value))
                .map_err(|_| invalid("Upload-Metadata", "values are base64-encoded"))?;
            if pairs.iter().any(|(k, _)| k == key) {
                return Err(invalid("Upload-Metadata", "a key appears at most once"));
            }
            pairs.push((key.to_owned(), bytes));
        }
        Ok(Self {
            raw: Some(raw.to_owned()),
            pairs,
        })
    }

    /// The value of `key` as text, if present (a value that is not UTF-8 is refused).
    pub fn text(&self, key: &str) -> Result<Option<&str>, InvalidTusHeader> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| {
                std::str::from_utf8(v)
                    .map_err(|_| invalid("Upload-Metadata", "filename and filetype are UTF-8 text"))
            })
            .transpose()
    }

    /// The file's name (`filename`, or Uppy's `name`), for the video's title.
    pub fn file_name(&self) -> Result<Option<&str>, InvalidTusHeader> {
        Ok(self.text("filename")?.or(self.text("name")?))
    }

    /// The file's declared type (`filetype`, or Uppy's `type`), for the token's type check.
    pub fn file_type(&self) -> Result<Option<&str>, InvalidTusHeader> {
        Ok(self.text("filetype")?.or(self.text("type")?))
    }
}

/// Whether a request's `Tus-Resumable` is the version spoken.
pub fn supported_version(header: Option<&str>) -> bool {
    header.is_some_and(|v| v.trim() == TUS_VERSION)
}

/// Whether a PATCH body's `Content-Type` is `application/offset+octet-stream` (parameters and
/// case aside).
pub fn is_patch_type(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(TUS_PATCH_TYPE))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_pairs_decode_and_keep_the_raw_header() {
        let m = UploadMetadata::parse(Some(
            "filename bXkgdmlkZW8ubXA0,filetype dmlkZW8vbXA0, is_confidential",
        ))
        .expect("valid");
        assert_eq!(m.file_name(), Ok(Some("my video.mp4")));
        assert_eq!(m.file_type(), Ok(Some("video/mp4")));
        assert_eq!(m.pairs[2], ("is_confidential".to_owned(), Vec::new()));
        assert_eq!(
            m.raw.as_deref(),
            Some("filename bXkgdmlkZW8ubXA0,filetype dmlkZW8vbXA0, is_confidential")
        );
        // Unpadded base64 is accepted too.
        let m = UploadMetadata::parse(Some("name YQ")).expect("valid");
        assert_eq!(m.file_name(), Ok(Some("a")));
        assert_eq!(UploadMetadata::parse(None), Ok(UploadMetadata::default()));
        assert_eq!(
            UploadMetadata::parse(Some("  ")),
            Ok(UploadMetadata::default())
        );
    }

    #[test]
    fn malformed_metadata_is_refused() {
        for bad in [
            "filename",
            "filename !!!",
            "filename YQ== YQ==",
            ",",
            "a YQ==,a YQ==",
            "ké YQ==",
        ] {
            let parsed = UploadMetadata::parse(Some(bad));
            let refused = match parsed {
                Err(_) => true,
                Ok(m) => m.file_name().is_err(),
            };
            assert!(refused || bad == "filename", "{bad}");
        }
        // A key alone is allowed (an empty value).
        assert!(UploadMetadata::parse(Some("filename")).is_ok());
        assert!(UploadMetadata::parse(Some(&"a ".repeat(3000))).is_err());
        // Not UTF-8: refused where it would become a title.
        let m = UploadMetadata::parse(Some("filename /w==")).expect("base64");
        assert!(m.file_name().is_err());
    }

    #[test]
    fn sizes_are_plain_decimal_integers() {
        assert_eq!(parse_size("Upload-Offset", "0"), Ok(0));
        assert_eq!(parse_size("Upload-Offset", " 42 "), Ok(42));
        for bad in [
            "",
            "-1",
            "+1",
            "1.5",
            "0x10",
            "1 2",
            "99999999999999999999999",
        ] {
            assert!(parse_size("Upload-Offset", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_creation_states_its_length_one_way() {
        assert_eq!(
            DeclaredLength::parse(Some("10"), None),
            Ok(DeclaredLength::Known(10))
        );
        assert_eq!(
            DeclaredLength::parse(None, Some("1")),
            Ok(DeclaredLength::Deferred)
        );
        assert!(DeclaredLength::parse(None, None).is_err());
        assert!(DeclaredLength::parse(Some("10"), Some("1")).is_err());
        assert!(DeclaredLength::parse(None, Some("0")).is_err());
    }

    #[test]
    fn versions_and_patch_types() {
        assert!(supported_version(Some("1.0.0")));
        assert!(!supported_version(Some("0.2.2")));
        assert!(!supported_version(None));
        assert!(is_patch_type(Some("application/offset+octet-stream")));
        assert!(is_patch_type(Some("Application/Offset+Octet-Stream; x=1")));
        assert!(!is_patch_type(Some("application/octet-stream")));
        assert!(!is_patch_type(None));
    }
}
