//! Lambda function `list-tokens`: lists upload tokens (`GET /upload-tokens`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_tokens("list-tokens").await
}
