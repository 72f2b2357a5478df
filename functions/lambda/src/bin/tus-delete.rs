//! Lambda function `tus-delete`: terminates an unfinished tus upload (`DELETE /upload/{token}/tus/{videoId}`). It never reads the signing secret.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_upload("tus-delete").await
}
