//! `lambda_function`: a Rust function built from a cargo package, bundled as `bootstrap`
//! for an OS-only runtime, with its configuration, optional VPC config and reserved
//! concurrency, and its CloudWatch log group with a retention period.
//!
//! Whether the code changed is decided without building: the hash of the package's build
//! inputs ([`bundle::input_hash`]) is compared with the one tagged on the deployed function.
//! Everything changes in place. Lambda refuses a change while another is still being
//! applied, so each step waits for `LastUpdateStatus` to settle; creation retries while a
//! new role is not yet usable by Lambda (IAM propagates in seconds, not at once).
//!
//! `spec.rs` is the stack-file form, `state.rs` the comparable state, `read.rs` the reads,
//! `ops.rs` the changes; this file is the kind's planning rules.

mod ops;
mod read;
mod spec;
mod state;

pub use ops::LambdaTags;
pub use spec::Function;
pub use state::{FunctionState, LiveFunction, VpcState};

use crate::aws::Aws;
use crate::aws::needs::Need;
use crate::bundle;
use crate::exec::ExecCtx;
use crate::kinds::kind::{Discovery, Identity, Kind, Live, Observation, Tags};
use crate::kinds::tagged;
use crate::plan::{Action, FieldChange, ResourceChange};
use crate::spec::arn::ArnField;
use crate::spec::diag::Diags;
use crate::spec::fields::ValidateCtx;
use crate::spec::template::{Inputs, Template};
use crate::values::{Attributes, DeploymentContext};
use async_trait::async_trait;
use read::{read_function, resolve_vpc};
use state::log_group_name;
use std::collections::BTreeMap;

#[async_trait]
impl Kind for Function {
    const TYPE: &'static str = "lambda_function";
    const ATTRIBUTES: &'static [&'static str] = &["name", "arn", "log_group"];
    const ARN_SAMPLES: &'static [(&'static str, &'static str)] = &[(
        "arn",
        "arn:aws:lambda:us-east-1:123456789012:function:sample",
    )];
    type Raw = spec::RawFunction;
    type State = FunctionState;
    type Live = LiveFunction;
    /// The subnets and security groups its VPC config chooses (`None`: no VPC).
    type Resolved = Option<VpcState>;

    fn validate(raw: spec::RawFunction, cx: &ValidateCtx, diags: &mut Diags) -> Option<Function> {
        Function::validate_raw(raw, cx, diags)
    }

    fn arn_fields(&self) -> Vec<ArnField<'_>> {
        vec![ArnField {
            template: &self.role,
            accepts: &[("iam", "role")],
            hint: "an IAM role's ARN, e.g. ${processor_role.arn}",
        }]
    }

    fn templates(&self) -> Vec<&Template> {
        std::iter::once(&self.role)
            .chain(self.environment.values())
            .collect()
    }

    fn known_name(&self) -> Option<String> {
        Some(self.name.clone())
    }

    fn bundle_source(&self) -> Option<bundle::Source> {
        Some(self.source())
    }

    fn rebuilds(&self, change: &ResourceChange) -> bool {
        match change.action {
            Action::Create | Action::Replace => true,
            Action::Update | Action::Adopt => change.changes.iter().any(|c| {
                matches!(
                    c.path.key(0).unwrap_or_default(),
                    "code_hash" | "architecture"
                )
            }),
            Action::NoOp | Action::Delete | Action::Conflict => false,
        }
    }

    async fn read(&self, aws: &Aws, _me: &Identity<'_>) -> anyhow::Result<Observation<Self>> {
        let (live, resolved) = tokio::try_join!(
            read_function(aws, &self.name),
            resolve_vpc(aws, self.vpc.as_ref())
        )?;
        Ok(Observation { live, resolved })
    }

    async fn discover(aws: &Aws, find: &Discovery<'_>) -> anyhow::Result<Vec<LiveFunction>> {
        let owner = find.owner;
        tagged::read_each(
            aws,
            "lambda:function",
            owner,
            find.skip,
            name_of,
            |name| async move { read_function(aws, &name).await },
        )
        .await
    }

    fn planned_id(&self, _resolved: &Option<VpcState>) -> String {
        self.name.clone()
    }

    fn planned_attributes(
        &self,
        _resolved: &Option<VpcState>,
        context: Option<&DeploymentContext>,
    ) -> Attributes {
        let arn = context.map(|c| function_arn(c, &self.name));
        BTreeMap::from([
            ("log_group", Some(log_group_name(&self.name))),
            ("name", Some(self.name.clone())),
            ("arn", arn),
        ])
    }

    fn desired(&self, resolved: &Option<VpcState>, inputs: &Inputs, tags: Tags) -> FunctionState {
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
            vpc: resolved.clone(),
            reserved_concurrency: self.reserved_concurrency,
            log_retention_days: Some(self.log_retention_days),
            tags,
        }
    }

    fn replacement_reasons(&self, _desired: &FunctionState, _live: &LiveFunction) -> Vec<String> {
        // Everything about a function changes in place.
        Vec::new()
    }

    /// Load time counts a reference as the text around it; here its value is known.
    fn refused(&self, desired: &FunctionState) -> Option<String> {
        let size: usize = desired
            .environment
            .iter()
            .map(|(key, value)| key.len() + value.len())
            .sum();
        (size > spec::MAX_ENVIRONMENT_BYTES).then(|| {
            format!(
                "its environment variables take {size} bytes once references are filled in, \
                 and Lambda allows {} in all; keep large settings in a table or a parameter",
                spec::MAX_ENVIRONMENT_BYTES
            )
        })
    }

    fn annotate(&self, change: &mut FieldChange, _live: &LiveFunction) {
        match change.path.key(0).unwrap_or_default() {
            "code_hash" => {
                change.note = Some(
                    "the sources, Cargo.lock or target changed: the function is rebuilt and its code uploaded"
                        .into(),
                )
            }
            "architecture" => change.note = Some("the code is rebuilt for it and uploaded".into()),
            "vpc" => {
                change.note = Some(
                    "Lambda moves the function's network interfaces; it can take minutes".into(),
                )
            }
            _ => {}
        }
    }

    fn needs() -> Vec<Need> {
        [ops::NEEDS, crate::aws::lookup::NEEDS].concat()
    }

    fn arns(&self, at: &DeploymentContext) -> Vec<(&'static str, String)> {
        let log_group = log_group_arn(at, &self.name);
        vec![
            ("function", function_arn(at, &self.name)),
            // Log groups' own actions name the group; some are checked on its streams' form.
            ("log-group", format!("{log_group}:*")),
            ("log-group", log_group),
        ]
    }

    fn any_arns(at: &DeploymentContext) -> Vec<(&'static str, String)> {
        vec![
            ("function", function_arn(at, "*")),
            ("log-group", log_group_arn(at, "*")),
        ]
    }

    async fn create(
        &self,
        cx: &ExecCtx<'_>,
        desired: &FunctionState,
    ) -> anyhow::Result<LiveFunction> {
        ops::create(self, cx, desired).await
    }

    async fn update(
        &self,
        cx: &ExecCtx<'_>,
        live: &LiveFunction,
        desired: &FunctionState,
    ) -> anyhow::Result<LiveFunction> {
        ops::update(self, cx, live, desired).await
    }

    #[cfg(test)]
    fn applied(&self, desired: FunctionState, _resolved: &Option<VpcState>) -> LiveFunction {
        LiveFunction {
            state: desired,
            arn: format!(
                "arn:aws:lambda:us-east-1:123456789012:function:{}",
                self.name
            ),
            log_group_exists: true,
            settled: true,
        }
    }

    #[cfg(test)]
    fn resolved_for_tests(&self) -> Option<VpcState> {
        self.vpc.as_ref().map(|_| VpcState {
            subnet_ids: std::collections::BTreeSet::from([
                "subnet-0a1b2c3d".into(),
                "subnet-1a2b3c4d".into(),
            ]),
            security_group_ids: std::collections::BTreeSet::from(["sg-0a1b2c3d".into()]),
        })
    }
}

/// The function's name from its ARN (`arn:aws:lambda:<region>:<account>:function:<name>`).
fn name_of(arn: &str) -> String {
    arn.rsplit(':').next().unwrap_or_default().to_string()
}

#[async_trait]
impl Live for LiveFunction {
    fn kind(&self) -> &'static str {
        Function::TYPE
    }

    fn physical_id(&self) -> String {
        name_of(&self.arn)
    }

    fn tags(&self) -> &Tags {
        &self.state.tags
    }

    fn attributes(&self) -> Attributes {
        let name = name_of(&self.arn);
        BTreeMap::from([
            ("log_group", Some(log_group_name(&name))),
            ("name", Some(name)),
            ("arn", Some(self.arn.clone())),
        ])
    }

    fn state_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).unwrap_or_default()
    }

    fn delete_order(&self) -> u8 {
        20
    }

    async fn delete(&self, cx: &ExecCtx<'_>) -> anyhow::Result<()> {
        ops::delete_function(cx, &name_of(&self.arn), self).await
    }

    #[cfg(test)]
    fn tags_mut(&mut self) -> &mut Tags {
        &mut self.state.tags
    }
}

/// The ARN of the log group of function `name` (`*`: every function's).
fn log_group_arn(at: &DeploymentContext, function: &str) -> String {
    at.arn(
        "logs",
        true,
        &format!("log-group:{}", log_group_name(function)),
    )
}

/// The ARN of function `name` (`*`: every function).
fn function_arn(at: &DeploymentContext, name: &str) -> String {
    at.arn("lambda", true, &format!("function:{name}"))
}
