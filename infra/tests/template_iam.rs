//! `template.yaml` gives each function DynamoDB access only under `dynamodb:LeadingKeys`: per
//! action, the partition-key prefixes that function's code uses, and nothing more; and S3 access
//! only to what its code asks of the bucket.
//!
//! Statically: every DynamoDB statement of every function carries a
//! `ForAllValues:StringLike` condition on `dynamodb:LeadingKeys` naming known prefixes (there is
//! no exception: the only indexes, queried by `list-tokens`, are keyed by `TOKENS#<project>`,
//! which has a prefix like any `pk`); nothing may Scan (`ForAllValues` holds vacuously for a
//! request without keys); the upload function reaches neither API keys nor sessions. Every S3
//! statement is an unconditional `Allow` of `s3:` actions on the bucket (`!GetAtt Bucket.Arn`)
//! or on keys under it (`!Sub "${Bucket.Arn}/…"`).
//!
//! Against DynamoDB and S3 (moto): every function's routes are run through the route table
//! with clients that record each request: for DynamoDB its action and partition keys (the
//! index's for a Query on an index, which is what `dynamodb:LeadingKeys` is then); for S3 its
//! operation, bucket and key, and its answer. The media functions store blobs with
//! [`S3BlobStore`], sized as the Lambda functions size it, and the scenario takes an upload
//! through every S3 path of that store: a whole file in one PutObject, 1 MiB chunks staged until
//! they make a part, a first chunk that is a part by itself, a multipart upload completed but
//! not committed (reopened with UploadPartCopy), parts aborted and a staged remainder expired
//! behind the store's back as the lifecycle rules do (the upload is removed, 404), download links
//! (presigned GetObject), and deletes of unfinished (abort) and complete uploads. Each S3 request is mapped to the IAM actions and resources AWS
//! documents for it ([`s3_needs`]), including `s3:ListBucket` on the bucket for a GetObject or
//! HeadObject answered 404: without it S3 answers 403, and the store could not tell an object
//! the lifecycle rules removed from a failure. Every recorded access, DynamoDB and S3, must be
//! granted by that function's statements (IAM wildcards, the template's bucket resolved to the
//! test's), and every grant used (or listed in [`RARE_PATHS`] or [`S3_UNUSED_GRANTS`] with the
//! reason it is there; an entry the scenario does use is an error too).
//!
//! moto evaluates no IAM: what is checked is the template against the requests, not IAM's
//! decisions; the mapping of operations to actions is this file's, from AWS's documentation.

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use upload_tokens_core::auth::{AccessTokenSigner, ApiKey, SigningKey};
use upload_tokens_core::domain::{KeyId, ProjectId, SystemClock, Ttl, UploadToken};
use upload_tokens_core::http::{
    App, AppWithBlobs, MEDIA_ROUTES, MediaSettings, Response, RouteSet, TOKEN_ROUTES,
};
use upload_tokens_core::store::dynamodb::{DynamoStore, schema};
use upload_tokens_core::store::s3::S3BlobStore;
use upload_tokens_core::store::{ApiKeyAdmin, ApiKeyRecord, TokenWriter};

const MIB: usize = 1024 * 1024;

/// Grants a function holds although the scenario below cannot make it use them, and why.
const RARE_PATHS: &[(&str, &str, &str, &str)] = &[
    (
        "create-token",
        "GetItem",
        "TOKEN#",
        "a create the SDK retried after a lost reply reads its own token back (usecases/tokens.rs)",
    ),
    (
        "create-named-token",
        "GetItem",
        "TOKEN#",
        "a create the SDK retried after a lost reply reads its own token back (usecases/tokens.rs)",
    ),
    (
        "direct-create",
        "GetItem",
        "VIDEO#",
        "a create the SDK retried after a lost reply reads its own video back (usecases/direct.rs)",
    ),
    (
        "direct-params",
        "GetItem",
        "VIDEO#",
        "a create the SDK retried after a lost reply reads its own video back (usecases/direct.rs)",
    ),
    (
        "tus-patch",
        "GetItem",
        "CHUNK#",
        "a PATCH that lost the race for its offset to another is judged against the winner's \
         chunk (usecases/chunks.rs write_once); a PATCH at a stale offset is refused before",
    ),
];

/// S3 grants no request of the scenario below uses, and why each is there: (function, action,
/// resource as the template writes it, reason).
const S3_UNUSED_GRANTS: &[(&str, &str, &str, &str)] = &[
    (
        "tus-create",
        "s3:AbortMultipartUpload",
        "${Bucket.Arn}/videos/*",
        "a stray multipart upload of the key, left by a failed first attempt, is aborted before \
         a new one starts (store/s3.rs abort_uploads_of)",
    ),
    (
        "direct-create",
        "s3:AbortMultipartUpload",
        "${Bucket.Arn}/videos/*",
        "the multipart upload just created is aborted when its video cannot be stored (a \
         failure of DynamoDB, or the token's maxUploads reached by a concurrent upload)",
    ),
    (
        "upload",
        "s3:AbortMultipartUpload",
        "${Bucket.Arn}/staging/videos/*",
        "not needed: a staged remainder is a single object, never a multipart upload; the \
         statement gives both its prefixes all its actions",
    ),
    (
        "upload",
        "s3:ListMultipartUploadParts",
        "${Bucket.Arn}/staging/videos/*",
        "not needed: a staged remainder is a single object, never a multipart upload; the \
         statement gives both its prefixes all its actions",
    ),
    (
        "delete-video",
        "s3:AbortMultipartUpload",
        "${Bucket.Arn}/staging/videos/*",
        "not needed: a staged remainder is a single object, never a multipart upload; the \
         statement gives both its prefixes all its actions",
    ),
];

/// The S3 operations the scenario below makes each function ask for: every one the blob store
/// (shared/src/store/s3.rs) uses, by the upload function.
const S3_OPERATIONS: &[(&str, &[&str])] = &[
    ("delete-video", &["AbortMultipartUpload", "DeleteObject"]),
    ("direct-abort", &["AbortMultipartUpload", "DeleteObject"]),
    (
        "direct-complete",
        &[
            "AbortMultipartUpload",
            "CompleteMultipartUpload",
            "DeleteObject",
            "GetObject",
            "HeadObject",
            "ListParts",
        ],
    ),
    ("direct-create", &["CreateMultipartUpload"]),
    (
        "direct-list-parts",
        &[
            "AbortMultipartUpload",
            "DeleteObject",
            "HeadObject",
            "ListParts",
        ],
    ),
    (
        "direct-object-created",
        &["CopyObject", "DeleteObject", "GetObject", "HeadObject"],
    ),
    ("direct-params", &["PutObject"]),
    ("direct-sign-batch", &["UploadPart"]),
    ("direct-sign-part", &["UploadPart"]),
    (
        "get-video",
        &["CopyObject", "DeleteObject", "GetObject", "HeadObject"],
    ),
    (
        "tus-create",
        &[
            "CreateMultipartUpload",
            "ListMultipartUploads",
            "PutObject",
            "UploadPart",
        ],
    ),
    ("tus-delete", &["AbortMultipartUpload", "DeleteObject"]),
    (
        "tus-patch",
        &[
            "AbortMultipartUpload",
            "CompleteMultipartUpload",
            "CreateMultipartUpload",
            "DeleteObject",
            "GetObject",
            "HeadObject",
            "ListMultipartUploads",
            "ListParts",
            "PutObject",
            "UploadPart",
            "UploadPartCopy",
        ],
    ),
    ("update-video", &["GetObject"]),
    (
        "upload",
        &[
            "AbortMultipartUpload",
            "CompleteMultipartUpload",
            "CreateMultipartUpload",
            "DeleteObject",
            "GetObject",
            "HeadObject",
            "ListMultipartUploads",
            "ListParts",
            "PutObject",
            "UploadPart",
            "UploadPartCopy",
        ],
    ),
    (
        "video-status",
        &["CopyObject", "DeleteObject", "GetObject", "HeadObject"],
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
    assert_eq!(functions.len(), 29, "{:?}", functions.keys());
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

/// The ARN of the bucket `!GetAtt Bucket.Arn` names, for a bucket called `bucket`.
fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

/// An S3 resource as the template writes it (`${Bucket.Arn}` for `!GetAtt Bucket.Arn`, the
/// `!Sub` string otherwise) and resolved to the ARN of `bucket`.
fn s3_resource(resource: &Value, bucket: &str) -> (String, String) {
    let written = match resource {
        Value::Tagged(tagged) => match (tagged.tag.to_string().as_str(), tagged.value.as_str()) {
            ("!GetAtt", Some("Bucket.Arn")) => "${Bucket.Arn}".to_owned(),
            ("!Sub", Some(text)) if text.starts_with("${Bucket.Arn}") => text.to_owned(),
            other => panic!("unexpected S3 resource {other:?}"),
        },
        other => panic!("an S3 resource must be the bucket or keys under it, not {other:?}"),
    };
    let resolved = written.replace("${Bucket.Arn}", &bucket_arn(bucket));
    assert!(
        !resolved.contains("${"),
        "{written}: only ${{Bucket.Arn}} is resolved"
    );
    (written, resolved)
}

/// One S3 statement: its actions (with `s3:`) and its resources, as written and resolved.
#[derive(Debug)]
struct S3Statement {
    actions: Vec<String>,
    resources: Vec<(String, String)>,
}

/// Every function (by binary) and its S3 statements (none for most), checking the shape of
/// each: an unconditional Allow of `s3:` actions only, on the bucket or keys under it.
fn s3_statements(template: &Value, bucket: &str) -> BTreeMap<String, Vec<S3Statement>> {
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
                let place = format!("{name:?} ({binary})");
                for key in ["NotAction", "NotResource", "Principal", "NotPrincipal"] {
                    assert!(
                        statement.get(key).is_none(),
                        "{place}: {key} is not checked"
                    );
                }
                let Some(actions) = statement["Action"].as_sequence() else {
                    // Secrets Manager and the like; a lone S3 action would be a bug here.
                    let lone = statement["Action"].as_str().unwrap_or_default();
                    assert!(!lone.starts_with("s3:"), "{place}: write {lone} as a list");
                    continue;
                };
                let actions: Vec<String> = actions
                    .iter()
                    .map(|a| a.as_str().expect("an action").to_owned())
                    .collect();
                if !actions.iter().any(|a| a.starts_with("s3:")) {
                    continue;
                }
                let place = format!("{place} {actions:?}");
                assert!(
                    actions.iter().all(|a| a.starts_with("s3:")),
                    "{place}: S3 mixed with another service"
                );
                assert_eq!(statement["Effect"].as_str(), Some("Allow"), "{place}");
                assert!(
                    statement.get("Condition").is_none(),
                    "{place}: a Condition, which this test does not evaluate"
                );
                let resources = match &statement["Resource"] {
                    Value::Sequence(list) => list.iter().map(|r| s3_resource(r, bucket)).collect(),
                    one => vec![s3_resource(one, bucket)],
                };
                statements.push(S3Statement { actions, resources });
            }
        }
        functions.insert(binary, statements);
    }
    functions
}

/// IAM's wildcard match: `*` any run of characters (`/` included), `?` any one.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// Whether an action pattern of a policy covers `action` (action names ignore case).
fn action_matches(pattern: &str, action: &str) -> bool {
    wildcard_match(&pattern.to_ascii_lowercase(), &action.to_ascii_lowercase())
}

#[test]
fn iam_wildcards_match_as_iam_does() {
    assert!(wildcard_match(
        "arn:aws:s3:::b/videos/*",
        "arn:aws:s3:::b/videos/v1/source"
    ));
    assert!(!wildcard_match(
        "arn:aws:s3:::b/videos/*",
        "arn:aws:s3:::b/staging/videos/v1"
    ));
    assert!(!wildcard_match("arn:aws:s3:::b/videos/*", "arn:aws:s3:::b"));
    assert!(wildcard_match("arn:aws:s3:::b", "arn:aws:s3:::b"));
    assert!(!wildcard_match("arn:aws:s3:::b", "arn:aws:s3:::bb"));
    assert!(wildcard_match("a?c*", "abcdef"));
    assert!(!wildcard_match("a?c", "ac"));
    assert!(action_matches("s3:Get*", "s3:GetObject"));
    assert!(action_matches("S3:getobject", "s3:GetObject"));
    assert!(!action_matches("s3:GetObject", "s3:GetObjectAcl"));
}

#[test]
fn every_s3_statement_is_an_allow_on_the_bucket_or_keys_under_it() {
    let functions = s3_statements(&template(), "bucket");
    let with_s3: Vec<&String> = functions
        .iter()
        .filter(|(_, statements)| !statements.is_empty())
        .map(|(function, _)| function)
        .collect();
    assert_eq!(
        with_s3,
        [
            "delete-video",
            "direct-abort",
            "direct-complete",
            "direct-create",
            "direct-list-parts",
            "direct-object-created",
            "direct-params",
            "direct-sign-batch",
            "direct-sign-part",
            "get-video",
            "tus-create",
            "tus-delete",
            "tus-patch",
            "update-video",
            "upload",
            "video-status"
        ],
        "the functions that touch the bucket"
    );
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
            transact_get_items::TransactGetItemsInput,
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
        } else if let Some(i) = input.downcast_ref::<TransactGetItemsInput>() {
            // IAM checks each item as a GetItem.
            for item in i.transact_items() {
                if let Some(get) = item.get() {
                    seen.push(table("GetItem", pk(Some(get.key()))));
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

// ---------------------------------------------------------------------------------------------
// What the functions actually ask of S3 (moto)
// ---------------------------------------------------------------------------------------------

/// How an S3 request was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// With this HTTP status.
    Status(u16),
    /// Never sent: a presigned request, handed to whoever follows the link.
    Presigned,
    /// It failed before an answer came.
    Failed,
}

/// One S3 request as the client made it.
#[derive(Debug, Clone)]
struct S3Request {
    operation: String,
    bucket: String,
    /// The object's key; empty for a request on the bucket.
    key: String,
    /// UploadPartCopy's source, `bucket/key`.
    copy_source: Option<String>,
    /// `None` until the request is over.
    answer: Option<Answer>,
}

#[derive(Debug, Default)]
struct S3Log {
    requests: Vec<S3Request>,
    /// A request began before the one before it ended: answers cannot be told apart.
    overlapped: bool,
}

/// Records each S3 request's operation, bucket and key, and then its answer. The blob store
/// makes its requests one at a time; [`S3Log::overlapped`] says if it ever did not.
#[derive(Debug, Clone, Default)]
struct S3Recorder(Arc<Mutex<S3Log>>);

impl S3Recorder {
    fn take(&self) -> S3Log {
        std::mem::take(&mut *self.0.lock().expect("recorder lock"))
    }
}

/// The request an operation's input describes.
fn s3_request(context: &BeforeSerializationInterceptorContextRef<'_>) -> S3Request {
    use aws_sdk_s3::operation::{
        abort_multipart_upload::AbortMultipartUploadInput,
        complete_multipart_upload::CompleteMultipartUploadInput,
        create_multipart_upload::CreateMultipartUploadInput, delete_object::DeleteObjectInput,
        get_object::GetObjectInput, head_object::HeadObjectInput,
        list_multipart_uploads::ListMultipartUploadsInput, list_parts::ListPartsInput,
        put_object::PutObjectInput, upload_part::UploadPartInput,
        upload_part_copy::UploadPartCopyInput,
    };
    let input = context.input();
    fn request(operation: &str, bucket: Option<&str>, key: Option<&str>) -> S3Request {
        S3Request {
            operation: operation.to_owned(),
            bucket: bucket.unwrap_or("<no bucket>").to_owned(),
            key: key.unwrap_or_default().to_owned(),
            copy_source: None,
            answer: None,
        }
    }
    macro_rules! on_objects {
        ($($input:ty => $operation:literal),* $(,)?) => {
            $(
                if let Some(i) = input.downcast_ref::<$input>() {
                    return request($operation, i.bucket(), i.key());
                }
            )*
        };
    }
    on_objects!(
        PutObjectInput => "PutObject",
        GetObjectInput => "GetObject",
        HeadObjectInput => "HeadObject",
        DeleteObjectInput => "DeleteObject",
        CreateMultipartUploadInput => "CreateMultipartUpload",
        UploadPartInput => "UploadPart",
        CompleteMultipartUploadInput => "CompleteMultipartUpload",
        AbortMultipartUploadInput => "AbortMultipartUpload",
        ListPartsInput => "ListParts",
    );
    if let Some(i) = input.downcast_ref::<aws_sdk_s3::operation::copy_object::CopyObjectInput>() {
        let mut copy = request("CopyObject", i.bucket(), i.key());
        copy.copy_source = i.copy_source().map(str::to_owned);
        return copy;
    }
    if let Some(i) = input.downcast_ref::<UploadPartCopyInput>() {
        let mut copy = request("UploadPartCopy", i.bucket(), i.key());
        copy.copy_source = i.copy_source().map(str::to_owned);
        return copy;
    }
    if let Some(i) = input.downcast_ref::<ListMultipartUploadsInput>() {
        return request("ListMultipartUploads", i.bucket(), None);
    }
    // Some other operation: named after its input type (`…Input { … }`).
    let debug = format!("{input:?}");
    let name = debug
        .split_once("]:")
        .map_or(debug.as_str(), |(_, rest)| rest)
        .split([' ', '{'])
        .next()
        .unwrap_or_default()
        .trim_end_matches("Input");
    request(name, None, None)
}

impl Intercept for S3Recorder {
    fn name(&self) -> &'static str {
        "S3AccessRecorder"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = s3_request(context);
        let mut log = self.0.lock().expect("recorder lock");
        if log.requests.iter().any(|r| r.answer.is_none()) {
            log.overlapped = true;
        }
        log.requests.push(request);
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let answer = match (context.response(), context.output_or_error()) {
            (Some(response), _) => Answer::Status(response.status().as_u16()),
            // Presigning stops before the request would be sent.
            (None, None) => Answer::Presigned,
            (None, Some(_)) => Answer::Failed,
        };
        let mut log = self.0.lock().expect("recorder lock");
        if let Some(request) = log.requests.iter_mut().rev().find(|r| r.answer.is_none()) {
            request.answer = Some(answer);
        }
        Ok(())
    }
}

/// What IAM checks for one request: an action on a resource (ARN).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct S3Need {
    action: String,
    resource: String,
    /// The request that needs it, for messages (video ids and offsets left out).
    request: String,
}

/// `videos/<id>/…` with `{videoId}` for the id, and `.{end}` for a staged remainder's offset:
/// what the messages show of a key, so that they name each kind of access once.
fn generic(text: &str) -> String {
    let mut out = Vec::new();
    let mut after_videos = false;
    for segment in text.split('/') {
        let segment = if after_videos {
            "{videoId}".to_owned()
        } else {
            match segment.rsplit_once('.') {
                Some((name, end)) if !end.is_empty() && end.bytes().all(|b| b.is_ascii_digit()) => {
                    format!("{name}.{{end}}")
                }
                _ => segment.to_owned(),
            }
        };
        after_videos = segment == "videos";
        out.push(segment);
    }
    out.join("/")
}

/// The IAM actions and resources AWS documents for an S3 request (the "Permissions" of each
/// operation in the Amazon S3 API Reference):
/// - PutObject, CreateMultipartUpload, UploadPart, CompleteMultipartUpload: `s3:PutObject` on
///   the object;
/// - UploadPartCopy: `s3:PutObject` on the destination, `s3:GetObject` on the source object;
/// - GetObject (sent, or presigned and followed by someone else under the signer's
///   credentials), HeadObject: `s3:GetObject` on the object; and, if the object was missing
///   (404), `s3:ListBucket` on the bucket, without which S3 answers 403 instead;
/// - DeleteObject: `s3:DeleteObject`; AbortMultipartUpload: `s3:AbortMultipartUpload`;
///   ListParts: `s3:ListMultipartUploadParts`, on the object;
/// - ListMultipartUploads: `s3:ListBucketMultipartUploads` on the bucket.
fn s3_needs(request: &S3Request) -> Vec<S3Need> {
    let bucket = bucket_arn(&request.bucket);
    let object = format!("{bucket}/{}", request.key);
    let operation = request.operation.as_str();
    let answer = match request.answer {
        Some(Answer::Status(status)) => format!("answered {status}"),
        Some(Answer::Presigned) => "presigned".to_owned(),
        Some(Answer::Failed) => "failed".to_owned(),
        None => "never answered".to_owned(),
    };
    let what = if request.key.is_empty() {
        format!("{operation} on the bucket ({answer})")
    } else {
        format!("{operation} of {:?} ({answer})", generic(&request.key))
    };
    let need = |action: &str, resource: &str| S3Need {
        action: action.to_owned(),
        resource: resource.to_owned(),
        request: what.clone(),
    };
    let mut needs = match operation {
        "PutObject" | "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload" => {
            vec![need("s3:PutObject", &object)]
        }
        "UploadPartCopy" | "CopyObject" => {
            // `bucket/key`, perhaps with a leading `/` or a `?versionId=`.
            let source = request.copy_source.as_deref().unwrap_or_default();
            let source = source.trim_start_matches('/');
            let source = source.split_once('?').map_or(source, |(path, _)| path);
            vec![
                need("s3:PutObject", &object),
                need("s3:GetObject", &format!("arn:aws:s3:::{source}")),
            ]
        }
        "GetObject" | "HeadObject" => vec![need("s3:GetObject", &object)],
        "DeleteObject" => vec![need("s3:DeleteObject", &object)],
        "AbortMultipartUpload" => vec![need("s3:AbortMultipartUpload", &object)],
        "ListParts" => vec![need("s3:ListMultipartUploadParts", &object)],
        "ListMultipartUploads" => vec![need("s3:ListBucketMultipartUploads", &bucket)],
        other => vec![need(
            &format!("<{other}: an operation this test maps to no IAM action>"),
            &object,
        )],
    };
    if matches!(operation, "GetObject" | "HeadObject")
        && request.answer == Some(Answer::Status(404))
    {
        needs.push(need("s3:ListBucket", &bucket));
    }
    needs
}

/// What is wrong with the functions' S3 statements, given what each function needed: a need no
/// statement grants, a grant no need uses (unless listed in [`S3_UNUSED_GRANTS`]), a listed grant
/// that is used or not granted.
fn s3_problems(
    seen: &BTreeMap<String, BTreeSet<S3Need>>,
    functions: &BTreeMap<String, Vec<S3Statement>>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (function, needs) in seen {
        let statements = functions.get(function).map_or(&[][..], Vec::as_slice);
        for need in needs {
            let granted = statements.iter().any(|s| {
                s.actions.iter().any(|a| action_matches(a, &need.action))
                    && s.resources
                        .iter()
                        .any(|(_, arn)| wildcard_match(arn, &need.resource))
            });
            if !granted {
                problems.push(format!(
                    "{function}: {} needs {} on {}, which its policy refuses",
                    need.request,
                    need.action,
                    generic(&need.resource)
                ));
            }
        }
    }
    let none = BTreeSet::new();
    for (function, statements) in functions {
        let needs = seen.get(function).unwrap_or(&none);
        for statement in statements {
            for action in &statement.actions {
                for (written, arn) in &statement.resources {
                    let used = needs.iter().any(|n| {
                        action_matches(action, &n.action) && wildcard_match(arn, &n.resource)
                    });
                    let listed = S3_UNUSED_GRANTS
                        .iter()
                        .any(|(f, a, r, _)| f == function && a == action && r == written);
                    if used && listed {
                        problems.push(format!(
                            "{function} uses {action} on {written}, listed in S3_UNUSED_GRANTS \
                             in vain"
                        ));
                    } else if !used && !listed {
                        problems.push(format!(
                            "{function} is granted {action} on {written} and never uses it"
                        ));
                    }
                }
            }
        }
    }
    for (f, a, r, _) in S3_UNUSED_GRANTS {
        let granted = functions.get(*f).is_some_and(|statements| {
            statements.iter().any(|s| {
                s.actions.iter().any(|x| x == a) && s.resources.iter().any(|(w, _)| w == r)
            })
        });
        if !granted {
            problems.push(format!(
                "S3_UNUSED_GRANTS lists {f} {a} on {r}, not granted"
            ));
        }
    }
    problems
}

/// The functions, driven through their rows of the route table, with what each asked.
struct Scenario {
    tokens: App,
    media: AppWithBlobs,
    recorder: Recorder,
    seen: BTreeMap<String, BTreeSet<Access>>,
    s3_recorder: S3Recorder,
    /// What each function needed of S3.
    s3_seen: BTreeMap<String, BTreeSet<S3Need>>,
    /// The S3 operations each function made.
    s3_operations: BTreeMap<String, BTreeSet<String>>,
}

/// What a call must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Success,
    NotFound,
    /// This 4xx.
    Refused(u16),
}

impl Scenario {
    fn record(&mut self, function: &str, response: &Response, what: &str, expect: Expect) {
        let answered = match expect {
            Expect::Success => response.status().is_success(),
            Expect::NotFound => response.status() == http::StatusCode::NOT_FOUND,
            Expect::Refused(status) => response.status().as_u16() == status,
        };
        assert!(
            answered,
            "{function} {what}: {} {} (expected {expect:?})",
            response.status(),
            String::from_utf8_lossy(response.body())
        );
        let seen = self.seen.entry(function.to_owned()).or_default();
        for (action, target, key) in self.recorder.take() {
            seen.insert((action, target, prefix_of(&key)));
        }
        let log = self.s3_recorder.take();
        assert!(
            !log.overlapped,
            "{function} {what}: S3 requests overlapped; the recorder pairs answers with requests \
             in order"
        );
        let operations = self.s3_operations.entry(function.to_owned()).or_default();
        let needs = self.s3_seen.entry(function.to_owned()).or_default();
        for request in &log.requests {
            operations.insert(request.operation.clone());
            needs.extend(s3_needs(request));
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
        self.s3_recorder.take();
        let request = Self::request(method, uri, headers, Bytes::from(body.to_owned()));
        let response = routes.handle(&self.tokens, request, "iam-test").await;
        self.record(
            function,
            &response,
            &format!("{method} {uri}"),
            Expect::Success,
        );
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
        self.media_call_expecting(function, method, uri, headers, body, Expect::Success)
            .await
    }

    async fn media_call_expecting(
        &mut self,
        function: &str,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        expect: Expect,
    ) -> serde_json::Value {
        let response = self
            .media_response(function, method, uri, headers, body, expect)
            .await;
        serde_json::from_slice(response.body()).unwrap_or(serde_json::Value::Null)
    }

    async fn media_response(
        &mut self,
        function: &str,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        expect: Expect,
    ) -> Response {
        let routes = RouteSet::for_function(MEDIA_ROUTES, function).expect("a media function");
        self.recorder.take();
        self.s3_recorder.take();
        let request = Self::request(method, uri, headers, body);
        let response = routes.handle(&self.media, request, "iam-test").await;
        self.record(function, &response, &format!("{method} {uri}"), expect);
        response
    }

    /// A tus creation (`tus-create`) of `total` bytes (deferred without one), with `data` as
    /// its first bytes if given; the upload's video id.
    async fn tus_create(&mut self, token: &str, total: Option<usize>, data: &[u8]) -> String {
        let length = total.map(|t| t.to_string());
        let mut headers = vec![
            ("tus-resumable", "1.0.0"),
            ("upload-metadata", "filename Y2xpcC5iaW4="),
        ];
        match &length {
            Some(length) => headers.push(("upload-length", length.as_str())),
            None => headers.push(("upload-defer-length", "1")),
        }
        if !data.is_empty() {
            headers.push(("content-type", "application/offset+octet-stream"));
        }
        let response = self
            .media_response(
                "tus-create",
                "POST",
                &format!("/upload/{token}/tus"),
                &headers,
                Bytes::copy_from_slice(data),
                Expect::Success,
            )
            .await;
        let location = response.headers()["location"].to_str().expect("a Location");
        location.rsplit('/').next().expect("an id").to_owned()
    }

    /// A tus PATCH (`tus-patch`) of `data` at `offset`, with `Upload-Length: length` if given.
    async fn tus_patch(
        &mut self,
        token: &str,
        video: &str,
        offset: usize,
        data: &[u8],
        length: Option<usize>,
        expect: Expect,
    ) {
        let offset = offset.to_string();
        let length = length.map(|l| l.to_string());
        let mut headers = vec![
            ("tus-resumable", "1.0.0"),
            ("content-type", "application/offset+octet-stream"),
            ("upload-offset", offset.as_str()),
        ];
        if let Some(length) = &length {
            headers.push(("upload-length", length.as_str()));
        }
        self.media_response(
            "tus-patch",
            "PATCH",
            &format!("/upload/{token}/tus/{video}"),
            &headers,
            Bytes::copy_from_slice(data),
            expect,
        )
        .await;
    }

    /// `POST <path>` (a token's `…/s3/multipart`) with `body`, by `direct-create`: the answer,
    /// its key and upload id.
    async fn direct_create(
        &mut self,
        path: &str,
        body: Bytes,
    ) -> (serde_json::Value, String, String) {
        let json = [("content-type", "application/json")];
        let created = self
            .media_call("direct-create", "POST", path, &json, body)
            .await;
        let key = created["key"].as_str().expect("key").to_owned();
        let upload_id = created["uploadId"].as_str().expect("uploadId").to_owned();
        (created, key, upload_id)
    }

    /// The bucket's `Object Created` events for `keys`, as the `direct-object-created` function
    /// handles them (functions/lambda/src/object_created.rs); each completes its video.
    async fn object_created(&mut self, keys: &[String], completing: usize) {
        self.recorder.take();
        self.s3_recorder.take();
        let deps = upload_tokens_core::usecases::direct::DirectDeps {
            videos: self.media.app.store.as_ref(),
            tokens: self.media.app.store.as_ref(),
            blobs: self.media.blobs.as_ref(),
            clock: self.media.app.clock.as_ref(),
            signer: &self.media.app.signer,
            max_file_bytes: self.media.settings.max_file_bytes,
        };
        let completed = upload_tokens_core::usecases::direct::settle_posted_keys(
            deps,
            keys.iter().map(String::as_str),
        )
        .await
        .expect("the events are handled");
        assert_eq!(completed, completing, "posted videos completed");
        let done = Response::new(Bytes::new());
        self.record(
            "direct-object-created",
            &done,
            "Object Created",
            Expect::Success,
        );
    }

    /// One chunk of `total` bytes at `from`, continuing `video` if given, answered as `expect`
    /// says; the reply.
    async fn send_chunk(
        &mut self,
        token: &str,
        from: usize,
        data: &[u8],
        total: usize,
        video: Option<&str>,
        expect: Expect,
    ) -> serde_json::Value {
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
        self.media_call_expecting(
            "upload",
            "POST",
            &format!("/upload?token={token}"),
            &[
                ("content-type", "multipart/form-data; boundary=XYZ"),
                ("content-range", &range),
            ],
            Bytes::from(body),
            expect,
        )
        .await
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
        let reply = self
            .send_chunk(token, from, data, total, video, Expect::Success)
            .await;
        reply["videoId"].as_str().expect("a video id").to_owned()
    }
}

/// The bucket as the blob store's requests leave it, changed behind its back: what a crash or
/// the bucket's lifecycle rules do.
struct Bucket {
    s3: aws_sdk_s3::Client,
    name: String,
}

impl Bucket {
    /// The unfinished multipart uploads of `video`: (key, upload id).
    async fn uploads(&self, video: &str) -> Vec<(String, String)> {
        let listed = self
            .s3
            .list_multipart_uploads()
            .bucket(&self.name)
            .prefix(format!("videos/{video}/"))
            .send()
            .await
            .expect("uploads listed");
        listed
            .uploads()
            .iter()
            .map(|u| {
                (
                    u.key().expect("a key").to_owned(),
                    u.upload_id().expect("an upload id").to_owned(),
                )
            })
            .collect()
    }

    /// Completes `video`'s multipart upload, whose one part holds `first`, as a last chunk does
    /// before a crash keeps its commit from happening. (The part is uploaded again, same bytes,
    /// for its ETag: moto's ListParts reply is one the SDK cannot read.)
    async fn complete_upload(&self, video: &str, first: &[u8]) {
        let uploads = self.uploads(video).await;
        assert_eq!(uploads.len(), 1, "one multipart upload: {uploads:?}");
        let (key, id) = &uploads[0];
        let part = self
            .s3
            .upload_part()
            .bucket(&self.name)
            .key(key)
            .upload_id(id)
            .part_number(1)
            .body(first.to_vec().into())
            .send()
            .await
            .expect("part uploaded again");
        self.s3
            .complete_multipart_upload()
            .bucket(&self.name)
            .key(key)
            .upload_id(id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .parts(
                        CompletedPart::builder()
                            .part_number(1)
                            .set_e_tag(part.e_tag().map(str::to_owned))
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .expect("upload completed");
    }

    /// Writes part `number` of a direct upload, as a client does with its presigned URL; its
    /// ETag.
    async fn put_part(&self, key: &str, upload_id: &str, number: i32, bytes: &[u8]) -> String {
        self.s3
            .upload_part()
            .bucket(&self.name)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .body(bytes.to_vec().into())
            .send()
            .await
            .expect("part written")
            .e_tag()
            .expect("an ETag")
            .to_owned()
    }

    /// The ETag of the object at `key`.
    async fn etag(&self, key: &str) -> String {
        self.s3
            .head_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
            .expect("the object is there")
            .e_tag()
            .expect("an ETag")
            .to_owned()
    }

    /// The ETag S3 gives a part of these bytes: their MD5, in hex.
    fn part_etag(&self, bytes: &[u8]) -> String {
        use md5::{Digest, Md5};
        Md5::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Writes `bytes` at `key`, as a client's POST form does.
    async fn put(&self, key: &str, bytes: &[u8]) {
        self.s3
            .put_object()
            .bucket(&self.name)
            .key(key)
            .body(bytes.to_vec().into())
            .send()
            .await
            .expect("object written");
    }

    /// Aborts `video`'s multipart upload, as the lifecycle rule does to an upload that has
    /// lasted too long.
    async fn abort_upload(&self, video: &str) {
        let uploads = self.uploads(video).await;
        assert_eq!(uploads.len(), 1, "one multipart upload: {uploads:?}");
        for (key, id) in uploads {
            self.s3
                .abort_multipart_upload()
                .bucket(&self.name)
                .key(key)
                .upload_id(id)
                .send()
                .await
                .expect("upload aborted");
        }
    }

    /// Deletes `video`'s staged remainder, as the lifecycle rule expires an old one.
    async fn expire_staged(&self, video: &str) {
        let listed = self
            .s3
            .list_objects_v2()
            .bucket(&self.name)
            .prefix(format!("staging/videos/{video}/"))
            .send()
            .await
            .expect("staged objects listed");
        assert_eq!(listed.contents().len(), 1, "{:?}", listed.contents());
        for object in listed.contents() {
            self.s3
                .delete_object()
                .bucket(&self.name)
                .key(object.key().expect("a key"))
                .send()
                .await
                .expect("staged remainder deleted");
        }
    }

    /// The size of `video`'s file.
    async fn size(&self, video: &str) -> i64 {
        self.s3
            .head_object()
            .bucket(&self.name)
            .key(format!("videos/{video}/source"))
            .send()
            .await
            .expect("the file is stored")
            .content_length()
            .expect("a size")
    }
}

#[tokio::test]
async fn every_function_asks_dynamodb_and_s3_for_exactly_what_its_policy_grants() {
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
    let project = ProjectId::generate();
    let admin_store = DynamoStore::new(admin, table.clone());
    admin_store
        .insert_api_key(&ApiKeyRecord {
            key_id: KeyId::generate(),
            project_id: project.clone(),
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
    // The bucket (moto wants path-style addressing), and the blob store over it as the Lambda
    // functions build it (functions/lambda/src/lib.rs): parts sized for the maximum file.
    let s3_config = aws_sdk_s3::config::Builder::from(&config).force_path_style(true);
    let bucket = Bucket {
        s3: aws_sdk_s3::Client::from_conf(s3_config.clone().build()),
        name: table.clone(),
    };
    bucket
        .s3
        .create_bucket()
        .bucket(&bucket.name)
        .send()
        .await
        .expect("bucket created");
    let s3_recorder = S3Recorder::default();
    let settings = MediaSettings::default();
    let blobs = S3BlobStore::new(
        aws_sdk_s3::Client::from_conf(s3_config.interceptor(s3_recorder.clone()).build()),
        &bucket.name,
    )
    .signing_with(config.credentials_provider())
    .for_files_up_to(settings.max_file_bytes);
    let part = usize::try_from(blobs.part_bytes()).expect("a part fits in memory");
    assert!(part > 5 * MIB && part < 6 * MIB, "{part}");

    let tokens = App {
        store: Arc::new(DynamoStore::new(recorded, table)),
        clock: Arc::new(SystemClock),
        signer: AccessTokenSigner::new(SigningKey::new(vec![3u8; 32]).expect("long enough")),
    };
    let media = AppWithBlobs {
        app: tokens.clone(),
        blobs: Arc::new(blobs),
        settings,
    };
    let mut run = Scenario {
        tokens,
        media,
        recorder,
        seen: BTreeMap::new(),
        s3_recorder,
        s3_seen: BTreeMap::new(),
        s3_operations: BTreeMap::new(),
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

    // Tokens that expired one a minute, half an hour ago: the next listing folds their expiry
    // buckets into the counters (read by BatchGetItem, deleted in a transaction that updates a
    // counter shard). Then pages past the first, forward and from the end, skip tokens on the
    // keys-only indexes.
    let now = chrono::Utc::now();
    for i in 0..20 {
        let created = now - chrono::TimeDelta::minutes(30 - i);
        let expired = UploadToken::create(
            project.clone(),
            Ttl::from_seconds(60).expect("ttl"),
            created,
        );
        admin_store.insert_token(&expired).await.expect("seeded");
    }
    for _ in 0..3 {
        let active = UploadToken::create(project.clone(), Ttl::NEVER, now);
        admin_store.insert_token(&active).await.expect("seeded");
    }
    for query in [
        "",
        "?currentPage=2&pageSize=1",
        "?currentPage=3&pageSize=1&sortBy=ttl",
    ] {
        run.token_call(
            "list-tokens",
            "GET",
            &format!("/upload-tokens{query}"),
            &[("authorization", basic.as_str())],
            "",
        )
        .await;
    }

    // The token's policy changed through both faces; named tokens created, listed (both
    // listing partitions), read, changed and deleted.
    for auth in credentials {
        let headers = [
            ("authorization", auth),
            ("content-type", "application/json"),
        ];
        run.token_call(
            "update-token",
            "PATCH",
            &format!("/upload-tokens/{token}"),
            &headers,
            "{\"name\":\"scenario\",\"maxFileBytes\":1073741824,\"ttl\":7200}",
        )
        .await;
        let named = run
            .token_call(
                "create-named-token",
                "POST",
                "/v2/tokens",
                &headers,
                "{\"type\":\"upload\",\"name\":\"scenario\",\"ttl\":600}",
            )
            .await;
        let id = named["result"]["id"].as_str().expect("id").to_owned();
        run.token_call("list-named-tokens", "GET", "/v2/tokens", &headers, "")
            .await;
        run.token_call(
            "get-named-token",
            "GET",
            &format!("/v2/tokens/{id}"),
            &headers,
            "",
        )
        .await;
        run.token_call(
            "update-named-token",
            "PATCH",
            &format!("/v2/tokens/{id}"),
            &headers,
            "{\"max_uploads\":3}",
        )
        .await;
        run.token_call(
            "delete-named-token",
            "DELETE",
            &format!("/v2/tokens/{id}"),
            &headers,
            "",
        )
        .await;
    }

    // A token of the api.video face changed (its expiry moves between counted minutes) and
    // deleted (counted out) through the /v2 face.
    let shown = run
        .token_call(
            "create-token",
            "POST",
            "/upload-tokens",
            &[
                ("authorization", basic.as_str()),
                ("content-type", "application/json"),
            ],
            "{\"ttl\":600}",
        )
        .await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let headers = [
        ("authorization", basic.as_str()),
        ("content-type", "application/json"),
    ];
    run.token_call(
        "update-named-token",
        "PATCH",
        &format!("/v2/tokens/{shown}"),
        &headers,
        "{\"ttl\":1200}",
    )
    .await;
    run.token_call(
        "delete-named-token",
        "DELETE",
        &format!("/v2/tokens/{shown}"),
        &headers,
        "",
    )
    .await;

    // upload: a file in two chunks, the second sent twice (a retry); then a second file on the
    // same token whose next chunk comes without videoId, as the clients' one-shot chunked
    // methods send it (the token's unfinished uploads are looked up).
    let first = run.chunk(&token, 0, &[1u8; 10], 20, None).await;
    run.chunk(&token, 10, &[2u8; 10], 20, Some(&first)).await;
    run.chunk(&token, 10, &[2u8; 10], 20, Some(&first)).await;
    let second = run.chunk(&token, 0, &[3u8; 10], 30, None).await;
    assert_ne!(first, second);
    assert_eq!(run.chunk(&token, 10, &[4u8; 10], 30, None).await, second);
    // (So far: remainders staged (PutObject under staging/, ranged GetObject, DeleteObject of
    // the one replaced), and a whole file in one PutObject, its reply's download link a
    // presigned GetObject.)

    // A whole file in one request.
    run.chunk(&token, 0, &[5u8; 10], 10, None).await;
    // 1 MiB chunks, staged until they make a part (ListMultipartUploads for strays,
    // CreateMultipartUpload, UploadPart), then a small last chunk (UploadPart,
    // CompleteMultipartUpload, ListMultipartUploads).
    let mib = vec![6u8; MIB];
    let total = 6 * MIB + 10;
    let staged = run.chunk(&token, 0, &mib, total, None).await;
    for n in 1..6 {
        run.chunk(&token, n * MIB, &mib, total, Some(&staged)).await;
    }
    run.chunk(&token, 6 * MIB, &[7u8; 10], total, Some(&staged))
        .await;
    assert_eq!(bucket.size(&staged).await, total as i64);
    // A first chunk that is a part by itself, then a small last one.
    let big = vec![8u8; 6 * MIB];
    let parts = run.chunk(&token, 0, &big, total, None).await;
    run.chunk(&token, 6 * MIB, &[9u8; 10], total, Some(&parts))
        .await;
    // The same, its multipart upload completed by a last chunk whose commit never happened
    // (a crash): the retried last chunk finds the upload gone and the object there (HeadObject),
    // copies the committed bytes into a new upload (UploadPartCopy) and completes it.
    let reopened = run.chunk(&token, 0, &big, total, None).await;
    bucket.complete_upload(&reopened, &big).await;
    run.chunk(&token, 6 * MIB, &[10u8; 10], total, Some(&reopened))
        .await;
    assert_eq!(bucket.size(&reopened).await, total as i64);
    // Parts aborted by the lifecycle rule: the next chunk finds the object missing (HeadObject
    // answered 404) and the upload gone (ListParts), removes the upload (AbortMultipartUpload,
    // DeleteObject) and answers 404.
    let aborted = run.chunk(&token, 0, &big, total, None).await;
    bucket.abort_upload(&aborted).await;
    run.send_chunk(
        &token,
        6 * MIB,
        &[11u8; 10],
        total,
        Some(&aborted),
        Expect::NotFound,
    )
    .await;
    // A staged remainder expired by the lifecycle rule: reading it is answered 404; the same.
    let expired = run.chunk(&token, 0, &mib, 2 * MIB, None).await;
    bucket.expire_staged(&expired).await;
    run.send_chunk(&token, MIB, &mib, 2 * MIB, Some(&expired), Expect::NotFound)
        .await;
    // Unfinished, with a part and a staged remainder: deleted below.
    let unfinished = run.chunk(&token, 0, &big, 8 * MIB, None).await;
    run.chunk(&token, 6 * MIB, &mib, 8 * MIB, Some(&unfinished))
        .await;

    // tus on the same token, through the same S3 paths as /upload: discovery; a creation and
    // PATCHes (one sent again: 409), HEAD; creations with data (a whole file in one PutObject,
    // a staged remainder, a part by itself) continued by PATCHes; a completed-but-uncommitted
    // multipart upload reopened; parts aborted and a remainder expired by the lifecycle rules
    // (404); a deferred length told by an empty PATCH; a creation with data sent again (the
    // same upload); an unfinished upload terminated.
    run.media_call(
        "tus-options",
        "OPTIONS",
        &format!("/upload/{token}/tus"),
        &[],
        Bytes::new(),
    )
    .await;
    let tus = run.tus_create(&token, Some(20), &[]).await;
    run.tus_patch(&token, &tus, 0, &[1u8; 10], None, Expect::Success)
        .await;
    run.tus_patch(&token, &tus, 10, &[2u8; 10], None, Expect::Success)
        .await;
    run.tus_patch(&token, &tus, 10, &[2u8; 10], None, Expect::Refused(409))
        .await;
    run.media_call(
        "tus-head",
        "HEAD",
        &format!("/upload/{token}/tus/{tus}"),
        &[("tus-resumable", "1.0.0")],
        Bytes::new(),
    )
    .await;
    run.tus_create(&token, Some(10), &[5u8; 10]).await;
    let staged = run.tus_create(&token, Some(total), &mib).await;
    for n in 1..6 {
        run.tus_patch(&token, &staged, n * MIB, &mib, None, Expect::Success)
            .await;
    }
    run.tus_patch(&token, &staged, 6 * MIB, &[7u8; 10], None, Expect::Success)
        .await;
    assert_eq!(bucket.size(&staged).await, total as i64);
    let parts = run.tus_create(&token, Some(total), &big).await;
    run.tus_patch(&token, &parts, 6 * MIB, &[9u8; 10], None, Expect::Success)
        .await;
    let reopened = run.tus_create(&token, Some(total), &big).await;
    bucket.complete_upload(&reopened, &big).await;
    run.tus_patch(
        &token,
        &reopened,
        6 * MIB,
        &[10u8; 10],
        None,
        Expect::Success,
    )
    .await;
    assert_eq!(bucket.size(&reopened).await, total as i64);
    let aborted = run.tus_create(&token, Some(total), &big).await;
    bucket.abort_upload(&aborted).await;
    run.tus_patch(
        &token,
        &aborted,
        6 * MIB,
        &[11u8; 10],
        None,
        Expect::NotFound,
    )
    .await;
    let expired = run.tus_create(&token, Some(2 * MIB), &mib).await;
    bucket.expire_staged(&expired).await;
    run.tus_patch(&token, &expired, MIB, &mib, None, Expect::NotFound)
        .await;
    let deferred = run.tus_create(&token, None, &[]).await;
    run.tus_patch(&token, &deferred, 0, &[12u8; 10], None, Expect::Success)
        .await;
    run.tus_patch(&token, &deferred, 10, &[], Some(10), Expect::Success)
        .await;
    assert_eq!(bucket.size(&deferred).await, 10);
    let resent = run.tus_create(&token, Some(20), &[13u8; 10]).await;
    assert_eq!(run.tus_create(&token, Some(20), &[13u8; 10]).await, resent);
    let terminated = run.tus_create(&token, Some(8 * MIB), &big).await;
    run.tus_patch(&token, &terminated, 6 * MIB, &mib, None, Expect::Success)
        .await;
    run.media_call(
        "tus-delete",
        "DELETE",
        &format!("/upload/{token}/tus/{terminated}"),
        &[("tus-resumable", "1.0.0")],
        Bytes::new(),
    )
    .await;

    // S3-direct on the same token: a multipart upload created, its part URLs signed (presigned
    // UploadPart), the part written by the client (not a function), listed and completed by
    // the server (ListParts, CompleteMultipartUpload, the first bytes read); another aborted.
    let s3 = |path: &str| format!("/upload/{token}/s3{path}");
    let enc = |key: &str| key.replace('/', "%2F");
    let (_, key, upload_id) = run
        .direct_create(
            &s3("/multipart"),
            Bytes::from_static(br#"{"filename":"direct.mp4","type":"video/mp4"}"#),
        )
        .await;
    let on_upload = |path: &str| s3(&format!("/multipart/{upload_id}{path}"));
    run.media_call(
        "direct-sign-part",
        "GET",
        &on_upload(&format!("/1?key={}", enc(&key))),
        &[],
        Bytes::new(),
    )
    .await;
    run.media_call(
        "direct-sign-batch",
        "GET",
        &on_upload(&format!("/batch?key={}&partNumbers=1,2", enc(&key))),
        &[],
        Bytes::new(),
    )
    .await;
    let etag = bucket.put_part(&key, &upload_id, 1, &[12u8; 10]).await;
    run.media_call(
        "direct-list-parts",
        "GET",
        &on_upload(&format!("?key={}", enc(&key))),
        &[],
        Bytes::new(),
    )
    .await;
    let listed = serde_json::json!({"parts": [{"PartNumber": 1, "ETag": etag}]});
    let completed = run
        .media_call(
            "direct-complete",
            "POST",
            &on_upload(&format!("/complete?key={}", enc(&key))),
            &json,
            Bytes::from(listed.to_string()),
        )
        .await;
    assert!(completed["location"].as_str().is_some(), "{completed}");
    let (_, key, aborted) = run
        .direct_create(
            &s3("/multipart"),
            Bytes::from_static(br#"{"filename":"aborted.mp4"}"#),
        )
        .await;
    bucket.put_part(&key, &aborted, 1, &[13u8; 10]).await;
    run.media_call(
        "direct-abort",
        "DELETE",
        &s3(&format!("/multipart/{aborted}?key={}", enc(&key))),
        &[],
        Bytes::new(),
    )
    .await;
    // Single-request uploads: a POST form signed (no SDK request: aws-sigv4 signs its policy),
    // the file posted by the client; one settled by the bucket's event, one by reading its
    // video (HeadObject and a ranged GetObject of the posted object, CopyObject to the video's
    // key, DeleteObject of the posted one).
    let mut posted = Vec::new();
    for n in 0..2u8 {
        let form = run
            .media_call(
                "direct-params",
                "GET",
                &s3("/params?filename=posted.mp4&type=video/mp4"),
                &[],
                Bytes::new(),
            )
            .await;
        let posted_key = form["fields"]["key"]
            .as_str()
            .expect("the form's key")
            .to_owned();
        if n == 0 {
            bucket.put(&posted_key, &[14 + n; 10]).await;
        }
        posted.push((
            posted_key,
            form["videoId"].as_str().expect("videoId").to_owned(),
        ));
    }
    // (The second is not posted yet: HeadObject answered 404.)
    run.object_created(&[posted[0].0.clone(), posted[1].0.clone()], 1)
        .await;
    // Read before its file is posted (HeadObject answered 404): still uploading.
    for (function, path) in [
        ("get-video", format!("/videos/{}", posted[1].1)),
        ("video-status", format!("/videos/{}/status", posted[1].1)),
    ] {
        run.media_call(
            function,
            "GET",
            &path,
            &[("authorization", basic.as_str())],
            Bytes::new(),
        )
        .await;
    }
    bucket.put(&posted[1].0, &[16; 10]).await;
    let settled_on_read = posted[1].1.clone();

    // Refusals remove what they refuse: a multipart upload over its token's maxFileBytes at
    // completion, a posted file over it when its event comes; and an upload whose parts the
    // bucket's lifecycle rule aborted is removed when its parts are next listed (404).
    let limited = run
        .token_call(
            "create-token",
            "POST",
            "/upload-tokens",
            &[
                ("authorization", basic.as_str()),
                ("content-type", "application/json"),
            ],
            "{\"ttl\":3600,\"maxFileBytes\":5}",
        )
        .await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let on_limited = |path: &str| format!("/upload/{limited}/s3{path}");
    let (_, key, too_big) = run
        .direct_create(
            &on_limited("/multipart"),
            Bytes::from_static(br#"{"filename":"big.mp4"}"#),
        )
        .await;
    let etag = bucket.put_part(&key, &too_big, 1, &[17u8; 10]).await;
    let listed = serde_json::json!({"parts": [{"PartNumber": 1, "ETag": etag}]});
    run.media_call_expecting(
        "direct-complete",
        "POST",
        &on_limited(&format!("/multipart/{too_big}/complete?key={}", enc(&key))),
        &json,
        Bytes::from(listed.to_string()),
        Expect::Refused(413),
    )
    .await;
    let form = run
        .media_call(
            "direct-params",
            "GET",
            &on_limited("/params?filename=big.mp4"),
            &[],
            Bytes::new(),
        )
        .await;
    let big_post = form["fields"]["key"].as_str().expect("key").to_owned();
    bucket.put(&big_post, &[18u8; 10]).await;
    run.object_created(&[big_post], 0).await;
    // Posted files over it, refused when their videos are read (404, the videos removed).
    for (function, path) in [("get-video", ""), ("video-status", "/status")] {
        let form = run
            .media_call(
                "direct-params",
                "GET",
                &on_limited("/params?filename=big.mp4"),
                &[],
                Bytes::new(),
            )
            .await;
        bucket
            .put(form["fields"]["key"].as_str().expect("key"), &[20u8; 10])
            .await;
        let id = form["videoId"].as_str().expect("videoId");
        run.media_call_expecting(
            function,
            "GET",
            &format!("/videos/{id}{path}"),
            &[("authorization", basic.as_str())],
            Bytes::new(),
            Expect::NotFound,
        )
        .await;
    }
    let (created, key, expired_upload) = run
        .direct_create(
            &s3("/multipart"),
            Bytes::from_static(br#"{"filename":"expired.mp4"}"#),
        )
        .await;
    bucket
        .abort_upload(created["videoId"].as_str().expect("videoId"))
        .await;
    run.media_call_expecting(
        "direct-list-parts",
        "GET",
        &s3(&format!("/multipart/{expired_upload}?key={}", enc(&key))),
        &[],
        Bytes::new(),
        Expect::NotFound,
    )
    .await;
    // The same, found by a completion (HeadObject answered 404: not completed either).
    let (created, key, expired_upload) = run
        .direct_create(
            &s3("/multipart"),
            Bytes::from_static(br#"{"filename":"e.mp4"}"#),
        )
        .await;
    bucket
        .abort_upload(created["videoId"].as_str().expect("videoId"))
        .await;
    run.media_call_expecting(
        "direct-complete",
        "POST",
        &s3(&format!(
            "/multipart/{expired_upload}/complete?key={}",
            enc(&key)
        )),
        &json,
        Bytes::from_static(
            br#"{"parts":[{"PartNumber":1,"ETag":"0cc175b9c0f1b6a831c399e269772661"}]}"#,
        ),
        Expect::NotFound,
    )
    .await;
    // Completed by an earlier attempt whose commit did not happen (a crash, a lost reply): the
    // retried completion finds the object (HeadObject, its ETag that of these parts) and
    // commits it.
    let (created, key, lost) = run
        .direct_create(
            &s3("/multipart"),
            Bytes::from_static(br#"{"filename":"l.mp4"}"#),
        )
        .await;
    let video = created["videoId"].as_str().expect("videoId").to_owned();
    bucket.complete_upload(&video, &[21u8; 10]).await;
    let etag = bucket.etag(&key).await;
    let listed =
        serde_json::json!({"parts": [{"PartNumber": 1, "ETag": bucket.part_etag(&[21u8; 10])}]});
    let done = run
        .media_call(
            "direct-complete",
            "POST",
            &s3(&format!("/multipart/{lost}/complete?key={}", enc(&key))),
            &json,
            Bytes::from(listed.to_string()),
        )
        .await;
    assert_eq!(
        done["videoId"],
        video.as_str(),
        "{done} (object ETag {etag})"
    );

    for auth in credentials {
        let video = format!("/videos/{first}");
        let headers = [
            ("authorization", auth),
            ("content-type", "application/json"),
        ];
        run.media_call("get-video", "GET", &video, &headers, Bytes::new())
            .await;
        let posted = format!("/videos/{settled_on_read}");
        run.media_call("get-video", "GET", &posted, &headers, Bytes::new())
            .await;
        run.media_call(
            "video-status",
            "GET",
            &format!("{video}/status"),
            &headers,
            Bytes::new(),
        )
        .await;
        let form = run
            .media_call(
                "direct-params",
                "GET",
                &s3("/params?filename=status.mp4"),
                &[],
                Bytes::new(),
            )
            .await;
        bucket
            .put(form["fields"]["key"].as_str().expect("key"), &[19u8; 10])
            .await;
        let id = form["videoId"].as_str().expect("videoId");
        run.media_call(
            "video-status",
            "GET",
            &format!("/videos/{id}/status"),
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
    // Deleted: complete (DeleteObject), unfinished with a staged remainder only, a complete
    // multipart upload, an unfinished one with a part and a staged remainder
    // (AbortMultipartUpload, DeleteObject).
    for (auth, video) in credentials
        .into_iter()
        .cycle()
        .zip([&first, &second, &parts, &unfinished])
    {
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
        for (f, action, prefix, _) in RARE_PATHS.iter().filter(|r| r.0 == function) {
            if seen.iter().any(|(a, _, p)| a == action && p == prefix) {
                problems.push(format!(
                    "{f} uses {action} on {prefix}, listed in RARE_PATHS in vain"
                ));
            }
        }
    }

    // S3: the scenario went through every S3 path of the blob store; every S3 access is
    // granted, every S3 grant used or listed with its reason.
    let made: BTreeMap<String, BTreeSet<String>> = run
        .s3_operations
        .into_iter()
        .filter(|(_, operations)| !operations.is_empty())
        .collect();
    let expected: BTreeMap<String, BTreeSet<String>> = S3_OPERATIONS
        .iter()
        .map(|(f, operations)| {
            let operations = operations.iter().map(|o| (*o).to_owned()).collect();
            ((*f).to_owned(), operations)
        })
        .collect();
    if made != expected {
        problems.push(format!(
            "the S3 operations each function made: {made:?}, not {expected:?}"
        ));
    }
    problems.extend(s3_problems(
        &run.s3_seen,
        &s3_statements(&template(), &bucket.name),
    ));
    let mut shown = BTreeSet::new();
    problems.retain(|p| shown.insert(p.clone()));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
