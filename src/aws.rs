//! AWS clients for one environment: the standard credential and region chain, with the
//! stack file's environment settings and the command-line flags on top.
//!
//! Endpoint precedence, most specific first: `--endpoint-url`; `AWS_ENDPOINT_URL_<SERVICE>`
//! and `AWS_ENDPOINT_URL` (read by the SDK itself); the environment's `endpoint_url` in the
//! stack file. An `emulator:` environment always talks to its loopback URL (or a loopback
//! `--endpoint-url`) with test credentials, whatever the shell's AWS variables say.

use crate::spec::{Environment, check_url};
use anyhow::{Context, bail};
use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::time::Duration;

/// Command-line overrides of the environment's settings.
#[derive(Debug, Default, Clone)]
pub struct AwsFlags {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

type Shared = std::sync::Arc<dyn std::any::Any + Send + Sync>;

/// One answer per key for the whole run; concurrent askers of the same key share the one
/// call. Only for reads whose answer cannot change during planning.
#[derive(Debug, Clone, Default)]
pub struct ReadCache(
    std::sync::Arc<
        std::sync::Mutex<
            std::collections::HashMap<String, std::sync::Arc<tokio::sync::OnceCell<Shared>>>,
        >,
    >,
);

impl ReadCache {
    pub async fn once<T, F, Fut>(&self, key: String, read: F) -> anyhow::Result<T>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<T>>,
    {
        let cell = self.0.lock().unwrap().entry(key).or_default().clone();
        let value = cell
            .get_or_try_init(|| async { read().await.map(|v| std::sync::Arc::new(v) as Shared) })
            .await?;
        Ok(value
            .downcast_ref::<T>()
            .expect("one key, one type")
            .clone())
    }
}

/// Where requests go, for messages ("could not reach ...").
#[derive(Debug, Clone)]
pub struct Aws {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub iam: aws_sdk_iam::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub sts: aws_sdk_sts::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// Answers of reads several resources ask for (the default VPC, a mapping's tags),
    /// kept for the run so the same call is never made twice.
    pub reads: ReadCache,
    /// Finds resources by tag across services (orphans).
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    pub region: String,
    /// `None` when the SDK's own endpoint resolution decides (a real AWS account).
    pub endpoint: Option<String>,
}

/// Region used with an emulator when neither the file nor the flags name one.
const EMULATOR_REGION: &str = "us-east-1";

impl Aws {
    pub async fn connect(env: &Environment, flags: &AwsFlags) -> anyhow::Result<Aws> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            // See retry.rs: patient retries, no shared quota, refused connections at once.
            .retry_config(crate::retry::config())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .build(),
            );
        let region = flags.region.clone().or_else(|| env.region.clone());
        let mut endpoint = None;
        if let Some(emulator) = &env.emulator {
            if flags.profile.is_some() {
                bail!(
                    "--profile cannot be used with environment `{}`: it is an emulator environment and uses test credentials",
                    env.name
                );
            }
            let url = flags
                .endpoint_url
                .clone()
                .unwrap_or_else(|| emulator.clone());
            check_url(&url, true).map_err(|e| {
                anyhow::anyhow!("environment `{}` is an emulator environment: {e}", env.name)
            })?;
            loader = loader
                .endpoint_url(&url)
                .credentials_provider(Credentials::new(
                    "cruddur-infra-emulator",
                    "emulator-secret",
                    None,
                    None,
                    "cruddur-infra emulator environment",
                ))
                .region(Region::new(
                    region.unwrap_or_else(|| EMULATOR_REGION.into()),
                ));
            endpoint = Some(url);
        } else {
            if let Some(profile) = flags.profile.clone().or_else(|| env.profile.clone()) {
                loader = loader.profile_name(profile);
            }
            if let Some(region) = region {
                loader = loader.region(Region::new(region));
            }
            if let Some(url) = &flags.endpoint_url {
                check_url(url, false).map_err(|e| anyhow::anyhow!("--endpoint-url: {e}"))?;
                loader = loader.endpoint_url(url);
                endpoint = Some(url.clone());
            }
        }
        let config = loader.load().await;
        let region = config
            .region()
            .map(|r| r.to_string())
            .context("no AWS region: set `region` on the environment in the stack file, pass --region, or set AWS_REGION")?;

        // Each service's client, with the stack file's endpoint where nothing more
        // specific is set (see the module comment).
        macro_rules! client {
            ($sdk:ident, $service:literal) => {{
                // Every call is counted (and its retries logged) for --stats and -v.
                let mut builder = $sdk::config::Builder::from(&config)
                    .interceptor(crate::stats::CallCounter)
                    .retry_partition(crate::retry::partition())
                    .retry_classifier(crate::retry::RefusedConnectionsFailFast);
                if let Some(url) = file_endpoint(env, flags, $service) {
                    builder = builder.endpoint_url(&url);
                    endpoint = Some(url);
                }
                $sdk::Client::from_conf(builder.build())
            }};
        }
        Ok(Aws {
            dynamodb: client!(aws_sdk_dynamodb, "DYNAMODB"),
            iam: client!(aws_sdk_iam, "IAM"),
            ec2: client!(aws_sdk_ec2, "EC2"),
            sts: client!(aws_sdk_sts, "STS"),
            lambda: client!(aws_sdk_lambda, "LAMBDA"),
            logs: client!(aws_sdk_cloudwatchlogs, "CLOUDWATCH_LOGS"),
            tagging: client!(aws_sdk_resourcegroupstagging, "RESOURCE_GROUPS_TAGGING_API"),
            reads: ReadCache::default(),
            region,
            endpoint,
        })
    }

    /// `${aws.account_id}`, `${aws.region}` and `${aws.partition}` of the account the
    /// credentials belong to (one STS call).
    pub async fn deployment_context(&self) -> anyhow::Result<crate::kinds::Attributes> {
        let identity = sdk(
            "GetCallerIdentity",
            self.sts.get_caller_identity().send().await,
        )?;
        let account = identity
            .account
            .context("GetCallerIdentity returned no account")?;
        // arn:<partition>:sts::<account>:...
        let partition = identity
            .arn
            .as_deref()
            .and_then(|arn| arn.split(':').nth(1))
            .unwrap_or("aws")
            .to_string();
        Ok(crate::kinds::Attributes::from([
            ("account_id", Some(account)),
            ("region", Some(self.region.clone())),
            ("partition", Some(partition)),
        ]))
    }
}

/// The stack file's `endpoint_url` for a service, unless something more specific is set.
fn file_endpoint(env: &Environment, flags: &AwsFlags, service: &str) -> Option<String> {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty());
    if env.emulator.is_some()
        || flags.endpoint_url.is_some()
        || set("AWS_ENDPOINT_URL")
        || set(&format!("AWS_ENDPOINT_URL_{service}"))
    {
        return None;
    }
    env.endpoint_url.clone()
}

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
