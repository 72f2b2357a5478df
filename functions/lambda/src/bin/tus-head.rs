//! Lambda function `tus-head`: tells where a tus upload stands (`HEAD /upload/{token}/tus/{videoId}`). It never reads the signing secret.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_upload("tus-head").await
}
