//! Lambda function `delete-video`: deletes a video and its bytes (`DELETE /videos/{videoId}`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_videos("delete-video").await
}
