//! Authentication over `dispatch`, in process (SPEC §2): Basic API keys, the access/refresh
//! token exchange, Bearer tokens, revocation, and project scoping.

#![cfg(feature = "embedded")]

mod http_support;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::TimeDelta;
use http::Method;
use http_support::{Api, Key, keys};
use serde_json::{Value, json};
use upload_tokens_core::auth::{AccessClaims, AccessTokenSigner, SigningKey};
use upload_tokens_core::store::ApiKeyAdmin as _;

/// A session from `POST /auth/api-key`: (access token, refresh token).
struct Session {
    access: String,
    refresh: String,
}

impl Session {
    fn bearer(&self) -> String {
        format!("Bearer {}", self.access)
    }
}

/// Checks a 200 session body has exactly the four fields, and returns it.
fn session_of(body: &Value) -> Session {
    assert_eq!(
        keys(body),
        ["access_token", "expires_in", "refresh_token", "token_type"],
        "{body}"
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let access = body["access_token"].as_str().expect("access_token string");
    let refresh = body["refresh_token"]
        .as_str()
        .expect("refresh_token string");
    assert!(!access.is_empty() && !refresh.is_empty());
    assert_ne!(access, refresh);
    Session {
        access: access.to_owned(),
        refresh: refresh.to_owned(),
    }
}

async fn post_json(api: &Api, uri: &str, content_type: &str, body: &str) -> http_support::Reply {
    api.send_with(
        Method::POST,
        uri,
        &[("content-type", content_type)],
        body.to_owned(),
    )
    .await
}

async fn exchange(api: &Api, key: &Key) -> Session {
    let body = json!({ "apiKey": key.key.expose() }).to_string();
    session_of(
        &post_json(api, "/auth/api-key", "application/json", &body)
            .await
            .ok(),
    )
}

async fn refresh(api: &Api, refresh_token: &str) -> http_support::Reply {
    let body = json!({ "refreshToken": refresh_token }).to_string();
    post_json(api, "/auth/refresh", "application/json", &body).await
}

/// Every endpoint that requires authentication, for `token` (any id).
fn protected(token: &str) -> Vec<(Method, String, &'static str)> {
    vec![
        (Method::POST, "/upload-tokens".to_owned(), r#"{"ttl":60}"#),
        (Method::GET, "/upload-tokens".to_owned(), ""),
        (Method::GET, format!("/upload-tokens/{token}"), ""),
        (Method::DELETE, format!("/upload-tokens/{token}"), ""),
    ]
}

/// Sends every protected request with `headers`, asserting the given 401 each time, and that
/// nothing was created or deleted.
async fn assert_all_refused(
    api: &Api,
    owner: &Key,
    token: &str,
    headers: &[(&str, &str)],
    slug: &str,
) {
    let before = api.listed_ids(&owner.basic(), "").await;
    for (method, uri, body) in protected(token) {
        let reply = api
            .send_with(method.clone(), &uri, headers, body.to_owned())
            .await;
        reply.problem(401, slug, None);
        assert_eq!(
            api.listed_ids(&owner.basic(), "").await,
            before,
            "{method} {uri} with {headers:?} changed something"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Authorization header
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn missing_authorization_header_is_401() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let token = api.create_ok(&key.basic(), 0).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_all_refused(
        &api,
        &key,
        &token,
        &[],
        "authentication-missing-authorization-header",
    )
    .await;
}

#[tokio::test]
async fn empty_authorization_header_is_401_missing() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let token = api.create_ok(&key.basic(), 0).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    for value in ["", "   "] {
        assert_all_refused(
            &api,
            &key,
            &token,
            &[("authorization", value)],
            "authentication-missing-authorization-header",
        )
        .await;
    }
}

#[tokio::test]
async fn unknown_authorization_scheme_is_401_missing() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let token = api.create_ok(&key.basic(), 0).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let raw_key = key.key.expose().to_owned();
    let token_scheme = format!("Token {raw_key}");
    let bare_key = raw_key.clone();
    let digest = format!("Digest username=\"{raw_key}\"");
    for value in [token_scheme.as_str(), bare_key.as_str(), digest.as_str()] {
        assert_all_refused(
            &api,
            &key,
            &token,
            &[("authorization", value)],
            "authentication-missing-authorization-header",
        )
        .await;
    }
}

#[tokio::test]
async fn basic_with_an_unknown_key_is_401_invalid_api_key() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let token = api.create_ok(&key.basic(), 0).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let unknown = api_key_basic("0123456789abcdefghijABCDEFGHIJ0123456789abc:");
    let almost = {
        // The real key with its last character changed.
        let mut k = key.key.expose().to_owned();
        let last = k.pop().expect("non-empty");
        k.push(if last == 'a' { 'b' } else { 'a' });
        api_key_basic(&format!("{k}:"))
    };
    let too_short = api_key_basic("short:");
    let empty_user = api_key_basic(":");
    let other_password_slot = api_key_basic(&format!(":{}", key.key.expose()));
    for value in [
        unknown.as_str(),
        almost.as_str(),
        too_short.as_str(),
        empty_user.as_str(),
        other_password_slot.as_str(),
    ] {
        assert_all_refused(
            &api,
            &key,
            &token,
            &[("authorization", value)],
            "authentication-invalid-api-key",
        )
        .await;
    }
}

fn api_key_basic(user_pass: &str) -> String {
    format!("Basic {}", STANDARD.encode(user_pass))
}

#[tokio::test]
async fn basic_with_garbage_base64_is_401_invalid_api_key() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let token = api.create_ok(&key.basic(), 0).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let not_utf8 = format!("Basic {}", STANDARD.encode([0xff, 0xfe, 0xfd, 0x3a]));
    for value in [
        "Basic !!!not-base64!!!",
        "Basic ####",
        "Basic a",
        not_utf8.as_str(),
    ] {
        assert_all_refused(
            &api,
            &key,
            &token,
            &[("authorization", value)],
            "authentication-invalid-api-key",
        )
        .await;
    }
}

#[tokio::test]
async fn basic_with_or_without_trailing_colon_authenticates() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let a = api.create_ok(&key.basic(), 60).await;
    let b = api.create_ok(&key.basic_without_colon(), 60).await;
    for auth in [key.basic(), key.basic_without_colon()] {
        assert_eq!(api.list(&auth, "").await["data"], json!([a, b]));
    }
}

#[tokio::test]
async fn authorization_scheme_is_case_insensitive() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let session = exchange(&api, &key).await;
    let basic = key.basic().replacen("Basic", "basic", 1);
    let bearer = session.bearer().replacen("Bearer", "bearer", 1);
    for auth in [basic, bearer] {
        api.list(&auth, "").await;
    }
}

// ---------------------------------------------------------------------------------------------
// POST /auth/api-key
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn api_key_exchange_returns_exactly_the_four_session_fields() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let body = json!({ "apiKey": key.key.expose() }).to_string();
    let reply = post_json(&api, "/auth/api-key", "application/json", &body).await;
    assert_eq!(reply.content_type(), Some("application/json"));
    session_of(&reply.ok());
    // Two exchanges give two different sessions.
    let one = exchange(&api, &key).await;
    let two = exchange(&api, &key).await;
    assert_ne!(one.refresh, two.refresh);
}

#[tokio::test]
async fn api_key_exchange_accepts_a_text_plain_body() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let body = json!({ "apiKey": key.key.expose() }).to_string();
    for content_type in ["text/plain", "text/plain;charset=UTF-8"] {
        let reply = post_json(&api, "/auth/api-key", content_type, &body).await;
        let session = session_of(&reply.ok());
        api.list(&session.bearer(), "").await;
    }
    // And with no Content-Type at all.
    let reply = api
        .send_with(Method::POST, "/auth/api-key", &[], body.clone())
        .await;
    session_of(&reply.ok());
}

#[tokio::test]
async fn api_key_exchange_refuses_bad_credentials_with_400() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let unknown = json!({ "apiKey": "0123456789abcdefghijABCDEFGHIJ0123456789abc" }).to_string();
    let wrong_case = json!({ "apikey": key.key.expose() }).to_string();
    let as_array = json!({ "apiKey": [key.key.expose()] }).to_string();
    let with_colon = json!({ "apiKey": format!("{}:", key.key.expose()) }).to_string();
    for body in [
        unknown.as_str(),
        r#"{"apiKey":""}"#,
        r#"{"apiKey":"short"}"#,
        "{}",
        "",
        wrong_case.as_str(),
        r#"{"apiKey":12345678901234}"#,
        r#"{"apiKey":null}"#,
        r#"{"apiKey":true}"#,
        as_array.as_str(),
        with_colon.as_str(),
        "{",
        r#"{"apiKey":"#,
        "not json",
        "[]",
        "\"apiKey\"",
    ] {
        let reply = post_json(&api, "/auth/api-key", "application/json", body).await;
        reply.problem(400, "authentication-invalid-user-credentials", None);
    }
    // The good key still works afterwards.
    exchange(&api, &key).await;
}

// ---------------------------------------------------------------------------------------------
// Bearer access tokens
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn bearer_token_authenticates_every_token_endpoint() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let session = exchange(&api, &key).await;
    let created = api.create_ok(&session.bearer(), 600).await;
    let token = created["token"].as_str().expect("token");
    assert_eq!(
        api.list(&session.bearer(), "").await["data"],
        json!([created])
    );
    assert_eq!(
        api.list(&key.basic(), "").await["data"],
        json!([created]),
        "same project through Basic"
    );
    let uri = format!("/upload-tokens/{token}");
    assert_eq!(api.get(&session.bearer(), &uri).await.ok(), created);
    assert_eq!(api.delete(&session.bearer(), &uri).await.status, 204);
    assert_eq!(api.total(&key.basic()).await, 0);
}

#[tokio::test]
async fn bearer_token_expires_after_an_hour() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let created = api.create_ok(&key.basic(), 0).await;
    let token = created["token"].as_str().expect("token").to_owned();
    let session = exchange(&api, &key).await;
    api.advance(TimeDelta::seconds(3599));
    api.list(&session.bearer(), "").await;
    api.advance(TimeDelta::seconds(1));
    assert_all_refused(
        &api,
        &key,
        &token,
        &[("authorization", session.bearer().as_str())],
        "authentication-invalid-access-token",
    )
    .await;
}

#[tokio::test]
async fn tampered_or_foreign_bearer_token_is_401() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let token = api.create_ok(&key.basic(), 0).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let session = exchange(&api, &key).await;
    let access = session.access.clone();

    let flip_last = {
        let mut t = access.clone();
        let last = t.pop().expect("non-empty");
        t.push(if last == 'A' { 'B' } else { 'A' });
        t
    };
    // Claims rewritten (a later expiry), signature kept.
    let parts: Vec<&str> = access.split('.').collect();
    assert_eq!(parts.len(), 4, "v2.<signing key id>.<claims>.<signature>");
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).expect("base64url claims"))
            .expect("JSON claims");
    let mut forged_claims = claims.clone();
    forged_claims["exp"] = json!(claims["exp"].as_i64().expect("exp") + 100_000);
    let forged = format!(
        "{}.{}.{}.{}",
        parts[0],
        parts[1],
        URL_SAFE_NO_PAD.encode(forged_claims.to_string()),
        parts[3]
    );
    // Same claims, signed with another secret (so naming a signing key this server lacks).
    let other_signer =
        AccessTokenSigner::new(SigningKey::new(vec![8u8; 32]).expect("long enough key"));
    let foreign = other_signer.issue(&AccessClaims {
        kid: claims["kid"].as_str().expect("kid").to_owned(),
        pid: claims["pid"].as_str().expect("pid").to_owned(),
        exp: claims["exp"].as_i64().expect("exp"),
    });
    // The genuine token with its signing key id replaced by one nobody has.
    let unknown_key = format!("{}.AAAAAAAAAAA.{}.{}", parts[0], parts[2], parts[3]);
    // The other secret's id in place of ours: our key would not find it either.
    let other_key_named = format!(
        "{}.{}.{}.{}",
        parts[0],
        other_signer.keys().current().id(),
        parts[2],
        parts[3]
    );
    // Pre-rotation format (`v1.<claims>.<signature>`): the same claims, our signature over
    // something else.
    let legacy = format!("v1.{}.{}", parts[2], parts[3]);
    let truncated = access[..access.len() - 4].to_owned();
    for bad in [
        flip_last,
        forged,
        foreign,
        unknown_key,
        other_key_named,
        legacy,
        truncated,
    ] {
        let auth = format!("Bearer {bad}");
        assert_all_refused(
            &api,
            &key,
            &token,
            &[("authorization", auth.as_str())],
            "authentication-invalid-access-token",
        )
        .await;
    }
    // The genuine one still works.
    api.list(&session.bearer(), "").await;
}

// ---------------------------------------------------------------------------------------------
// Bearer <apiKey> (vidbeo's clients)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn bearer_api_key_authenticates_every_api_key_route() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let bearer = format!("Bearer {}", key.key.expose());
    let created = api.create_ok(&bearer, 600).await;
    let token = created["token"].as_str().expect("token");
    assert_eq!(api.list(&bearer, "").await["data"], json!([created]));
    assert_eq!(
        api.list(&key.basic(), "").await["data"],
        json!([created]),
        "the same project as through Basic"
    );
    let uri = format!("/upload-tokens/{token}");
    assert_eq!(api.get(&bearer, &uri).await.ok(), created);
    // The video routes take API keys too: authenticated, so the unknown video is a 404.
    let video = "/videos/vi0000000000000000000000";
    api.get(&bearer, video)
        .await
        .problem(404, "resource-not-found", None);
    api.get(&bearer, &format!("{video}/status"))
        .await
        .problem(404, "resource-not-found", None);
    assert_eq!(api.delete(&bearer, &uri).await.status, 204);
    assert_eq!(api.total(&key.basic()).await, 0);
    // Any case of the scheme, as for access tokens.
    let lower = bearer.replacen("Bearer", "bearer", 1);
    api.list(&lower, "").await;
}

#[tokio::test]
async fn bearer_that_is_not_an_access_token_is_checked_as_an_api_key() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let token = api.create_ok(&key.basic(), 0).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let session = exchange(&api, &key).await;
    let almost = {
        let mut k = key.key.expose().to_owned();
        let last = k.pop().expect("non-empty");
        k.push(if last == 'a' { 'b' } else { 'a' });
        k
    };
    for bad in [
        almost,
        "0123456789abcdefghijABCDEFGHIJ0123456789abc".to_owned(),
        // Refresh tokens are not API keys.
        session.refresh.clone(),
        // Not even the shape of a key: too short, or a character a key never has.
        "garbage".to_owned(),
        "with:colon-1234".to_owned(),
        String::new(),
    ] {
        let auth = format!("Bearer {bad}");
        assert_all_refused(
            &api,
            &key,
            &token,
            &[("authorization", auth.as_str())],
            "authentication-invalid-api-key",
        )
        .await;
    }
    // A revoked key, presented as Bearer, is refused like a revoked key presented as Basic.
    let bearer = format!("Bearer {}", key.key.expose());
    let sibling = api.key_for(&key.project).await;
    assert!(api.store.revoke_api_key(&key.key_id).await.expect("revoke"));
    assert_all_refused(
        &api,
        &sibling,
        &token,
        &[("authorization", bearer.as_str())],
        "authentication-invalid-api-key",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// POST /auth/refresh
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn refresh_rotates_the_refresh_token() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let first = exchange(&api, &key).await;
    api.advance(TimeDelta::seconds(10));
    let second = session_of(&refresh(&api, &first.refresh).await.ok());
    assert_ne!(second.refresh, first.refresh);
    assert_ne!(second.access, first.access);
    refresh(&api, &first.refresh).await.problem(
        400,
        "authentication-invalid-user-credentials",
        None,
    );
    api.list(&second.bearer(), "").await;
    let third = session_of(&refresh(&api, &second.refresh).await.ok());
    let created = api.create_ok(&third.bearer(), 60).await;
    assert_eq!(api.list(&key.basic(), "").await["data"], json!([created]));
    // A spent token stays spent.
    refresh(&api, &second.refresh).await.problem(
        400,
        "authentication-invalid-user-credentials",
        None,
    );
}

#[tokio::test]
async fn refresh_accepts_a_text_plain_body() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let session = exchange(&api, &key).await;
    let body = json!({ "refreshToken": session.refresh }).to_string();
    let reply = post_json(&api, "/auth/refresh", "text/plain", &body).await;
    session_of(&reply.ok());
}

#[tokio::test]
async fn refresh_refuses_unknown_missing_or_malformed_tokens_with_400() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let session = exchange(&api, &key).await;
    let access_as_refresh = json!({ "refreshToken": session.access }).to_string();
    let key_as_refresh = json!({ "refreshToken": key.key.expose() }).to_string();
    let wrong_name = json!({ "refresh_token": session.refresh }).to_string();
    for body in [
        r#"{"refreshToken":"nope"}"#,
        r#"{"refreshToken":""}"#,
        access_as_refresh.as_str(),
        key_as_refresh.as_str(),
        wrong_name.as_str(),
        "{}",
        "",
        r#"{"refreshToken":5}"#,
        r#"{"refreshToken":null}"#,
        "{",
        "[]",
    ] {
        let reply = post_json(&api, "/auth/refresh", "application/json", body).await;
        reply.problem(400, "authentication-invalid-user-credentials", None);
    }
    // None of that spent the real one.
    session_of(&refresh(&api, &session.refresh).await.ok());
}

#[tokio::test]
async fn refresh_token_expires_after_thirty_days() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let first = exchange(&api, &key).await;
    let thirty_days = TimeDelta::days(30);
    api.advance(thirty_days - TimeDelta::seconds(1));
    let second = session_of(&refresh(&api, &first.refresh).await.ok());
    api.advance(thirty_days);
    refresh(&api, &second.refresh).await.problem(
        400,
        "authentication-invalid-user-credentials",
        None,
    );
}

// ---------------------------------------------------------------------------------------------
// Revocation
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn revoking_a_key_ends_its_sessions_at_once() {
    let api = Api::new().await;
    let key = api
        .key_for(&upload_tokens_core::domain::ProjectId::generate())
        .await;
    let sibling = api.key_for(&key.project).await;
    let created = api.create_ok(&key.basic(), 0).await;
    let token = created["token"].as_str().expect("token").to_owned();
    let session = exchange(&api, &key).await;
    let sibling_session = exchange(&api, &sibling).await;

    assert!(api.store.revoke_api_key(&key.key_id).await.expect("revoke"));

    assert_all_refused(
        &api,
        &sibling,
        &token,
        &[("authorization", session.bearer().as_str())],
        "authentication-invalid-access-token",
    )
    .await;
    let basic = key.basic();
    assert_all_refused(
        &api,
        &sibling,
        &token,
        &[("authorization", basic.as_str())],
        "authentication-invalid-api-key",
    )
    .await;
    refresh(&api, &session.refresh).await.problem(
        400,
        "authentication-invalid-user-credentials",
        None,
    );
    let body = json!({ "apiKey": key.key.expose() }).to_string();
    post_json(&api, "/auth/api-key", "application/json", &body)
        .await
        .problem(400, "authentication-invalid-user-credentials", None);

    // The project's other key, and its session, are unaffected; the token is still there.
    assert_eq!(
        api.list(&sibling.basic(), "").await["data"],
        json!([created])
    );
    assert_eq!(
        api.list(&sibling_session.bearer(), "").await["data"],
        json!([created])
    );
    session_of(&refresh(&api, &sibling_session.refresh).await.ok());
}

// ---------------------------------------------------------------------------------------------
// Project scoping
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_key_cannot_see_or_touch_another_projects_tokens() {
    let api = Api::new().await;
    let a = api.new_key().await;
    let b = api.new_key().await;
    let a_session = exchange(&api, &a).await;
    let b_session = exchange(&api, &b).await;
    let a_token = api.create_ok(&a.basic(), 0).await;
    let b_token = api.create_ok(&b_session.bearer(), 0).await;
    let a_id = a_token["token"].as_str().expect("token");

    for auth in [b.basic(), b_session.bearer()] {
        let uri = format!("/upload-tokens/{a_id}");
        api.get(&auth, &uri)
            .await
            .problem(404, "resource-not-found", Some("uploadToken"));
        api.delete(&auth, &uri)
            .await
            .problem(404, "resource-not-found", Some("uploadToken"));
        let listing = api.list(&auth, "").await;
        assert_eq!(listing["data"], json!([b_token]));
        assert_eq!(listing["pagination"]["itemsTotal"], 1);
        let by_ttl = api.list(&auth, "sortBy=ttl&sortOrder=desc").await;
        assert_eq!(by_ttl["data"], json!([b_token]));
    }
    for auth in [a.basic(), a_session.bearer()] {
        assert_eq!(api.list(&auth, "").await["data"], json!([a_token]));
    }
}

#[tokio::test]
async fn keys_of_one_project_share_its_tokens() {
    let api = Api::new().await;
    let first = api.new_key().await;
    let second = api.key_for(&first.project).await;
    let created = api.create_ok(&first.basic(), 0).await;
    let uri = format!(
        "/upload-tokens/{}",
        created["token"].as_str().expect("token")
    );
    assert_eq!(api.get(&second.basic(), &uri).await.ok(), created);
    assert_eq!(api.delete(&second.basic(), &uri).await.status, 204);
    assert_eq!(api.total(&first.basic()).await, 0);
}
