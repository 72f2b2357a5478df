//! `template.yaml` gives each function DynamoDB access only under `dynamodb:LeadingKeys`: per
//! action, the partition-key prefixes that function's code uses, and nothing more.
//!
//! Statically: every DynamoDB statement of every function carries a
//! `ForAllValues:StringLike` condition on `dynamodb:LeadingKeys` naming known prefixes (there is
//! no exception: the only indexes, queried by `list-tokens`, are keyed by `TOKENS#<project>`,
//! which has a prefix like any `pk`); nothing may Scan (`ForAllValues` holds vacuously for a
//! request without keys); the upload function reaches neither API keys nor sessions.
//!
//! Against DynamoDB (moto): every function's routes are run through the route table with a
//! client that records each request's action and partition keys (the index's for a Query on an
//! index, which is what `dynamodb:LeadingKeys` is then), and every recorded access must be
//! granted by that function's statements, and every grant used (or listed in [`RARE_PATHS`]
//! with the reason it is needed).

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;
use bytes::Bytes;
use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use upload_tokens_core::auth::{AccessTokenSigner, ApiKey, SigningKey};
use upload_tokens_core::domain::{KeyId, ProjectId, SystemClock};
use upload_tokens_core::http::{
    App, AppWithBlobs, MEDIA_ROUTES, MediaSettings, Response, RouteSet, TOKEN_ROUTES,
};
use upload_tokens_core::store::blob_files::FileBlobStore;
use upload_tokens_core::store::dynamodb::{DynamoStore, schema};
use upload_tokens_core::store::{ApiKeyAdmin, ApiKeyRecord};

/// Grants a function holds although the scenario below cannot make it use them, and why.
const RARE_PATHS: &[(&str, &str, &str, &str)] = &[
    (
        "create-token",
        "GetItem",
        "TOKEN#",
        "a create the SDK retried after a lost reply reads its own token back (usecases/tokens.rs)",
    ),
    (
        "upload",
        "DeleteItem",
        "VIDEO#",
        "a chunk that meets an abandoned upload removes it (usecases/abandoned.rs; tested in \
         shared/tests/abandoned_uploads.rs)",
    ),
];

/// What a function may do, or did: an action on the table or on an index, for keys with a
/// prefix.
type Access = (String, Target, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Table,
    Index,
}

fn template() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
        .expect("template.yaml is readable");
    serde_yaml::from_str(&text).expect("template.yaml is YAML")
}

/// `!GetAtt Table.Arn` is the table, `!Sub "${Table.Arn}/index/*"` its indexes.
fn target(resource: &Value) -> Target {
    let Value::Tagged(tagged) = resource else {
        panic!("a DynamoDB resource must be the table or its indexes, not {resource:?}");
    };
    match (tagged.tag.to_string().as_str(), tagged.value.as_str()) {
        ("!GetAtt", Some("Table.Arn")) => Target::Table,
        ("!Sub", Some("${Table.Arn}/index/*")) => Target::Index,
        other => panic!("unexpected DynamoDB resource {other:?}"),
    }
}

/// One DynamoDB statement: its actions (without `dynamodb:`), target, and LeadingKeys patterns.
#[derive(Debug)]
struct Statement {
    actions: Vec<String>,
    target: Target,
    patterns: Vec<String>,
}

/// Every function (by binary) and its DynamoDB statements, checking the shape of each.
fn dynamodb_statements(template: &Value) -> BTreeMap<String, Vec<Statement>> {
    let mut functions = BTreeMap::new();
    for (name, resource) in template["Resources"].as_mapping().expect("resources") {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .expect("every function names its binary")
            .to_owned();
        let mut statements = Vec::new();
        for policy in resource["Properties"]["Policies"]
            .as_sequence()
            .expect("every function has inline policies")
        {
            for statement in policy["Statement"].as_sequence().expect("statements") {
                let actions: Vec<&str> = statement["Action"]
                    .as_sequence()
                    .expect("actions as a list")
                    .iter()
                    .map(|a| a.as_str().expect("an action"))
                    .collect();
                if !actions.iter().any(|a| a.starts_with("dynamodb:")) {
                    continue;
                }
                let place = format!("{name:?} ({binary}) {actions:?}");
                assert_eq!(statement["Effect"].as_str(), Some("Allow"), "{place}");
                let condition = statement["Condition"]
                    .as_mapping()
                    .unwrap_or_else(|| panic!("{place}: no Condition"));
                assert_eq!(condition.len(), 1, "{place}: one condition operator");
                let like = condition
                    .get("ForAllValues:StringLike")
                    .and_then(Value::as_mapping)
                    .unwrap_or_else(|| panic!("{place}: not ForAllValues:StringLike"));
                assert_eq!(like.len(), 1, "{place}: LeadingKeys only");
                let patterns: Vec<String> = like
                    .get("dynamodb:LeadingKeys")
                    .and_then(Value::as_sequence)
                    .unwrap_or_else(|| panic!("{place}: no dynamodb:LeadingKeys list"))
                    .iter()
                    .map(|p| p.as_str().expect("a pattern").to_owned())
                    .collect();
                assert!(!patterns.is_empty(), "{place}: no prefix");
                for pattern in &patterns {
                    let prefix = pattern
                        .strip_suffix('*')
                        .unwrap_or_else(|| panic!("{place}: {pattern} is not <prefix>*"));
                    assert!(
                        schema::KEY_PREFIXES.contains(&prefix),
                        "{place}: {prefix} is no prefix the code uses"
                    );
                }
                let actions: Vec<String> = actions
                    .iter()
                    .map(|a| {
                        let action = a
                            .strip_prefix("dynamodb:")
                            .unwrap_or_else(|| panic!("{place}: {a} mixed with DynamoDB"));
                        assert!(!action.contains('*'), "{place}: wildcard action {a}");
                        assert_ne!(action, "Scan", "{place}: a Scan has no leading keys");
                        action.to_owned()
                    })
                    .collect();
                let target = target(&statement["Resource"]);
                assert_eq!(
                    target == Target::Index,
                    actions == ["Query"],
                    "{place}: only Query, and only on the indexes"
                );
                statements.push(Statement {
                    actions,
                    target,
                    patterns,
                });
            }
        }
        assert!(!statements.is_empty(), "{binary} has no DynamoDB statement");
        functions.insert(binary, statements);
    }
    functions
}

/// Every (action, target, prefix) the statements grant.
fn granted(statements: &[Statement]) -> BTreeSet<Access> {
    let mut set = BTreeSet::new();
    for s in statements {
        for action in &s.actions {
            for pattern in &s.patterns {
                set.insert((
                    action.clone(),
                    s.target,
                    pattern.trim_end_matches('*').to_owned(),
                ));
            }
        }
    }
    set
}

#[test]
fn every_dynamodb_statement_is_limited_to_the_key_prefixes_it_names() {
    let functions = dynamodb_statements(&template());
    assert_eq!(functions.len(), 10, "{:?}", functions.keys());
}

#[test]
fn the_upload_function_reaches_neither_api_keys_nor_sessions() {
    let functions = dynamodb_statements(&template());
    let upload: BTreeSet<String> = granted(&functions["upload"])
        .into_iter()
        .map(|(_, _, prefix)| prefix)
        .collect();
    let expected: BTreeSet<String> = ["TOKEN#", "UPLOADS#", "VIDEO#", "CHUNK#"]
        .map(str::to_owned)
        .into();
    assert_eq!(upload, expected);
    // API keys are written by the admin command (operator credentials) only, refresh tokens by
    // the auth function only.
    for (function, statements) in &functions {
        for (action, _, prefix) in granted(statements) {
            if action != "GetItem" && action != "BatchGetItem" && action != "Query" {
                assert!(
                    prefix != "APIKEY#" && prefix != "KEYID#",
                    "{function} may {action} API keys"
                );
                assert!(
                    prefix != "REFRESH#" || function == "auth",
                    "{function} may {action} refresh tokens"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What the functions actually ask of DynamoDB (moto)
// ---------------------------------------------------------------------------------------------

/// Records each request's action and partition keys (of the index, for a Query on one).
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Vec<(String, Target, String)>>>);

impl Recorder {
    fn take(&self) -> Vec<(String, Target, String)> {
        std::mem::take(&mut *self.0.lock().expect("recorder lock"))
    }
}

fn s(value: Option<&AttributeValue>) -> String {
    value
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_else(|| "<no string key>".into())
}

fn pk(item: Option<&HashMap<String, AttributeValue>>) -> String {
    s(item.and_then(|i| i.get(schema::PK)))
}

/// The partition key value of a Query: the `name = :value` clause on the key attribute.
fn query_key(input: &aws_sdk_dynamodb::operation::query::QueryInput) -> String {
    let names = input.expression_attribute_names();
    let values = input.expression_attribute_values();
    let condition = input.key_condition_expression().unwrap_or_default();
    for clause in condition.split(" AND ") {
        if let Some((name, value)) = clause.split_once(" = ") {
            let name = names
                .and_then(|n| n.get(name.trim()))
                .map_or(name.trim(), String::as_str);
            if name == schema::PK || name == schema::LIST_PK {
                return s(values.and_then(|v| v.get(value.trim())));
            }
        }
    }
    "<no partition key condition>".into()
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "LeadingKeysRecorder"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        use aws_sdk_dynamodb::operation::{
            batch_get_item::BatchGetItemInput, delete_item::DeleteItemInput,
            get_item::GetItemInput, put_item::PutItemInput, query::QueryInput, scan::ScanInput,
            transact_write_items::TransactWriteItemsInput, update_item::UpdateItemInput,
        };
        let input = context.input();
        let mut seen = Vec::new();
        let table = |action: &str, key: String| (action.to_owned(), Target::Table, key);
        if let Some(i) = input.downcast_ref::<GetItemInput>() {
            seen.push(table("GetItem", pk(i.key())));
        } else if let Some(i) = input.downcast_ref::<PutItemInput>() {
            seen.push(table("PutItem", pk(i.item())));
        } else if let Some(i) = input.downcast_ref::<UpdateItemInput>() {
            seen.push(table("UpdateItem", pk(i.key())));
        } else if let Some(i) = input.downcast_ref::<DeleteItemInput>() {
            seen.push(table("DeleteItem", pk(i.key())));
        } else if let Some(i) = input.downcast_ref::<BatchGetItemInput>() {
            for request in i.request_items().into_iter().flat_map(|m| m.values()) {
                for key in request.keys() {
                    seen.push(table("BatchGetItem", pk(Some(key))));
                }
            }
        } else if let Some(i) = input.downcast_ref::<QueryInput>() {
            let target = if i.index_name().is_some() {
                Target::Index
            } else {
                Target::Table
            };
            seen.push(("Query".into(), target, query_key(i)));
        } else if let Some(i) = input.downcast_ref::<TransactWriteItemsInput>() {
            // IAM checks each item under its own action.
            for item in i.transact_items() {
                if let Some(put) = item.put() {
                    seen.push(table("PutItem", pk(Some(put.item()))));
                }
                if let Some(update) = item.update() {
                    seen.push(table("UpdateItem", pk(Some(update.key()))));
                }
                if let Some(delete) = item.delete() {
                    seen.push(table("DeleteItem", pk(Some(delete.key()))));
                }
                if let Some(check) = item.condition_check() {
                    seen.push(table("ConditionCheckItem", pk(Some(check.key()))));
                }
            }
        } else if input.downcast_ref::<ScanInput>().is_some() {
            seen.push(table("Scan", String::new()));
        } else {
            seen.push(table(
                "<an operation this test does not know>",
                String::new(),
            ));
        }
        self.0.lock().expect("recorder lock").extend(seen);
        Ok(())
    }
}

/// The known prefix `key` begins with.
fn prefix_of(key: &str) -> String {
    schema::KEY_PREFIXES
        .iter()
        .find(|p| key.starts_with(**p))
        .map_or_else(
            || format!("<unknown prefix of {key:?}>"),
            |p| (*p).to_owned(),
        )
}

/// The functions, driven through their rows of the route table, with what each asked.
struct Scenario {
    tokens: App,
    media: AppWithBlobs,
    recorder: Recorder,
    seen: BTreeMap<String, BTreeSet<Access>>,
}

impl Scenario {
    fn record(&mut self, function: &str, response: &Response, what: &str) {
        assert!(
            response.status().is_success(),
            "{function} {what}: {} {}",
            response.status(),
            String::from_utf8_lossy(response.body())
        );
        let seen = self.seen.entry(function.to_owned()).or_default();
        for (action, target, key) in self.recorder.take() {
            seen.insert((action, target, prefix_of(&key)));
        }
    }

    fn request(
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> http::Request<Bytes> {
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(body).expect("a valid request")
    }

    async fn token_call(
        &mut self,
        function: &str,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> serde_json::Value {
        let routes = RouteSet::for_function(TOKEN_ROUTES, function).expect("a token function");
        self.recorder.take();
        let request = Self::request(method, uri, headers, Bytes::from(body.to_owned()));
        let response = routes.handle(&self.tokens, request, "iam-test").await;
        self.record(function, &response, &format!("{method} {uri}"));
        serde_json::from_slice(response.body()).unwrap_or(serde_json::Value::Null)
    }

    async fn media_call(
        &mut self,
        function: &str,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> serde_json::Value {
        let routes = RouteSet::for_function(MEDIA_ROUTES, function).expect("a media function");
        self.recorder.take();
        let request = Self::request(method, uri, headers, body);
        let response = routes.handle(&self.media, request, "iam-test").await;
        self.record(function, &response, &format!("{method} {uri}"));
        serde_json::from_slice(response.body()).unwrap_or(serde_json::Value::Null)
    }

    /// One chunk of `total` bytes at `from`, continuing `video` if given; the video's id.
    async fn chunk(
        &mut self,
        token: &str,
        from: usize,
        data: &[u8],
        total: usize,
        video: Option<&str>,
    ) -> String {
        let mut body = Vec::new();
        if let Some(video) = video {
            body.extend_from_slice(
                format!(
                    "--XYZ\r\nContent-Disposition: form-data; name=\"videoId\"\r\n\r\n{video}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            b"--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n",
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n--XYZ--\r\n");
        let range = format!("bytes {from}-{}/{total}", from + data.len() - 1);
        let reply = self
            .media_call(
                "upload",
                "POST",
                &format!("/upload?token={token}"),
                &[
                    ("content-type", "multipart/form-data; boundary=XYZ"),
                    ("content-range", &range),
                ],
                Bytes::from(body),
            )
            .await;
        reply["videoId"].as_str().expect("a video id").to_owned()
    }
}

#[tokio::test]
async fn every_function_asks_dynamodb_for_exactly_what_its_policy_grants() {
    let Some(url) = test_gate::require_moto("template_iam") else {
        return;
    };
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&url)
        .test_credentials()
        .load()
        .await;
    let table = format!(
        "iam-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
    );
    let admin = aws_sdk_dynamodb::Client::new(&config);
    schema::create_table(&admin, &table)
        .await
        .expect("table created");
    let key = ApiKey::generate();
    DynamoStore::new(admin, table.clone())
        .insert_api_key(&ApiKeyRecord {
            key_id: KeyId::generate(),
            project_id: ProjectId::generate(),
            hash: key.hash(),
            created_at: chrono::Utc::now(),
        })
        .await
        .expect("API key registered");

    let recorder = Recorder::default();
    let recorded = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(recorder.clone())
            .build(),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let tokens = App {
        store: Arc::new(DynamoStore::new(recorded, table)),
        clock: Arc::new(SystemClock),
        signer: AccessTokenSigner::new(SigningKey::new(vec![3u8; 32]).expect("long enough")),
    };
    let media = AppWithBlobs {
        app: tokens.clone(),
        blobs: Arc::new(FileBlobStore::new(dir.path().to_path_buf()).expect("blob store")),
        settings: MediaSettings::default(),
    };
    let mut run = Scenario {
        tokens,
        media,
        recorder,
        seen: BTreeMap::new(),
    };

    // auth: a session for the key, refreshed once.
    let json = [("content-type", "application/json")];
    let session = run
        .token_call(
            "auth",
            "POST",
            "/auth/api-key",
            &json,
            &serde_json::json!({ "apiKey": key.expose() }).to_string(),
        )
        .await;
    let refresh = session["refresh_token"].as_str().expect("refresh token");
    let session = run
        .token_call(
            "auth",
            "POST",
            "/auth/refresh",
            &json,
            &serde_json::json!({ "refreshToken": refresh }).to_string(),
        )
        .await;
    // Every API-key route is called with the key (found by hash) and with an access token (its
    // key found by id).
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{}:", key.expose())
        )
    );
    let bearer = format!(
        "Bearer {}",
        session["access_token"].as_str().expect("access token")
    );
    let credentials = [basic.as_str(), bearer.as_str()];

    let mut token = String::new();
    for auth in credentials {
        let created = run
            .token_call(
                "create-token",
                "POST",
                "/upload-tokens",
                &[
                    ("authorization", auth),
                    ("content-type", "application/json"),
                ],
                "{\"ttl\":3600}",
            )
            .await;
        token = created["token"].as_str().expect("token").to_owned();
        for query in ["", "?sortBy=ttl&sortOrder=desc"] {
            run.token_call(
                "list-tokens",
                "GET",
                &format!("/upload-tokens{query}"),
                &[("authorization", auth)],
                "",
            )
            .await;
        }
        run.token_call(
            "get-token",
            "GET",
            &format!("/upload-tokens/{token}"),
            &[("authorization", auth)],
            "",
        )
        .await;
    }

    // upload: a file in two chunks, the second sent twice (a retry); then a second file on the
    // same token whose next chunk comes without videoId, as the clients' one-shot chunked
    // methods send it (the token's unfinished uploads are looked up).
    let first = run.chunk(&token, 0, &[1u8; 10], 20, None).await;
    run.chunk(&token, 10, &[2u8; 10], 20, Some(&first)).await;
    run.chunk(&token, 10, &[2u8; 10], 20, Some(&first)).await;
    let second = run.chunk(&token, 0, &[3u8; 10], 30, None).await;
    assert_ne!(first, second);
    assert_eq!(run.chunk(&token, 10, &[4u8; 10], 30, None).await, second);

    for auth in credentials {
        let video = format!("/videos/{first}");
        let headers = [
            ("authorization", auth),
            ("content-type", "application/json"),
        ];
        run.media_call("get-video", "GET", &video, &headers, Bytes::new())
            .await;
        run.media_call(
            "video-status",
            "GET",
            &format!("{video}/status"),
            &headers,
            Bytes::new(),
        )
        .await;
        run.media_call(
            "update-video",
            "PATCH",
            &video,
            &headers,
            Bytes::from_static(b"{\"title\":\"renamed\"}"),
        )
        .await;
    }
    for (auth, video) in credentials.into_iter().zip([&first, &second]) {
        run.media_call(
            "delete-video",
            "DELETE",
            &format!("/videos/{video}"),
            &[("authorization", auth)],
            Bytes::new(),
        )
        .await;
    }
    let second_token = run
        .token_call(
            "create-token",
            "POST",
            "/upload-tokens",
            &[("authorization", basic.as_str())],
            "",
        )
        .await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    for (auth, token) in credentials.into_iter().zip([&token, &second_token]) {
        run.token_call(
            "delete-token",
            "DELETE",
            &format!("/upload-tokens/{token}"),
            &[("authorization", auth)],
            "",
        )
        .await;
    }

    // Every access was granted; every grant was used or is a rare path.
    let functions = dynamodb_statements(&template());
    assert_eq!(
        run.seen.keys().collect::<Vec<_>>(),
        functions.keys().collect::<Vec<_>>(),
        "every function was driven"
    );
    let mut problems = Vec::new();
    for (function, statements) in &functions {
        let grants = granted(statements);
        let seen = &run.seen[function];
        for access in seen.difference(&grants) {
            problems.push(format!(
                "{function} does {access:?}, which its policy refuses"
            ));
        }
        for access in grants.difference(seen) {
            let rare = RARE_PATHS.iter().any(|(f, action, prefix, _)| {
                f == function && *action == access.0 && *prefix == access.2
            });
            if !rare {
                problems.push(format!(
                    "{function} is granted {access:?} and never uses it"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
