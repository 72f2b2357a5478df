//! Lambda function `direct-sign-part`: presigns one part (`GET /upload/{token}/s3/multipart/{uploadId}/{partNumber}`). It never reads the signing secret.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_upload("direct-sign-part").await
}
