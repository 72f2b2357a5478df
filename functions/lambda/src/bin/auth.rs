//! Lambda function `auth`: access and refresh tokens (`POST /auth/api-key`, `POST /auth/refresh`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_tokens("auth").await
}
