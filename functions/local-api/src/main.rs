//! `local-api`: run every endpoint on this machine. See `--help`.

use clap::Parser;
use local_api::{KeyOrigin, Options, StoreKind, log_lines, start};
use std::io::IsTerminal;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    // One line per request, gathered in memory and written by a thread of its own
    // (`log_lines`): a request never waits on the terminal or the file behind stdout.
    let (log_writer, _log_guard) = match log_lines::start("local-api-log", std::io::stdout()) {
        Ok(started) => started,
        Err(e) => {
            eprintln!("local-api: cannot start the log thread: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        // Colours for a terminal only: a log file gets no escape codes.
        .with_ansi(std::io::stdout().is_terminal())
        .with_writer(log_writer)
        .init();
    let options = Options::parse();
    let store = match options.store.store {
        StoreKind::Embedded => format!("SQLite in {}", options.store.data_dir.display()),
        StoreKind::Aws => format!(
            "DynamoDB table {}",
            options.store.table.as_deref().unwrap_or("?")
        ),
    };
    let server = match start(options).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("local-api: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("upload-tokens local API on {} ({store})", server.url());
    if let Some(cert) = &server.certificate {
        println!("TLS certificate: {} (curl --cacert it)", cert.display());
        println!("demo page: {}/demo", server.url());
    }
    println!("project: {}", server.project.project_id);
    // A key given with --api-key is never echoed; a generated one is shown once, when made.
    let key = match server.project.key_origin {
        KeyOrigin::Generated => {
            println!(
                "API key: {} (shown once; kept in the data directory)",
                server.project.api_key.expose()
            );
            server.project.api_key.expose().to_owned()
        }
        KeyOrigin::Saved => {
            println!("API key: the one printed at the first start (kept in the data directory)");
            "$KEY".to_owned()
        }
        KeyOrigin::Given => {
            println!("API key: the one given with --api-key");
            "$KEY".to_owned()
        }
    };
    println!(
        "try:     curl -u '{key}:' -H 'Content-Type: application/json' -d '{{\"ttl\":3600}}' {}/upload-tokens",
        server.url()
    );
    println!("Ctrl-C stops it.");
    wait_for_stop_signal().await;
    println!("stopping...");
    match server.stop().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("local-api: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C, or SIGTERM (what container runtimes send).
async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
