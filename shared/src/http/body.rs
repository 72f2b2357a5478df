//! Reading JSON request bodies.

use super::ApiError;
use serde_json::{Map, Value};

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
