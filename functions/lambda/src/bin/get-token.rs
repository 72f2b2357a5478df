//! Lambda function `get-token`: reads an upload token (`GET /upload-tokens/{token}`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_tokens("get-token").await
}
