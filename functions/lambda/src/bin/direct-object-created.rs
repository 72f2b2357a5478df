//! Lambda function `direct-object-created`: S3's `ObjectCreated` event for single-request
//! direct uploads (`direct/` objects): checks and completes their videos.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_object_created().await
}
