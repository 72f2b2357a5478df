//! The request-rate baseline (`./infra/bench.sh http`): axum's hello world on the local
//! server's paths, each answering a fixed JSON body read from a file at start (the bench saves
//! the local server's own answers there, so both send bodies of the same size). Request bodies
//! are read whole and dropped, as the local server reads them.
//!
//! `hello-http ADDR GET_TOKEN_BODY LIST_BODY CREATE_BODY UPLOAD_BODY`

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use bytes::Bytes;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hello-http: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, get_token, list, create, upload] = args.as_slice() else {
        return Err(
            "usage: hello-http ADDR GET_TOKEN_BODY LIST_BODY CREATE_BODY UPLOAD_BODY".into(),
        );
    };
    let body = |path: &String| {
        std::fs::read(path)
            .map(Bytes::from)
            .map_err(|e| format!("{path}: {e}"))
    };
    let (get_token, list, create, upload) =
        (body(get_token)?, body(list)?, body(create)?, body(upload)?);
    let router = Router::new()
        .route(
            "/upload-tokens/{token}",
            get(move || json(get_token.clone())),
        )
        .route(
            "/upload-tokens",
            get(move || json(list.clone())).post(move |_: Bytes| json(create.clone())),
        )
        .route("/upload", post(move |_: Bytes| json(upload.clone())))
        .layer(DefaultBodyLimit::disable());
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("{addr}: {e}"))?;
    axum::serve(listener, router)
        .await
        .map_err(|e| e.to_string())
}

async fn json(body: Bytes) -> ([(&'static str, &'static str); 1], Bytes) {
    ([("content-type", "application/json")], body)
}
