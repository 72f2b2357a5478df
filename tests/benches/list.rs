//! `GET /upload-tokens` at scale: the first, middle and last page (pageSize 25) over HTTP
//! against the local server, on a small and a large project, in each sort order, on SQLite and
//! on DynamoDB (moto). The tokens are seeded through the stores in bulk
//! (`insert_tokens_at_once`, counted as inserts are); every timed request goes over HTTP.
//!
//! On moto a baseline is measured in the same run: one bare `Query` of 25 items on the same
//! index of the same table through the SDK. moto answers a Query by going through the whole
//! table, so it grows with the table whatever the caller asks; ours ÷ that baseline is what our
//! code costs on top.
//!
//! `./infra/bench.sh list` runs it (starts moto, writes BENCHMARKS.md). Directly:
//! `cargo bench -p e2e-tests --bench list` with the variables of `infra/moto.sh` set; sizes by
//! `LIST_SMALL`, `LIST_LARGE_EMBEDDED`, `LIST_LARGE_MOTO`, requests per point by `LIST_RUNS`.

use std::time::Instant;
use upload_tokens_core::domain::{ProjectId, Ttl, UploadToken};
use upload_tokens_core::store::dynamodb::{DynamoStore, schema};
use upload_tokens_core::store::embedded::EmbeddedStore;

mod support;

const PAGE: usize = 25;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// `n` active tokens of `project`: half never expire, half expire in a day and more, one
/// expiry a second (so the expiry order has as many distinct keys as tokens).
fn tokens(project: &ProjectId, n: usize) -> Vec<UploadToken> {
    let now = chrono::Utc::now() - chrono::TimeDelta::seconds(10);
    (0..n)
        .map(|i| {
            let ttl = if i % 2 == 0 {
                Ttl::NEVER
            } else {
                Ttl::from_seconds(86_400 + i as u32).expect("ttl")
            };
            UploadToken::create(
                project.clone(),
                ttl,
                now + chrono::TimeDelta::microseconds(i as i64 * 10),
            )
        })
        .collect()
}

/// Milliseconds `GET <url>` takes (median of `runs`), checking the page and the total.
async fn timed_page(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    runs: usize,
    total: usize,
) -> f64 {
    let mut times = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let response = client
            .get(url)
            .basic_auth(key, Some(""))
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status(), 200, "{url}");
        let body: serde_json::Value = response.json().await.expect("json");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(
            body["pagination"]["itemsTotal"].as_u64(),
            Some(total as u64),
            "{url}"
        );
        assert_eq!(body["data"].as_array().map(Vec::len), Some(PAGE), "{url}");
    }
    median(times)
}

/// One row per (order, page) for a project of `n` tokens on one store.
struct Measured {
    store: &'static str,
    n: usize,
    /// (order, first, middle, last) in ms.
    rows: Vec<(&'static str, f64, f64, f64)>,
    /// moto only: a bare 25-item Query of the creation index, ms.
    bare_query: Option<f64>,
}

const ORDERS: &[(&str, &str)] = &[
    ("createdAt asc", "sortBy=createdAt&sortOrder=asc"),
    ("createdAt desc", "sortBy=createdAt&sortOrder=desc"),
    ("ttl asc", "sortBy=ttl&sortOrder=asc"),
    ("ttl desc", "sortBy=ttl&sortOrder=desc"),
];

async fn measure(aws: bool, n: usize, runs: usize) -> Measured {
    let dir = tempfile::tempdir().expect("dir");
    let mut options = local_api::Options::new(dir.path(), "127.0.0.1:0");
    let table = format!(
        "bench-list-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros() % 1_000_000_000
    );
    let mut dynamo = None;
    if aws {
        let config = support::moto_config("list").await;
        let client = aws_sdk_dynamodb::Client::new(&config);
        schema::create_table(&client, &table).await.expect("table");
        options.store.store = local_api::StoreKind::Aws;
        options.store.bucket = Some(table.clone());
        options.store.table = Some(table.clone());
        options.store.create_table = true;
        dynamo = Some(client);
    }
    let server = local_api::start(options.clone()).await.expect("server");
    let project = server.project.project_id.clone();
    let seeds = tokens(&project, n);
    let started = Instant::now();
    match &dynamo {
        Some(client) => DynamoStore::new(client.clone(), table.clone())
            .insert_tokens_at_once(&seeds)
            .await
            .expect("seeded"),
        None => EmbeddedStore::open(dir.path())
            .expect("store")
            .insert_tokens_at_once(seeds)
            .await
            .expect("seeded"),
    }
    eprintln!(
        "{} {n} tokens seeded in {:?}",
        if aws { "moto" } else { "sqlite" },
        started.elapsed()
    );
    let client = reqwest::Client::new();
    let key = server.project.api_key.expose().to_owned();
    let base = server.url();
    let pages = n.div_ceil(PAGE);
    let mut rows = Vec::new();
    for (name, order) in ORDERS {
        let url = |page: usize| {
            format!("{base}/upload-tokens?{order}&currentPage={page}&pageSize={PAGE}")
        };
        let first = timed_page(&client, &url(1), &key, runs, n).await;
        let middle = timed_page(&client, &url(pages / 2), &key, runs, n).await;
        let last = timed_page(&client, &url(pages), &key, runs, n).await;
        rows.push((*name, first, middle, last));
    }
    let bare_query = match &dynamo {
        Some(client) => {
            let mut times = Vec::new();
            for _ in 0..runs {
                let started = Instant::now();
                let out = client
                    .query()
                    .table_name(&table)
                    .index_name(schema::BY_CREATED_KEYS_INDEX)
                    .key_condition_expression("#lp = :lp")
                    .expression_attribute_names("#lp", schema::LIST_PK)
                    .expression_attribute_values(
                        ":lp",
                        aws_sdk_dynamodb::types::AttributeValue::S(format!("TOKENS#{project}")),
                    )
                    .limit(PAGE as i32)
                    .send()
                    .await
                    .expect("query");
                times.push(started.elapsed().as_secs_f64() * 1000.0);
                assert_eq!(out.count(), PAGE as i32);
            }
            Some(median(times))
        }
        None => None,
    };
    server.stop().await.expect("stops");
    Measured {
        store: if aws { "DynamoDB (moto)" } else { "SQLite" },
        n,
        rows,
        bare_query,
    }
}

fn main() {
    let runs = env_usize("LIST_RUNS", 9);
    let small = env_usize("LIST_SMALL", 100);
    let large_embedded = env_usize("LIST_LARGE_EMBEDDED", 100_000);
    let large_moto = env_usize("LIST_LARGE_MOTO", 20_000);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut all = Vec::new();
    for (aws, large) in [(false, large_embedded), (true, large_moto)] {
        let small_run = runtime.block_on(measure(aws, small, runs));
        let large_run = runtime.block_on(measure(aws, large, runs));
        all.push((small_run, large_run));
    }
    println!(
        "| store | order | tokens | first page (ms) | middle page (ms) | last page (ms) | first: large ÷ small | last: large ÷ small |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for (small, large) in &all {
        for ((order, sf, sm, sl), (_, lf, lm, ll)) in small.rows.iter().zip(&large.rows) {
            println!(
                "| {} | {order} | {} | {sf:.2} | {sm:.2} | {sl:.2} | | |",
                small.store, small.n
            );
            println!(
                "| {} | {order} | {} | {lf:.2} | {lm:.2} | {ll:.2} | {:.2}× | {:.2}× |",
                large.store,
                large.n,
                lf / sf,
                ll / sl
            );
        }
    }
    println!();
    println!(
        "| moto: bare 25-item Query | tokens | ms | ours, first page createdAt asc ÷ bare Query |"
    );
    println!("|---|---:|---:|---:|");
    for (small, large) in &all {
        for run in [small, large] {
            if let Some(bare) = run.bare_query {
                println!(
                    "| {} | {} | {bare:.2} | {:.2}× |",
                    run.store,
                    run.n,
                    run.rows[0].1 / bare
                );
            }
        }
    }
}
