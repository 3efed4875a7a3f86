//! `permissions`: the IAM policy the deployer itself needs for one stack and environment
//! (see `engine::permissions`), on stdout as JSON, ready for `aws iam put-role-policy`.

use super::common;
use crate::aws::AwsFlags;
use crate::aws::client::chosen_region;
use crate::cli::{Global, PermissionsFor};
use crate::engine::permissions::{self, Scope};
use crate::policy::{ROLE_INLINE_POLICIES_MAX, iam_size};
use crate::values::DeploymentContext;
use anyhow::Context;
use std::process::ExitCode;

pub async fn run(
    g: &Global,
    scope: PermissionsFor,
    account: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let stack = common::load(g)?;
    let at = match account {
        Some(account) => offline_context(g, &stack, account)?,
        None => {
            let aws = common::connect(g, &stack).await?;
            aws.deployment_context()
                .await
                .map_err(|e| aws.explain(e))
                .context("finding the account the policy's ARNs name (or pass --account ID)")?
        }
    };
    let scope = match scope {
        PermissionsFor::All => Scope::Everything,
        PermissionsFor::Plan => Scope::Plan,
    };
    let statements = permissions::policy(&stack, &at, scope, &[crate::redrive::NEEDS]);
    println!("{}", permissions::document(&statements));
    let size = iam_size(&statements);
    if size > ROLE_INLINE_POLICIES_MAX {
        eprintln!(
            "warning: the policy is {size} characters; a role's inline policies may hold {ROLE_INLINE_POLICIES_MAX} together: split it into managed policies (6144 each)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The account and region without asking AWS: the region from --region or the file.
fn offline_context(
    g: &Global,
    stack: &crate::kinds::Stack,
    account: &str,
) -> anyhow::Result<DeploymentContext> {
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        anyhow::bail!("--account {account:?}: an AWS account id is 12 digits");
    }
    let flags = AwsFlags {
        region: g.region.clone(),
        ..AwsFlags::default()
    };
    let Some(region) = chosen_region(&stack.env.settings(), &flags) else {
        anyhow::bail!(
            "environment {} names no region: pass --region (the policy's ARNs name it)",
            stack.env.name
        );
    };
    let partition = match region.as_str() {
        r if r.starts_with("cn-") => "aws-cn",
        r if r.starts_with("us-gov-") => "aws-us-gov",
        _ => "aws",
    };
    Ok(DeploymentContext {
        account_id: account.to_string(),
        region,
        partition: partition.to_string(),
    })
}
