//! Lambda function `tus-create`: creates a tus upload, with or without its first bytes (`POST /upload/{token}/tus`). It never reads the signing secret.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_upload("tus-create").await
}
