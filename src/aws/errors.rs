//! AWS errors as people read them: the operation, the AWS error code and message, or why
//! the request never got an answer.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// An SDK error as one readable line: the operation, and the AWS error code and message
/// (or why the request never got an answer).
pub fn describe_error<E, R>(operation: &str, err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            format!(
                "{operation} failed: {}: {}",
                e.code().unwrap_or("UnknownError"),
                e.message().unwrap_or("no message")
            )
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => format!(
            "{operation} failed: could not reach AWS ({}); check the endpoint, your network, or that the emulator is running",
            DisplayErrorContext(err)
        ),
        _ => format!("{operation} failed: {}", DisplayErrorContext(err)),
    }
}

/// The AWS error code of a service error, if that is what `err` is.
pub fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

/// Turns an SDK result into one with a readable error (see [`describe_error`]).
pub fn sdk<T, E, R>(operation: &str, result: Result<T, SdkError<E, R>>) -> anyhow::Result<T>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(out) => {
            tracing::debug!(operation, "AWS call succeeded");
            Ok(out)
        }
        Err(e) => {
            tracing::debug!(operation, error = %DisplayErrorContext(&e), "AWS call failed");
            Err(anyhow::anyhow!(describe_error(operation, &e)))
        }
    }
}
