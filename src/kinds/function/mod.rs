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

mod bake;
mod ops;
mod read;
mod release;
mod spec;
mod state;

pub use ops::LambdaTags;
pub use release::{roll_back, rollback_target};
pub use spec::Function;
pub use state::{FunctionState, LiveFunction, VpcState};

use crate::aws::Aws;
use crate::aws::needs::Need;
use crate::bundle;
use crate::exec::ExecCtx;
use crate::kinds::kind::{Identity, Kind, Live, Needs, Observation, Tags};
use crate::plan::{Action, FieldChange, ResourceChange};
use crate::spec::arn::ArnField;
use crate::spec::release::Release;
use crate::spec::template::{Inputs, Template};
use crate::values::{ArnFormat, Attributes, DeploymentContext};
use async_trait::async_trait;
use read::{read_function, resolve_vpc};
use state::log_group_name;
use std::collections::BTreeMap;

crate::live_of!(LiveFunction, Function, arn);

#[async_trait]
impl Kind for Function {
    const TYPE: &'static str = "lambda_function";
    /// `live_arn`: what mappings invoke, its alias's ARN with `release:` (else `arn`).
    const ATTRIBUTES: &'static [&'static str] = &["name", "arn", "live_arn", "log_group"];
    const ARN: ArnFormat = ArnFormat::regional("lambda", "function", "function:");
    const NEEDS: &'static [&'static [Need]] = &[
        ops::NEEDS,
        release::NEEDS,
        bake::NEEDS,
        crate::aws::lookup::NEEDS,
    ];
    const LISTED_BY_TAG: bool = true;
    /// Its role, and what its environment names.
    const USES: &'static [&'static str] = &[
        "iam_role",
        "vpc_gateway_endpoint",
        "dynamodb_table",
        "sqs_queue",
    ];
    type Raw = spec::RawFunction;
    type State = FunctionState;
    type Live = LiveFunction;
    /// The subnets and security groups its VPC config chooses (`None`: no VPC).
    type Resolved = Option<VpcState>;

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

    /// Its role must exist (Lambda looks it up; a role it cannot use yet is waited out in
    /// `ops.rs`); its environment holds only values.
    fn needs(&self, template: &Template) -> Needs {
        match std::ptr::eq(template, &self.role) {
            true => Needs::Made,
            false => Needs::Values,
        }
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

    async fn read(&self, aws: &Aws, me: &Identity<'_>) -> anyhow::Result<Observation<Self>> {
        let (live, resolved) = tokio::try_join!(
            read_function(aws, &self.name, self.alias(), me.owner),
            resolve_vpc(aws, self.vpc.as_ref())
        )?;
        Ok(Observation { live, resolved })
    }

    async fn read_named(
        aws: &Aws,
        name: &str,
        _owner: &str,
    ) -> anyhow::Result<Option<LiveFunction>> {
        read_function(aws, name, None, _owner).await
    }

    fn planned_attributes(
        &self,
        _resolved: &Option<VpcState>,
        context: Option<&DeploymentContext>,
    ) -> Attributes {
        let arn = context.map(|c| Self::ARN.of(c, &self.name));
        BTreeMap::from([
            ("log_group", Some(log_group_name(&self.name))),
            ("name", Some(self.name.clone())),
            (
                "live_arn",
                arn.as_deref().map(|a| live_arn(a, self.alias())),
            ),
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
            release: self.release.as_ref().map(release::desired),
        }
    }

    /// The version the alias should point at, from what Lambda holds (see `release.rs`).
    fn reconcile(&self, desired: &mut FunctionState, live: &LiveFunction) {
        release::reconcile(desired, live);
    }

    fn release(&self) -> Option<&Release> {
        self.release.as_ref()
    }

    /// An alias of the name the file gives, made by someone else, is not taken over.
    fn update_blocker(&self, desired: &FunctionState, live: &LiveFunction) -> Option<String> {
        release::taken(live, desired)
    }

    fn attributes_after_update(live: &LiveFunction, desired: &FunctionState) -> Attributes {
        let mut attributes = live.attributes();
        let alias = desired.release.as_ref().map(|r| r.alias.as_str());
        attributes.insert("live_arn", Some(live_arn(&live.arn, alias)));
        attributes
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

    /// Everything about a function changes in place.
    fn note(&self, change: &FieldChange, _live: &LiveFunction) -> Option<String> {
        let note = match change.path.key(0).unwrap_or_default() {
            "code_hash" => {
                "the sources, Cargo.lock or target changed: the function is rebuilt and its code uploaded"
            }
            "architecture" => "the code is rebuilt for it and uploaded",
            "vpc" => "Lambda moves the function's network interfaces; it can take minutes",
            "release" => return self.release.as_ref().and_then(|r| release_note(r, change)),
            _ => return None,
        };
        Some(note.into())
    }

    fn arns(&self, at: &DeploymentContext) -> Vec<(&'static str, String)> {
        let log_group = LOG_GROUP.of(at, &log_group_name(&self.name));
        let function = Self::ARN.of(at, &self.name);
        vec![
            // Its versions and aliases: `…:function:NAME:7`, `…:function:NAME:live`.
            ("function", format!("{function}:*")),
            ("function", function),
            // Log groups' own actions name the group; some are checked on its streams' form.
            ("log-group", format!("{log_group}:*")),
            ("log-group", log_group),
        ]
    }

    fn any_arns(at: &DeploymentContext) -> Vec<(&'static str, String)> {
        vec![
            ("function", Self::ARN.of(at, "*")),
            ("log-group", LOG_GROUP.of(at, &log_group_name("*"))),
        ]
    }

    #[cfg(test)]
    fn applied(&self, desired: FunctionState, _resolved: &Option<VpcState>) -> LiveFunction {
        LiveFunction {
            state: desired,
            arn: Self::ARN.of(&DeploymentContext::example(), &self.name),
            log_group_exists: true,
            settled: true,
            release: None,
            alias: self.alias().map(str::to_string),
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

#[async_trait]
impl Live for LiveFunction {
    fn attributes(&self) -> Attributes {
        let name = self.physical_id();
        BTreeMap::from([
            ("log_group", Some(log_group_name(&name))),
            ("name", Some(name)),
            ("live_arn", Some(live_arn(&self.arn, self.alias.as_deref()))),
            ("arn", Some(self.arn.clone())),
        ])
    }

    fn settled(&self) -> bool {
        self.settled
    }

    async fn settle(&self, cx: &ExecCtx<'_>) -> anyhow::Result<()> {
        ops::wait_settled(cx, &self.physical_id()).await
    }

    async fn delete(&self, cx: &ExecCtx<'_>) -> anyhow::Result<()> {
        ops::delete_function(cx, &self.physical_id(), self).await
    }
}

impl Function {
    /// The alias its mappings invoke, with `release:`.
    pub fn alias(&self) -> Option<&str> {
        self.release.as_ref().map(|r| r.alias.as_str())
    }
}

/// What mappings invoke: the alias's ARN, or the function's.
fn live_arn(arn: &str, alias: Option<&str>) -> String {
    match alias {
        Some(alias) => format!("{arn}:{alias}"),
        None => arn.to_string(),
    }
}

/// What a change of the release does, as plan says it (once: on the alias when the
/// release is new, else on the version).
fn release_note(release: &Release, change: &FieldChange) -> Option<String> {
    let alias = &release.alias;
    let checked = match &release.check {
        Some(check) => format!("checked with {}, then", check.file),
        None => "with no check (`release.check` names none), then".into(),
    };
    let canary = release.canary.map_or(String::new(), |c| {
        format!(
            " after a canary of {}% for {}s",
            c.weight,
            c.duration.as_secs()
        )
    });
    let bake = match release.bake.as_secs() {
        0 => String::new(),
        s => format!(
            "; baked {s}s watching the function's alarms, and moved back if one goes to ALARM"
        ),
    };
    let new = change.before.is_null();
    Some(match change.path.key(1) {
        Some("version") if new => return None,
        Some("version") => format!(
            "the version is published (or found, when $LATEST is it already), {checked} alias {alias} moves to it{canary}{bake}"
        ),
        Some("canary") => "the canary an interrupted release left is ended".into(),
        _ => format!(
            "the function's version is published, {checked} alias {alias} is made for it (what its mappings invoke)"
        ),
    })
}

/// How the ARN of its log group is written.
const LOG_GROUP: ArnFormat = ArnFormat::regional("logs", "log-group", "log-group:");
