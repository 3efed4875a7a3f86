//! `lambda_function`: a Rust function built from a cargo package, bundled as `bootstrap`
//! for an OS-only runtime, with its configuration, optional VPC config and reserved
//! concurrency, and its CloudWatch log group with a retention period.
//!
//! Whether the code changed is decided without building: the hash of the package's build
//! inputs ([`bundle::input_hash`]) is compared with the one tagged on the deployed function.
//! Everything changes in place. Lambda refuses a change while another is still being
//! applied, so each step waits for `LastUpdateStatus` to settle; creation retries while a
//! new role is not yet usable by Lambda (IAM propagates in seconds, not at once).

use super::vpc::{self, MemberChoice, VpcChoice};
use super::{Attributes, ExecCtx, Identity, Inputs, Kind, ValidateCtx, int_field, template_field};
use crate::aws::{Aws, describe_error, error_code, sdk};
use crate::bundle::{self, Architecture, CODE_HASH_TAG, CODE_SHA_TAG};
use crate::plan::FieldChange;
use crate::spec::diag::{Diagnostic, Diags};
use crate::spec::raw::{SpannedMap, raw_resource};
use crate::spec::template::{Template, UNKNOWN};
use crate::tags::same_owner;
use crate::wait::{self, Check};
use anyhow::{Context, bail};
use async_trait::async_trait;
use aws_sdk_lambda::types as lambda;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::OnceLock;

/// `vpc:` of a function: where its network interfaces go.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVpcConfig {
    #[serde(default)]
    vpc: Option<Spanned<String>>,
    #[serde(default)]
    vpc_tags: Option<SpannedMap<Spanned<String>>>,
    #[serde(default)]
    subnet_ids: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    subnet_tags: Option<SpannedMap<Spanned<String>>>,
    #[serde(default)]
    security_group_ids: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    security_group_tags: Option<SpannedMap<Spanned<String>>>,
}

raw_resource! {
    /// A `lambda_function` as written in the stack file.
    pub struct RawFunction {
        name: Spanned<String>,
        code: Spanned<String>,
        runtime: Spanned<String>,
        architecture: Spanned<Architecture>,
        memory: Spanned<i64>,
        timeout: Spanned<i64>,
        role: Spanned<String>,
        environment: SpannedMap<Spanned<String>>,
        vpc: Spanned<RawVpcConfig>,
        reserved_concurrency: Spanned<i64>,
        log_retention_days: Spanned<i64>,
    }
}

#[derive(Debug)]
struct VpcSpec {
    vpc: VpcChoice,
    subnets: MemberChoice,
    security_groups: MemberChoice,
}

/// A validated `lambda_function`.
#[derive(Debug)]
pub struct Function {
    name: String,
    /// The cargo package's directory.
    package: PathBuf,
    /// [`bundle::input_hash`] of the package when the file was loaded.
    code_hash: String,
    runtime: String,
    architecture: Architecture,
    memory: i32,
    timeout: i32,
    role: Template,
    environment: BTreeMap<String, Template>,
    vpc: Option<VpcSpec>,
    reserved_concurrency: Option<i32>,
    log_retention_days: i32,
    /// The VPC config's subnets and security groups, resolved when the stack is observed.
    resolved_vpc: OnceLock<Option<VpcState>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VpcState {
    pub subnet_ids: BTreeSet<String>,
    pub security_group_ids: BTreeSet<String>,
}

/// The comparable form of a function (and its log group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionState {
    /// The build-input hash the deployed code was built from (from its tag).
    pub code_hash: String,
    pub runtime: String,
    pub architecture: Architecture,
    pub memory: i32,
    pub timeout: i32,
    pub role: String,
    pub environment: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc: Option<VpcState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved_concurrency: Option<i32>,
    /// `None`: no log group, or one whose logs never expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_retention_days: Option<i32>,
    /// Everything but the code hash tag, which is `code_hash` above.
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug)]
pub struct LiveFunction {
    state: FunctionState,
    arn: String,
    log_group_exists: bool,
    /// False while Lambda is still creating it or applying an update.
    settled: bool,
}

const FUNCTION_NAMES: super::NameRules = super::NameRules {
    what: "function",
    example: "cruddur-stream-processor-${env}",
    valid: |s| {
        (1..=64).contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    },
    rules: "1-64 characters: letters, digits, `-` and `_`",
};

/// The runtimes a bundled `bootstrap` runs on: the OS-only ones.
const RUNTIMES: &[&str] = &["provided.al2023", "provided.al2"];
const DEFAULT_RUNTIME: &str = "provided.al2023";
/// CloudWatch Logs accepts only these retention periods.
const RETENTION_DAYS: &[i64] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];
const DEFAULT_RETENTION_DAYS: i64 = 14;
/// Set by Lambda itself; a function cannot define them.
const RESERVED_VARIABLES: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

fn log_group_name(function: &str) -> String {
    format!("/aws/lambda/{function}")
}

impl Function {
    fn validate_raw(raw: RawFunction, cx: &ValidateCtx, diags: &mut Diags) -> Option<Function> {
        let errors_before = diags.error_count();
        let name = super::physical_name(raw.name(), &FUNCTION_NAMES, cx, diags);
        let architecture = raw.architecture().map_or(Architecture::X86_64, |a| a.value);

        let (package, code_hash) = match raw.code() {
            None => {
                diags.push(
                    Diagnostic::new(&cx.loc, cx.field("code"), "missing field `code`").hint(
                        "the directory of the function's cargo package, relative to the stack file, e.g. `code: lambda`",
                    ),
                );
                (PathBuf::new(), String::new())
            }
            Some(code) => {
                let package = cx.base_dir.join(&code.value);
                match bundle::input_hash(&package, architecture) {
                    Ok(hash) => (package, hash),
                    Err(e) => {
                        diags.push(
                            Diagnostic::new(&code.referenced, cx.field("code"), format!("{e:#}"))
                                .hint("`code` is the directory of a cargo package (with its Cargo.toml), relative to the stack file"),
                        );
                        (package, String::new())
                    }
                }
            }
        };

        let runtime = match raw.runtime() {
            Some(r) if !RUNTIMES.contains(&r.value.as_str()) => {
                diags.push(
                    Diagnostic::new(
                        &r.referenced,
                        cx.field("runtime"),
                        format!("runtime `{}` cannot run a bundled Rust executable", r.value),
                    )
                    .hint(format!("use one of: {}", RUNTIMES.join(", "))),
                );
                String::new()
            }
            Some(r) => r.value.clone(),
            None => DEFAULT_RUNTIME.to_string(),
        };
        let memory = int_field(
            raw.memory(),
            128,
            |v| (128..=10240).contains(&v),
            "128-10240",
            cx.field("memory"),
            "memory is in MB, 128 to 10240",
            diags,
        );
        let timeout = int_field(
            raw.timeout(),
            3,
            |v| (1..=900).contains(&v),
            "1-900",
            cx.field("timeout"),
            "timeout is in seconds, at most 900 (15 minutes)",
            diags,
        );
        let reserved_concurrency = raw.reserved_concurrency().map(|r| {
            int_field(
                Some(r),
                0,
                |v| (0..=10_000).contains(&v),
                "0-10000",
                cx.field("reserved_concurrency"),
                "0 stops the function; leave it out for no reservation",
                diags,
            )
        });
        let log_retention_days = match raw.log_retention_days() {
            Some(d) if !RETENTION_DAYS.contains(&d.value) => {
                diags.push(
                    Diagnostic::new(
                        &d.referenced,
                        cx.field("log_retention_days"),
                        format!(
                            "CloudWatch Logs does not offer a retention of {} days",
                            d.value
                        ),
                    )
                    .hint(format!(
                        "one of: {}",
                        RETENTION_DAYS
                            .iter()
                            .map(i64::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                );
                DEFAULT_RETENTION_DAYS
            }
            Some(d) => d.value,
            None => DEFAULT_RETENTION_DAYS,
        };

        let role = match raw.role() {
            None => {
                diags.push(
                    Diagnostic::new(&cx.loc, cx.field("role"), "missing field `role`")
                        .hint("the execution role's ARN, usually a reference: `role: ${processor_role.arn}`"),
                );
                None
            }
            Some(r) => template_field(r, cx, cx.field("role"), diags),
        };

        let mut environment = BTreeMap::new();
        for (key, value) in raw.environment().iter().flat_map(|m| m.iter()) {
            let field = format!("{}.environment.{}", cx.path, key.value);
            let well_formed = key.value.len() >= 2
                && key.value.starts_with(|c: char| c.is_ascii_alphabetic())
                && key
                    .value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !well_formed {
                diags.push(
                    Diagnostic::new(
                        &key.referenced,
                        &field,
                        format!("invalid environment variable name `{}`", key.value),
                    )
                    .hint("a letter, then letters, digits and `_` (at least two characters)"),
                );
            } else if RESERVED_VARIABLES.contains(&key.value.as_str()) {
                diags.push(
                    Diagnostic::new(
                        &key.referenced,
                        &field,
                        format!("`{}` is set by Lambda itself", key.value),
                    )
                    .hint("Lambda reserves it; pick another name"),
                );
            }
            if let Some(t) = template_field(value, cx, field, diags) {
                environment.insert(key.value.clone(), t);
            }
        }

        let vpc = raw.vpc().map(|v| {
            let r = &v.value;
            let sub = ValidateCtx {
                path: cx.field("vpc"),
                loc: v.referenced,
                ..*cx
            };
            VpcSpec {
                vpc: vpc::vpc_choice(r.vpc.as_ref(), r.vpc_tags.as_ref(), &sub, "", diags),
                subnets: vpc::member_choice(
                    r.subnet_ids.as_ref(),
                    r.subnet_tags.as_ref(),
                    "subnet",
                    "subnet-",
                    &sub,
                    diags,
                ),
                security_groups: vpc::member_choice(
                    r.security_group_ids.as_ref(),
                    r.security_group_tags.as_ref(),
                    "security_group",
                    "sg-",
                    &sub,
                    diags,
                ),
            }
        });

        if diags.error_count() > errors_before {
            return None;
        }
        Some(Function {
            name: name?,
            package,
            code_hash,
            runtime,
            architecture,
            memory: memory as i32,
            timeout: timeout as i32,
            role: role?,
            environment,
            vpc,
            reserved_concurrency: reserved_concurrency.map(|r| r as i32),
            log_retention_days: log_retention_days as i32,
            resolved_vpc: OnceLock::new(),
        })
    }

    async fn resolve_vpc(&self, aws: &Aws) -> anyhow::Result<Option<VpcState>> {
        let Some(spec) = &self.vpc else {
            return Ok(None);
        };
        let vpc_id = vpc::resolve_vpc(aws, &spec.vpc).await?;
        let (subnet_ids, security_group_ids) = tokio::try_join!(
            vpc::resolve_subnets(aws, &vpc_id, &spec.subnets),
            vpc::resolve_security_groups(aws, &vpc_id, &spec.security_groups)
        )?;
        Ok(Some(VpcState {
            subnet_ids,
            security_group_ids,
        }))
    }

    /// Builds and bundles the function; returns the zip and the input hash it was built
    /// from (recomputed now: the files may have changed since plan).
    async fn build(&self, cx: &ExecCtx<'_>) -> anyhow::Result<(bundle::Bundle, String)> {
        let hash = bundle::input_hash(&self.package, self.architecture)?;
        cx.tracker.status(format!(
            "building {} (cargo build --release)",
            self.package.display()
        ));
        let bundle = bundle::build(&self.package, self.architecture, &self.runtime)
            .await
            .with_context(|| format!("building {}", self.package.display()))?;
        tracing::debug!(
            zip = %bundle.zip_path.display(),
            bytes = bundle.zip.len(),
            code_sha256 = %bundle.code_sha256,
            "bundled"
        );
        Ok((bundle, hash))
    }

    async fn read_back(&self, cx: &ExecCtx<'_>) -> anyhow::Result<LiveFunction> {
        cx.tracker.status("reading the result");
        read_function(cx.aws, &self.name).await?.with_context(|| {
            format!(
                "function {} disappeared while it was being changed",
                self.name
            )
        })
    }
}

#[async_trait]
impl Kind for Function {
    const TYPE: &'static str = "lambda_function";
    const ATTRIBUTES: &'static [&'static str] = &["name", "arn", "log_group"];
    type Raw = RawFunction;
    type State = FunctionState;
    type Live = LiveFunction;

    fn validate(raw: RawFunction, cx: &ValidateCtx, diags: &mut Diags) -> Option<Function> {
        Function::validate_raw(raw, cx, diags)
    }

    fn known_name(&self) -> Option<String> {
        Some(self.name.clone())
    }

    fn bundle_source(&self) -> Option<bundle::Source> {
        Some(bundle::Source {
            package: self.package.clone(),
            architecture: self.architecture,
            runtime: self.runtime.clone(),
        })
    }

    fn physical_id(&self, _live: Option<&LiveFunction>) -> String {
        self.name.clone()
    }

    fn templates(&self) -> Vec<&Template> {
        std::iter::once(&self.role)
            .chain(self.environment.values())
            .collect()
    }

    async fn read(&self, aws: &Aws, _me: &Identity<'_>) -> anyhow::Result<Option<LiveFunction>> {
        let (live, vpc) = tokio::try_join!(read_function(aws, &self.name), self.resolve_vpc(aws))?;
        let _ = self.resolved_vpc.set(vpc);
        Ok(live)
    }

    fn state(live: &LiveFunction) -> &FunctionState {
        &live.state
    }

    fn tags(state: &FunctionState) -> &BTreeMap<String, String> {
        &state.tags
    }

    fn attributes(live: &LiveFunction) -> Attributes {
        let name = live.arn.rsplit(':').next().unwrap_or_default().to_string();
        BTreeMap::from([
            ("log_group", Some(log_group_name(&name))),
            ("name", Some(name)),
            ("arn", Some(live.arn.clone())),
        ])
    }

    fn desired(&self, inputs: &Inputs, tags: BTreeMap<String, String>) -> FunctionState {
        FunctionState {
            code_hash: self.code_hash.clone(),
            runtime: self.runtime.clone(),
            architecture: self.architecture,
            memory: self.memory,
            timeout: self.timeout,
            role: inputs.render(&self.role),
            environment: self
                .environment
                .iter()
                .map(|(k, v)| (k.clone(), inputs.render(v)))
                .collect(),
            vpc: match self.resolved_vpc.get() {
                Some(resolved) => resolved.clone(),
                // Only before the stack was observed; never executed like this.
                None => self.vpc.as_ref().map(|_| VpcState {
                    subnet_ids: BTreeSet::from([UNKNOWN.to_string()]),
                    security_group_ids: BTreeSet::from([UNKNOWN.to_string()]),
                }),
            },
            reserved_concurrency: self.reserved_concurrency,
            log_retention_days: Some(self.log_retention_days),
            tags,
        }
    }

    fn replacement_reasons(&self, _desired: &FunctionState, _live: &LiveFunction) -> Vec<String> {
        // Everything about a function changes in place.
        Vec::new()
    }

    fn annotate(&self, change: &mut FieldChange, _live: &LiveFunction) {
        match change.field.as_str() {
            "code_hash" => {
                change.note = Some(
                    "the sources, Cargo.lock or target changed: the function is rebuilt and its code uploaded"
                        .into(),
                )
            }
            "architecture" => change.note = Some("the code is rebuilt for it and uploaded".into()),
            f if f.starts_with("vpc") => {
                change.note = Some(
                    "Lambda moves the function's network interfaces; it can take minutes".into(),
                )
            }
            _ => {}
        }
    }

    async fn create(
        &self,
        cx: &ExecCtx<'_>,
        desired: &FunctionState,
    ) -> anyhow::Result<LiveFunction> {
        let (bundle, hash) = self.build(cx).await?;
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
        wait::until(cx, "creating the function", || async {
            match request.clone().send().await {
                Ok(_) => Ok(Check::Done(())),
                Err(e) if role_not_ready(&e) => {
                    tracing::debug!(error = %describe_error("CreateFunction", &e), "retrying");
                    Ok(Check::Waiting(
                        "the new role is not usable by Lambda yet (IAM propagation)".into(),
                    ))
                }
                // Made by this create whose answer was lost (the SDK sent it again): carry
                // on with it.
                Err(e) if error_code(&e) == Some("ResourceConflictException") => {
                    match read_function(cx.aws, &self.name).await? {
                        Some(live) if same_owner(&desired.tags, &live.state.tags) => {
                            Ok(Check::Done(()))
                        }
                        _ => bail!(
                            "{}; it is not this stack's: someone created it since plan ran (run plan again)",
                            describe_error("CreateFunction", &e)
                        ),
                    }
                }
                Err(e) => bail!(describe_error("CreateFunction", &e)),
            }
        })
        .await?;
        wait_settled(cx, &self.name).await?;
        if let Some(reserved) = desired.reserved_concurrency {
            set_concurrency(cx, &self.name, Some(reserved)).await?;
        }
        self.read_back(cx).await
    }

    async fn update(
        &self,
        cx: &ExecCtx<'_>,
        live: &LiveFunction,
        desired: &FunctionState,
    ) -> anyhow::Result<LiveFunction> {
        let before = &live.state;
        let name = self.name.as_str();
        if !live.settled {
            wait_settled(cx, name).await?;
        }
        sync_tags(cx, &live.arn, &before.tags, &desired.tags)
            .await
            .context("updating the function's tags")?;
        if configuration_differs(before, desired) {
            update_configuration(cx, name, desired)
                .await
                .context("updating the function's configuration")?;
        }
        if before.code_hash != desired.code_hash || before.architecture != desired.architecture {
            let (bundle, hash) = self.build(cx).await?;
            let code_sha256 = bundle.code_sha256.clone();
            cx.tracker.status("uploading the code");
            let request = cx
                .aws
                .lambda
                .update_function_code()
                .function_name(name)
                .zip_file(aws_sdk_lambda::primitives::Blob::new(bundle.zip))
                .architectures(sdk_architecture(desired.architecture));
            retry_while_updating(cx, "UpdateFunctionCode", || request.clone().send()).await?;
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
        if before.reserved_concurrency != desired.reserved_concurrency {
            set_concurrency(cx, name, desired.reserved_concurrency).await?;
        }
        if !live.log_group_exists || before.log_retention_days != desired.log_retention_days {
            ensure_log_group(cx, name, live.log_group_exists, desired).await?;
        }
        self.read_back(cx).await
    }

    async fn delete(&self, cx: &ExecCtx<'_>, live: &LiveFunction) -> anyhow::Result<()> {
        delete_function(cx, &self.name, live).await
    }

    const DELETE_ORDER: u8 = 20;

    async fn discover(
        aws: &Aws,
        owner: &str,
        skip: &BTreeSet<String>,
    ) -> anyhow::Result<Vec<LiveFunction>> {
        let arns = super::orphan::tagged_arns(aws, "lambda:function", owner).await?;
        let names = arns
            .iter()
            .map(|arn| arn.rsplit(':').next().unwrap_or_default().to_string())
            .filter(|name| !skip.contains(name));
        let functions = futures::future::try_join_all(
            names.map(|name| async move { read_function(aws, &name).await }),
        )
        .await?;
        Ok(functions.into_iter().flatten().collect())
    }

    async fn delete_orphan(cx: &ExecCtx<'_>, live: &LiveFunction) -> anyhow::Result<()> {
        let name = live.arn.rsplit(':').next().unwrap_or_default().to_string();
        delete_function(cx, &name, live).await
    }
}

/// Deletes the function, then its log group: a torn-down environment keeps nothing that
/// costs money.
async fn delete_function(cx: &ExecCtx<'_>, name: &str, live: &LiveFunction) -> anyhow::Result<()> {
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
        Err(e) if error_code(&e) == Some("ResourceNotFoundException") => {}
        Err(e) => bail!(describe_error("DeleteFunction", &e)),
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
        Err(e) if error_code(&e) == Some("ResourceNotFoundException") => Ok(()),
        Err(e) => bail!(describe_error("DeleteLogGroup", &e)),
    }
}

// ---------------------------------------------------------------------------------------
// Reading.

async fn read_function(aws: &Aws, name: &str) -> anyhow::Result<Option<LiveFunction>> {
    let function = async {
        match aws.lambda.get_function().function_name(name).send().await {
            Ok(out) => Ok(Some(out)),
            Err(e) if error_code(&e) == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => bail!(describe_error("GetFunction", &e)),
        }
    };
    let (function, log_group) = tokio::try_join!(function, read_log_group(aws, name))?;
    let Some(out) = function else {
        return Ok(None);
    };
    let config = out
        .configuration()
        .context("GetFunction returned no configuration")?;
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
    let vpc = config
        .vpc_config()
        .filter(|v| !v.subnet_ids().is_empty())
        .map(|v| VpcState {
            subnet_ids: v.subnet_ids().iter().cloned().collect(),
            security_group_ids: v.security_group_ids().iter().cloned().collect(),
        });
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
            environment: config
                .environment()
                .and_then(|e| e.variables())
                .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            vpc,
            reserved_concurrency: out
                .concurrency()
                .and_then(|c| c.reserved_concurrent_executions()),
            log_retention_days: log_group.flatten(),
            tags,
        },
        arn: config
            .function_arn()
            .context("GetFunction returned no function ARN")?
            .to_string(),
        log_group_exists: log_group.is_some(),
        settled,
    }))
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

// ---------------------------------------------------------------------------------------
// Changing.

/// The "role cannot be assumed" family of errors a new role gives for a few seconds, until
/// IAM has propagated it (and its policies) to Lambda.
fn role_not_ready<E, R>(e: &aws_sdk_lambda::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_lambda::error::ProvideErrorMetadata,
{
    let Some(service) = e.as_service_error() else {
        return false;
    };
    service.code() == Some("InvalidParameterValueException")
        && service.message().is_some_and(|m| {
            m.contains("cannot be assumed by Lambda")
                || m.contains("does not have permissions to call")
        })
}

fn configuration_differs(before: &FunctionState, after: &FunctionState) -> bool {
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
    cx.tracker.status("updating the configuration");
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
    retry_while_updating(cx, "UpdateFunctionConfiguration", || request.clone().send()).await?;
    wait_settled(cx, name).await
}

/// Sends a function update, waiting out ResourceConflictException (another update of the
/// function still in progress, by us or anyone) and a role not yet propagated.
async fn retry_while_updating<T, E, F, Fut>(
    cx: &ExecCtx<'_>,
    operation: &str,
    send: F,
) -> anyhow::Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<
            Output = Result<
                T,
                aws_sdk_lambda::error::SdkError<E, aws_sdk_lambda::config::http::HttpResponse>,
            >,
        >,
    E: aws_sdk_lambda::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    wait::until(cx, &format!("sending {operation}"), || async {
        match send().await {
            Ok(_) => Ok(Check::Done(())),
            Err(e) if error_code(&e) == Some("ResourceConflictException") => {
                Ok(Check::Waiting("another update is in progress".into()))
            }
            Err(e) if role_not_ready(&e) => Ok(Check::Waiting(
                "the role is not usable by Lambda yet (IAM propagation)".into(),
            )),
            Err(e) => bail!(describe_error(operation, &e)),
        }
    })
    .await
}

/// Waits until the function is Active and no update is in progress; a failed create or
/// update is an error with Lambda's reason.
async fn wait_settled(cx: &ExecCtx<'_>, name: &str) -> anyhow::Result<()> {
    let aws = cx.aws;
    wait::until(
        cx,
        "waiting for Lambda to apply the change",
        move || async move {
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
                (Some(lambda::State::Pending), _) => Check::Waiting("Pending".into()),
                (_, Some(lambda::LastUpdateStatus::InProgress)) => {
                    Check::Waiting("update InProgress".into())
                }
                _ => Check::Done(()),
            })
        },
    )
    .await
}

async fn set_concurrency(
    cx: &ExecCtx<'_>,
    name: &str,
    reserved: Option<i32>,
) -> anyhow::Result<()> {
    match reserved {
        Some(n) => {
            cx.tracker.status(format!("reserving concurrency {n}"));
            let request = cx
                .aws
                .lambda
                .put_function_concurrency()
                .function_name(name)
                .reserved_concurrent_executions(n);
            sdk("PutFunctionConcurrency", request.send().await)?;
        }
        None => {
            cx.tracker.status("removing the concurrency reservation");
            let request = cx
                .aws
                .lambda
                .delete_function_concurrency()
                .function_name(name);
            sdk("DeleteFunctionConcurrency", request.send().await)?;
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
            Err(e) if error_code(&e) == Some("ResourceAlreadyExistsException") => {}
            Err(e) => bail!(describe_error("CreateLogGroup", &e)),
        }
    }
    if let Some(days) = desired.log_retention_days {
        cx.tracker.status(format!("keeping logs {days} days"));
        let request = cx
            .aws
            .logs
            .put_retention_policy()
            .log_group_name(&name)
            .retention_in_days(days);
        sdk("PutRetentionPolicy", request.send().await)?;
    }
    Ok(())
}

/// Lambda's tag API is the same for functions and event source mappings.
pub(super) async fn sync_tags(
    cx: &ExecCtx<'_>,
    arn: &str,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let (set, removed) = crate::tags::changes(before, after);
    if !set.is_empty() {
        cx.tracker.status("tagging");
        let mut request = cx.aws.lambda.tag_resource().resource(arn);
        for (k, v) in set {
            request = request.tags(k, v);
        }
        sdk("TagResource", request.send().await)?;
    }
    if !removed.is_empty() {
        cx.tracker.status("removing tags");
        let request = cx
            .aws
            .lambda
            .untag_resource()
            .resource(arn)
            .set_tag_keys(Some(removed));
        sdk("UntagResource", request.send().await)?;
    }
    Ok(())
}

fn sdk_architecture(a: Architecture) -> lambda::Architecture {
    match a {
        Architecture::X86_64 => lambda::Architecture::X8664,
        Architecture::Arm64 => lambda::Architecture::Arm64,
    }
}

fn sdk_environment(variables: &BTreeMap<String, String>) -> lambda::Environment {
    lambda::Environment::builder()
        .set_variables(Some(variables.clone().into_iter().collect()))
        .build()
}

fn sdk_vpc(vpc: &VpcState) -> lambda::VpcConfig {
    lambda::VpcConfig::builder()
        .set_subnet_ids(Some(vpc.subnet_ids.iter().cloned().collect()))
        .set_security_group_ids(Some(vpc.security_group_ids.iter().cloned().collect()))
        .build()
}
