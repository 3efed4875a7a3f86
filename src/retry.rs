//! The SDK's retries, tuned for a deployer. A deployer would rather wait than stop half-way:
//! every call gets up to 15 attempts with backoff from 100 ms to 10 s (Terraform's AWS
//! provider allows 25) for throttling, 5xx and lost connections, with no retry quota shared
//! between calls. A refused connection is not retried: nothing listens there (the emulator
//! is not running, or the endpoint is wrong), and the user should hear so at once.
//! Eventual-consistency errors ("busy", "not usable yet") are retried by the kinds.
//!
//! The mode is adaptive: once a service throttles, the SDK paces that client's requests to
//! the rate the service accepts (a client-side rate limiter that grows back as calls
//! succeed), instead of each call backing off alone while the others keep the pressure on.
//! Every client has its own partition, so a throttling IAM never slows DynamoDB. In an
//! account shared with other teams this is what keeps a run from throttling theirs.

use aws_config::retry::RetryConfig;
use aws_smithy_runtime::client::retries::{RetryPartition, TokenBucket};
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};
use std::time::Duration;

pub const MAX_ATTEMPTS: u32 = 15;

pub fn config() -> RetryConfig {
    RetryConfig::adaptive()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(100))
        .with_max_backoff(Duration::from_secs(10))
}

/// The SDK's shared retry quota (a token bucket of 500, spending 5 to 14 per retry) sheds
/// load from a struggling service by failing calls early; a deployer's calls are bounded by
/// their attempts instead. Each call makes a new partition, with its own rate limiter:
/// one per service client.
pub fn partition() -> RetryPartition {
    RetryPartition::custom("cruddur-infra")
        .token_bucket(TokenBucket::unlimited())
        .build()
}

/// Forbids retrying a connection the other side refused.
#[derive(Debug)]
pub struct RefusedConnectionsFailFast;

impl ClassifyRetry for RefusedConnectionsFailFast {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(Err(error)) = ctx.output_or_error() else {
            return RetryAction::NoActionIndicated;
        };
        let Some(connector) = error.as_connector_error() else {
            return RetryAction::NoActionIndicated;
        };
        if connector.is_io() && refused(connector) {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "RefusedConnectionsFailFast"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

/// Whether an `io::Error` of kind ConnectionRefused is anywhere in the error's causes.
fn refused(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        cause = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapper(std::io::Error);

    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("connect error")
        }
    }

    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn only_a_refused_connection_is_refused() {
        let io = |kind| std::io::Error::new(kind, "x");
        assert!(refused(&Wrapper(io(std::io::ErrorKind::ConnectionRefused))));
        assert!(refused(&io(std::io::ErrorKind::ConnectionRefused)));
        assert!(!refused(&Wrapper(io(std::io::ErrorKind::ConnectionReset))));
        assert!(!refused(&Wrapper(io(std::io::ErrorKind::TimedOut))));
    }
}
