//! Lambda function `delete-token`: deletes an upload token (`DELETE /upload-tokens/{token}`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_tokens("delete-token").await
}
