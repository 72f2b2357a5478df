//! Lambda function `list-named-tokens`: lists named and api.video tokens, newest first (`GET /v2/tokens`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_tokens("list-named-tokens").await
}
