//! Lambda function `get-named-token`: reads a token on the vidbeo face (`GET /v2/tokens/{id}`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_tokens("get-named-token").await
}
