//! Specification of `/v2/tokens` (SPEC §8), the vidbeo face of the token store, in-process over
//! `dispatch`: the envelope, named tokens whose value is shown once, PATCH, cursors, and one
//! store shared with `/upload-tokens`.

mod http_support;

use bytes::Bytes;
use chrono::TimeDelta;
use http::Method;
use http_support::{Api, Key, Reply};
use serde_json::{Value, json};

impl Api {
    async fn v2(&self, key: &Key, method: Method, uri: &str, body: &str) -> Reply {
        let bearer = format!("Bearer {}", key.key.expose());
        self.send_with(
            method,
            uri,
            &[
                ("authorization", bearer.as_str()),
                ("content-type", "application/json"),
            ],
            body.to_owned(),
        )
        .await
    }

    async fn v2_create(&self, key: &Key, body: Value) -> Value {
        let reply = self
            .v2(key, Method::POST, "/v2/tokens", &body.to_string())
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        envelope_ok(&reply)["result"].clone()
    }
}

/// A success envelope: `success: true`, `errors: []`, JSON exactly.
fn envelope_ok(reply: &Reply) -> Value {
    assert_eq!(reply.content_type(), Some("application/json"));
    let body = reply.json();
    assert_eq!(body["success"], true, "{body}");
    assert_eq!(body["errors"], json!([]), "{body}");
    body
}

/// A failure envelope of `status`, with one error of `code` naming `field` (when given).
fn envelope_error(reply: &Reply, status: u16, code: &str, field: Option<&str>) -> Value {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.text());
    assert_eq!(reply.content_type(), Some("application/json"));
    let body = reply.json();
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["result"], Value::Null);
    assert_eq!(body["links"], Value::Null);
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["code"], code, "{body}");
    assert!(errors[0]["message"].as_str().is_some_and(|m| !m.is_empty()));
    if let Some(field) = field {
        assert_eq!(errors[0]["field"], field, "{body}");
    }
    body
}

fn is_millis_utc(s: &str) -> bool {
    // 2100-01-02T03:04:05.678Z
    s.len() == 24 && s.ends_with('Z') && s.as_bytes()[19] == b'.'
}

#[tokio::test]
async fn a_created_token_shows_its_value_once_with_vidbeo_fields() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let token = api
        .v2_create(
            &key,
            json!({"type": "upload", "name": "Browser uploads", "ttl": 3600}),
        )
        .await;
    let id = token["id"].as_str().expect("id");
    assert_eq!(id.len(), 21);
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    );
    let value = token["value"].as_str().expect("value");
    assert!(value.starts_with("ut_") && value.len() >= 35, "{value}");
    assert_eq!(token["name"], "Browser uploads");
    assert_eq!(token["type"], "upload");
    assert_eq!(token["created_by"], key.key_id.as_str());
    assert_eq!(token["updated_by"], key.key_id.as_str());
    assert_eq!(token["created_time"], "2100-01-02T03:04:05.678Z");
    assert!(is_millis_utc(token["updated_time"].as_str().expect("time")));
    assert_eq!(token["expires_time"], "2100-01-02T04:04:05.678Z");
    assert_eq!(token["ttl"], 3600);
    assert_eq!(token["max_uploads"], Value::Null);
    assert_eq!(token["uploads"], 0);
    assert_eq!(token["last_used_time"], Value::Null);
    // Read back: never the value; links null.
    let reply = api
        .v2(&key, Method::GET, &format!("/v2/tokens/{id}"), "")
        .await;
    let body = envelope_ok(&reply);
    assert_eq!(body["links"], Value::Null);
    assert!(body["result"].get("value").is_none(), "{body}");
    assert!(!reply.text().contains(value));
    let mut without_value = token.clone();
    without_value
        .as_object_mut()
        .expect("object")
        .remove("value");
    assert_eq!(body["result"], without_value);
    // A token that never expires.
    let forever = api
        .v2_create(&key, json!({"type": "upload", "name": "n"}))
        .await;
    assert_eq!(forever["expires_time"], Value::Null);
    assert_eq!(forever["ttl"], 0);
}

#[tokio::test]
async fn the_value_uploads_like_an_api_video_token_and_is_stored_only_as_a_hash() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let token = api
        .v2_create(&key, json!({"type": "upload", "name": "n"}))
        .await;
    let value = token["value"].as_str().expect("value");
    let reply = api.upload(value, b"some bytes").await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    // Its id is no upload credential, nor a value with one character changed.
    let id = token["id"].as_str().expect("id");
    api.upload(id, b"x")
        .await
        .problem(401, "authentication-invalid-upload-token", Some("token"));
    let mut forged = value.to_owned();
    let last = if forged.ends_with('a') { 'b' } else { 'a' };
    forged.pop();
    forged.push(last);
    api.upload(&forged, b"x").await.problem(
        401,
        "authentication-invalid-upload-token",
        Some("token"),
    );
    // The database holds no value.
    let db = std::fs::read(api.data_dir().join("upload-tokens.db")).expect("db");
    let wal = std::fs::read(api.data_dir().join("upload-tokens.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(
            !bytes.windows(value.len()).any(|w| w == value.as_bytes()),
            "the value is stored in clear"
        );
    }
    // Usage shows on both faces.
    let got = envelope_ok(
        &api.v2(&key, Method::GET, &format!("/v2/tokens/{id}"), "")
            .await,
    );
    assert_eq!(got["result"]["uploads"], 1);
    assert_eq!(got["result"]["completed_uploads"], 1);
    assert_eq!(got["result"]["bytes_received"], 10);
    assert!(is_millis_utc(
        got["result"]["last_used_time"].as_str().expect("used")
    ));
}

#[tokio::test]
async fn listing_is_newest_first_over_both_faces_with_signed_cursors() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let mut ids = Vec::new();
    for i in 0..7 {
        api.advance(TimeDelta::milliseconds(5));
        let id = if i % 2 == 0 {
            api.create_ok(&key.basic(), 0).await["token"]
                .as_str()
                .expect("token")
                .to_owned()
        } else {
            api.v2_create(&key, json!({"type": "upload", "name": format!("t{i}")}))
                .await["id"]
                .as_str()
                .expect("id")
                .to_owned()
        };
        ids.push(id);
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut uri = "/v2/tokens?limit=3".to_owned();
    let mut pages = 0;
    loop {
        let body = envelope_ok(&api.v2(&key, Method::GET, &uri, "").await);
        pages += 1;
        for t in body["result"].as_array().expect("result") {
            seen.push(t["id"].as_str().expect("id").to_owned());
            // An api.video token appears with its token as id and no name.
            if t["id"].as_str().is_some_and(|id| id.starts_with("to")) {
                assert_eq!(t["name"], Value::Null);
            }
        }
        match body["links"]["next"].as_str() {
            Some(next) => {
                assert!(next.starts_with("/v2/tokens?limit=3&cursor="), "{next}");
                uri = next.to_owned();
            }
            None => {
                assert_eq!(body["links"], json!({}));
                break;
            }
        }
    }
    assert_eq!(seen, ids);
    assert_eq!(pages, 3);
    // The api.video face lists only its own four.
    assert_eq!(api.total(&key.basic()).await, 4);
}

#[tokio::test]
async fn forged_altered_and_foreign_cursors_are_refused() {
    let api = Api::new().await;
    let key = api.new_key().await;
    for _ in 0..3 {
        api.advance(TimeDelta::milliseconds(1));
        api.v2_create(&key, json!({"type": "upload", "name": "n"}))
            .await;
    }
    let body = envelope_ok(&api.v2(&key, Method::GET, "/v2/tokens?limit=1", "").await);
    let next = body["links"]["next"].as_str().expect("next").to_owned();
    let cursor = next.split("cursor=").nth(1).expect("cursor").to_owned();
    let other = api.new_key().await;
    let (payload, signature) = cursor.split_once('.').expect("two parts");
    // The last character changed (to one it is not).
    let changed = |s: &str| {
        let last = if s.ends_with('A') { 'B' } else { 'A' };
        format!("{}{last}", &s[..s.len() - 1])
    };
    let tampered_payload = format!("{}.{signature}", changed(payload));
    let tampered_signature = format!("{payload}.{}", changed(signature));
    for (who, cursor) in [
        (&key, "garbage".to_owned()),
        (&key, tampered_payload),
        (&key, tampered_signature),
        (&key, format!("{cursor}x")),
        (&other, cursor.clone()),
    ] {
        let reply = api
            .v2(who, Method::GET, &format!("/v2/tokens?cursor={cursor}"), "")
            .await;
        envelope_error(&reply, 400, "invalid-cursor", Some("cursor"));
    }
    for limit in ["0", "101", "x", "-1"] {
        let reply = api
            .v2(&key, Method::GET, &format!("/v2/tokens?limit={limit}"), "")
            .await;
        envelope_error(&reply, 400, "invalid-query-parameter", Some("limit"));
    }
}

#[tokio::test]
async fn every_bad_field_is_refused_by_name_and_changes_nothing() {
    let api = Api::new().await;
    let key = api.new_key().await;
    for (body, field) in [
        (json!({"name": "n"}), "type"),
        (json!({"type": "download", "name": "n"}), "type"),
        (json!({"type": "upload"}), "name"),
        (json!({"type": "upload", "name": ""}), "name"),
        (json!({"type": "upload", "name": "x".repeat(51)}), "name"),
        (json!({"type": "upload", "name": "n", "ttl": -1}), "ttl"),
        (
            json!({"type": "upload", "name": "n", "max_file_bytes": -5}),
            "max_file_bytes",
        ),
        (
            json!({"type": "upload", "name": "n", "allowed_content_types": ["video"]}),
            "allowed_content_types",
        ),
        (
            json!({"type": "upload", "name": "n", "allowed_origins": ["https://x.com/path"]}),
            "allowed_origins",
        ),
        (
            json!({"type": "upload", "name": "n", "colour": "red"}),
            "colour",
        ),
        (
            json!({"type": "upload", "name": "n", "video": {"x": 1}}),
            "video.x",
        ),
    ] {
        let reply = api
            .v2(&key, Method::POST, "/v2/tokens", &body.to_string())
            .await;
        envelope_error(&reply, 400, "invalid-attribute", Some(field));
    }
    let listed = envelope_ok(&api.v2(&key, Method::GET, "/v2/tokens", "").await);
    assert_eq!(listed["result"], json!([]), "nothing was created");
    envelope_error(
        &api.v2(&key, Method::POST, "/v2/tokens", "{").await,
        400,
        "invalid-payload",
        Some("body"),
    );
}

#[tokio::test]
async fn patch_changes_what_it_names_and_refuses_type_and_unknown_fields() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let token = api
        .v2_create(
            &key,
            json!({"type": "upload", "name": "before", "ttl": 60, "max_uploads": 2}),
        )
        .await;
    let id = token["id"].as_str().expect("id");
    let uri = format!("/v2/tokens/{id}");
    api.advance(TimeDelta::seconds(10));
    let other = api.key_for(&key.project).await;
    let reply = api
        .v2(
            &other,
            Method::PATCH,
            &uri,
            r#"{"name":"after","ttl":120,"max_uploads":null,"allowed_origins":["https://app.example.com"]}"#,
        )
        .await;
    let changed = envelope_ok(&reply)["result"].clone();
    assert_eq!(changed["name"], "after");
    assert_eq!(changed["ttl"], 120);
    assert_eq!(changed["expires_time"], "2100-01-02T03:06:05.678Z");
    assert_eq!(changed["max_uploads"], Value::Null);
    assert_eq!(
        changed["allowed_origins"],
        json!(["https://app.example.com"])
    );
    assert_eq!(changed["created_by"], key.key_id.as_str());
    assert_eq!(changed["updated_by"], other.key_id.as_str());
    assert_eq!(changed["updated_time"], "2100-01-02T03:04:15.678Z");
    assert_eq!(changed["created_time"], token["created_time"]);
    for (body, field) in [
        (r#"{"type":"upload"}"#, Some("type")),
        (r#"{"colour":1}"#, Some("colour")),
        (r#"{"maxUploads":1}"#, Some("maxUploads")),
        (r#"{"name":""}"#, Some("name")),
    ] {
        envelope_error(
            &api.v2(&key, Method::PATCH, &uri, body).await,
            400,
            "invalid-attribute",
            field,
        );
    }
    envelope_error(
        &api.v2(&key, Method::PATCH, &uri, "{}").await,
        400,
        "invalid-payload",
        Some("body"),
    );
    let after = envelope_ok(&api.v2(&key, Method::GET, &uri, "").await)["result"].clone();
    assert_eq!(after, changed, "the refused patches changed nothing");
    // PATCH on the api.video face takes the same fields, camelCase.
    let to = api.create_ok(&key.basic(), 0).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let reply = api
        .send_with(
            Method::PATCH,
            &format!("/upload-tokens/{to}"),
            &[
                ("authorization", key.basic().as_str()),
                ("content-type", "application/json"),
            ],
            r#"{"maxUploads":1,"allowedContentTypes":["video/*"],"name":"web"}"#,
        )
        .await;
    let body = reply.ok();
    assert_eq!(body["maxUploads"], 1);
    assert_eq!(body["allowedContentTypes"], json!(["video/*"]));
    assert_eq!(body["name"], "web");
    let v2 = envelope_ok(
        &api.v2(&key, Method::GET, &format!("/v2/tokens/{to}"), "")
            .await,
    );
    assert_eq!(v2["result"]["max_uploads"], 1);
    assert_eq!(v2["result"]["name"], "web");
}

#[tokio::test]
async fn deleting_through_either_face_ends_the_token_everywhere() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let named = api
        .v2_create(&key, json!({"type": "upload", "name": "n"}))
        .await;
    let (id, value) = (
        named["id"].as_str().expect("id"),
        named["value"].as_str().expect("value"),
    );
    let reply = api
        .v2(&key, Method::DELETE, &format!("/v2/tokens/{id}"), "")
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json(),
        json!({"success": true, "result": {}, "links": null, "errors": []})
    );
    api.upload(value, b"x").await.problem(
        401,
        "authentication-invalid-upload-token",
        Some("token"),
    );
    envelope_error(
        &api.v2(&key, Method::GET, &format!("/v2/tokens/{id}"), "")
            .await,
        404,
        "resource-not-found",
        None,
    );
    // An api.video token deleted on the vidbeo face.
    let to = api.create_ok(&key.basic(), 0).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(
        api.v2(&key, Method::DELETE, &format!("/v2/tokens/{to}"), "")
            .await
            .status,
        200
    );
    api.get(&key.basic(), &format!("/upload-tokens/{to}"))
        .await
        .problem(404, "resource-not-found", Some("uploadToken"));
    api.upload(&to, b"x")
        .await
        .problem(401, "authentication-invalid-upload-token", Some("token"));
    // A named token is not shown on the api.video face.
    let named = api
        .v2_create(&key, json!({"type": "upload", "name": "n"}))
        .await;
    let id = named["id"].as_str().expect("id");
    api.get(&key.basic(), &format!("/upload-tokens/{id}"))
        .await
        .problem(404, "resource-not-found", Some("uploadToken"));
}

#[tokio::test]
async fn another_projects_and_unknown_tokens_are_404_in_the_envelope() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let stranger = api.new_key().await;
    let id = api
        .v2_create(&key, json!({"type": "upload", "name": "n"}))
        .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    for (method, body) in [
        (Method::GET, ""),
        (Method::PATCH, r#"{"name":"x"}"#),
        (Method::DELETE, ""),
    ] {
        for uri in [
            format!("/v2/tokens/{id}"),
            "/v2/tokens/abcde12345abcde12345a".to_owned(),
            "/v2/tokens/not-an-id".to_owned(),
        ] {
            let reply = api.v2(&stranger, method.clone(), &uri, body).await;
            envelope_error(&reply, 404, "resource-not-found", None);
        }
    }
    // Unauthenticated, and unknown routes under /v2: the envelope too.
    let reply = api
        .send(
            Method::GET,
            "/v2/tokens",
            "Bearer nope-nope-nope",
            Bytes::new(),
        )
        .await;
    envelope_error(&reply, 401, "authentication-invalid-api-key", None);
    let reply = api
        .send(Method::GET, "/v2/nothing", &key.basic(), Bytes::new())
        .await;
    envelope_error(&reply, 404, "unrecognized-request-url", None);
    let reply = api
        .send(Method::PUT, "/v2/tokens", &key.basic(), Bytes::new())
        .await;
    envelope_error(&reply, 405, "method-not-allowed", None);
}

#[tokio::test]
async fn an_expired_token_is_gone_from_both_faces() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let id = api
        .v2_create(&key, json!({"type": "upload", "name": "n", "ttl": 5}))
        .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    api.advance(TimeDelta::seconds(5));
    envelope_error(
        &api.v2(&key, Method::GET, &format!("/v2/tokens/{id}"), "")
            .await,
        404,
        "resource-not-found",
        None,
    );
    let listed = envelope_ok(&api.v2(&key, Method::GET, "/v2/tokens", "").await);
    assert_eq!(listed["result"], json!([]));
}
