//! Reading a function (configuration, tags, concurrency) and its log group, and finding
//! the subnets and security groups its VPC config chooses.

use super::release;
use super::spec::VpcSpec;
use super::state::{FunctionState, LiveFunction, VpcState, log_group_name};
use crate::aws::lookup;
use crate::aws::{Aws, absent_on, returned, sdk};
use crate::bundle::{Architecture, CODE_HASH_TAG, CODE_SHA_TAG};
use aws_sdk_lambda::operation::get_function::GetFunctionError;
use aws_sdk_lambda::types as lambda;
use std::collections::BTreeMap;

/// The function `name`, with its versions and `alias` when the file asks for a release
/// (`owner`: the stack whose alias it must be).
pub async fn read_function(
    aws: &Aws,
    name: &str,
    alias: Option<&str>,
    owner: &str,
) -> anyhow::Result<Option<LiveFunction>> {
    let function = async {
        let sent = aws.lambda.get_function().function_name(name).send().await;
        absent_on(
            GetFunctionError::is_resource_not_found_exception,
            "GetFunction",
            sent,
        )
    };
    let release = async {
        match alias {
            Some(alias) => release::read(aws, name, alias).await.map(Some),
            None => Ok(None),
        }
    };
    let (function, log_group, release) =
        tokio::try_join!(function, read_log_group(aws, name), release)?;
    let Some(out) = function else {
        return Ok(None);
    };
    let config = returned(out.configuration(), "GetFunction", "configuration")?;
    let mut tags: BTreeMap<String, String> = out
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let mut code_hash = tags.remove(CODE_HASH_TAG).unwrap_or_default();
    // Code uploaded by anyone else no longer matches the CodeSha256 the tool recorded: say
    // so in place of the hash, which makes plan (and drift) show it, and apply redeploy.
    let uploaded = tags.remove(CODE_SHA_TAG);
    let deployed = config.code_sha256().unwrap_or_default();
    if let Some(uploaded) = uploaded
        && uploaded != deployed
    {
        code_hash = format!("changed outside cruddur-infra (CodeSha256 {deployed})");
    }
    let vpc = vpc_of(config);
    let settled = config.state() != Some(&lambda::State::Pending)
        && config.last_update_status() != Some(&lambda::LastUpdateStatus::InProgress);
    Ok(Some(LiveFunction {
        state: FunctionState {
            code_hash,
            runtime: config
                .runtime()
                .map(|r| r.as_str().to_string())
                .unwrap_or_default(),
            architecture: match config.architectures().first() {
                Some(lambda::Architecture::Arm64) => Architecture::Arm64,
                _ => Architecture::X86_64,
            },
            memory: config.memory_size().unwrap_or(128),
            timeout: config.timeout().unwrap_or(3),
            role: config.role().unwrap_or_default().to_string(),
            environment: variables_of(config),
            vpc,
            reserved_concurrency: out
                .concurrency()
                .and_then(|c| c.reserved_concurrent_executions()),
            log_retention_days: log_group.flatten(),
            tags,
            release: release
                .as_ref()
                .zip(alias)
                .and_then(|(r, alias)| release::state_of(r, alias, owner)),
        },
        arn: returned(config.function_arn(), "GetFunction", "function ARN")?.to_string(),
        log_group_exists: log_group.is_some(),
        settled,
        release,
        alias: alias.map(str::to_string),
    }))
}

/// A function's (or a version's) environment variables.
pub fn variables_of(config: &lambda::FunctionConfiguration) -> BTreeMap<String, String> {
    config
        .environment()
        .and_then(|e| e.variables())
        .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// A function's (or a version's) VPC configuration; `None` when it is in none.
pub fn vpc_of(config: &lambda::FunctionConfiguration) -> Option<VpcState> {
    config
        .vpc_config()
        .filter(|v| !v.subnet_ids().is_empty())
        .map(|v| VpcState {
            subnet_ids: v.subnet_ids().iter().cloned().collect(),
            security_group_ids: v.security_group_ids().iter().cloned().collect(),
        })
}

/// `None`: no log group; `Some(None)`: one whose logs never expire.
async fn read_log_group(aws: &Aws, function: &str) -> anyhow::Result<Option<Option<i32>>> {
    let name = log_group_name(function);
    let request = aws.logs.describe_log_groups().log_group_name_prefix(&name);
    let out = sdk("DescribeLogGroups", request.send().await)?;
    Ok(out
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name.as_str()))
        .map(|g| g.retention_in_days()))
}

pub async fn resolve_vpc(aws: &Aws, spec: Option<&VpcSpec>) -> anyhow::Result<Option<VpcState>> {
    let Some(spec) = spec else {
        return Ok(None);
    };
    let vpc_id = lookup::resolve_vpc(aws, &spec.vpc).await?;
    let (subnet_ids, security_group_ids) = tokio::try_join!(
        lookup::resolve_subnets(aws, &vpc_id, &spec.subnets),
        lookup::resolve_security_groups(aws, &vpc_id, &spec.security_groups)
    )?;
    Ok(Some(VpcState {
        subnet_ids,
        security_group_ids,
    }))
}
