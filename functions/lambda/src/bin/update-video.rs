//! Lambda function `update-video`: edits a video (`PATCH /videos/{videoId}`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_videos("update-video").await
}
