//! Lambda function `create-token`: creates upload tokens (`POST /upload-tokens`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_tokens("create-token").await
}
