//! Lambda function `direct-create`: starts a multipart direct upload (`POST /upload/{token}/s3/multipart`). It never reads the signing secret.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_upload("direct-create").await
}
