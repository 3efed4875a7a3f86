//! The Lambda function: `bootstrap` in the deployed zip. Reads `TABLE_NAME` and
//! `INDEX_NAME`, builds a DynamoDB client from the environment (region, credentials, and
//! `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_DYNAMODB` when set, as for a local emulator) and
//! serves stream batches until Lambda stops the process.
//!
//! Outside Lambda (a test harness serving the Runtime API) lambda_runtime also needs
//! `AWS_LAMBDA_RUNTIME_API` (host:port), `AWS_LAMBDA_FUNCTION_NAME`,
//! `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` and `AWS_LAMBDA_FUNCTION_VERSION`: it panics without them.

use cruddur_stream_processor::{Config, Event, Processor};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Honours AWS_LAMBDA_LOG_FORMAT=JSON and AWS_LAMBDA_LOG_LEVEL (else RUST_LOG).
    lambda_runtime::tracing::init_default_subscriber();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            // Logged rather than returned: main's `Err` would print it again as Debug. Lambda
            // reports the exit as the function's init error, with this log line above it.
            tracing::error!(%error, "cannot start");
            std::process::exit(1);
        }
    };
    let sdk_config = aws_config::load_from_env().await;
    let processor = Processor::new(aws_sdk_dynamodb::Client::new(&sdk_config), config);
    let processor = &processor;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, Error>(processor.handle(event.payload).await)
    }))
    .await
}
