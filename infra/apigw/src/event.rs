//! API Gateway HTTP API's Lambda proxy payload, format 2.0: the event built from an HTTP request,
//! and the function's response document turned back into an HTTP response.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// What API Gateway knows about a request besides its method, path, headers and body.
pub struct RequestContext<'a> {
    /// The matched route key (`GET /videos/{videoId}`).
    pub route_key: &'a str,
    /// Path parameters of the matched route, decoded.
    pub path_parameters: &'a BTreeMap<String, String>,
    /// The API id (the first label of the domain name on AWS).
    pub api_id: &'a str,
    /// `host` as the client sent it.
    pub domain_name: &'a str,
    /// The client's address.
    pub source_ip: &'a str,
    /// API Gateway's request id.
    pub request_id: &'a str,
    /// When the request arrived.
    pub time: chrono::DateTime<chrono::Utc>,
}

/// Whether API Gateway passes a body of this content type to Lambda as text. The documentation
/// only says binary bodies are base64-encoded; tests against AWS (reported by emulator projects
/// that checked) show text for `text/*`, `application/json`, `application/xml` and
/// `application/javascript`, and base64 for everything else, including `multipart/form-data`,
/// `application/x-www-form-urlencoded` and a missing content type.
pub fn is_text(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || matches!(
            essence.as_str(),
            "application/json" | "application/xml" | "application/javascript"
        )
}

/// The payload-2.0 event of one request.
pub fn build(
    method: &http::Method,
    uri: &http::Uri,
    headers: &HeaderMap,
    body: &[u8],
    context: &RequestContext<'_>,
) -> Value {
    // Header names lower case; a repeated header's values joined with commas; cookies apart.
    let mut joined: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == http::header::COOKIE {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned),
            );
            continue;
        }
        joined
            .entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    // What API Gateway adds in front of the integration.
    joined
        .entry("x-forwarded-for".into())
        .or_insert_with(|| context.source_ip.to_owned());
    joined
        .entry("x-forwarded-proto".into())
        .or_insert_with(|| "http".into());
    joined.insert(
        "x-amzn-trace-id".into(),
        format!(
            "Root=1-{:08x}-{}",
            context.time.timestamp(),
            context.request_id
        ),
    );
    let user_agent = joined.get("user-agent").cloned().unwrap_or_default();
    let raw_query = uri.query().unwrap_or_default();
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(raw_query.as_bytes()) {
        query
            .entry(k.into_owned())
            .and_modify(|existing| {
                existing.push(',');
                existing.push_str(&v);
            })
            .or_insert_with(|| v.into_owned());
    }
    let mut event = Map::new();
    event.insert("version".into(), json!("2.0"));
    event.insert("routeKey".into(), json!(context.route_key));
    event.insert("rawPath".into(), json!(uri.path()));
    event.insert("rawQueryString".into(), json!(raw_query));
    if !cookies.is_empty() {
        event.insert("cookies".into(), json!(cookies));
    }
    event.insert("headers".into(), json!(joined));
    if !query.is_empty() {
        event.insert("queryStringParameters".into(), json!(query));
    }
    if !context.path_parameters.is_empty() {
        event.insert("pathParameters".into(), json!(context.path_parameters));
    }
    let domain_prefix = context
        .domain_name
        .split('.')
        .next()
        .unwrap_or(context.domain_name);
    event.insert(
        "requestContext".into(),
        json!({
            "accountId": "123456789012",
            "apiId": context.api_id,
            "domainName": context.domain_name,
            "domainPrefix": domain_prefix,
            "http": {
                "method": method.as_str(),
                "path": uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": context.source_ip,
                "userAgent": user_agent,
            },
            "requestId": context.request_id,
            "routeKey": context.route_key,
            "stage": "$default",
            "time": context.time.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "timeEpoch": context.time.timestamp_millis(),
        }),
    );
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if !body.is_empty() {
        match std::str::from_utf8(body) {
            Ok(text) if is_text(content_type) => {
                event.insert("body".into(), json!(text));
                event.insert("isBase64Encoded".into(), json!(false));
            }
            _ => {
                event.insert("body".into(), json!(BASE64.encode(body)));
                event.insert("isBase64Encoded".into(), json!(true));
            }
        }
    } else {
        event.insert("isBase64Encoded".into(), json!(false));
    }
    Value::Object(event)
}

/// An HTTP response built from a function's answer.
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: StatusCode,
    /// Headers (without the `Content-Length`, which the server sets).
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

/// Why a function's answer is not a response API Gateway would send on (it answers 502).
#[derive(Debug, thiserror::Error)]
#[error("malformed Lambda proxy response: {0}")]
pub struct Malformed(pub String);

fn malformed(message: impl Into<String>) -> Malformed {
    Malformed(message.into())
}

/// Interprets a payload-2.0 response. A JSON object with `statusCode` is a response document;
/// any other valid JSON is, as API Gateway infers it, a 200 whose body is that JSON; anything
/// else (not JSON, a bad status, a non-string body, bad base64) is malformed.
pub fn parse_response(payload: &[u8]) -> Result<Answer, Malformed> {
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| malformed(format!("not JSON ({e})")))?;
    let Some(document) = value.as_object().filter(|o| o.contains_key("statusCode")) else {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return Ok(Answer {
            status: StatusCode::OK,
            headers,
            body: Bytes::copy_from_slice(payload),
        });
    };
    let status = document["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .filter(|s| (100..=599).contains(&s.as_u16()))
        .ok_or_else(|| malformed("statusCode is not an HTTP status"))?;
    let mut headers = HeaderMap::new();
    let header = |name: &str, value: &Value| -> Result<(HeaderName, HeaderValue), Malformed> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| malformed(format!("bad header name {name:?}")))?;
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return Err(malformed(format!("header {name} is not a scalar"))),
        };
        let value = HeaderValue::from_str(&text)
            .map_err(|_| malformed(format!("bad value for header {name}")))?;
        Ok((name, value))
    };
    if let Some(single) = document.get("headers").filter(|h| !h.is_null()) {
        let single = single
            .as_object()
            .ok_or_else(|| malformed("headers is not an object"))?;
        for (name, value) in single {
            let (name, value) = header(name, value)?;
            headers.insert(name, value);
        }
    }
    if let Some(multi) = document.get("multiValueHeaders").filter(|h| !h.is_null()) {
        let multi = multi
            .as_object()
            .ok_or_else(|| malformed("multiValueHeaders is not an object"))?;
        for (name, values) in multi {
            let values = values
                .as_array()
                .ok_or_else(|| malformed(format!("multiValueHeaders.{name} is not a list")))?;
            for value in values {
                let (name, value) = header(name, value)?;
                headers.append(name, value);
            }
        }
    }
    if let Some(cookies) = document.get("cookies").filter(|c| !c.is_null()) {
        let cookies = cookies
            .as_array()
            .ok_or_else(|| malformed("cookies is not a list"))?;
        for cookie in cookies {
            let (name, value) = header("set-cookie", cookie)?;
            headers.append(name, value);
        }
    }
    let body = match document.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(text)) => {
            if document.get("isBase64Encoded") == Some(&Value::Bool(true)) {
                Bytes::from(
                    BASE64
                        .decode(text)
                        .map_err(|_| malformed("isBase64Encoded but the body is not base64"))?,
                )
            } else {
                Bytes::copy_from_slice(text.as_bytes())
            }
        }
        Some(_) => return Err(malformed("body is not a string")),
    };
    headers.remove(http::header::CONTENT_LENGTH);
    Ok(Answer {
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context<'a>(params: &'a BTreeMap<String, String>) -> RequestContext<'a> {
        RequestContext {
            route_key: "POST /things/{id}",
            path_parameters: params,
            api_id: "local",
            domain_name: "127.0.0.1:3000",
            source_ip: "127.0.0.1",
            request_id: "req-1",
            time: chrono::DateTime::from_timestamp(1_795_424_400, 0).expect("a time"),
        }
    }

    #[test]
    fn the_event_has_api_gateways_shape() {
        let mut params = BTreeMap::new();
        params.insert("id".to_owned(), "a b".to_owned());
        let mut headers = HeaderMap::new();
        headers.append("X-Thing", HeaderValue::from_static("1"));
        headers.append("x-thing", HeaderValue::from_static("2"));
        headers.append("cookie", HeaderValue::from_static("a=1; b=2"));
        headers.append("content-type", HeaderValue::from_static("application/json"));
        headers.append("user-agent", HeaderValue::from_static("ua"));
        let uri: http::Uri = "/things/a%20b?x=1&x=2&y=%2F".parse().expect("uri");
        let event = build(
            &http::Method::POST,
            &uri,
            &headers,
            b"{\"k\":1}",
            &context(&params),
        );
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["routeKey"], "POST /things/{id}");
        assert_eq!(event["rawPath"], "/things/a%20b");
        assert_eq!(event["rawQueryString"], "x=1&x=2&y=%2F");
        assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(event["headers"]["x-thing"], "1,2");
        assert!(event["headers"].get("cookie").is_none());
        assert_eq!(
            event["queryStringParameters"],
            json!({"x": "1,2", "y": "/"})
        );
        assert_eq!(event["pathParameters"], json!({"id": "a b"}));
        assert_eq!(event["body"], "{\"k\":1}");
        assert_eq!(event["isBase64Encoded"], false);
        let rc = &event["requestContext"];
        assert_eq!(rc["http"]["method"], "POST");
        assert_eq!(rc["http"]["userAgent"], "ua");
        assert_eq!(rc["stage"], "$default");
        assert_eq!(rc["routeKey"], "POST /things/{id}");
        assert_eq!(rc["time"], "23/Nov/2026:09:00:00 +0000");
        assert_eq!(rc["timeEpoch"], 1_795_424_400_000u64);
    }

    #[test]
    fn binary_bodies_are_base64_and_text_ones_are_not() {
        let params = BTreeMap::new();
        let uri: http::Uri = "/x".parse().expect("uri");
        for (content_type, text) in [
            (Some("text/plain; charset=utf-8"), true),
            (Some("application/json"), true),
            (Some("Application/XML"), true),
            (Some("application/javascript"), true),
            (Some("multipart/form-data; boundary=x"), false),
            (Some("application/x-www-form-urlencoded"), false),
            (Some("application/octet-stream"), false),
            (Some("application/problem+json"), false),
            (None, false),
        ] {
            let mut headers = HeaderMap::new();
            if let Some(ct) = content_type {
                headers.insert("content-type", HeaderValue::from_static(ct));
            }
            let event = build(
                &http::Method::POST,
                &uri,
                &headers,
                b"abc",
                &context(&params),
            );
            assert_eq!(event["isBase64Encoded"], !text, "{content_type:?}");
            assert_eq!(
                event["body"],
                if text { "abc" } else { "YWJj" },
                "{content_type:?}"
            );
        }
        let event = build(
            &http::Method::GET,
            &uri,
            &HeaderMap::new(),
            b"",
            &context(&params),
        );
        assert!(event.get("body").is_none());
        assert!(event.get("queryStringParameters").is_none());
        assert!(event.get("pathParameters").is_none());
    }

    #[test]
    fn responses_are_parsed_and_malformed_ones_refused() {
        let answer = parse_response(
            br#"{"statusCode":201,"headers":{"content-type":"text/plain","x-n":3},
                "multiValueHeaders":{"x-m":["a","b"]},"cookies":["c=1","d=2"],
                "body":"aGk=","isBase64Encoded":true}"#,
        )
        .expect("valid");
        assert_eq!(answer.status, 201);
        assert_eq!(answer.body, "hi");
        assert_eq!(answer.headers["x-n"], "3");
        assert_eq!(answer.headers.get_all("x-m").iter().count(), 2);
        assert_eq!(answer.headers.get_all("set-cookie").iter().count(), 2);
        let inferred = parse_response(br#"{"hello":"world"}"#).expect("inferred");
        assert_eq!(inferred.status, 200);
        assert_eq!(inferred.body, r#"{"hello":"world"}"#);
        for bad in [
            &b"not json"[..],
            br#"{"statusCode":"200"}"#,
            br#"{"statusCode":99}"#,
            br#"{"statusCode":200,"body":{"a":1}}"#,
            br#"{"statusCode":200,"body":"!!","isBase64Encoded":true}"#,
            br#"{"statusCode":200,"headers":[1]}"#,
        ] {
            assert!(
                parse_response(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
