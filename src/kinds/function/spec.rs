//! A `lambda_function` as written in the stack file, and its validation.

use crate::aws::vpc::{MemberChoice, VpcChoice};
use crate::bundle::{self, Architecture};
use crate::kinds::kind::Validate;
use crate::spec::diag::{Diagnostic, Diags};
use crate::spec::fields::{IntRule, NameRules, ValidateCtx, physical_name, template_field};
use crate::spec::network::{self, SECURITY_GROUPS, SUBNETS};
use crate::spec::raw::Spanned;
use crate::spec::raw::{SpannedMap, raw_resource};
use crate::spec::release::{RawRelease, Release};
use crate::spec::template::Template;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `vpc:` of a function: where its network interfaces go.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "VpcConfig")]
pub struct RawVpcConfig {
    /// `default` (the default) or a VPC id.
    #[serde(default)]
    vpc: Option<Spanned<String>>,
    /// Or: the VPC whose tags are these.
    #[serde(default)]
    vpc_tags: Option<SpannedMap<Spanned<String>>>,
    /// Subnet ids (default: all of the VPC's subnets).
    #[serde(default)]
    subnet_ids: Option<Spanned<Vec<Spanned<String>>>>,
    /// Or: the VPC's subnets with these tags.
    #[serde(default)]
    subnet_tags: Option<SpannedMap<Spanned<String>>>,
    /// Security group ids (default: the VPC's `default` group).
    #[serde(default)]
    security_group_ids: Option<Spanned<Vec<Spanned<String>>>>,
    /// Or: the VPC's security groups with these tags.
    #[serde(default)]
    security_group_tags: Option<SpannedMap<Spanned<String>>>,
}

raw_resource! {
    /// A `lambda_function` as written in the stack file.
    #[schemars(rename = "LambdaFunction")]
    pub struct RawFunction {
        /// The function's name (1-64 of letters, digits, `-_`). Required.
        #[schemars(length(min = 1, max = 64))]
        name: Spanned<String>,
        /// The directory of the function's cargo package, relative to the stack file.
        /// Required.
        code: Spanned<String>,
        /// An OS-only runtime (default `provided.al2023`).
        #[schemars(extend("enum" = ["provided.al2023", "provided.al2", null]))]
        runtime: Spanned<String>,
        /// `x86_64` (default) or `arm64`.
        architecture: Spanned<Architecture>,
        /// Memory in MB (default 128).
        #[schemars(range(min = 128, max = 10240))]
        memory: Spanned<i64>,
        /// Timeout in seconds (default 3).
        #[schemars(range(min = 1, max = 900))]
        timeout: Spanned<i64>,
        /// The execution role's ARN, usually `${<role>.arn}`. Required.
        role: Spanned<String>,
        /// Environment variables (references allowed; Lambda's reserved names refused).
        environment: SpannedMap<Spanned<String>>,
        /// Run in a VPC (default: not in a VPC).
        vpc: Spanned<RawVpcConfig>,
        /// Reserved concurrent executions (0 stops the function; none by default).
        #[schemars(range(min = 0, max = 10000))]
        reserved_concurrency: Spanned<i64>,
        /// Days CloudWatch Logs keeps the function's logs (default 14).
        #[schemars(extend("enum" = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653, null]))]
        log_retention_days: Spanned<i64>,
        /// Publish a version for each change and point an alias at it, after a check and
        /// optionally a canary and a bake (default: mappings invoke `$LATEST`).
        release: Spanned<RawRelease>,
    }
}

#[derive(Debug)]
pub struct VpcSpec {
    pub vpc: VpcChoice,
    pub subnets: MemberChoice,
    pub security_groups: MemberChoice,
}

/// A validated `lambda_function`.
#[derive(Debug)]
pub struct Function {
    pub name: String,
    /// The cargo package's directory.
    pub package: PathBuf,
    /// [`bundle::input_hash`] of the package when the file was loaded.
    pub code_hash: String,
    pub runtime: String,
    pub architecture: Architecture,
    pub memory: i32,
    pub timeout: i32,
    pub role: Template,
    pub environment: BTreeMap<String, Template>,
    pub vpc: Option<VpcSpec>,
    pub reserved_concurrency: Option<i32>,
    pub log_retention_days: i32,
    /// Versions and a live alias (see `release.rs`); `None`: `$LATEST` only.
    pub release: Option<Release>,
}

const FUNCTION_NAMES: NameRules = NameRules::letters_digits_and("function", 1..=64, "-_")
    .example("cruddur-stream-processor-${env}");

/// Lambda's limits.
const MEMORY: IntRule = IntRule::range(128..=10240, 128, "memory is in MB, 128 to 10240");
const TIMEOUT: IntRule = IntRule::range(
    1..=900,
    3,
    "timeout is in seconds, at most 900 (15 minutes)",
);
const RESERVED: IntRule = IntRule::range(
    0..=10_000,
    0,
    "0 stops the function; leave it out for no reservation",
);

/// The runtimes a bundled `bootstrap` runs on: the OS-only ones.
const RUNTIMES: &[&str] = &["provided.al2023", "provided.al2"];

const DEFAULT_RUNTIME: &str = "provided.al2023";

/// CloudWatch Logs accepts only these retention periods.
const RETENTION_DAYS: &[i64] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

const DEFAULT_RETENTION_DAYS: i64 = 14;
pub(super) const MAX_ENVIRONMENT_BYTES: usize = 4096;

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

impl Function {
    /// What its bundle is built from.
    pub fn source(&self) -> bundle::Source {
        bundle::Source {
            package: self.package.clone(),
            architecture: self.architecture,
            runtime: self.runtime.clone(),
        }
    }
}

impl Validate<Function> for RawFunction {
    fn validate(self, cx: &ValidateCtx, diags: &mut Diags) -> Option<Function> {
        let raw = self;
        let start = diags.mark();
        let name = physical_name(raw.name(), &FUNCTION_NAMES, cx, diags);
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
        let memory = MEMORY.read(raw.memory(), cx.field("memory"), diags);
        let timeout = TIMEOUT.read(raw.timeout(), cx.field("timeout"), diags);
        let reserved_concurrency = raw
            .reserved_concurrency()
            .map(|r| RESERVED.read(Some(r), cx.field("reserved_concurrency"), diags));
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
        // Lambda's quota: 4 KB for all of a function's variables, names and values
        // together. References count as the text around them (their values come later).
        let environment_size: usize = raw
            .environment()
            .iter()
            .flat_map(|m| m.iter())
            .map(|(key, value)| key.value.len() + value.value.len())
            .sum();
        if environment_size > MAX_ENVIRONMENT_BYTES
            && let Some(map) = raw.environment()
        {
            diags.push(
                Diagnostic::new(
                    &map.0.first().map_or(cx.loc, |(key, _)| key.referenced),
                    cx.field("environment"),
                    format!(
                        "the environment variables take {environment_size} bytes; Lambda allows {MAX_ENVIRONMENT_BYTES} in all"
                    ),
                )
                .hint("Lambda's quota on a function's environment (names and values together); keep large settings in a table or a parameter"),
            );
        }

        let vpc = raw.vpc().map(|v| {
            let r = &v.value;
            let sub = ValidateCtx {
                path: cx.field("vpc"),
                loc: v.referenced,
                ..*cx
            };
            // Lambda's VpcConfig takes at most 16 subnets and 5 security groups.
            for (ids, what, most) in [
                (&r.subnet_ids, "subnet_ids", 16),
                (&r.security_group_ids, "security_group_ids", 5),
            ] {
                if let Some(ids) = ids
                    && ids.value.len() > most
                {
                    diags.push(
                        Diagnostic::new(
                            &ids.referenced,
                            sub.field(what),
                            format!(
                                "{} ids; a function's VPC configuration takes at most {most}",
                                ids.value.len()
                            ),
                        )
                        .hint("Lambda's limit (CreateFunction's VpcConfig)"),
                    );
                }
            }
            VpcSpec {
                vpc: network::vpc_choice(r.vpc.as_ref(), r.vpc_tags.as_ref(), &sub, "", diags),
                subnets: SUBNETS.choice(r.subnet_ids.as_ref(), r.subnet_tags.as_ref(), &sub, diags),
                security_groups: SECURITY_GROUPS.choice(
                    r.security_group_ids.as_ref(),
                    r.security_group_tags.as_ref(),
                    &sub,
                    diags,
                ),
            }
        });

        let release = raw.release().map(|r| r.value.validate(cx, diags));

        diags.clean_since(start)?;
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
            release: release.flatten(),
        })
    }
}
