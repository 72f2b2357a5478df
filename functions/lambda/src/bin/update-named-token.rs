//! Lambda function `update-named-token`: changes a token on the vidbeo face (`PATCH /v2/tokens/{id}`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_tokens("update-named-token").await
}
