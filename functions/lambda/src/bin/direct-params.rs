//! Lambda function `direct-params`: a single-request direct upload's POST form (`GET /upload/{token}/s3/params`). It never reads the signing secret.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_upload("direct-params").await
}
