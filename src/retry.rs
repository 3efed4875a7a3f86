//! The SDK's retries, tuned for a deployer. A deployer would rather wait than stop half-way:
//! every call gets up to 15 attempts with backoff from 100 ms to 10 s (Terraform's AWS
//! provider allows 25) for throttling, 5xx and lost connections, with no retry quota shared
//! between calls. A refused connection is not retried: nothing listens there (the emulator
//! is not running, or the endpoint is wrong), and the user should hear so at once; a host
//! name that does not resolve is retried twice, quickly (see [`UnreachableFailsFast`]).
//! Eventual-consistency errors ("busy", "not usable yet") are retried by the kinds.
//!
//! The mode is adaptive: once a service throttles, the SDK paces that client's requests to
//! the rate the service accepts (a client-side rate limiter that grows back as calls
//! succeed), instead of each call backing off alone while the others keep the pressure on.
//! Every client has its own partition, so a throttling IAM never slows DynamoDB. In an
//! account shared with other teams this is what keeps a run from throttling theirs.

use aws_config::retry::RetryConfig;
use aws_smithy_runtime::client::retries::{RetryPartition, TokenBucket};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::ErrorKind;
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
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

/// A request that cannot reach its host is sent again only a little: a refused connection
/// never (nothing listens there: the emulator is not running, or the endpoint is wrong),
/// a host name that could not be resolved half a second later, [`NAME_RETRIES`] times in a
/// run (the machine is offline, behind a proxy it was not told of, or the region is
/// wrong), saying so on stderr once. Without this the SDK's 15 attempts took 96 s of
/// silence before the error.
#[derive(Debug)]
pub struct UnreachableFailsFast;

/// How many requests whose host name could not be resolved are sent again, in a run: a
/// few, for a resolver's hiccup; when names do not resolve, they do not for every call.
pub const NAME_RETRIES: u32 = 3;

/// Name failures so far, in this run.
static UNRESOLVED: AtomicU32 = AtomicU32::new(0);

/// The hosts requests were sent to (see [`HostsTried`]), for an error that names one.
static TRIED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// A host name requests were sent to, for the error that says it could not be resolved
/// (when names do not resolve, none does).
pub fn unresolved_host() -> Option<String> {
    let tried = TRIED.lock().unwrap_or_else(|e| e.into_inner());
    tried.iter().next().cloned()
}

/// Notes each request's host (the error of a failed attempt no longer has the request).
#[derive(Debug)]
pub struct HostsTried;

impl Intercept for HostsTried {
    fn name(&self) -> &'static str {
        "cruddur-infra hosts tried"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(host) = context
            .request()
            .uri()
            .parse::<http::Uri>()
            .ok()
            .and_then(|u| u.host().map(str::to_string))
        {
            TRIED.lock().unwrap_or_else(|e| e.into_inner()).insert(host);
        }
        Ok(())
    }
}

impl ClassifyRetry for UnreachableFailsFast {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(Err(error)) = ctx.output_or_error() else {
            return RetryAction::NoActionIndicated;
        };
        let Some(connector) = error.as_connector_error() else {
            return RetryAction::NoActionIndicated;
        };
        if connector.is_io() && refused(connector) {
            return RetryAction::RetryForbidden;
        }
        if !unresolvable(connector) {
            return RetryAction::NoActionIndicated;
        }
        let failures = UNRESOLVED.fetch_add(1, Ordering::Relaxed) + 1;
        if failures == 1 {
            let host = unresolved_host().unwrap_or_else(|| "of the endpoint".into());
            eprintln!("Cannot resolve the host name {host}; trying again");
        }
        match failures <= NAME_RETRIES {
            true => RetryAction::retryable_error_with_explicit_delay(
                ErrorKind::TransientError,
                Duration::from_millis(500),
            ),
            false => RetryAction::RetryForbidden,
        }
    }

    fn name(&self) -> &'static str {
        "UnreachableFailsFast"
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

/// Whether the error is a host name that could not be resolved (hyper's resolver says
/// "dns error", the system's "failed to lookup address information").
pub fn unresolvable(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        let text = e.to_string();
        if text.contains("dns error") || text.contains("failed to lookup address") {
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
