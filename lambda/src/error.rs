//! Why a conversation failed. The store makes these errors and the processor reports them:
//! in a module of their own both can use them, where in either of the two the other would
//! import it back and they would use each other in a circle.

use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// A failure that a later retry of the record may not have: the record is reported to
/// Lambda as failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("DynamoDB {operation} failed: {message}")]
    DynamoDb {
        operation: &'static str,
        /// The error code (e.g. ProvisionedThroughputExceededException), when AWS sent one.
        code: Option<String>,
        message: String,
    },
    #[error(
        "the group's summary rows kept changing under concurrent invocations: gave up after \
         {0} attempts"
    )]
    Contended(u32),
    #[error("building the request: {0}")]
    Request(#[from] BuildError),
}

impl Error {
    /// A failed call, kept as text with its code: the SDK's error is generic over the
    /// operation, and the processor only logs and reports it, never matches on it.
    pub(crate) fn dynamodb<E>(operation: &'static str, error: SdkError<E>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        // What AWS said, when it said something: the SDK's full context ends with the
        // Debug form of the whole response, which makes a log line hundreds of characters
        // long.
        let message = match (error.code(), error.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            _ => DisplayErrorContext(&error).to_string(),
        };
        Error::DynamoDb {
            operation,
            code: error.code().map(str::to_string),
            message,
        }
    }
}
