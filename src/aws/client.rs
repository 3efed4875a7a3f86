//! AWS clients for one environment: the standard credential and region chain, with the
//! stack file's environment settings and the command-line flags on top.
//!
//! Endpoint precedence, most specific first: `--endpoint-url`; `AWS_ENDPOINT_URL_<SERVICE>`
//! and `AWS_ENDPOINT_URL` (read by the SDK itself); the environment's `endpoint_url` in the
//! stack file. An `emulator:` environment always talks to its loopback URL (or a loopback
//! `--endpoint-url`) with test credentials, whatever the shell's AWS variables say.

use super::errors::sdk;
use super::reads::Reads;
use crate::values::DeploymentContext;
use anyhow::{Context, bail};
use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{Credentials, Region};
use std::sync::Arc;
use std::time::Duration;

/// Where an environment's requests go, as the stack file says.
#[derive(Debug, Default, Clone)]
pub struct Settings {
    /// The environment's name, for messages.
    pub environment: String,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    /// A local emulator's URL (loopback): test credentials, never real ones.
    pub emulator: Option<String>,
}

/// Command-line overrides of the environment's settings.
#[derive(Debug, Default, Clone)]
pub struct AwsFlags {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
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
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    /// A table's stream, read by `dev` as Lambda reads it.
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// Answers of reads several resources ask for (the default VPC, a mapping's tags),
    /// kept for the run so the same call is never made twice.
    pub reads: Arc<Reads>,
    /// Finds resources by tag across services (orphans).
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    pub region: String,
    /// `None` when the SDK's own endpoint resolution decides (a real AWS account).
    pub endpoint: Option<String>,
    /// The credentials profile named (--profile, the environment's `profile`, or
    /// AWS_PROFILE), for messages.
    pub profile: Option<String>,
    /// `--deep-scan`: discovery looks through the whole account (see `engine::observe`).
    pub deep_scan: bool,
}

/// Region used with an emulator when neither the file nor the flags name one.
const EMULATOR_REGION: &str = "us-east-1";

/// The region the flags or the environment choose (an emulator's has a default); `None`
/// leaves it to the SDK's chain (AWS_REGION, the profile).
pub fn chosen_region(env: &Settings, flags: &AwsFlags) -> Option<String> {
    let named = flags.region.clone().or_else(|| env.region.clone());
    match &env.emulator {
        Some(_) => Some(named.unwrap_or_else(|| EMULATOR_REGION.into())),
        None => named,
    }
}

impl Aws {
    pub async fn connect(env: &Settings, flags: &AwsFlags) -> anyhow::Result<Aws> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            // See retry.rs: patient retries, no shared quota, refused connections at once.
            .retry_config(crate::retry::config())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .build(),
            );
        let region = chosen_region(env, flags);
        let mut endpoint = None;
        let mut profile = None;
        if let Some(emulator) = &env.emulator {
            if flags.profile.is_some() {
                bail!(
                    "--profile cannot be used with environment `{}`: it is an emulator environment and uses test credentials",
                    env.environment
                );
            }
            let url = flags
                .endpoint_url
                .clone()
                .unwrap_or_else(|| emulator.clone());
            check_url(&url, true).map_err(|e| {
                anyhow::anyhow!(
                    "environment `{}` is an emulator environment: {e}",
                    env.environment
                )
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
                .region(Region::new(region.unwrap_or_default()));
            endpoint = Some(url);
        } else {
            let named = flags.profile.clone().or_else(|| env.profile.clone());
            if let Some(name) = &named {
                loader = loader.profile_name(name);
            }
            // The SDK reads AWS_PROFILE itself; it is named here only for messages.
            profile = named.or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()));
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

        // One HTTP client (one connection pool) for the services paced to their quotas.
        let http = super::pace::https_client();
        // Each service's client, with the stack file's endpoint where nothing more
        // specific is set (see the module comment).
        macro_rules! client {
            ($sdk:ident, $service:literal) => {{
                // Every call is counted (and its retries logged) for --stats and -v.
                let mut builder = $sdk::config::Builder::from(&config)
                    .interceptor(crate::stats::CallCounter)
                    .interceptor(crate::retry::HostsTried)
                    .retry_partition(crate::retry::partition())
                    .retry_classifier(crate::retry::UnreachableFailsFast);
                if let Some(pace) = super::pace::of($service) {
                    builder =
                        builder.http_client(super::pace::Paced::new(http.clone(), pace, $service));
                }
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
            sqs: client!(aws_sdk_sqs, "SQS"),
            sns: client!(aws_sdk_sns, "SNS"),
            streams: client!(aws_sdk_dynamodbstreams, "DYNAMODB_STREAMS"),
            cloudwatch: client!(aws_sdk_cloudwatch, "CLOUDWATCH"),
            tagging: client!(aws_sdk_resourcegroupstagging, "RESOURCE_GROUPS_TAGGING_API"),
            reads: Arc::default(),
            region,
            endpoint,
            profile,
            deep_scan: false,
        })
    }

    /// `err` said for people: an access problem (AWS out of reach, credentials refused) as
    /// one line and a hint naming where requests went; anything else as it is.
    pub fn explain(&self, err: anyhow::Error) -> anyhow::Error {
        use super::errors::Destination;
        let destination = match self.endpoint.as_deref() {
            Some(url) if check_url(url, true).is_ok() => Destination::Emulator(url),
            Some(url) => Destination::Endpoint(url),
            None => Destination::Region(&self.region),
        };
        super::errors::explain(err, destination, self.profile.as_deref())
    }

    /// `${aws.account_id}`, `${aws.region}` and `${aws.partition}` of the account the
    /// credentials belong to (one STS call a run: what a kind needs to make an ARN that
    /// AWS cannot give by name, as a topic's, asks this too).
    pub async fn deployment_context(&self) -> anyhow::Result<DeploymentContext> {
        let read = || self.read_deployment_context();
        self.reads.context.get_or_try_init(read).await.cloned()
    }

    async fn read_deployment_context(&self) -> anyhow::Result<DeploymentContext> {
        let identity = sdk(
            "GetCallerIdentity",
            self.sts.get_caller_identity().send().await,
        )?;
        let account = super::errors::returned(identity.account, "GetCallerIdentity", "account")?;
        // arn:<partition>:sts::<account>:...
        let partition = identity
            .arn
            .as_deref()
            .and_then(|arn| arn.split(':').nth(1))
            .unwrap_or("aws")
            .to_string();
        Ok(DeploymentContext {
            account_id: account,
            region: self.region.clone(),
            partition,
        })
    }
}

/// The stack file's `endpoint_url` for a service, unless something more specific is set.
fn file_endpoint(env: &Settings, flags: &AwsFlags, service: &str) -> Option<String> {
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

/// An http(s) URL with a host; with `loopback_only`, the host must be this machine.
pub fn check_url(s: &str, loopback_only: bool) -> Result<(), String> {
    let uri: http::Uri = s.parse().map_err(|e| format!("`{s}` is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err(format!("`{s}` must start with http:// or https://")),
    }
    let host = uri.host().ok_or_else(|| format!("`{s}` has no host"))?;
    if loopback_only && !is_loopback(host) {
        return Err(format!(
            "`{s}` is not a loopback address; an emulator must run on 127.0.0.1, ::1 or localhost"
        ));
    }
    Ok(())
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
