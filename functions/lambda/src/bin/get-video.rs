//! Lambda function `get-video`: reads a video (`GET /videos/{videoId}`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_videos("get-video").await
}
