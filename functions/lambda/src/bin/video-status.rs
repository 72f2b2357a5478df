//! Lambda function `video-status`: what an upload has received (`GET /videos/{videoId}/status`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_videos("video-status").await
}
