//! What a delegated upload token allows (SPEC §7), and the checks every way bytes come in (the
//! api.video `/upload`, tus, S3-direct) makes against it. Pure: callers bring the request's
//! Origin, the declared type, the sizes and the file's first bytes.
//!
//! `maxUploads` is the one limit that is not checked here: only the store can count the videos
//! a token started exactly under concurrency, so it is a condition of the conditional write that
//! creates a video.

use super::{Video, VideoPatch};
use serde_json::{Map, Value};
use std::fmt;

/// How many first bytes of a file [`TokenPolicy::check_file_start`] wants: enough for every
/// signature `infer` knows (most need a few dozen; some containers look further in).
pub const SNIFF_BYTES: usize = 8192;
/// Most entries of `allowedContentTypes` or `allowedOrigins`.
pub const MAX_LIST: usize = 50;
/// Longest token name, in characters.
pub const MAX_NAME: usize = 50;

/// Client input quoted in an error message, cut to a readable length.
fn quoted(s: &str) -> String {
    let cut: String = s.chars().take(100).collect();
    if cut.len() < s.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}

/// A MIME type pattern: `type/subtype`, `type/*` or `*/*`, lower-case, without parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MimePattern(String);

/// An RFC 6838 restricted name: 1 to 127 characters, the first alphanumeric.
fn restricted_name(s: &str) -> bool {
    (1..=127).contains(&s.len())
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
}

impl MimePattern {
    /// Accepts `type/subtype`, `type/*` or `*/*`, whatever the case.
    pub fn parse(s: &str) -> Option<Self> {
        let lower = s.to_ascii_lowercase();
        let (kind, sub) = lower.split_once('/')?;
        let valid = match (kind, sub) {
            ("*", "*") => true,
            ("*", _) => false,
            (kind, "*") => restricted_name(kind),
            (kind, sub) => restricted_name(kind) && restricted_name(sub),
        };
        valid.then_some(Self(lower))
    }

    /// Whether a lower-case `type/subtype` is one this pattern admits.
    pub fn matches(&self, essence: &str) -> bool {
        match self.0.split_once('/') {
            Some(("*", "*")) => true,
            Some((kind, "*")) => essence.split_once('/').is_some_and(|(k, _)| k == kind),
            _ => self.0 == essence,
        }
    }

    /// The pattern as given (lower-case).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MimePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `type/subtype` of a Content-Type value, lower-case, parameters dropped; `None` if it is
/// not one.
fn essence(content_type: &str) -> Option<String> {
    let essence = content_type.split(';').next()?.trim().to_ascii_lowercase();
    let (kind, sub) = essence.split_once('/')?;
    (restricted_name(kind) && restricted_name(sub)).then_some(essence)
}

/// A web origin a token admits uploads from: `scheme://host[:port]`, `http` or `https`,
/// normalised (lower-case, default port dropped) so that it compares with what browsers send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(String);

/// The longest origin accepted: `http://` and a 253-character name. The OpenAPI contract states
/// the same `maxLength`, so that the two agree on every string.
pub const MAX_ORIGIN_LEN: usize = 260;

/// A DNS name (letters, digits, hyphens; labels 1 to 63 long, not starting or ending with a
/// hyphen), an IPv4 literal, or a bracketed IPv6 literal.
fn valid_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
        // A name whose last label is all digits would be a malformed IPv4 address.
        && !host
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
}

impl Origin {
    /// Accepts `http://host[:port]` or `https://host[:port]`, nothing before or after.
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() > MAX_ORIGIN_LEN {
            return None;
        }
        let lower = s.to_ascii_lowercase();
        let (scheme, rest) = lower.split_once("://")?;
        let default_port = match scheme {
            "http" => "80",
            "https" => "443",
            _ => return None,
        };
        // The host ends at the last ':' that is not inside an IPv6 literal's brackets.
        let (host, port) = match rest.rfind(':') {
            Some(at) if !rest[at..].contains(']') => (&rest[..at], Some(&rest[at + 1..])),
            _ => (rest, None),
        };
        if !valid_host(host) {
            return None;
        }
        match port {
            None => Some(Self(format!("{scheme}://{host}"))),
            Some(port) => {
                let valid = !port.is_empty()
                    && port.len() <= 5
                    && port.bytes().all(|b| b.is_ascii_digit())
                    && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
                if !valid {
                    return None;
                }
                let port = port.trim_start_matches('0');
                Some(if port == default_port {
                    Self(format!("{scheme}://{host}"))
                } else {
                    Self(format!("{scheme}://{host}:{port}"))
                })
            }
        }
    }

    /// Whether a browser's `Origin` header names this origin (`null`, or anything that is not
    /// an origin, names none).
    pub fn matches(&self, request_origin: &str) -> bool {
        Self::parse(request_origin.trim()).is_some_and(|o| o == *self)
    }

    /// The origin, normalised.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Attributes set on every video a token creates: `title`, `description`, `tags`, `metadata`,
/// `public`, with the limits of `PATCH /videos/{id}`. A preset title beats the file name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VideoPreset(pub(crate) VideoPatch);

/// The attributes a preset may set.
const PRESET_KEYS: &[&str] = &["title", "description", "tags", "metadata", "public"];

impl VideoPreset {
    /// Parses the `video` object of a token body; errors name `video.<attribute>`.
    fn parse(v: &Value) -> Result<Self, InvalidPolicyField> {
        let bad = |field: String, detail: &str| InvalidPolicyField {
            field,
            detail: detail.to_owned(),
        };
        let Value::Object(map) = v else {
            return Err(bad(
                "video".into(),
                "must be an object of title, description, tags, metadata and public",
            ));
        };
        if let Some(unknown) = map.keys().find(|k| !PRESET_KEYS.contains(&k.as_str())) {
            return Err(bad(
                format!("video.{}", unknown.chars().take(100).collect::<String>()),
                "unknown field: a preset sets title, description, tags, metadata or public",
            ));
        }
        VideoPatch::parse(map)
            .map(Self)
            .map_err(|e| bad(format!("video.{}", e.name), e.detail))
    }

    /// Sets the preset's attributes on a video being created.
    pub fn apply_to(&self, video: &mut Video) {
        let updated_at = video.updated_at;
        self.0.clone().apply(video, updated_at);
    }

    /// The preset as a patch (what the stores persist).
    pub fn patch(&self) -> &VideoPatch {
        &self.0
    }
}

/// A token's name: 1 to 50 characters, not all white space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenName(String);

impl TokenName {
    /// Accepts 1 to 50 characters that are not all white space, kept as given.
    pub fn parse(s: &str) -> Option<Self> {
        ((1..=MAX_NAME).contains(&s.chars().count()) && !s.trim().is_empty())
            .then(|| Self(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a token allows. The default allows everything (the api.video tokens of old).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenPolicy {
    /// Largest file, in bytes.
    pub max_file_bytes: Option<u64>,
    /// Types a file may have (declared and by its first bytes).
    pub allowed_content_types: Option<Vec<MimePattern>>,
    /// Videos the token may start (1: single use). Enforced by the store.
    pub max_uploads: Option<u32>,
    /// Pages that may use it.
    pub allowed_origins: Option<Vec<Origin>>,
    /// Attributes of every video it creates.
    pub video: Option<VideoPreset>,
}

/// Why an upload breaks its token's policy. Each maps to one problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    /// The file (announced, or received so far) is larger than `maxFileBytes`.
    #[error("the file is larger than this token's maxFileBytes of {max} bytes")]
    FileTooLarge {
        /// The limit.
        max: u64,
    },
    /// The declared type or the file's content is not one of `allowedContentTypes`.
    #[error("{detail}")]
    ContentTypeNotAllowed {
        /// What was seen, and what is allowed.
        detail: String,
    },
    /// The request's `Origin` is not one of `allowedOrigins`.
    #[error("this token does not accept uploads from the origin {origin}")]
    OriginNotAllowed {
        /// The origin, quoted and cut to 100 characters.
        origin: String,
    },
    /// The token started `maxUploads` videos already.
    #[error("this token may start {max} upload(s) and has started them all")]
    UploadLimitReached {
        /// The limit.
        max: u32,
    },
}

impl TokenPolicy {
    /// Whether the policy limits nothing.
    pub fn is_unlimited(&self) -> bool {
        *self == Self::default()
    }

    fn allowed_list(&self) -> String {
        self.allowed_content_types
            .iter()
            .flatten()
            .map(MimePattern::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A request's `Origin` against `allowedOrigins`. A request without one passes: the policy
    /// guards pages (browsers always send it cross-origin), not servers.
    pub fn check_origin(&self, origin: Option<&str>) -> Result<(), PolicyViolation> {
        match (&self.allowed_origins, origin) {
            (Some(allowed), Some(origin)) if !allowed.iter().any(|o| o.matches(origin)) => {
                Err(PolicyViolation::OriginNotAllowed {
                    origin: quoted(origin),
                })
            }
            _ => Ok(()),
        }
    }

    /// An announced total, or the bytes received so far, against `maxFileBytes`.
    pub fn check_size(&self, bytes: u64) -> Result<(), PolicyViolation> {
        match self.max_file_bytes {
            Some(max) if bytes > max => Err(PolicyViolation::FileTooLarge { max }),
            _ => Ok(()),
        }
    }

    /// A declared type (a Content-Type value, parameters ignored) against
    /// `allowedContentTypes`.
    ///
    /// Deliberately lenient where clients say nothing: a missing or malformed type, or the
    /// generic `application/octet-stream` (what curl and the official SDKs declare for any
    /// file), is left to [`Self::check_file_start`], which every upload also passes.
    pub fn check_declared_type(&self, content_type: Option<&str>) -> Result<(), PolicyViolation> {
        let Some(allowed) = &self.allowed_content_types else {
            return Ok(());
        };
        let Some(essence) = content_type.and_then(essence) else {
            return Ok(());
        };
        if essence == "application/octet-stream" || allowed.iter().any(|p| p.matches(&essence)) {
            return Ok(());
        }
        Err(PolicyViolation::ContentTypeNotAllowed {
            detail: format!(
                "the file is declared as {}, not one of {}",
                quoted(&essence),
                self.allowed_list()
            ),
        })
    }

    /// The file's first bytes (up to [`SNIFF_BYTES`], fewer only when the file is shorter)
    /// against `allowedContentTypes`: their magic number must name a type the policy allows.
    /// Bytes of no known type are refused, so a policy of `video/*` cannot be met by renaming
    /// a file or declaring another type.
    ///
    /// Types as `infer` names them: MP4 is `video/mp4`, QuickTime `video/quicktime`, WebM
    /// `video/webm`, Matroska `video/x-matroska`, AVI `video/x-msvideo`, MPEG-TS is not
    /// recognised.
    pub fn check_file_start(
        &self,
        first_bytes: &[u8],
        whole_file: bool,
    ) -> Result<(), PolicyViolation> {
        let Some(allowed) = &self.allowed_content_types else {
            return Ok(());
        };
        let detected = infer::get(first_bytes).map(|t| t.mime_type().to_ascii_lowercase());
        match detected {
            Some(mime) if allowed.iter().any(|p| p.matches(&mime)) => Ok(()),
            Some(mime) => Err(PolicyViolation::ContentTypeNotAllowed {
                detail: format!(
                    "the file's content is {mime}, not one of {}",
                    self.allowed_list()
                ),
            }),
            None => Err(PolicyViolation::ContentTypeNotAllowed {
                detail: if whole_file || first_bytes.len() >= SNIFF_BYTES {
                    format!(
                        "the file's first bytes are of no known type (allowed: {})",
                        self.allowed_list()
                    )
                } else {
                    format!(
                        "the first {} bytes do not tell the file's type: send at least the \
                         first {SNIFF_BYTES} bytes in the first chunk (allowed: {})",
                        first_bytes.len(),
                        self.allowed_list()
                    )
                },
            }),
        }
    }

    /// Whether a token that started `uploads_started` videos may start another (the store
    /// enforces it atomically; this names the violation).
    pub fn admits_another_upload(&self, uploads_started: u64) -> Result<(), PolicyViolation> {
        match self.max_uploads {
            Some(max) if uploads_started >= u64::from(max) => {
                Err(PolicyViolation::UploadLimitReached { max })
            }
            _ => Ok(()),
        }
    }
}

/// How a face names the policy's fields on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldStyle {
    /// The api.video face: `maxFileBytes`, `allowedContentTypes`...
    Camel,
    /// The vidbeo face: `max_file_bytes`, `allowed_content_types`...
    Snake,
}

/// The policy's fields, by their role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    MaxFileBytes,
    AllowedContentTypes,
    MaxUploads,
    AllowedOrigins,
    Video,
}

const FIELDS: [Field; 6] = [
    Field::Name,
    Field::MaxFileBytes,
    Field::AllowedContentTypes,
    Field::MaxUploads,
    Field::AllowedOrigins,
    Field::Video,
];

impl Field {
    fn wire(self, style: FieldStyle) -> &'static str {
        match (self, style) {
            (Field::Name, _) => "name",
            (Field::Video, _) => "video",
            (Field::MaxFileBytes, FieldStyle::Camel) => "maxFileBytes",
            (Field::MaxFileBytes, FieldStyle::Snake) => "max_file_bytes",
            (Field::AllowedContentTypes, FieldStyle::Camel) => "allowedContentTypes",
            (Field::AllowedContentTypes, FieldStyle::Snake) => "allowed_content_types",
            (Field::MaxUploads, FieldStyle::Camel) => "maxUploads",
            (Field::MaxUploads, FieldStyle::Snake) => "max_uploads",
            (Field::AllowedOrigins, FieldStyle::Camel) => "allowedOrigins",
            (Field::AllowedOrigins, FieldStyle::Snake) => "allowed_origins",
        }
    }
}

impl FieldStyle {
    /// The wire names of the policy fields, `name` included, in this style.
    pub fn field_names(self) -> [&'static str; 6] {
        FIELDS.map(|f| f.wire(self))
    }
}

/// A refused field of a token body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {detail}")]
pub struct InvalidPolicyField {
    /// The field as the request named it (`maxFileBytes`, `allowed_origins`, `video.title`).
    pub field: String,
    /// What is accepted.
    pub detail: String,
}

/// A validated change of a token's name and policy: each field absent (unchanged), `null`
/// (cleared) or a value. A creation is a patch of the empty policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyPatch {
    name: Option<Option<TokenName>>,
    max_file_bytes: Option<Option<u64>>,
    allowed_content_types: Option<Option<Vec<MimePattern>>>,
    max_uploads: Option<Option<u32>>,
    allowed_origins: Option<Option<Vec<Origin>>>,
    video: Option<Option<VideoPreset>>,
}

/// A positive integer up to `max`, from JSON (no fraction, no string).
fn positive(v: &Value, max: u64) -> Option<u64> {
    v.as_u64().filter(|n| (1..=max).contains(n))
}

/// A non-empty JSON array of at most [`MAX_LIST`] strings, each parsed by `parse`.
fn list<T>(
    field: &str,
    v: &Value,
    what: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, InvalidPolicyField> {
    let bad = |detail: String| InvalidPolicyField {
        field: field.to_owned(),
        detail,
    };
    let items = v
        .as_array()
        .filter(|items| (1..=MAX_LIST).contains(&items.len()))
        .ok_or_else(|| bad(format!("must be an array of 1 to {MAX_LIST} {what}s")))?;
    items
        .iter()
        .map(|item| match item {
            Value::String(s) => {
                parse(s).ok_or_else(|| bad(format!("{} is not a {what}", quoted(s))))
            }
            other => Err(bad(format!(
                "{} is not a {what}",
                quoted(&other.to_string())
            ))),
        })
        .collect()
}

impl PolicyPatch {
    /// Validates the policy fields of a token body (`name` included) named in `style`.
    /// `other_keys` are keys the caller reads itself (`ttl`, `type`); any other key is refused
    /// as unknown, by name.
    pub fn parse(
        body: &Map<String, Value>,
        style: FieldStyle,
        other_keys: &[&str],
    ) -> Result<Self, InvalidPolicyField> {
        if let Some(unknown) = body.keys().find(|k| {
            !other_keys.contains(&k.as_str()) && !FIELDS.iter().any(|f| f.wire(style) == *k)
        }) {
            return Err(InvalidPolicyField {
                field: unknown.chars().take(100).collect(),
                detail: format!(
                    "unknown field: a token has {}",
                    other_keys
                        .iter()
                        .copied()
                        .chain(style.field_names())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let mut patch = Self::default();
        for field in FIELDS {
            let wire = field.wire(style);
            let Some(v) = body.get(wire) else { continue };
            let bad = |detail: &str| InvalidPolicyField {
                field: wire.to_owned(),
                detail: detail.to_owned(),
            };
            let null = v.is_null();
            match field {
                Field::Name => {
                    patch.name = Some(if null {
                        None
                    } else {
                        Some(v.as_str().and_then(TokenName::parse).ok_or_else(|| {
                            bad("must be null or a string of 1 to 50 characters, not all spaces")
                        })?)
                    });
                }
                Field::MaxFileBytes => {
                    patch.max_file_bytes = Some(if null {
                        None
                    } else {
                        Some(positive(v, u64::MAX).ok_or_else(|| {
                            bad("must be null or a whole number of bytes, at least 1")
                        })?)
                    });
                }
                Field::MaxUploads => {
                    patch.max_uploads = Some(if null {
                        None
                    } else {
                        let n = positive(v, u64::from(u32::MAX)).ok_or_else(|| {
                            bad("must be null or a whole number from 1 (single use) to 4294967295")
                        })?;
                        Some(u32::try_from(n).map_err(|_| bad("too large"))?)
                    });
                }
                Field::AllowedContentTypes => {
                    patch.allowed_content_types = Some(if null {
                        None
                    } else {
                        Some(list(
                            wire,
                            v,
                            "MIME type pattern such as video/* or video/mp4",
                            MimePattern::parse,
                        )?)
                    });
                }
                Field::AllowedOrigins => {
                    patch.allowed_origins = Some(if null {
                        None
                    } else {
                        Some(list(
                            wire,
                            v,
                            "origin of the form scheme://host[:port]",
                            Origin::parse,
                        )?)
                    });
                }
                Field::Video => {
                    patch.video = Some(if null {
                        None
                    } else {
                        Some(VideoPreset::parse(v)?)
                    });
                }
            }
        }
        Ok(patch)
    }

    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Applies the patch to a token's policy and name.
    pub fn apply(self, policy: &mut TokenPolicy, name: &mut Option<TokenName>) {
        if let Some(v) = self.name {
            *name = v;
        }
        if let Some(v) = self.max_file_bytes {
            policy.max_file_bytes = v;
        }
        if let Some(v) = self.allowed_content_types {
            policy.allowed_content_types = v;
        }
        if let Some(v) = self.max_uploads {
            policy.max_uploads = v;
        }
        if let Some(v) = self.allowed_origins {
            policy.allowed_origins = v;
        }
        if let Some(v) = self.video {
            policy.video = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ProjectId;
    use serde_json::json;

    fn parse(v: Value, style: FieldStyle) -> Result<PolicyPatch, InvalidPolicyField> {
        PolicyPatch::parse(v.as_object().expect("object"), style, &["ttl", "type"])
    }

    fn policy(v: Value) -> TokenPolicy {
        let mut policy = TokenPolicy::default();
        let mut name = None;
        parse(v, FieldStyle::Camel)
            .expect("valid")
            .apply(&mut policy, &mut name);
        policy
    }

    fn refused_field(v: Value, style: FieldStyle) -> String {
        parse(v.clone(), style)
            .map(|_| format!("accepted: {v}"))
            .unwrap_or_else(|e| e.field)
    }

    #[test]
    fn names_of_0_or_51_characters_are_refused() {
        for name in [json!(""), json!("   "), json!("x".repeat(51)), json!(3)] {
            assert_eq!(
                refused_field(json!({ "name": name }), FieldStyle::Snake),
                "name"
            );
        }
        assert!(parse(json!({"name": "é".repeat(50)}), FieldStyle::Snake).is_ok());
        assert!(parse(json!({"name": "a"}), FieldStyle::Snake).is_ok());
    }

    #[test]
    fn a_negative_zero_fractional_or_string_max_file_bytes_is_refused() {
        for v in [json!(-1), json!(0), json!(1.5), json!("10")] {
            assert_eq!(
                refused_field(json!({ "maxFileBytes": v }), FieldStyle::Camel),
                "maxFileBytes"
            );
            assert_eq!(
                refused_field(json!({ "max_file_bytes": v }), FieldStyle::Snake),
                "max_file_bytes"
            );
        }
        assert_eq!(
            policy(json!({"maxFileBytes": u64::MAX})).max_file_bytes,
            Some(u64::MAX)
        );
    }

    #[test]
    fn max_uploads_is_a_positive_32_bit_count() {
        for v in [json!(0), json!(-3), json!(4_294_967_296u64), json!(true)] {
            assert_eq!(
                refused_field(json!({ "maxUploads": v }), FieldStyle::Camel),
                "maxUploads"
            );
        }
        assert_eq!(policy(json!({"maxUploads": 1})).max_uploads, Some(1));
    }

    #[test]
    fn content_types_that_are_not_mime_patterns_are_refused() {
        for bad in [
            "video",
            "video/",
            "/mp4",
            "video/mp4; x=1",
            "vid eo/mp4",
            "*/mp4",
            "video/mp4/x",
            "",
            "-video/mp4",
        ] {
            assert_eq!(
                refused_field(json!({ "allowedContentTypes": [bad] }), FieldStyle::Camel),
                "allowedContentTypes",
                "{bad:?}"
            );
        }
        for bad in [
            json!([]),
            json!("video/*"),
            json!([1]),
            json!(vec!["video/*"; 51]),
        ] {
            assert_eq!(
                refused_field(json!({ "allowedContentTypes": bad }), FieldStyle::Camel),
                "allowedContentTypes"
            );
        }
        let p = policy(json!({"allowedContentTypes": ["Video/*", "application/x-mpegURL", "*/*"]}));
        let types: Vec<_> = p
            .allowed_content_types
            .iter()
            .flatten()
            .map(MimePattern::as_str)
            .collect();
        assert_eq!(types, ["video/*", "application/x-mpegurl", "*/*"]);
    }

    #[test]
    fn mime_patterns_match_types_and_wildcards() {
        let video = MimePattern::parse("video/*").expect("pattern");
        assert!(video.matches("video/mp4"));
        assert!(!video.matches("audio/mp4"));
        assert!(!video.matches("videox/mp4"));
        let mp4 = MimePattern::parse("video/mp4").expect("pattern");
        assert!(mp4.matches("video/mp4"));
        assert!(!mp4.matches("video/webm"));
        assert!(MimePattern::parse("*/*").expect("pattern").matches("a/b"));
    }

    #[test]
    fn origins_that_are_not_scheme_host_port_are_refused() {
        for bad in [
            "app.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://app.example.com?x",
            "https://app.example.com#x",
            "ftp://x.com",
            "https://user@x.com",
            "https://x.com:0",
            "https://x.com:65536",
            "https://x.com:",
            "https://-x.com",
            "https://x-.com",
            "https://x..com",
            "https://x.com:80a",
            "https:// x.com",
            "https://[::1",
            "https://1.2.3",
            "null",
            "*",
            // A 251-character name, but 264 characters in all.
            &format!("https://{}:8443", vec!["a".repeat(62); 4].join(".")),
        ] {
            assert!(Origin::parse(bad).is_none(), "{bad}");
            assert_eq!(
                refused_field(json!({ "allowed_origins": [bad] }), FieldStyle::Snake),
                "allowed_origins",
                "{bad}"
            );
        }
        for good in [
            "https://app.example.com",
            "http://localhost:8080",
            "https://127.0.0.1:8443",
            "http://[::1]:3000",
            "https://xn--bcher-kva.example",
            // 260 characters: the longest.
            &format!(
                "http://{}.{}",
                vec!["a".repeat(63); 3].join("."),
                "a".repeat(61)
            ),
        ] {
            assert!(Origin::parse(good).is_some(), "{good}");
        }
    }

    #[test]
    fn default_ports_and_case_are_normalised() {
        let origin = Origin::parse("HTTPS://App.Example.COM:443").expect("origin");
        assert_eq!(origin.as_str(), "https://app.example.com");
        assert!(origin.matches("https://app.example.com"));
        assert!(origin.matches("https://app.example.com:443"));
        assert!(!origin.matches("http://app.example.com"));
        assert!(!origin.matches("https://app.example.com:8443"));
        assert!(!origin.matches("null"));
        assert_eq!(
            Origin::parse("http://x.com:80").map(|o| o.0),
            Some("http://x.com".into())
        );
        assert_eq!(
            Origin::parse("http://x.com:0443").map(|o| o.0),
            Some("http://x.com:443".into())
        );
    }

    #[test]
    fn unknown_fields_are_refused_by_name() {
        assert_eq!(
            refused_field(json!({"colour": 1}), FieldStyle::Camel),
            "colour"
        );
        // The other face's spelling is unknown here.
        assert_eq!(
            refused_field(json!({"max_file_bytes": 1}), FieldStyle::Camel),
            "max_file_bytes"
        );
        assert_eq!(
            refused_field(json!({"maxFileBytes": 1}), FieldStyle::Snake),
            "maxFileBytes"
        );
        assert_eq!(
            refused_field(json!({"video": {"panoramic": true}}), FieldStyle::Snake),
            "video.panoramic"
        );
        assert_eq!(
            refused_field(json!({"video": {"title": ""}}), FieldStyle::Snake),
            "video.title"
        );
        assert_eq!(
            refused_field(json!({"video": []}), FieldStyle::Snake),
            "video"
        );
        assert!(parse(json!({"ttl": 3, "type": "upload"}), FieldStyle::Snake).is_ok());
    }

    #[test]
    fn null_clears_a_field_and_absent_keeps_it() {
        let mut p = policy(json!({"maxFileBytes": 10, "maxUploads": 2, "video": {"title": "t"}}));
        let mut name = Some(TokenName::parse("n").expect("name"));
        parse(
            json!({"maxFileBytes": null, "name": null}),
            FieldStyle::Camel,
        )
        .expect("valid")
        .apply(&mut p, &mut name);
        assert_eq!(p.max_file_bytes, None);
        assert_eq!(p.max_uploads, Some(2));
        assert!(p.video.is_some());
        assert_eq!(name, None);
        assert!(
            parse(json!({}), FieldStyle::Camel)
                .expect("valid")
                .is_empty()
        );
        assert!(
            !parse(json!({"name": null}), FieldStyle::Camel)
                .expect("valid")
                .is_empty()
        );
    }

    #[test]
    fn a_preset_sets_the_attributes_of_new_videos_and_beats_the_file_name() {
        let p = policy(
            json!({"video": {"title": "Preset", "tags": ["a"], "public": false,
            "metadata": [{"key": "k", "value": "v"}], "description": "d"}}),
        );
        let mut video = Video::new(
            ProjectId::generate(),
            None,
            Some("clip.mp4"),
            chrono::Utc::now(),
        );
        p.video.as_ref().expect("preset").apply_to(&mut video);
        assert_eq!(video.title, "Preset");
        assert_eq!(video.tags, ["a"]);
        assert!(!video.public);
        assert_eq!(video.description.as_deref(), Some("d"));
        assert_eq!(video.metadata.len(), 1);
        let plain = policy(json!({"video": {"tags": ["b"]}}));
        let mut video = Video::new(
            ProjectId::generate(),
            None,
            Some("clip.mp4"),
            chrono::Utc::now(),
        );
        plain.video.as_ref().expect("preset").apply_to(&mut video);
        assert_eq!(video.title, "clip.mp4", "no preset title: the file name");
    }

    #[test]
    fn origins_are_checked_only_when_the_request_has_one() {
        let p = policy(json!({"allowedOrigins": ["https://app.example.com"]}));
        assert!(p.check_origin(None).is_ok());
        assert!(p.check_origin(Some("https://app.example.com")).is_ok());
        assert!(matches!(
            p.check_origin(Some("https://evil.example")),
            Err(PolicyViolation::OriginNotAllowed { .. })
        ));
        assert!(
            TokenPolicy::default()
                .check_origin(Some("https://evil.example"))
                .is_ok()
        );
    }

    #[test]
    fn sizes_above_max_file_bytes_are_refused() {
        let p = policy(json!({"maxFileBytes": 100}));
        assert!(p.check_size(100).is_ok());
        assert_eq!(
            p.check_size(101),
            Err(PolicyViolation::FileTooLarge { max: 100 })
        );
        assert!(TokenPolicy::default().check_size(u64::MAX).is_ok());
    }

    #[test]
    fn declared_types_are_checked_but_generic_ones_left_to_the_content() {
        let p = policy(json!({"allowedContentTypes": ["video/*"]}));
        assert!(p.check_declared_type(Some("video/mp4")).is_ok());
        assert!(
            p.check_declared_type(Some("VIDEO/MP4; codecs=avc1"))
                .is_ok()
        );
        assert!(p.check_declared_type(None).is_ok());
        assert!(
            p.check_declared_type(Some("application/octet-stream"))
                .is_ok()
        );
        assert!(p.check_declared_type(Some("???")).is_ok());
        assert!(matches!(
            p.check_declared_type(Some("image/png")),
            Err(PolicyViolation::ContentTypeNotAllowed { .. })
        ));
    }

    /// The first bytes of files of each kind, as their formats define them.
    fn sample(kind: &str) -> Vec<u8> {
        let mut bytes = match kind {
            "mp4" => b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2".to_vec(),
            "mov" => b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ".to_vec(),
            "webm" => b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm".to_vec(),
            "mkv" => b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x88matroska".to_vec(),
            "avi" => b"RIFF\x00\x00\x00\x00AVI LIST".to_vec(),
            "png" => b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec(),
            "jpeg" => b"\xff\xd8\xff\xe0\x00\x10JFIF\x00".to_vec(),
            "pdf" => b"%PDF-1.7\n".to_vec(),
            "zip" => b"PK\x03\x04\x14\x00\x00\x00".to_vec(),
            _ => (0..200u32).map(|i| (i * 7 + 3) as u8).collect(),
        };
        // infer looks for the EBML DocType (WebM, Matroska) within the first 256 bytes.
        bytes.resize(bytes.len().max(512), 0);
        bytes
    }

    #[test]
    fn the_magic_number_decides_what_a_file_is() {
        let videos = policy(json!({"allowedContentTypes": ["video/*"]}));
        for kind in ["mp4", "mov", "webm", "mkv", "avi"] {
            assert!(
                videos.check_file_start(&sample(kind), false).is_ok(),
                "{kind}: {:?}",
                infer::get(&sample(kind)).map(|t| t.mime_type())
            );
        }
        for kind in ["png", "jpeg", "pdf", "zip", "random"] {
            assert!(
                matches!(
                    videos.check_file_start(&sample(kind), true),
                    Err(PolicyViolation::ContentTypeNotAllowed { .. })
                ),
                "{kind}"
            );
        }
        let mp4_only = policy(json!({"allowedContentTypes": ["video/mp4"]}));
        assert!(mp4_only.check_file_start(&sample("mp4"), false).is_ok());
        let refused = mp4_only.check_file_start(&sample("mkv"), false);
        assert!(
            matches!(&refused, Err(PolicyViolation::ContentTypeNotAllowed { detail }) if detail.contains("video/x-matroska")),
            "{refused:?}"
        );
        assert!(TokenPolicy::default().check_file_start(b"", true).is_ok());
    }

    #[test]
    fn max_uploads_names_the_limit() {
        let single = policy(json!({"maxUploads": 1}));
        assert!(single.admits_another_upload(0).is_ok());
        assert_eq!(
            single.admits_another_upload(1),
            Err(PolicyViolation::UploadLimitReached { max: 1 })
        );
    }
}
