//! Pacing, per service, to AWS's documented request quotas. The reads of a plan go out at
//! once, which is right for most services, but a few have quotas (per account and region,
//! shared with everyone else in the account) that a big stack could exceed in one burst:
//! the run would be throttled, and so would every other team's calls meanwhile. Those
//! services' clients take a token from a bucket before each attempt: up to `burst`
//! requests go out at once, then `per_second`. Retries pass through it too. Each rate is
//! below the quota, so some of it is left for the account's other users; the SDK's
//! adaptive retry (see `crate::retry`) slows further if the service throttles anyway.
//!
//! | service | quota (AWS's documentation) | paced at |
//! |---|---|---|
//! | Lambda | 15/s for the control plane but GetFunction (100/s) and invocations | 10/s, bursts of 15 |
//! | CloudWatch | DescribeAlarms 9/s, PutMetricAlarm 3/s, ListTagsForResource 10/s | 5/s, bursts of 9 |
//! | CloudWatch Logs | DescribeLogGroups 10/s; tags, retention 5/s | 4/s, bursts of 5 |
//! | IAM | none published; throttles per API and account | 10/s, bursts of 20 |
//! | Tagging API | GetResources 15/s | 10/s, bursts of 10 |
//!
//! DynamoDB's control plane allows 2,500/s, EC2's describes a bucket of 100 per API, STS
//! 600/s, and SQS publishes none for what the tool calls: those are not paced.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;

/// A service's pace: up to `burst` requests at once, then `per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    pub per_second: u32,
    pub burst: u32,
}

/// The pace of the service whose endpoint variable is `service` (`LAMBDA`, `IAM`, ...), if
/// it has one (see the module's table).
pub fn of(service: &str) -> Option<Pace> {
    let pace = |per_second, burst| Some(Pace { per_second, burst });
    match service {
        "LAMBDA" => pace(10, 15),
        "CLOUDWATCH" => pace(5, 9),
        "CLOUDWATCH_LOGS" => pace(4, 5),
        "IAM" => pace(10, 20),
        "RESOURCE_GROUPS_TAGGING_API" => pace(10, 10),
        _ => None,
    }
}

/// The HTTPS client the SDK makes by default (hyper 1, rustls on aws-lc, the proxy from
/// the environment), made here so that a paced service's requests can pass through
/// [`Paced`] on their way to it.
pub fn https_client() -> SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    use aws_smithy_http_client::{Builder, ConnectorBuilder};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// An HTTP client that waits for the service's pace before each request it sends.
#[derive(Debug, Clone)]
pub struct Paced {
    inner: SharedHttpClient,
    limiter: Arc<DefaultDirectRateLimiter>,
    service: &'static str,
}

impl Paced {
    pub fn new(inner: SharedHttpClient, pace: Pace, service: &'static str) -> Paced {
        let nonzero = |n: u32| NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_second(nonzero(pace.per_second)).allow_burst(nonzero(pace.burst));
        Paced {
            inner,
            limiter: Arc::new(RateLimiter::direct(quota)),
            service,
        }
    }
}

impl HttpClient for Paced {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(PacedConnector {
            inner: self.inner.http_connector(settings, components),
            limiter: self.limiter.clone(),
            service: self.service,
        })
    }
}

#[derive(Debug)]
struct PacedConnector {
    inner: SharedHttpConnector,
    limiter: Arc<DefaultDirectRateLimiter>,
    service: &'static str,
}

impl HttpConnector for PacedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (inner, limiter, service) = (self.inner.clone(), self.limiter.clone(), self.service);
        HttpConnectorFuture::new(async move {
            if limiter.check().is_err() {
                // Over the burst: said in --stats, so a slow run explains itself.
                crate::stats::count_wait(&format!("paced to {service}'s request quota"));
                limiter.until_ready().await;
            }
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_services_with_low_quotas_are_paced_and_below_them() {
        assert_eq!(of("DYNAMODB"), None);
        assert_eq!(of("EC2"), None);
        // Below Lambda's shared 15/s and CloudWatch's 9/s DescribeAlarms.
        assert!(of("LAMBDA").is_some_and(|p| p.per_second < 15 && p.burst <= 15));
        assert!(of("CLOUDWATCH").is_some_and(|p| p.per_second < 9 && p.burst <= 9));
        assert!(of("CLOUDWATCH_LOGS").is_some_and(|p| p.per_second < 5 && p.burst <= 5));
    }
}
