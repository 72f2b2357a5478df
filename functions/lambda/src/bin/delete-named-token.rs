//! Lambda function `delete-named-token`: deletes a token on the vidbeo face (`DELETE /v2/tokens/{id}`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_tokens("delete-named-token").await
}
