//! Lambda function `direct-complete`: checks and completes a direct upload (`POST /upload/{token}/s3/multipart/{uploadId}/complete`). It never reads the signing secret.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_upload("direct-complete").await
}
