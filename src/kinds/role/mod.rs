//! `iam_role`: an IAM role with its trust policy, inline policies (compact statements in the
//! stack file, compared semantically with what IAM returns), managed policy attachments,
//! path, description, maximum session duration, permissions boundary and tags.
//!
//! Everything changes in place except the path (IAM cannot move a role): that is a
//! replacement. Inline policies and attachments not in the file are removed from the role,
//! so one attached out of band shows up in plan.

mod ops;
mod spec;

pub use spec::Role;

use crate::aws::Aws;
use crate::aws::needs::Need;
use crate::exec::ExecCtx;
use crate::kinds::kind::{Discovery, Identity, Kind, Live, Observation, Tags};
use crate::plan::FieldChange;
use crate::policy::{self, Statement};
use crate::spec::diag::Diags;
use crate::spec::fields::ValidateCtx;
use crate::spec::policy::StatementSpec;
use crate::spec::template::{Inputs, Template};
use crate::values::{Attributes, DeploymentContext};
use async_trait::async_trait;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The comparable form of a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleState {
    pub path: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub max_session_duration: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<String>,
    pub trust_policy: Vec<Statement>,
    pub managed_policies: BTreeSet<String>,
    pub policies: BTreeMap<String, Vec<Statement>>,
    pub tags: Tags,
}

#[derive(Debug)]
pub struct LiveRole {
    pub state: RoleState,
    pub arn: String,
}

#[async_trait]
impl Kind for Role {
    const TYPE: &'static str = "iam_role";
    const ATTRIBUTES: &'static [&'static str] = &["name", "arn"];
    const ARN_SAMPLES: &'static [(&'static str, &'static str)] =
        &[("arn", "arn:aws:iam::123456789012:role/sample")];
    type Raw = spec::RawRole;
    type State = RoleState;
    type Live = LiveRole;
    type Resolved = ();

    fn validate(raw: spec::RawRole, cx: &ValidateCtx, diags: &mut Diags) -> Option<Role> {
        Role::validate_raw(raw, cx, diags)
    }

    fn policies(&self) -> Vec<&StatementSpec> {
        self.policies.values().flatten().collect()
    }

    fn templates(&self) -> Vec<&Template> {
        self.permissions_boundary
            .iter()
            .chain(&self.managed_policies)
            .chain(
                self.policies
                    .values()
                    .flatten()
                    .flat_map(StatementSpec::templates),
            )
            .collect()
    }

    fn known_name(&self) -> Option<String> {
        Some(self.name.clone())
    }

    async fn read(&self, aws: &Aws, _me: &Identity<'_>) -> anyhow::Result<Observation<Self>> {
        Ok(Observation {
            live: ops::read_role(aws, &self.name, &self.policy_names()).await?,
            resolved: (),
        })
    }

    /// IAM is not in the tagging API: the roles the stack's index names (or, deep, every
    /// role of the account).
    async fn discover(aws: &Aws, find: &Discovery<'_>) -> anyhow::Result<Vec<LiveRole>> {
        match find.deep {
            true => ops::discover_deep(aws, find.owner, find.skip).await,
            false => ops::discover_indexed(aws, find.owner, find.skip).await,
        }
    }

    fn index_key(&self, _desired: &RoleState) -> Option<String> {
        Some(self.name.clone())
    }

    fn planned_id(&self, _resolved: &()) -> String {
        self.name.clone()
    }

    fn planned_attributes(
        &self,
        _resolved: &(),
        context: Option<&DeploymentContext>,
    ) -> Attributes {
        let arn = context.map(|c| role_arn(c, &self.path, &self.name));
        BTreeMap::from([("name", Some(self.name.clone())), ("arn", arn)])
    }

    fn desired(&self, _resolved: &(), inputs: &Inputs, tags: Tags) -> RoleState {
        let render = |t: &Template| inputs.render(t);
        RoleState {
            path: self.path.clone(),
            description: self.description.clone(),
            max_session_duration: self.max_session_duration,
            permissions_boundary: self.permissions_boundary.as_ref().map(render),
            trust_policy: self.trust_policy(),
            managed_policies: self.managed_policies.iter().map(render).collect(),
            policies: self
                .policies
                .iter()
                .map(|(name, statements)| {
                    let rendered = statements.iter().map(|s| s.render(&render, None)).collect();
                    (name.clone(), policy::sorted(rendered))
                })
                .collect(),
            tags,
        }
    }

    fn replacement_reasons(&self, desired: &RoleState, live: &LiveRole) -> Vec<String> {
        if desired.path != live.state.path {
            vec![format!(
                "the path changes ({} → {}); IAM cannot move a role",
                live.state.path, desired.path
            )]
        } else {
            Vec::new()
        }
    }

    /// The inline policies' total size is known only once the ARNs they name are.
    fn refused(&self, desired: &RoleState) -> Option<String> {
        let total: usize = desired
            .policies
            .values()
            .map(|statements| policy::iam_size(statements))
            .sum();
        (total > policy::ROLE_INLINE_POLICIES_MAX).then(|| {
            format!(
                "its inline policies hold {total} characters together (white space not \
                 counted) and IAM allows {} per role; split the role, or move statements \
                 into a managed policy",
                policy::ROLE_INLINE_POLICIES_MAX
            )
        })
    }

    fn annotate(&self, change: &mut FieldChange, _live: &LiveRole) {
        if change.path.key(0) == Some("path") {
            change.forces_replacement = true;
        } else if change.path.key(0) == Some("managed_policies") && change.removed() {
            change.note =
                Some("attached to the role but not in the stack file: it is detached".into());
        }
    }

    fn needs() -> Vec<Need> {
        ops::NEEDS.to_vec()
    }

    fn arns(&self, at: &DeploymentContext) -> Vec<(&'static str, String)> {
        vec![("role", role_arn(at, &self.path, &self.name))]
    }

    fn any_arns(at: &DeploymentContext) -> Vec<(&'static str, String)> {
        vec![("role", role_arn(at, "/", "*"))]
    }

    async fn create(&self, cx: &ExecCtx<'_>, desired: &RoleState) -> anyhow::Result<LiveRole> {
        ops::create(cx, &self.name, desired).await
    }

    async fn update(
        &self,
        cx: &ExecCtx<'_>,
        live: &LiveRole,
        desired: &RoleState,
    ) -> anyhow::Result<LiveRole> {
        ops::update(cx, &self.name, live, desired).await
    }

    #[cfg(test)]
    fn applied(&self, desired: RoleState, _resolved: &()) -> LiveRole {
        LiveRole {
            arn: format!(
                "arn:aws:iam::123456789012:role{}{}",
                desired.path, self.name
            ),
            state: desired,
        }
    }

    #[cfg(test)]
    fn resolved_for_tests(&self) {}
}

/// The role's name from its ARN (`arn:aws:iam::<account>:role/<path>/<name>`).
fn name_of(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or_default().to_string()
}

#[async_trait]
impl Live for LiveRole {
    fn kind(&self) -> &'static str {
        Role::TYPE
    }

    fn physical_id(&self) -> String {
        name_of(&self.arn)
    }

    fn index_key(&self) -> Option<String> {
        Some(self.physical_id())
    }

    fn tags(&self) -> &Tags {
        &self.state.tags
    }

    fn attributes(&self) -> Attributes {
        BTreeMap::from([
            ("name", Some(name_of(&self.arn))),
            ("arn", Some(self.arn.clone())),
        ])
    }

    fn state_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).unwrap_or_default()
    }

    fn delete_order(&self) -> u8 {
        40
    }

    async fn delete(&self, cx: &ExecCtx<'_>) -> anyhow::Result<()> {
        ops::delete_role(cx, &name_of(&self.arn), self).await
    }

    #[cfg(test)]
    fn tags_mut(&mut self) -> &mut Tags {
        &mut self.state.tags
    }
}

/// The ARN of role `name` under `path` (`*`: every role under it).
fn role_arn(at: &DeploymentContext, path: &str, name: &str) -> String {
    at.arn("iam", false, &format!("role{path}{name}"))
}
