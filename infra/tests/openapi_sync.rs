//! `infra/openapi.yaml`, the router and `template.yaml` describe the same endpoints: every route
//! is documented, every documented operation is served, and API Gateway routes each one.

use serde_yaml::Value;
use std::collections::BTreeSet;
use upload_tokens_core::http::ROUTES;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn yaml(relative: &str) -> Value {
    let path = format!("{}/../{relative}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("file is readable");
    serde_yaml::from_str(&text).expect("file is YAML")
}

fn routes() -> BTreeSet<(String, String)> {
    ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect()
}

fn documented(openapi: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in openapi["paths"].as_mapping().expect("paths") {
        let path = path.as_str().expect("path").to_owned();
        for (key, _) in item.as_mapping().expect("path item") {
            let key = key.as_str().expect("key");
            if METHODS.contains(&key) {
                ops.insert((key.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

#[test]
fn every_route_is_documented_and_every_documented_operation_is_served() {
    let openapi = yaml("infra/openapi.yaml");
    assert_eq!(documented(&openapi), routes());
}

#[test]
fn every_operation_has_a_unique_id_and_links_name_real_operations() {
    let openapi = yaml("infra/openapi.yaml");
    let mut ids = BTreeSet::new();
    for (_, item) in openapi["paths"].as_mapping().expect("paths") {
        for (key, op) in item.as_mapping().expect("path item") {
            if !METHODS.contains(&key.as_str().expect("key")) {
                continue;
            }
            let id = op["operationId"].as_str().expect("operationId").to_owned();
            assert!(ids.insert(id.clone()), "duplicate operationId {id}");
            for (status, _) in op["responses"].as_mapping().expect("responses") {
                let status = status.as_str().expect("quoted status");
                assert!(status.len() == 3, "{id}: status {status}");
            }
        }
    }
    // Links name real operations.
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
        .expect("readable");
    for line in text.lines() {
        if let Some(target) = line.trim().strip_prefix("operationId: ") {
            assert!(ids.contains(target), "link to unknown operation {target}");
        }
    }
}

#[test]
fn template_routes_every_documented_operation_to_a_function() {
    let template = yaml("template.yaml");
    let mut routed = BTreeSet::new();
    for (_, resource) in template["Resources"].as_mapping().expect("resources") {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (_, event) in events {
            if event["Type"].as_str() == Some("HttpApi") {
                let props = &event["Properties"];
                let pair = (
                    props["Method"].as_str().expect("method").to_uppercase(),
                    props["Path"].as_str().expect("path").to_owned(),
                );
                assert!(routed.insert(pair.clone()), "routed twice: {pair:?}");
            }
        }
    }
    // API Gateway answers CORS preflights itself (the HttpApi's CorsConfiguration).
    let expected: BTreeSet<_> = routes()
        .into_iter()
        .filter(|(method, _)| method != "OPTIONS")
        .collect();
    assert_eq!(routed, expected);
    assert!(
        template["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"].is_mapping(),
        "the HTTP API must answer CORS preflights"
    );
}
