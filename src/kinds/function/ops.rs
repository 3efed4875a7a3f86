//! Changing a function: building and uploading its code, its configuration and
//! concurrency, its log group, and deleting both; every step waits for Lambda to settle.

use super::read::read_function;
use super::release::{self, LiveRelease};
use super::spec::Function;
use super::state::{
    FunctionState, LiveFunction, log_group_name, sdk_architecture, sdk_environment, sdk_vpc,
};
use crate::aws::needs::Need;
use crate::aws::{answered, describe_error, sdk};
use crate::bundle::{self, CODE_HASH_TAG, CODE_SHA_TAG};
use crate::exec::ExecCtx;
use crate::kinds::kind::{Changes, Made};
use crate::prebuild;
use crate::spec::release::Release;
use crate::tags::STACK_TAG;
use crate::tags::same_owner;
use crate::wait::{Check, Service::Lambda, propagating, until};
use anyhow::{Context, bail};
use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::operation::create_log_group::CreateLogGroupError;
use aws_sdk_cloudwatchlogs::operation::delete_log_group::DeleteLogGroupError;
use aws_sdk_lambda::operation::create_function::CreateFunctionError;
use aws_sdk_lambda::operation::delete_function::DeleteFunctionError;
use aws_sdk_lambda::operation::publish_version::PublishVersionError;
use aws_sdk_lambda::operation::update_function_code::UpdateFunctionCodeError;
use aws_sdk_lambda::operation::update_function_configuration::UpdateFunctionConfigurationError;
use aws_sdk_lambda::types as lambda;
use std::sync::Mutex;

/// The IAM actions a function's code calls (`read.rs` and this file); see
/// `crate::aws::needs`.
pub const NEEDS: &[Need] = &[
    // TagResource is also what a CreateFunction that carries tags needs.
    Need::on(
        "function",
        "read: lambda:GetFunction lambda:GetFunctionConfiguration lambda:ListTags; create: lambda:CreateFunction; change: lambda:UpdateFunctionCode lambda:UpdateFunctionConfiguration lambda:PutFunctionConcurrency lambda:DeleteFunctionConcurrency lambda:TagResource lambda:UntagResource; delete: lambda:DeleteFunction",
    ),
    // CreateFunction and UpdateFunctionConfiguration hand the function its role.
    Need::on("role", "change: iam:PassRole").when(PASSED_TO_LAMBDA),
    // Its log group, made with the retention the file asks for (TagResource is what a
    // CreateLogGroup that carries tags needs besides), and deleted with it.
    Need::anywhere("read: logs:DescribeLogGroups"),
    Need::on(
        "log-group",
        "create: logs:CreateLogGroup; change: logs:TagResource logs:PutRetentionPolicy; delete: logs:DeleteLogGroup",
    ),
];

/// A role is handed only to Lambda.
const PASSED_TO_LAMBDA: crate::aws::needs::Condition = (
    "StringEquals",
    "iam:PassedToService",
    &["lambda.amazonaws.com"],
);

/// The function's bundle and the input hash it was built from: the build started with the
/// change (see `prebuild`), or, if none was, one built now (the hash taken now: the files
/// may have changed since plan).
async fn build(function: &Function, cx: &ExecCtx<'_>) -> anyhow::Result<(bundle::Bundle, String)> {
    let source = function.source();
    let built = match cx.prebuilds.take(&source) {
        Some((step, task)) => {
            cx.tracker.status(format!(
                "waiting for the {step} that started with the change"
            ));
            task.await.context("the build stopped")?
        }
        None => {
            cx.tracker.status(format!(
                "building {} (cargo build --release)",
                function.package.display()
            ));
            prebuild::build(&source).await
        }
    };
    let (bundle, hash) =
        built.with_context(|| format!("building {}", function.package.display()))?;
    tracing::debug!(
        zip = %bundle.zip_path.display(),
        bytes = bundle.zip.len(),
        code_sha256 = %bundle.code_sha256,
        "bundled"
    );
    Ok((bundle, hash))
}

/// What a release of `desired` needs to know.
fn rollout<'a>(
    name: &'a str,
    release: &'a Release,
    live: Option<&'a LiveRelease>,
    desired: &'a FunctionState,
) -> release::Rollout<'a> {
    release::Rollout {
        name,
        release,
        live,
        owner: desired.tags.get(STACK_TAG).map_or("", String::as_str),
        built_from: &desired.code_hash,
        role: &desired.role,
    }
}

async fn read_back(
    cx: &ExecCtx<'_>,
    name: &str,
    alias: Option<&str>,
    desired: &FunctionState,
) -> anyhow::Result<LiveFunction> {
    cx.tracker.status("reading the result");
    let owner = desired.tags.get(STACK_TAG).map_or("", String::as_str);
    // The alias is as the release left it: only its name is needed (for `live_arn`).
    let mut live = read_function(cx.aws, name, None, owner)
        .await?
        .with_context(|| format!("function {name} disappeared while it was being changed"))?;
    live.alias = alias.map(str::to_string);
    Ok(live)
}

/// Deletes the function, then its log group: a torn-down environment keeps nothing that
/// costs money.
pub async fn delete_function(
    cx: &ExecCtx<'_>,
    name: &str,
    live: &LiveFunction,
) -> anyhow::Result<()> {
    if !live.settled {
        wait_settled(cx, name).await?;
    }
    cx.tracker.status("deleting function");
    match cx
        .aws
        .lambda
        .delete_function()
        .function_name(name)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if answered(&e, DeleteFunctionError::is_resource_not_found_exception) => {}
        Err(e) => return Err(crate::aws::errors::error("DeleteFunction", &e)),
    }
    // Its logs go with it: a torn-down environment leaves nothing that costs money.
    cx.tracker.status("deleting the log group");
    match cx
        .aws
        .logs
        .delete_log_group()
        .log_group_name(log_group_name(name))
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if answered(&e, DeleteLogGroupError::is_resource_not_found_exception) => Ok(()),
        Err(e) => Err(crate::aws::errors::error("DeleteLogGroup", &e)),
    }
}

/// What Lambda refuses only for now, by an update's or a create's typed error: another
/// change of the function in progress, or a role (or its policies) not yet usable by Lambda.
pub(super) trait NotYet {
    /// ResourceConflictException: https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html
    /// ("The following operations fail while function creation is pending ...
    /// UpdateFunctionCode, UpdateFunctionConfiguration"; the same while an update is
    /// InProgress).
    fn in_progress(&self) -> bool;
    /// The message of an InvalidParameterValueException.
    fn invalid_parameter(&self) -> Option<&str>;
}

macro_rules! not_yet {
    ($($error:ty),*) => {$(
        impl NotYet for $error {
            fn in_progress(&self) -> bool {
                self.is_resource_conflict_exception()
            }
            fn invalid_parameter(&self) -> Option<&str> {
                match self.is_invalid_parameter_value_exception() {
                    true => aws_sdk_lambda::error::ProvideErrorMetadata::message(self),
                    false => None,
                }
            }
        }
    )*};
}

not_yet!(
    CreateFunctionError,
    UpdateFunctionCodeError,
    UpdateFunctionConfigurationError,
    PublishVersionError
);

/// The role Lambda is given cannot be used by it yet: a new role, or one whose policies
/// changed, reaches Lambda seconds after IAM accepted it (IAM is eventually consistent:
/// https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency).
/// Lambda then answers InvalidParameterValueException, "The role defined for the function
/// cannot be assumed by Lambda.", or, for a function in a VPC, "The provided execution role
/// does not have permissions to call CreateNetworkInterface on EC2".
fn role_not_ready<E: NotYet, R>(e: &aws_sdk_lambda::error::SdkError<E, R>) -> bool {
    e.as_service_error()
        .and_then(NotYet::invalid_parameter)
        .is_some_and(|m| {
            m.contains("cannot be assumed by Lambda")
                || m.contains("does not have permissions to call")
        })
}

/// How progress says that Lambda waits for a role to propagate.
const ROLE_PROPAGATING: &str = "IAM has not yet propagated the role or its policies to Lambda";

/// Whether an UpdateFunctionConfiguration is needed: what a version freezes, but the code.
pub(super) fn configuration_differs(before: &FunctionState, after: &FunctionState) -> bool {
    before.runtime != after.runtime
        || before.memory != after.memory
        || before.timeout != after.timeout
        || before.role != after.role
        || before.environment != after.environment
        || before.vpc != after.vpc
}

async fn update_configuration(
    cx: &ExecCtx<'_>,
    name: &str,
    desired: &FunctionState,
) -> anyhow::Result<()> {
    let vpc = desired.vpc.as_ref().map_or_else(
        // Empty lists take the function out of its VPC.
        || {
            lambda::VpcConfig::builder()
                .set_subnet_ids(Some(Vec::new()))
                .set_security_group_ids(Some(Vec::new()))
                .build()
        },
        sdk_vpc,
    );
    let request = cx
        .aws
        .lambda
        .update_function_configuration()
        .function_name(name)
        .runtime(lambda::Runtime::from(desired.runtime.as_str()))
        .role(&desired.role)
        .memory_size(desired.memory)
        .timeout(desired.timeout)
        .environment(sdk_environment(&desired.environment))
        .vpc_config(vpc);
    let doing = "updating the configuration";
    retry_while_updating(cx, doing, "UpdateFunctionConfiguration", || {
        request.clone().send()
    })
    .await?;
    wait_settled(cx, name).await
}

/// Shows `doing` and sends a function update, waiting out ResourceConflictException (another
/// update of the function still in progress, by us or anyone) and a role not yet propagated.
pub(super) async fn retry_while_updating<T, E, F, Fut>(
    cx: &ExecCtx<'_>,
    doing: &str,
    operation: &str,
    send: F,
) -> anyhow::Result<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<
            Output = Result<
                T,
                aws_sdk_lambda::error::SdkError<E, aws_sdk_lambda::config::http::HttpResponse>,
            >,
        >,
    E: NotYet
        + aws_sdk_lambda::error::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
{
    cx.tracker.status(doing);
    let refused = Mutex::new(None);
    until(cx.wait(doing, Lambda), || async {
        match send().await {
            Ok(out) => Ok(Check::Done(out)),
            Err(e) if answered(&e, E::in_progress) => Ok(Check::Waiting(
                "Lambda is still applying an earlier change".into(),
            )),
            Err(e) if role_not_ready(&e) => {
                propagating(&refused, || crate::aws::errors::error(operation, &e))?;
                Ok(Check::Waiting(ROLE_PROPAGATING.into()))
            }
            Err(e) => Err(crate::aws::errors::error(operation, &e)),
        }
    })
    .await
}

/// Waits until the function is Active and no update is in progress; a failed create or
/// update is an error with Lambda's reason (as AWS's FunctionActiveV2 and FunctionUpdatedV2
/// waiters judge it).
pub async fn wait_settled(cx: &ExecCtx<'_>, name: &str) -> anyhow::Result<()> {
    let aws = cx.aws;
    let doing = "waiting for Lambda to apply the change";
    until(cx.wait(doing, Lambda), move || async move {
        let request = aws.lambda.get_function_configuration().function_name(name);
        let config = sdk("GetFunctionConfiguration", request.send().await)?;
        if config.state() == Some(&lambda::State::Failed) {
            bail!(
                "the function failed to become active: {}",
                config.state_reason().unwrap_or("no reason given")
            );
        }
        if config.last_update_status() == Some(&lambda::LastUpdateStatus::Failed) {
            bail!(
                "Lambda could not apply the update: {}",
                config
                    .last_update_status_reason()
                    .unwrap_or("no reason given")
            );
        }
        Ok(match (config.state(), config.last_update_status()) {
            (Some(lambda::State::Pending), _) => {
                Check::Waiting("Pending: Lambda is setting the function up".into())
            }
            (_, Some(lambda::LastUpdateStatus::InProgress)) => {
                Check::Waiting("update InProgress".into())
            }
            _ => Check::Done(()),
        })
    })
    .await
}

async fn set_concurrency(
    cx: &ExecCtx<'_>,
    name: &str,
    reserved: Option<i32>,
) -> anyhow::Result<()> {
    match reserved {
        Some(n) => {
            let request = cx
                .aws
                .lambda
                .put_function_concurrency()
                .function_name(name)
                .reserved_concurrent_executions(n);
            let doing = format!("reserving concurrency {n}");
            cx.send(doing, "PutFunctionConcurrency", request.send())
                .await?;
        }
        None => {
            let request = cx
                .aws
                .lambda
                .delete_function_concurrency()
                .function_name(name);
            let doing = "removing the concurrency reservation";
            cx.send(doing, "DeleteFunctionConcurrency", request.send())
                .await?;
        }
    }
    Ok(())
}

/// Creates the function's log group (tagged as ours) unless it exists, and sets its
/// retention.
async fn ensure_log_group(
    cx: &ExecCtx<'_>,
    function: &str,
    exists: bool,
    desired: &FunctionState,
) -> anyhow::Result<()> {
    let name = log_group_name(function);
    if !exists {
        cx.tracker.status("creating the log group");
        let request = cx
            .aws
            .logs
            .create_log_group()
            .log_group_name(&name)
            .set_tags(Some(desired.tags.clone().into_iter().collect()));
        match request.send().await {
            Ok(_) => {}
            // Lambda makes it itself on the first invocation; then it is simply there.
            Err(e)
                if answered(
                    &e,
                    CreateLogGroupError::is_resource_already_exists_exception,
                ) => {}
            Err(e) => return Err(crate::aws::errors::error("CreateLogGroup", &e)),
        }
    }
    if let Some(days) = desired.log_retention_days {
        let request = cx
            .aws
            .logs
            .put_retention_policy()
            .log_group_name(&name)
            .retention_in_days(days);
        let doing = format!("keeping logs {days} days");
        cx.send(doing, "PutRetentionPolicy", request.send()).await?;
    }
    Ok(())
}

crate::tag_api!(
    /// Lambda's tagging API, by ARN: the same for functions and event source mappings.
    LambdaTags,
    |aws, arn, tags| aws.lambda.tag_resource().resource(arn).set_tags(Some(tags.clone().into_iter().collect())) => "TagResource",
    |aws, arn, keys| aws.lambda.untag_resource().resource(arn).set_tag_keys(Some(keys.to_vec())) => "UntagResource",
);

#[async_trait]
impl Changes for Function {
    /// Builds the code, creates the log group and then the function (tagged as ours, with the
    /// hash of what it was built from), retrying while a new role is not usable by Lambda.
    async fn create(&self, cx: &ExecCtx<'_>, desired: &Self::State) -> Made<Self> {
        let (bundle, hash) = build(self, cx).await?;
        // The log group first, so the first invocation already logs under its retention.
        ensure_log_group(cx, &self.name, false, desired).await?;
        let mut tags = desired.tags.clone();
        tags.insert(CODE_HASH_TAG.to_string(), hash);
        tags.insert(CODE_SHA_TAG.to_string(), bundle.code_sha256.clone());
        let mut request = cx
            .aws
            .lambda
            .create_function()
            .function_name(&self.name)
            .runtime(lambda::Runtime::from(desired.runtime.as_str()))
            .role(&desired.role)
            .handler("bootstrap")
            .code(
                lambda::FunctionCode::builder()
                    .zip_file(aws_sdk_lambda::primitives::Blob::new(bundle.zip))
                    .build(),
            )
            .memory_size(desired.memory)
            .timeout(desired.timeout)
            .architectures(sdk_architecture(desired.architecture))
            .environment(sdk_environment(&desired.environment))
            .set_tags(Some(tags.into_iter().collect()));
        if let Some(vpc) = &desired.vpc {
            request = request.vpc_config(sdk_vpc(vpc));
        }
        cx.tracker.status("creating function");
        let refused = Mutex::new(None);
        until(cx.wait("creating the function", Lambda), || async {
            match request.clone().send().await {
                Ok(_) => Ok(Check::Done(())),
                Err(e) if role_not_ready(&e) => {
                    tracing::debug!(error = %describe_error("CreateFunction", &e), "retrying");
                    propagating(&refused, || {
                        crate::aws::errors::error("CreateFunction", &e)
                            .context(format!("the role {} is not usable by Lambda: does it exist, and trust lambda.amazonaws.com?", desired.role))
                    })?;
                    Ok(Check::Waiting(ROLE_PROPAGATING.into()))
                }
                // Made by this create whose answer was lost (the SDK sent it again): carry
                // on with it.
                Err(e) if answered(&e, CreateFunctionError::is_resource_conflict_exception) => {
                    match read_function(cx.aws, &self.name, None, "").await? {
                        Some(live) if same_owner(&desired.tags, &live.state.tags) => {
                            Ok(Check::Done(()))
                        }
                        _ => bail!(
                            "{}; it is not this stack's: someone created it since plan ran (run plan again)",
                            describe_error("CreateFunction", &e)
                        ),
                    }
                }
                Err(e) => Err(crate::aws::errors::error("CreateFunction", &e)),
            }
        })
        .await?;
        wait_settled(cx, &self.name).await?;
        if let Some(reserved) = desired.reserved_concurrency {
            set_concurrency(cx, &self.name, Some(reserved)).await?;
        }
        if let Some(release) = &self.release {
            release::roll_out(cx, rollout(&self.name, release, None, desired)).await?;
        }
        read_back(cx, &self.name, self.alias(), desired).await
    }

    /// Changes the function in place: tags, configuration, code (rebuilt), concurrency, logs.
    async fn update(&self, cx: &ExecCtx<'_>, live: &Self::Live, to: &Self::State) -> Made<Self> {
        let before = &live.state;
        let name = self.name.as_str();
        if !live.settled {
            wait_settled(cx, name).await?;
        }
        crate::tags::sync(cx, &LambdaTags(&live.arn), &before.tags, &to.tags)
            .await
            .context("updating the function's tags")?;
        if configuration_differs(before, to) {
            update_configuration(cx, name, to)
                .await
                .context("updating the function's configuration")?;
        }
        if before.code_hash != to.code_hash || before.architecture != to.architecture {
            let (bundle, hash) = build(self, cx).await?;
            let code_sha256 = bundle.code_sha256.clone();
            let request = cx
                .aws
                .lambda
                .update_function_code()
                .function_name(name)
                .zip_file(aws_sdk_lambda::primitives::Blob::new(bundle.zip))
                .architectures(sdk_architecture(to.architecture));
            let doing = "uploading the code";
            retry_while_updating(cx, doing, "UpdateFunctionCode", || request.clone().send())
                .await?;
            wait_settled(cx, name).await?;
            // Only now: the tag says what the deployed code was built from.
            let request = cx
                .aws
                .lambda
                .tag_resource()
                .resource(&live.arn)
                .tags(CODE_HASH_TAG, hash)
                .tags(CODE_SHA_TAG, code_sha256);
            sdk("TagResource", request.send().await)?;
        }
        if before.reserved_concurrency != to.reserved_concurrency {
            set_concurrency(cx, name, to.reserved_concurrency).await?;
        }
        if !live.log_group_exists || before.log_retention_days != to.log_retention_days {
            ensure_log_group(cx, name, live.log_group_exists, to).await?;
        }
        // Last: the check runs what every step above made.
        if let Some(release) = &self.release
            && before.release != to.release
        {
            release::roll_out(cx, rollout(name, release, live.release.as_ref(), to)).await?;
        }
        read_back(cx, &self.name, self.alias(), to).await
    }
}
