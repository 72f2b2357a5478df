//! `template.yaml` declares the same table the admin command (and the tests) create.

use serde_yaml::Value;
use std::collections::BTreeSet;
use upload_tokens_core::store::dynamodb::schema;

/// (index name, key schema as (attribute, HASH|RANGE), projection type).
type IndexShape = (String, Vec<(String, String)>, String);

fn table_properties() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
        .expect("template.yaml is readable");
    let template: Value = serde_yaml::from_str(&text).expect("template.yaml is YAML");
    template["Resources"]["Table"]["Properties"].clone()
}

fn key_schema(value: &Value) -> Vec<(String, String)> {
    value
        .as_sequence()
        .expect("a key schema list")
        .iter()
        .map(|k| {
            (
                k["AttributeName"].as_str().expect("name").to_owned(),
                k["KeyType"].as_str().expect("type").to_owned(),
            )
        })
        .collect()
}

#[test]
fn template_declares_the_key_attributes_the_code_uses() {
    let props = table_properties();
    let declared: BTreeSet<(String, String)> = props["AttributeDefinitions"]
        .as_sequence()
        .expect("attribute definitions")
        .iter()
        .map(|a| {
            (
                a["AttributeName"].as_str().expect("name").to_owned(),
                a["AttributeType"].as_str().expect("type").to_owned(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = schema::KEY_ATTRIBUTES
        .iter()
        .map(|name| ((*name).to_owned(), "S".to_owned()))
        .collect();
    assert_eq!(declared, expected);
    assert_eq!(
        key_schema(&props["KeySchema"]),
        [(schema::PK.to_owned(), "HASH".to_owned())]
    );
    assert_eq!(props["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
}

/// An index's projection as `ALL`, `KEYS_ONLY` or `INCLUDE a,b`.
fn projection(p: &Value) -> String {
    let kind = p["ProjectionType"].as_str().expect("projection").to_owned();
    match p["NonKeyAttributes"].as_sequence() {
        Some(names) => {
            let names: Vec<&str> = names.iter().map(|n| n.as_str().expect("name")).collect();
            format!("{kind} {}", names.join(","))
        }
        None => kind,
    }
}

#[test]
fn template_declares_the_indexes_the_code_queries() {
    let props = table_properties();
    let declared: Vec<IndexShape> = props["GlobalSecondaryIndexes"]
        .as_sequence()
        .expect("indexes")
        .iter()
        .map(|i| {
            (
                i["IndexName"].as_str().expect("name").to_owned(),
                key_schema(&i["KeySchema"]),
                projection(&i["Projection"]),
            )
        })
        .collect();
    let expected: Vec<IndexShape> = schema::INDEXES
        .iter()
        .map(|(name, hash, range, projection)| {
            (
                (*name).to_owned(),
                vec![
                    ((*hash).to_owned(), "HASH".to_owned()),
                    ((*range).to_owned(), "RANGE".to_owned()),
                ],
                match projection {
                    schema::IndexProjection::All => "ALL".to_owned(),
                    schema::IndexProjection::KeysOnly => "KEYS_ONLY".to_owned(),
                    schema::IndexProjection::Include(names) => {
                        format!("INCLUDE {}", names.join(","))
                    }
                },
            )
        })
        .collect();
    assert_eq!(declared, expected);
}

#[test]
fn template_turns_on_native_ttl_on_the_attribute_the_code_writes() {
    let props = table_properties();
    assert_eq!(
        props["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some(schema::TTL_ATTRIBUTE)
    );
    assert_eq!(
        props["TimeToLiveSpecification"]["Enabled"].as_bool(),
        Some(true)
    );
}
