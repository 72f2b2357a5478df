//! `/upload-tokens` over `dispatch`, in process (SPEC §1 and §3): bodies, content types, dates,
//! validation, listing and pagination, 404s, routing errors, and that rejected requests change
//! nothing.

#![cfg(feature = "embedded")]

mod http_support;

use bytes::Bytes;
use chrono::TimeDelta;
use http::Method;
use http_support::{Api, is_token_id, keys, start, token_ids, wire_date};
use serde_json::{Value, json};
use std::collections::HashSet;

/// The `rel`s of a listing's links, in order.
fn rels(listing: &Value) -> Vec<String> {
    listing["pagination"]["links"]
        .as_array()
        .expect("links")
        .iter()
        .map(|l| l["rel"].as_str().expect("rel").to_owned())
        .collect()
}

/// The `uri` of the link `rel`.
fn link(listing: &Value, rel: &str) -> String {
    listing["pagination"]["links"]
        .as_array()
        .expect("links")
        .iter()
        .find(|l| l["rel"] == rel)
        .unwrap_or_else(|| panic!("no {rel} link in {listing}"))["uri"]
        .as_str()
        .expect("uri")
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// Create
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_with_ttl_returns_the_token_and_its_expiry() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let reply = api.create(&key.basic(), r#"{"ttl":3600}"#).await;
    let body = reply.ok();
    assert_eq!(keys(&body), ["createdAt", "expiresAt", "token", "ttl"]);
    assert!(
        is_token_id(body["token"].as_str().expect("token")),
        "{body}"
    );
    assert_eq!(body["ttl"], 3600);
    assert_eq!(body["createdAt"], "2100-01-02T03:04:05+00:00");
    assert_eq!(body["expiresAt"], "2100-01-02T04:04:05+00:00");
}

#[tokio::test]
async fn create_with_empty_object_makes_a_token_that_never_expires() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let body = api.create(&key.basic(), "{}").await.ok();
    assert_eq!(keys(&body), ["createdAt", "token", "ttl"]);
    assert_eq!(body["ttl"], 0);
    assert_eq!(body["createdAt"], wire_date(start()));
}

#[tokio::test]
async fn create_with_empty_body_makes_a_token_that_never_expires() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let reply = api.create(&key.basic(), "").await;
    let token = reply.ok();
    assert_eq!(keys(&token), ["createdAt", "token", "ttl"]);
    assert_eq!(token["ttl"], 0);
    // Whitespace alone is a body, and not a JSON object (schemathesis found this one).
    for body in [" ", "  \n"] {
        api.create(&key.basic(), body)
            .await
            .problem(400, "invalid-payload", Some("body"));
    }
    // And with no Content-Type at all.
    let reply = api
        .send(Method::POST, "/upload-tokens", &key.basic(), Bytes::new())
        .await;
    assert_eq!(reply.ok()["ttl"], 0);
}

#[tokio::test]
async fn create_with_ttl_zero_has_no_expiry() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let reply = api.create(&key.basic(), r#"{"ttl":0}"#).await;
    let body = reply.ok();
    assert_eq!(keys(&body), ["createdAt", "token", "ttl"]);
    assert_eq!(body["ttl"], 0);
    assert!(
        !reply.text().contains("null"),
        "absent fields are omitted, not null: {}",
        reply.text()
    );
}

#[tokio::test]
async fn largest_ttl_is_accepted() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let body = api.create_ok(&key.basic(), 2_147_483_647).await;
    assert_eq!(body["ttl"], 2_147_483_647u64);
    assert_eq!(
        body["expiresAt"],
        wire_date(start() + TimeDelta::seconds(2_147_483_647))
    );
}

#[tokio::test]
async fn unknown_attributes_in_the_body_are_refused_by_name() {
    let api = Api::new().await;
    let key = api.new_key().await;
    api.create(&key.basic(), r#"{"ttl":60,"description":"x"}"#)
        .await
        .problem(400, "invalid-attribute", Some("description"));
    // The other face's spelling is unknown here too.
    api.create(&key.basic(), r#"{"max_file_bytes":10}"#)
        .await
        .problem(400, "invalid-attribute", Some("max_file_bytes"));
    assert!(api.listed_ids(&key.basic(), "").await.is_empty());
}

#[tokio::test]
async fn created_token_reads_back_identically() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let created = api.create_ok(&key.basic(), 600).await;
    let token = created["token"].as_str().expect("token");
    api.advance(TimeDelta::seconds(5));
    let got = api
        .get(&key.basic(), &format!("/upload-tokens/{token}"))
        .await
        .ok();
    assert_eq!(got, created);
    let listing = api.list(&key.basic(), "").await;
    assert_eq!(listing["data"], json!([created]));
}

#[tokio::test]
async fn token_ids_are_well_formed_and_distinct() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let mut seen = HashSet::new();
    for _ in 0..50 {
        let token = api.create_ok(&key.basic(), 60).await["token"]
            .as_str()
            .expect("token")
            .to_owned();
        assert!(is_token_id(&token), "{token}");
        assert!(seen.insert(token), "duplicate id");
    }
}

#[tokio::test]
async fn each_invalid_ttl_is_refused_naming_ttl_and_creates_nothing() {
    let api = Api::new().await;
    let key = api.new_key().await;
    api.create_ok(&key.basic(), 60).await;
    let before = api.listed_ids(&key.basic(), "").await;
    for ttl in [
        "-1",
        "2147483648",
        "1.5",
        "\"10\"",
        "null",
        "true",
        "[]",
        "{}",
        "99999999999999999999",
    ] {
        let reply = api
            .create(&key.basic(), &format!("{{\"ttl\":{ttl}}}"))
            .await;
        let problem = reply.problem(400, "invalid-attribute", Some("ttl"));
        assert_eq!(problem["status"], 400, "ttl {ttl}");
        assert_eq!(
            api.listed_ids(&key.basic(), "").await,
            before,
            "ttl {ttl} created something"
        );
    }
}

#[tokio::test]
async fn malformed_or_non_object_json_is_refused_and_creates_nothing() {
    let api = Api::new().await;
    let key = api.new_key().await;
    api.create_ok(&key.basic(), 0).await;
    for body in [
        "{",
        r#"{"ttl":"#,
        r#"{"ttl":60"#,
        "not json",
        r#"{"ttl":60}}"#,
        "[]",
        r#"[{"ttl":60}]"#,
        "3600",
        "\"ttl\"",
        "null",
        "true",
    ] {
        let reply = api.create(&key.basic(), body).await;
        let problem = reply.problem(400, "invalid-payload", None);
        assert!(
            problem["name"].is_string(),
            "the problem names what was wrong: {problem}"
        );
        assert_eq!(api.total(&key.basic()).await, 1, "body {body:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// List
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn each_invalid_list_parameter_is_refused_naming_it() {
    let api = Api::new().await;
    let key = api.new_key().await;
    api.create_ok(&key.basic(), 60).await;
    for (query, name) in [
        ("pageSize=0", "pageSize"),
        ("pageSize=101", "pageSize"),
        ("pageSize=x", "pageSize"),
        ("pageSize=-1", "pageSize"),
        ("pageSize=2.5", "pageSize"),
        ("currentPage=0", "currentPage"),
        ("currentPage=-3", "currentPage"),
        ("currentPage=x", "currentPage"),
        ("sortBy=foo", "sortBy"),
        ("sortBy=", "sortBy"),
        ("sortOrder=up", "sortOrder"),
        ("sortOrder=ASC", "sortOrder"),
        ("sortBy=ttl&pageSize=0", "pageSize"),
        ("currentPage=2&sortOrder=down", "sortOrder"),
    ] {
        let reply = api
            .get(&key.basic(), &format!("/upload-tokens?{query}"))
            .await;
        reply.problem(400, "invalid-query-parameter", Some(name));
    }
}

#[tokio::test]
async fn valid_list_parameters_at_their_limits_are_accepted() {
    let api = Api::new().await;
    let key = api.new_key().await;
    for query in [
        "pageSize=1",
        "pageSize=100",
        "currentPage=1",
        "sortBy=createdAt&sortOrder=asc",
        "sortBy=ttl&sortOrder=desc",
        "unknownParameter=whatever",
    ] {
        api.list(&key.basic(), query).await;
    }
}

/// Creates 60 tokens one second apart with mixed lifetimes (some never expiring); returns their
/// JSON in creation order.
async fn sixty_tokens(api: &Api, auth: &str) -> Vec<Value> {
    let mut created = Vec::new();
    for i in 0..60u32 {
        created.push(
            api.create_ok(auth, [0, 60, 3600, 600][(i % 4) as usize])
                .await,
        );
        api.advance(TimeDelta::seconds(1));
    }
    created
}

#[tokio::test]
async fn listing_paginates_with_links_in_order() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let created = sixty_tokens(&api, &key.basic()).await;

    let page = api
        .list(
            &key.basic(),
            "sortBy=ttl&sortOrder=desc&currentPage=2&pageSize=25",
        )
        .await;
    let pagination = &page["pagination"];
    assert_eq!(pagination["currentPage"], 2);
    assert_eq!(pagination["currentPageItems"], 25);
    assert_eq!(pagination["pageSize"], 25);
    assert_eq!(pagination["pagesTotal"], 3);
    assert_eq!(pagination["itemsTotal"], 60);
    assert_eq!(
        pagination["links"],
        json!([
            {"rel": "self", "uri": "/upload-tokens?sortBy=ttl&sortOrder=desc&currentPage=2&pageSize=25"},
            {"rel": "first", "uri": "/upload-tokens?sortBy=ttl&sortOrder=desc&currentPage=1&pageSize=25"},
            {"rel": "previous", "uri": "/upload-tokens?sortBy=ttl&sortOrder=desc&currentPage=1&pageSize=25"},
            {"rel": "next", "uri": "/upload-tokens?sortBy=ttl&sortOrder=desc&currentPage=3&pageSize=25"},
            {"rel": "last", "uri": "/upload-tokens?sortBy=ttl&sortOrder=desc&currentPage=3&pageSize=25"},
        ])
    );

    // ttl desc: never-expiring first, then latest expiry first; ties by id, reversed.
    let mut expected: Vec<&Value> = created.iter().collect();
    expected.sort_by_key(|t| {
        (
            t.get("expiresAt")
                .map_or("~".to_owned(), |e| e.as_str().expect("date").to_owned()),
            t["token"].as_str().expect("token").to_owned(),
        )
    });
    expected.reverse();
    assert_eq!(page["data"], json!(expected[25..50]));
    // Every item is a full token.
    for t in page["data"].as_array().expect("data") {
        assert!(is_token_id(t["token"].as_str().expect("token")));
    }
}

#[tokio::test]
async fn default_listing_is_creation_order_in_pages_of_25() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let created = sixty_tokens(&api, &key.basic()).await;
    let first = api.list(&key.basic(), "").await;
    assert_eq!(first["data"], json!(created[..25]));
    assert_eq!(first["pagination"]["pageSize"], 25);
    assert_eq!(rels(&first), ["self", "first", "next", "last"]);
    let last_uri = link(&first, "last");
    let last_query = last_uri
        .strip_prefix("/upload-tokens?")
        .expect("a listing link");
    let last = api.list(&key.basic(), last_query).await;
    assert_eq!(last["data"], json!(created[50..]));
    assert_eq!(last["pagination"]["currentPageItems"], 10);
    assert_eq!(rels(&last), ["self", "first", "previous", "last"]);
    let desc = api
        .list(&key.basic(), "sortBy=createdAt&sortOrder=desc&pageSize=100")
        .await;
    let mut reversed = created.clone();
    reversed.reverse();
    assert_eq!(desc["data"], json!(reversed));
}

#[tokio::test]
async fn following_next_links_visits_every_token_once() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let created = sixty_tokens(&api, &key.basic()).await;
    let all: HashSet<String> = created
        .iter()
        .map(|t| t["token"].as_str().expect("token").to_owned())
        .collect();
    for sort in [
        "sortBy=createdAt",
        "sortBy=ttl&sortOrder=asc",
        "sortBy=ttl&sortOrder=desc",
    ] {
        let mut uri = format!("/upload-tokens?{sort}&currentPage=1&pageSize=7");
        let mut seen = Vec::new();
        loop {
            let page = api.get(&key.basic(), &uri).await.ok();
            assert!(link(&page, "self") == uri, "self link of {uri}");
            seen.extend(token_ids(&page));
            if !rels(&page).contains(&"next".to_owned()) {
                break;
            }
            uri = link(&page, "next");
        }
        assert_eq!(seen.len(), 60, "{sort}");
        assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), all, "{sort}");
    }
}

#[tokio::test]
async fn empty_listing_has_no_pages_and_links_to_page_one() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let listing = api.list(&key.basic(), "").await;
    assert_eq!(listing["data"], json!([]));
    let pagination = &listing["pagination"];
    assert_eq!(pagination["currentPage"], 1);
    assert_eq!(pagination["currentPageItems"], 0);
    assert_eq!(pagination["pageSize"], 25);
    assert_eq!(pagination["pagesTotal"], 0);
    assert_eq!(pagination["itemsTotal"], 0);
    assert_eq!(rels(&listing), ["self", "first", "last"]);
    for rel in ["self", "first", "last"] {
        let uri = link(&listing, rel);
        assert!(
            uri.starts_with("/upload-tokens?") && uri.ends_with("currentPage=1&pageSize=25"),
            "{rel}: {uri}"
        );
    }
    let with_sort = api
        .list(&key.basic(), "sortBy=ttl&sortOrder=asc&pageSize=10")
        .await;
    assert_eq!(
        link(&with_sort, "last"),
        "/upload-tokens?sortBy=ttl&sortOrder=asc&currentPage=1&pageSize=10"
    );
}

#[tokio::test]
async fn page_past_the_last_is_empty_with_true_totals() {
    let api = Api::new().await;
    let key = api.new_key().await;
    sixty_tokens(&api, &key.basic()).await;
    let listing = api.list(&key.basic(), "currentPage=5&pageSize=25").await;
    assert_eq!(listing["data"], json!([]));
    let pagination = &listing["pagination"];
    assert_eq!(pagination["currentPage"], 5);
    assert_eq!(pagination["currentPageItems"], 0);
    assert_eq!(pagination["pagesTotal"], 3);
    assert_eq!(pagination["itemsTotal"], 60);
    let rels = rels(&listing);
    assert_eq!(rels.first().map(String::as_str), Some("self"));
    assert_eq!(rels.last().map(String::as_str), Some("last"));
    assert!(!rels.contains(&"next".to_owned()), "no next past the end");
    assert!(link(&listing, "self").ends_with("currentPage=5&pageSize=25"));
    assert!(link(&listing, "last").ends_with("currentPage=3&pageSize=25"));
}

#[tokio::test]
async fn listing_shows_only_active_tokens() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let short = api.create_ok(&key.basic(), 60).await;
    let never = api.create_ok(&key.basic(), 0).await;
    let long = api.create_ok(&key.basic(), 3600).await;
    let deleted = api.create_ok(&key.basic(), 0).await;
    let reply = api
        .delete(
            &key.basic(),
            &format!(
                "/upload-tokens/{}",
                deleted["token"].as_str().expect("token")
            ),
        )
        .await;
    assert_eq!(reply.status, 204);
    let listing = api.list(&key.basic(), "").await;
    assert_eq!(listing["data"], json!([short, never, long]));
    api.advance(TimeDelta::seconds(60));
    let listing = api.list(&key.basic(), "").await;
    assert_eq!(listing["data"], json!([never, long]));
    assert_eq!(listing["pagination"]["itemsTotal"], 2);
    let listing = api.list(&key.basic(), "sortBy=ttl").await;
    assert_eq!(listing["data"], json!([long, never]));
}

// ---------------------------------------------------------------------------------------------
// Get and delete
// ---------------------------------------------------------------------------------------------

/// Asserts GET and DELETE of `/upload-tokens/<token>` are both 404 `resource-not-found`.
async fn assert_not_found(api: &Api, auth: &str, token: &str) {
    let uri = format!("/upload-tokens/{token}");
    api.get(auth, &uri)
        .await
        .problem(404, "resource-not-found", Some("uploadToken"));
    api.delete(auth, &uri)
        .await
        .problem(404, "resource-not-found", Some("uploadToken"));
}

#[tokio::test]
async fn get_returns_an_active_token() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let created = api.create_ok(&key.basic(), 60).await;
    let uri = format!(
        "/upload-tokens/{}",
        created["token"].as_str().expect("token")
    );
    assert_eq!(api.get(&key.basic(), &uri).await.ok(), created);
}

#[tokio::test]
async fn unknown_token_is_not_found() {
    let api = Api::new().await;
    let key = api.new_key().await;
    api.create_ok(&key.basic(), 0).await;
    assert_not_found(&api, &key.basic(), "to1tcmSFHeYY5KzyhOqVKMKb").await;
}

#[tokio::test]
async fn malformed_token_is_not_found() {
    let api = Api::new().await;
    let key = api.new_key().await;
    for token in [
        "nope",
        "to123",
        "vi1tcmSFHeYY5KzyhOqVKMKb",
        "to1tcmSFHeYY5KzyhOqVKMKbb",
        "to1tcmSFHeYY5KzyhOqVKM%21",
    ] {
        assert_not_found(&api, &key.basic(), token).await;
    }
}

#[tokio::test]
async fn expired_token_is_not_found() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let created = api.create_ok(&key.basic(), 60).await;
    let token = created["token"].as_str().expect("token");
    let uri = format!("/upload-tokens/{token}");
    api.advance(TimeDelta::milliseconds(59_999));
    assert_eq!(api.get(&key.basic(), &uri).await.ok(), created, "1 ms left");
    api.advance(TimeDelta::milliseconds(1));
    assert_not_found(&api, &key.basic(), token).await;
    api.advance(TimeDelta::seconds(1));
    assert_not_found(&api, &key.basic(), token).await;
    assert_eq!(api.total(&key.basic()).await, 0);
}

#[tokio::test]
async fn delete_answers_204_without_body_or_content_type() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let created = api.create_ok(&key.basic(), 3600).await;
    let kept = api.create_ok(&key.basic(), 3600).await;
    let uri = format!(
        "/upload-tokens/{}",
        created["token"].as_str().expect("token")
    );
    let reply = api.delete(&key.basic(), &uri).await;
    assert_eq!(reply.status, 204);
    assert!(reply.body.is_empty(), "body: {}", reply.text());
    assert_eq!(reply.content_type(), None);
    assert_eq!(api.list(&key.basic(), "").await["data"], json!([kept]));
}

#[tokio::test]
async fn deleted_token_is_not_found() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let created = api.create_ok(&key.basic(), 0).await;
    let token = created["token"].as_str().expect("token");
    assert_eq!(
        api.delete(&key.basic(), &format!("/upload-tokens/{token}"))
            .await
            .status,
        204
    );
    assert_not_found(&api, &key.basic(), token).await;
}

#[tokio::test]
async fn another_projects_token_is_not_found_and_survives() {
    let api = Api::new().await;
    let owner = api.new_key().await;
    let stranger = api.new_key().await;
    let created = api.create_ok(&owner.basic(), 0).await;
    let token = created["token"].as_str().expect("token");
    assert_not_found(&api, &stranger.basic(), token).await;
    assert_eq!(
        api.get(&owner.basic(), &format!("/upload-tokens/{token}"))
            .await
            .ok(),
        created
    );
}

#[tokio::test]
async fn json_content_type_and_origin_headers_on_requests_without_body_are_ignored() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let created = api.create_ok(&key.basic(), 0).await;
    let uri = format!(
        "/upload-tokens/{}",
        created["token"].as_str().expect("token")
    );
    let headers = [
        ("authorization", key.basic()),
        ("content-type", "application/json".to_owned()),
        ("av-origin-client", "python:1.4.7".to_owned()),
        ("av-origin-app", "tests:1.0.0".to_owned()),
        ("av-origin-sdk", "sdk:1.0".to_owned()),
    ];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let reply = api
        .send_with(Method::GET, "/upload-tokens", &headers, Bytes::new())
        .await;
    assert_eq!(reply.ok()["data"], json!([created]));
    let reply = api
        .send_with(Method::GET, &uri, &headers, Bytes::new())
        .await;
    assert_eq!(reply.ok(), created);
    let reply = api
        .send_with(Method::DELETE, &uri, &headers, Bytes::new())
        .await;
    assert_eq!(reply.status, 204);
}

// ---------------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn unknown_route_is_404_unrecognized_request_url() {
    let api = Api::new().await;
    let key = api.new_key().await;
    for (method, uri) in [
        (Method::GET, "/"),
        (Method::GET, "/nope"),
        (Method::GET, "/upload-token"),
        (Method::GET, "/upload-tokens/a/b"),
        (Method::POST, "/auth/nope"),
        (Method::DELETE, "/upload-tokens/"),
    ] {
        let reply = api
            .send(method.clone(), uri, &key.basic(), Bytes::new())
            .await;
        reply.problem(404, "unrecognized-request-url", None);
    }
}

#[tokio::test]
async fn wrong_method_is_405_with_allow_header() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let token = api.create_ok(&key.basic(), 0).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let item = format!("/upload-tokens/{token}");
    for (method, uri, allowed) in [
        (Method::PUT, "/upload-tokens", &["GET", "POST"][..]),
        (Method::DELETE, "/upload-tokens", &["GET", "POST"]),
        (Method::PATCH, "/upload-tokens", &["GET", "POST"]),
        (Method::POST, item.as_str(), &["DELETE", "GET", "PATCH"]),
        (Method::PUT, item.as_str(), &["DELETE", "GET", "PATCH"]),
        (Method::GET, "/auth/api-key", &["POST"]),
        (Method::DELETE, "/auth/refresh", &["POST"]),
    ] {
        let reply = api
            .send(method.clone(), uri, &key.basic(), Bytes::from_static(b"{}"))
            .await;
        reply.problem(405, "method-not-allowed", None);
        let allow = reply
            .headers
            .get(http::header::ALLOW)
            .unwrap_or_else(|| panic!("{method} {uri}: no Allow header"))
            .to_str()
            .expect("ASCII");
        let mut methods: Vec<&str> = allow.split(',').map(str::trim).collect();
        methods.sort_unstable();
        assert_eq!(methods, allowed, "{method} {uri}");
    }
    // None of that touched the token.
    assert_eq!(api.listed_ids(&key.basic(), "").await, [token]);
}

#[tokio::test]
async fn rejected_requests_change_nothing() {
    let api = Api::new().await;
    let key = api.new_key().await;
    let stranger = api.new_key().await;
    let mut expected = Vec::new();
    for ttl in [0, 60, 3600] {
        expected.push(api.create_ok(&key.basic(), ttl).await);
    }
    let first = expected[0]["token"].as_str().expect("token").to_owned();
    let rejected: Vec<(Method, String, Option<String>, &str)> = vec![
        (
            Method::POST,
            "/upload-tokens".into(),
            Some(key.basic()),
            r#"{"ttl":-1}"#,
        ),
        (
            Method::POST,
            "/upload-tokens".into(),
            Some(key.basic()),
            "{",
        ),
        (Method::POST, "/upload-tokens".into(), None, r#"{"ttl":60}"#),
        (
            Method::POST,
            "/upload-tokens".into(),
            Some("Basic bm90LWEta2V5LWF0LWFsbDo=".into()),
            r#"{"ttl":60}"#,
        ),
        (
            Method::DELETE,
            format!("/upload-tokens/{first}"),
            Some(stranger.basic()),
            "",
        ),
        (Method::DELETE, format!("/upload-tokens/{first}"), None, ""),
        (
            Method::DELETE,
            "/upload-tokens/to123".into(),
            Some(key.basic()),
            "",
        ),
        (
            Method::DELETE,
            "/upload-tokens".into(),
            Some(key.basic()),
            "",
        ),
        (
            Method::PUT,
            format!("/upload-tokens/{first}"),
            Some(key.basic()),
            "{}",
        ),
        (
            Method::GET,
            "/upload-tokens?pageSize=0".into(),
            Some(key.basic()),
            "",
        ),
    ];
    for (method, uri, auth, body) in rejected {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(auth) = &auth {
            headers.push(("authorization", auth.as_str()));
        }
        let reply = api
            .send_with(method.clone(), &uri, &headers, body.to_owned())
            .await;
        assert!(
            reply.status.is_client_error(),
            "{method} {uri}: {}",
            reply.status
        );
        let listing = api.list(&key.basic(), "").await;
        assert_eq!(listing["data"], json!(expected), "after {method} {uri}");
        assert_eq!(listing["pagination"]["itemsTotal"], 3);
        assert_eq!(api.total(&stranger.basic()).await, 0);
    }
}
