//! Lambda function for `PATCH /videos/{videoId}`.
//!
//! The AWS clients are built once per execution environment, outside the handler; the handler
//! itself is `upload_tokens_core::http`'s, the same code the local server runs.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_runtime::Error> {
    upload_tokens_runtime::serve_videos(upload_tokens_runtime::VideoEndpoint::Update).await
}
