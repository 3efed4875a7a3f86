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
use crate::kinds::kind::{Discovery, Identity, Kind, Live, Needs, Observation, Tags};
use crate::plan::FieldChange;
use crate::policy::{self, Statement};
use crate::spec::policy::StatementSpec;
use crate::spec::template::{Inputs, Template};
use crate::values::ArnFormat;
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

crate::live_of!(LiveRole, Role, arn);

#[async_trait]
impl Kind for Role {
    const TYPE: &'static str = "iam_role";
    const ATTRIBUTES: &'static [&'static str] = &["name", "arn"];
    const ARN: ArnFormat = ArnFormat::global_pathed("iam", "role", "role/");
    const NEEDS: &'static [&'static [Need]] = &[ops::NEEDS];
    /// What its policies name.
    const USES: &'static [&'static str] = &["dynamodb_table", "sqs_queue"];
    type Raw = spec::RawRole;
    type State = RoleState;
    type Live = LiveRole;
    type Resolved = ();

    fn policies(&self) -> Vec<&StatementSpec> {
        self.policies.values().flatten().collect()
    }

    /// IAM stores a policy's resources without looking at them.
    fn needs(&self, _template: &Template) -> Needs {
        Needs::Values
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

    /// Its path (without the leading `/`), then its name.
    fn arn_name(&self) -> Option<String> {
        Some(self.path_and_name())
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

    fn replaces(&self, change: &FieldChange, live: &LiveRole) -> Option<String> {
        (change.path.key(0) == Some("path")).then(|| {
            format!(
                "the path changes ({} → {}); IAM cannot move a role",
                live.state.path, self.path
            )
        })
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

    fn note(&self, change: &FieldChange, _live: &LiveRole) -> Option<String> {
        (change.path.key(0) == Some("managed_policies") && change.removed())
            .then(|| "attached to the role but not in the stack file: it is detached".into())
    }

    #[cfg(test)]
    fn applied(&self, desired: RoleState, _resolved: &()) -> LiveRole {
        LiveRole {
            arn: Self::ARN.of(
                &crate::values::DeploymentContext::example(),
                &self.path_and_name(),
            ),
            state: desired,
        }
    }
}

#[async_trait]
impl Live for LiveRole {
    fn index_key(&self) -> Option<String> {
        Some(self.physical_id())
    }

    async fn delete(&self, cx: &ExecCtx<'_>) -> anyhow::Result<()> {
        ops::delete_role(cx, &self.physical_id(), self).await
    }
}

impl Role {
    /// What its ARN names after `role/`: its path (without the leading `/`) and name.
    fn path_and_name(&self) -> String {
        format!("{}{}", self.path.trim_start_matches('/'), self.name)
    }
}
