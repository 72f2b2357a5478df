//! Lambda function `tus-patch`: appends a tus chunk (`PATCH /upload/{token}/tus/{videoId}`, or `POST` with `X-HTTP-Method-Override: PATCH`). It never reads the signing secret.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), upload_tokens_lambda::Error> {
    upload_tokens_lambda::serve_upload("tus-patch").await
}
