//! Lambda function `update-token`: changes an upload token (`PATCH /upload-tokens/{token}`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_tokens("update-token").await
}
