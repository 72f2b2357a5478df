//! `docs/openapi.yaml`, the route table and `template.yaml` describe the same endpoints: every
//! row is documented once and every documented operation is a row; every row with a function is
//! exactly one `HttpApi` event of the template function whose binary is that function, and every
//! `HttpApi` event is such a row.

use serde_yaml::Value;
use std::collections::BTreeSet;
use upload_tokens_core::http::all_routes;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn yaml(relative: &str) -> Value {
    let path = format!("{}/../{relative}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("file is readable");
    serde_yaml::from_str(&text).expect("file is YAML")
}

fn routes() -> BTreeSet<(String, String)> {
    all_routes()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
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
    let openapi = yaml("docs/openapi.yaml");
    assert_eq!(documented(&openapi), routes());
}

#[test]
fn every_operation_has_a_unique_id_and_links_name_real_operations() {
    let openapi = yaml("docs/openapi.yaml");
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
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.yaml"))
            .expect("readable");
    for line in text.lines() {
        if let Some(target) = line.trim().strip_prefix("operationId: ") {
            assert!(ids.contains(target), "link to unknown operation {target}");
        }
    }
}

/// Every `HttpApi` event of the template as (binary, method, path), in template order.
fn template_events(template: &Value) -> Vec<(String, String, String)> {
    let mut events = Vec::new();
    for (_, resource) in template["Resources"].as_mapping().expect("resources") {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .expect("every function names its binary")
            .to_owned();
        let Some(list) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (_, event) in list {
            if event["Type"].as_str() == Some("HttpApi") {
                let props = &event["Properties"];
                events.push((
                    binary.clone(),
                    props["Method"].as_str().expect("method").to_uppercase(),
                    props["Path"].as_str().expect("path").to_owned(),
                ));
            }
        }
    }
    events
}

#[test]
fn every_row_with_a_function_is_exactly_one_event_of_that_function() {
    let template = yaml("template.yaml");
    let events = template_events(&template);
    let rows: Vec<(String, String, String)> = all_routes()
        .filter_map(|r| {
            r.function
                .map(|f| (f.to_owned(), r.method.to_owned(), r.path.to_owned()))
        })
        .collect();
    for row in &rows {
        let n = events.iter().filter(|e| *e == row).count();
        assert_eq!(n, 1, "row {row:?} has {n} HttpApi events on its function");
    }
    for event in &events {
        assert!(
            rows.contains(event),
            "HttpApi event {event:?} is no row of the route table"
        );
    }
    // Rows without a function are answered by API Gateway itself: only CORS preflights, which
    // the HttpApi's CorsConfiguration answers.
    for r in all_routes().filter(|r| r.function.is_none()) {
        assert_eq!(r.method, "OPTIONS", "{r:?} has no function to serve it");
    }
    assert!(
        template["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"].is_mapping(),
        "the HTTP API must answer CORS preflights"
    );
}

#[test]
fn every_row_is_documented_once() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.yaml"))
            .expect("readable");
    let openapi: Value = serde_yaml::from_str(&text).expect("YAML");
    for r in all_routes() {
        let ops = openapi["paths"][r.path].as_mapping().map_or(0, |item| {
            item.keys()
                .filter(|k| k.as_str() == Some(&r.method.to_lowercase()))
                .count()
        });
        assert_eq!(ops, 1, "{} {} is documented {ops} times", r.method, r.path);
    }
}
