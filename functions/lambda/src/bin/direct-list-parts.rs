//! Lambda function `direct-list-parts`: lists a direct upload's parts (`GET /upload/{token}/s3/multipart/{uploadId}`). It never reads the signing secret.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_upload("direct-list-parts").await
}
