//! Lambda function `direct-sign-batch`: presigns several parts (`GET /upload/{token}/s3/multipart/{uploadId}/batch`). It never reads the signing secret.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_upload("direct-sign-batch").await
}
