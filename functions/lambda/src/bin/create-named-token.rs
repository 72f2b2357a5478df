//! Lambda function `create-named-token`: creates a named token (`POST /v2/tokens`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_tokens("create-named-token").await
}
