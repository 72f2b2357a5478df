//! The API Gateway emulator for people: serves a SAM template's HTTP API on 127.0.0.1 with the
//! function binaries of a build directory, until Ctrl-C. See docs/emulator.md.
//!
//! usage: apigw-emulator --template template.yaml --bin-dir target/lambda-local \
//!            --table TABLE --bucket BUCKET [--addr 127.0.0.1:3000]

use apigw_emulator::{Emulator, Options};
use clap::Parser;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    about = "A local API Gateway HTTP API running a SAM template's function binaries",
    long_about = "Serves the HttpApi routes of a SAM template on a loopback address, as API \
                  Gateway does (payload 2.0, CORS, the 6 MB and 30 s limits), by running each \
                  function's binary against a local Lambda Runtime API. The AWS settings \
                  (AWS_ENDPOINT_URL, credentials, AWS_REGION) are passed on to the functions."
)]
struct Args {
    /// The SAM template.
    #[arg(long, default_value = "template.yaml")]
    template: PathBuf,
    /// Directory holding the function binaries (named as in Metadata.BuildProperties.Binary).
    #[arg(long, default_value = "target/lambda-local")]
    bin_dir: PathBuf,
    /// DynamoDB table name for the template's table.
    #[arg(long, env = "UPLOAD_TOKENS_TABLE")]
    table: String,
    /// S3 bucket name for the template's bucket.
    #[arg(long, env = "UPLOAD_TOKENS_BUCKET")]
    bucket: String,
    /// Loopback address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// Value of the template's secret (e.g. the signing secret, >= 32 bytes); random if unset.
    #[arg(long, env = "UPLOAD_TOKENS_SIGNING_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// A template parameter, NAME=VALUE (repeatable).
    #[arg(long = "parameter", value_name = "NAME=VALUE")]
    parameters: Vec<String>,
    /// API Gateway's integration timeout, in seconds.
    #[arg(long, default_value_t = 30)]
    integration_timeout: u64,
    /// Most processes per function.
    #[arg(long, default_value_t = 4)]
    max_instances: usize,
    /// Discard the functions' logs instead of printing them.
    #[arg(long)]
    quiet: bool,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut parameters = BTreeMap::new();
    for p in &args.parameters {
        let (name, value) = p
            .split_once('=')
            .ok_or_else(|| format!("--parameter {p}: expected NAME=VALUE"))?;
        parameters.insert(name.to_owned(), value.to_owned());
    }
    let mut options = Options::new(&args.template, &args.bin_dir, &args.table, &args.bucket);
    options.addr = args.addr;
    options.secret_value = args.secret;
    options.parameters = parameters;
    options.integration_timeout = Duration::from_secs(args.integration_timeout);
    options.max_instances = args.max_instances;
    options.function_logs = !args.quiet;
    let emulator = Emulator::start(options).await?;
    println!("API Gateway emulator listening on {}", emulator.url());
    tokio::signal::ctrl_c().await?;
    emulator.stop().await;
    Ok(())
}
