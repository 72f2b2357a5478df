//! The cold-start baseline: lambda_http's hello world, built with the same release profile as the
//! functions, answering every event with a fixed text.

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_event: Request| async {
        Ok::<_, Error>(Response::new(Body::from("hello")))
    }))
    .await
}
