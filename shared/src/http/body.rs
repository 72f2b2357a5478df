//! Request bodies: read whole before the handler runs (JSON bodies, and every body on Lambda),
//! or streamed to it as they arrive (the routes that take files, on the local server).

use super::ApiError;
use crate::internal::InternalError;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use serde_json::{Map, Value};

/// A request's body as a handler receives it.
pub struct Body(Inner);

enum Inner {
    Whole(Bytes),
    // Behind a mutex only so that a request can be shared while a handler awaits (`Sync`);
    // it is taken whole, never locked twice.
    Streamed(std::sync::Mutex<BoxStream<'static, Result<Bytes, std::io::Error>>>),
}

impl Body {
    /// A body whose bytes arrive as `stream` yields them. The server that makes it enforces its
    /// limits (size, time) and ends the stream with an error past them.
    pub fn streamed(
        stream: impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    ) -> Self {
        Self(Inner::Streamed(std::sync::Mutex::new(Box::pin(stream))))
    }

    /// The bytes of a body read whole. A streamed body here is a route-table mistake (its row
    /// does not say it streams its body, or the server ignored that).
    pub fn whole(&self) -> Result<&[u8], ApiError> {
        match &self.0 {
            Inner::Whole(bytes) => Ok(bytes),
            Inner::Streamed(_) => Err(InternalError::new(
                "a handler that reads its body whole was given a streamed body",
            )
            .into()),
        }
    }

    /// The body as a stream of its pieces, whichever way it came.
    pub fn into_stream(self) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
        match self.0 {
            Inner::Whole(bytes) => Box::pin(futures_util::stream::once(async move { Ok(bytes) })),
            Inner::Streamed(stream) => stream.into_inner().unwrap_or_else(|e| e.into_inner()),
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Self(Inner::Whole(Bytes::new()))
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Inner::Whole(bytes) => write!(f, "Body::Whole({} bytes)", bytes.len()),
            Inner::Streamed(_) => f.write_str("Body::Streamed"),
        }
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Self(Inner::Whole(bytes))
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Bytes::from(bytes).into()
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Bytes::from(text).into()
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Self {
        Bytes::from_static(text.as_bytes()).into()
    }
}

impl From<&'static [u8]> for Body {
    fn from(bytes: &'static [u8]) -> Self {
        Bytes::from_static(bytes).into()
    }
}

/// The body as a JSON object. An absent (0-byte) body counts as `{}`; anything else that is not
/// a JSON object, whitespace included, is refused. The content type is not checked: clients send
/// JSON as `text/plain` too.
pub fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::InvalidPayload(
            "the body must be a JSON object".into(),
        )),
        Err(e) => Err(ApiError::InvalidPayload(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_body_is_an_empty_object() {
        assert!(json_object(b"").map(|m| m.is_empty()).unwrap_or(false));
        assert!(
            json_object(b" {} \n")
                .map(|m| m.is_empty())
                .unwrap_or(false)
        );
    }

    #[test]
    fn non_objects_and_garbage_are_refused() {
        for body in [
            &b"[]"[..],
            b" ",
            b"\n",
            b"3",
            b"\"x\"",
            b"null",
            b"{",
            b"{\"ttl\":}",
        ] {
            assert!(matches!(
                json_object(body),
                Err(ApiError::InvalidPayload(_))
            ));
        }
    }
}
