//! The Lambda glue fed real API Gateway HTTP API (payload v2) events: base64 bodies, path
//! parameters, query strings, and responses as API Gateway expects them.

use lambda_http::Body;
use std::sync::Arc;
use upload_tokens_core::auth::{AccessTokenSigner, ApiKey, SigningKey};
use upload_tokens_core::domain::{KeyId, ProjectId, SystemClock};
use upload_tokens_core::http::App;
use upload_tokens_core::http::{MEDIA_ROUTES, RouteSet, TOKEN_ROUTES};
use upload_tokens_core::store::embedded::EmbeddedStore;
use upload_tokens_core::store::{ApiKeyAdmin, ApiKeyRecord};
use upload_tokens_lambda::invoke;

/// One invocation of token function `function`, as its binary serves it.
async fn handle_tokens(
    app: &App,
    function: &str,
    event: lambda_http::Request,
) -> lambda_http::Response<Body> {
    let routes = RouteSet::for_function(TOKEN_ROUTES, function).expect("a token function");
    invoke(&routes, app, event).await
}

/// The key the fixtures' `Authorization: Basic` header carries.
const FIXTURE_KEY: &str = "fixture-api-key-0123456789";

async fn app(dir: &tempfile::TempDir) -> App {
    let store = EmbeddedStore::open(dir.path()).expect("store opens");
    let key = ApiKey::parse(FIXTURE_KEY).expect("valid key");
    store
        .insert_api_key(&ApiKeyRecord {
            key_id: KeyId::generate(),
            project_id: ProjectId::generate(),
            hash: key.hash(),
            created_at: chrono::Utc::now(),
        })
        .await
        .expect("key registered");
    App {
        store: Arc::new(store),
        clock: Arc::new(SystemClock),
        signer: AccessTokenSigner::new(SigningKey::new(vec![1u8; 32]).expect("long enough")),
    }
}

fn event(name: &str, token: Option<&str>) -> lambda_http::Request {
    // TOKEN_ID placeholders stand for a token created by the test.
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(path).expect("fixture exists");
    if let Some(token) = token {
        text = text.replace("TOKEN_ID", token);
    }
    lambda_http::request::from_str(&text).expect("a valid API Gateway v2 event")
}

fn json(response: &lambda_http::Response<Body>) -> serde_json::Value {
    match response.body() {
        Body::Text(text) => serde_json::from_str(text).expect("JSON body"),
        other => panic!("expected a text body, got {other:?}"),
    }
}

async fn create(app: &App) -> String {
    let response = handle_tokens(app, "create-token", event("create-token-base64", None)).await;
    assert_eq!(response.status(), 200);
    json(&response)["token"]
        .as_str()
        .expect("token id")
        .to_owned()
}

#[tokio::test]
async fn base64_encoded_body_is_decoded_before_the_handler() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = app(&dir).await;
    let response = handle_tokens(&app, "create-token", event("create-token-base64", None)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().ok(),
        Some("application/json")
    );
    let body = json(&response);
    assert_eq!(body["ttl"], 60);
    assert!(body["expiresAt"].is_string());
}

#[tokio::test]
async fn bad_input_from_an_event_is_a_problem_document() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = app(&dir).await;
    let response = handle_tokens(&app, "create-token", event("create-token-bad-ttl", None)).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.headers()["content-type"].to_str().ok(),
        Some("application/problem+json")
    );
    assert_eq!(json(&response)["name"], "ttl");
}

#[tokio::test]
async fn path_parameter_selects_the_token_for_get_and_delete() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = app(&dir).await;
    let token = create(&app).await;
    let got = handle_tokens(&app, "get-token", event("get-token", Some(&token))).await;
    assert_eq!(got.status(), 200);
    assert_eq!(json(&got)["token"], token.as_str());

    let deleted = handle_tokens(&app, "delete-token", event("delete-token", Some(&token))).await;
    assert_eq!(deleted.status(), 204);
    assert!(matches!(deleted.body(), Body::Empty));
    assert!(deleted.headers().get("content-type").is_none());

    let gone = handle_tokens(&app, "get-token", event("get-token", Some(&token))).await;
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn query_string_of_the_event_drives_listing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = app(&dir).await;
    create(&app).await;
    create(&app).await;
    let response = handle_tokens(&app, "list-tokens", event("list-tokens", None)).await;
    assert_eq!(response.status(), 200);
    let body = json(&response);
    assert_eq!(body["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["pagination"]["itemsTotal"], 2);
    assert_eq!(
        body["pagination"]["links"][0]["uri"],
        "/upload-tokens?sortBy=ttl&sortOrder=desc&currentPage=1&pageSize=1"
    );
}

#[tokio::test]
async fn auth_endpoint_accepts_a_text_plain_body_and_ignores_empty_authorization() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = app(&dir).await;
    let response = handle_tokens(&app, "auth", event("auth-api-key", None)).await;
    assert_eq!(response.status(), 200);
    let body = json(&response);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert!(body["access_token"].is_string());
    assert!(body["refresh_token"].is_string());
}

/// `POST /upload` as API Gateway delivers it: the multipart body base64-encoded in the event.
#[tokio::test]
async fn upload_event_with_a_base64_multipart_body_stores_the_exact_bytes() {
    use upload_tokens_core::domain::{Ttl, UploadToken, VideoId};
    use upload_tokens_core::http::{AppWithBlobs, MediaSettings};
    use upload_tokens_core::store::blob_files::FileBlobStore;
    use upload_tokens_core::store::{TokenWriter, VideoStore};

    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(EmbeddedStore::open(dir.path()).expect("store opens"));
    let blobs = Arc::new(FileBlobStore::new(dir.path().join("blobs")).expect("blobs"));
    let token = UploadToken::create(ProjectId::generate(), Ttl::NEVER, chrono::Utc::now());
    store.insert_token(&token).await.expect("token stored");
    let deps = AppWithBlobs {
        app: App {
            store: store.clone(),
            clock: Arc::new(SystemClock),
            signer: AccessTokenSigner::new(SigningKey::new(vec![1u8; 32]).expect("long enough")),
        },
        blobs: blobs.clone(),
        settings: MediaSettings::default(),
    };
    let routes = RouteSet::for_function(MEDIA_ROUTES, "upload").expect("the upload function");
    let response = invoke(
        &routes,
        &deps,
        event("upload-base64", Some(token.id.as_str())),
    )
    .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let body = json(&response);
    assert_eq!(body["title"], "clip.mp4");
    let id = VideoId::parse(body["videoId"].as_str().expect("videoId")).expect("a video id");
    let record = store.get_video(&id).await.expect("read").expect("stored");
    assert!(record.progress.completed);
    let stored = std::fs::read(blobs.path(&record.blob_key())).expect("stored file");
    let sent = std::fs::read(format!(
        "{}/tests/fixtures/upload-payload.bin",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture payload");
    assert_eq!(stored, sent);
}
