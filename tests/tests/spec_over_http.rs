//! SPEC §1–3 over real HTTP, against the local server on SQLite and on DynamoDB (moto): the same
//! scenario for both.

mod support;

use local_api::StoreKind;
use serde_json::Value;
use support::{Api, Deployment, options, start};

fn tokens(reply: &support::Reply) -> Vec<String> {
    reply.json["data"]
        .as_array()
        .expect("data array")
        .iter()
        .map(|t| t["token"].as_str().expect("token").to_owned())
        .collect()
}

async fn scenario(api: &Api) {
    // Creation: body variants, exact content type, formats.
    let ttls = [100u32, 50, 0, 50, 3000];
    let mut created = Vec::new();
    for ttl in ttls {
        let reply = api.create(&format!("{{\"ttl\":{ttl}}}")).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.content_type.as_deref(), Some("application/json"));
        let token = reply.json["token"].as_str().expect("token").to_owned();
        assert!(token.starts_with("to") && token.len() == 24);
        assert_eq!(reply.json["ttl"], ttl);
        let created_at = reply.json["createdAt"].as_str().expect("createdAt");
        assert!(
            created_at.ends_with("+00:00") && created_at.len() == 25,
            "{created_at}"
        );
        assert_eq!(reply.json.get("expiresAt").is_some(), ttl > 0);
        created.push(token);
    }
    for body in ["{}", ""] {
        let reply = api.create(body).await;
        assert_eq!(reply.status, 200, "{body:?}: {}", reply.text);
        assert_eq!(reply.json["ttl"], 0);
        assert!(reply.json.get("expiresAt").is_none());
        let token = reply.json["token"].as_str().expect("token").to_owned();
        assert_eq!(
            api.delete(&format!("/upload-tokens/{token}")).await.status,
            204
        );
    }

    // True creation order, both directions.
    let asc = api.get("/upload-tokens?pageSize=100").await;
    assert_eq!(tokens(&asc), created);
    let desc = api.get("/upload-tokens?sortOrder=desc&pageSize=100").await;
    let mut reversed = created.clone();
    reversed.reverse();
    assert_eq!(tokens(&desc), reversed);

    // Remaining lifetime: never-expiring last in asc, first in desc.
    let ttl_of = |reply: &support::Reply| -> Vec<u64> {
        reply.json["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|t| t["ttl"].as_u64().expect("ttl"))
            .collect()
    };
    let by_ttl = api.get("/upload-tokens?sortBy=ttl&sortOrder=asc").await;
    assert_eq!(ttl_of(&by_ttl), [50, 50, 100, 3000, 0]);
    let by_ttl_desc = api.get("/upload-tokens?sortBy=ttl&sortOrder=desc").await;
    assert_eq!(ttl_of(&by_ttl_desc), [0, 3000, 100, 50, 50]);

    // Pages cover every token exactly once; totals and links.
    let mut seen = Vec::new();
    for page in 1..=3 {
        let reply = api
            .get(&format!(
                "/upload-tokens?sortBy=ttl&sortOrder=desc&currentPage={page}&pageSize=2"
            ))
            .await;
        let p = &reply.json["pagination"];
        assert_eq!(p["itemsTotal"], 5);
        assert_eq!(p["pagesTotal"], 3);
        assert_eq!(p["currentPage"], page);
        assert_eq!(p["currentPageItems"], if page == 3 { 1 } else { 2 });
        let rels: Vec<&str> = p["links"]
            .as_array()
            .expect("links")
            .iter()
            .map(|l| l["rel"].as_str().expect("rel"))
            .collect();
        let expected: &[&str] = match page {
            1 => &["self", "first", "next", "last"],
            2 => &["self", "first", "previous", "next", "last"],
            _ => &["self", "first", "previous", "last"],
        };
        assert_eq!(rels, expected);
        assert_eq!(
            p["links"][0]["uri"],
            format!("/upload-tokens?sortBy=ttl&sortOrder=desc&currentPage={page}&pageSize=2")
        );
        seen.extend(tokens(&reply));
    }
    let mut sorted_seen = seen.clone();
    sorted_seen.sort();
    sorted_seen.dedup();
    assert_eq!(sorted_seen.len(), 5, "{seen:?}");
    let past = api.get("/upload-tokens?currentPage=9&pageSize=2").await;
    assert_eq!(past.status, 200);
    assert_eq!(tokens(&past), Vec::<String>::new());
    assert_eq!(past.json["pagination"]["itemsTotal"], 5);

    // Bad input: 400 naming the parameter, nothing changes.
    for bad in ["-1", "2147483648", "1.5", "\"10\"", "null", "true", "[]"] {
        api.create(&format!("{{\"ttl\":{bad}}}"))
            .await
            .assert_problem(400, "invalid-attribute", Some("ttl"));
    }
    for bad in ["{", "[1]", "42", "\"x\""] {
        let reply = api.create(bad).await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.text);
        assert_eq!(
            reply.content_type.as_deref(),
            Some("application/problem+json")
        );
    }
    for (query, name) in [
        ("pageSize=0", "pageSize"),
        ("pageSize=101", "pageSize"),
        ("pageSize=x", "pageSize"),
        ("currentPage=0", "currentPage"),
        ("currentPage=-3", "currentPage"),
        ("sortBy=size", "sortBy"),
        ("sortOrder=sideways", "sortOrder"),
    ] {
        api.get(&format!("/upload-tokens?{query}"))
            .await
            .assert_problem(400, "invalid-query-parameter", Some(name));
    }
    assert_eq!(
        api.get("/upload-tokens").await.json["pagination"]["itemsTotal"],
        5
    );

    // Get, delete, and the 404s.
    let first = &created[0];
    let got = api.get(&format!("/upload-tokens/{first}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json["token"], first.as_str());
    let deleted = api.delete(&format!("/upload-tokens/{first}")).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(deleted.text, "");
    assert_eq!(deleted.content_type, None);
    for path in [
        format!("/upload-tokens/{first}"),
        "/upload-tokens/to0000000000000000000000".to_owned(),
        "/upload-tokens/not-a-token".to_owned(),
    ] {
        api.get(&path)
            .await
            .assert_problem(404, "resource-not-found", Some("uploadToken"));
        api.delete(&path)
            .await
            .assert_problem(404, "resource-not-found", Some("uploadToken"));
    }
    assert_eq!(
        api.get("/upload-tokens").await.json["pagination"]["itemsTotal"],
        4
    );

    // Routing and authentication. Behind API Gateway a request outside the template's routes
    // never reaches a function: API Gateway answers it, 404 `{"message":"Not Found"}` whatever
    // the reason (no such path, or no such method on it); the local server's own router gives
    // the API's problem+json 404 and 405 instead.
    let nope = api.get("/videos-nope").await;
    let put = api
        .send(api.request(reqwest::Method::PUT, "/upload-tokens"))
        .await;
    if api.behind_gateway {
        nope.assert_gateway(404, "Not Found");
        put.assert_gateway(404, "Not Found");
    } else {
        nope.assert_problem(404, "unrecognized-request-url", None);
        put.assert_problem(405, "method-not-allowed", None);
    }
    let anonymous = api
        .send(api.http.get(format!("{}/upload-tokens", api.base)))
        .await;
    anonymous.assert_problem(401, "authentication-missing-authorization-header", None);
    let wrong = api
        .send(
            api.http
                .get(format!("{}/upload-tokens", api.base))
                .basic_auth("wrong-key-123456", Some("")),
        )
        .await;
    wrong.assert_problem(401, "authentication-invalid-api-key", None);

    // Bearer: exchange the key, use it, rotate the refresh token.
    let session = api
        .send(
            api.http
                .post(format!("{}/auth/api-key", api.base))
                .header("content-type", "application/json")
                .body(serde_json::json!({ "apiKey": api.key }).to_string()),
        )
        .await;
    assert_eq!(session.status, 200, "{}", session.text);
    assert_eq!(session.json["token_type"], "Bearer");
    assert_eq!(session.json["expires_in"], 3600);
    let bearer = session.json["access_token"].as_str().expect("access token");
    let listed = api
        .send(
            api.http
                .get(format!("{}/upload-tokens", api.base))
                .bearer_auth(bearer),
        )
        .await;
    assert_eq!(listed.json["pagination"]["itemsTotal"], 4);
    bearer_credentials(api, bearer).await;
    let refresh = session.json["refresh_token"].as_str().expect("refresh");
    let rotate = |token: &str| {
        api.http
            .post(format!("{}/auth/refresh", api.base))
            .body(serde_json::json!({ "refreshToken": token }).to_string())
    };
    let rotated = api.send(rotate(refresh)).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    assert_ne!(rotated.json["refresh_token"], Value::from(refresh));
    api.send(rotate(refresh)).await.assert_problem(
        400,
        "authentication-invalid-user-credentials",
        Some("refreshToken"),
    );

    // A token expired one second ago is invisible everywhere.
    let short = api.create("{\"ttl\":1}").await;
    let short = short.json["token"].as_str().expect("token").to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    api.get(&format!("/upload-tokens/{short}"))
        .await
        .assert_problem(404, "resource-not-found", Some("uploadToken"));
    api.delete(&format!("/upload-tokens/{short}"))
        .await
        .assert_problem(404, "resource-not-found", Some("uploadToken"));
    let all = api.get("/upload-tokens?sortBy=ttl&pageSize=100").await;
    assert!(!tokens(&all).contains(&short));
    assert_eq!(all.json["pagination"]["itemsTotal"], 4);
}

/// `Authorization: Bearer` with the API key itself (vidbeo's clients) on every API-key route,
/// and the two refusals: a credential that begins as an access token is judged as one, anything
/// else as an API key. `access` is a genuine access token of the project.
async fn bearer_credentials(api: &Api, access: &str) {
    let with = |method: reqwest::Method, path: &str, credential: &str| {
        api.http
            .request(method, format!("{}{path}", api.base))
            .bearer_auth(credential)
    };
    let created = api
        .send(
            with(reqwest::Method::POST, "/upload-tokens", &api.key)
                .header("content-type", "application/json")
                .body("{\"ttl\":600}"),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let token = created.json["token"].as_str().expect("token").to_owned();
    let path = format!("/upload-tokens/{token}");
    let got = api.send(with(reqwest::Method::GET, &path, &api.key)).await;
    assert_eq!(got.json, created.json);
    let listed = api
        .send(with(reqwest::Method::GET, "/upload-tokens", &api.key))
        .await;
    assert_eq!(listed.json["pagination"]["itemsTotal"], 5);
    // The video routes take API keys too: authenticated, so an unknown video is a 404.
    api.send(with(
        reqwest::Method::GET,
        "/videos/vi0000000000000000000000",
        &api.key,
    ))
    .await
    .assert_problem(404, "resource-not-found", None);
    let deleted = api
        .send(with(reqwest::Method::DELETE, &path, &api.key))
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);

    // Refused: a wrong key, and access tokens with a forged or mangled signing key id, or cut.
    let parts: Vec<&str> = access.split('.').collect();
    assert_eq!(parts.len(), 4, "v2.<signing key id>.<claims>.<signature>");
    let forged_key = format!("v2.AAAAAAAAAAA.{}.{}", parts[2], parts[3]);
    let bad_key_id = format!("v2.short.{}.{}", parts[2], parts[3]);
    let cut = &access[..access.len() - 5];
    for (credential, slug) in [
        ("wrong-key-123456", "authentication-invalid-api-key"),
        (forged_key.as_str(), "authentication-invalid-access-token"),
        (bad_key_id.as_str(), "authentication-invalid-access-token"),
        (cut, "authentication-invalid-access-token"),
    ] {
        api.send(with(reqwest::Method::GET, "/upload-tokens", credential))
            .await
            .assert_problem(401, slug, None);
    }
}

/// A second project's key cannot see the first project's tokens, and vice versa.
async fn projects_are_isolated(deployment: &Deployment) {
    use upload_tokens_core::auth::ApiKey;
    use upload_tokens_core::domain::{KeyId, ProjectId};
    use upload_tokens_core::store::ApiKeyRecord;
    let store = deployment.store().await;
    let other_key = ApiKey::generate();
    store
        .insert_api_key(&ApiKeyRecord {
            key_id: KeyId::generate(),
            project_id: ProjectId::generate(),
            hash: other_key.hash(),
            created_at: chrono::Utc::now(),
        })
        .await
        .expect("key inserted");
    let mine = Api::new(deployment);
    let theirs = Api::with_key(deployment, other_key.expose());
    let token = mine.create("{\"ttl\":600}").await.json["token"]
        .as_str()
        .expect("token")
        .to_owned();
    theirs
        .get(&format!("/upload-tokens/{token}"))
        .await
        .assert_problem(404, "resource-not-found", Some("uploadToken"));
    theirs
        .delete(&format!("/upload-tokens/{token}"))
        .await
        .assert_problem(404, "resource-not-found", Some("uploadToken"));
    assert_eq!(
        theirs.get("/upload-tokens").await.json["pagination"]["itemsTotal"],
        0
    );
    assert_eq!(
        mine.get(&format!("/upload-tokens/{token}")).await.status,
        200
    );
}

async fn meets_the_spec(deployment: Deployment) {
    scenario(&Api::new(&deployment)).await;
    projects_are_isolated(&deployment).await;
    deployment.stop().await;
}

#[tokio::test]
async fn embedded_server_meets_the_spec() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = options(dir.path(), StoreKind::Embedded, None);
    meets_the_spec(Deployment::local(options).await).await;
}

#[tokio::test]
async fn dynamodb_server_meets_the_spec() {
    if test_gate::require_moto("dynamodb_server_meets_the_spec").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let options = options(
        dir.path(),
        StoreKind::Aws,
        Some(support::table_name("spec")),
    );
    meets_the_spec(Deployment::local(options).await).await;
}

/// The deployed form: API Gateway (emulated) in front of the function binaries, on DynamoDB.
#[tokio::test]
async fn functions_behind_api_gateway_meet_the_spec() {
    if let Some(deployment) =
        Deployment::gateway("functions_behind_api_gateway_meet_the_spec").await
    {
        meets_the_spec(deployment).await;
    }
}

#[tokio::test]
async fn restart_keeps_tokens_key_and_sessions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = start(options(dir.path(), StoreKind::Embedded, None)).await;
    let api = Api::new(&first);
    let token = api.create("{\"ttl\":3600}").await.json["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let session = api
        .send(
            api.http
                .post(format!("{}/auth/api-key", api.base))
                .body(serde_json::json!({ "apiKey": api.key }).to_string()),
        )
        .await;
    let bearer = session.json["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let key = first.project.api_key.expose().to_owned();
    first.stop().await.expect("server stops");

    let second = start(options(dir.path(), StoreKind::Embedded, None)).await;
    assert_eq!(second.project.api_key.expose(), key, "the key survives");
    let api = Api::new(&second);
    assert_eq!(
        api.get(&format!("/upload-tokens/{token}")).await.status,
        200
    );
    let listed = api
        .send(
            api.http
                .get(format!("{}/upload-tokens", api.base))
                .bearer_auth(&bearer),
        )
        .await;
    assert_eq!(listed.status, 200, "access tokens survive a restart");
    assert_eq!(tokens(&listed), [token]);
    second.stop().await.expect("server stops");
}

#[tokio::test]
async fn api_key_flag_sets_the_default_projects_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut opts = options(dir.path(), StoreKind::Embedded, None);
    opts.api_key = Some("my-chosen-local-key".into());
    let server = start(opts).await;
    assert_eq!(server.project.api_key.expose(), "my-chosen-local-key");
    let api = Api::with_key(&server, "my-chosen-local-key");
    assert_eq!(api.create("{}").await.status, 200);
    server.stop().await.expect("server stops");

    let mut bad = options(dir.path(), StoreKind::Embedded, None);
    bad.api_key = Some("a:b".into());
    assert!(
        local_api::start(bad).await.is_err(),
        "a key with ':' is refused"
    );
}
