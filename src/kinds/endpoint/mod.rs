//! `vpc_gateway_endpoint`: a gateway VPC endpoint (DynamoDB, or any gateway service) so
//! code in the VPC reaches the service without a NAT.
//!
//! An endpoint has no name of its own: it is found by its ownership tags, so re-applying
//! never makes a second one (and the create carries a client token, so a retried request
//! cannot either). The VPC and route tables are given by id, by tags, or as "the default
//! VPC" / "all its route tables", and resolved when the stack is observed: one that does not
//! exist is an error at plan time. Route tables and the policy change in place; another VPC
//! or service is a replacement.

mod ops;
mod spec;

pub use spec::Endpoint;

use crate::aws::Aws;
use crate::aws::needs::Need;
use crate::exec::ExecCtx;
use crate::kinds::kind::{Discovery, Identity, Kind, Live, Needs, Observation, Tags};
use crate::plan::FieldChange;
use crate::policy::{self, Principal, Statement};
use crate::spec::policy::StatementSpec;
use crate::spec::template::{Inputs, Template};
use crate::values::{ArnFormat, Attributes, DeploymentContext};
use async_trait::async_trait;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What the endpoint's VPC and route-table choices came to in the live account.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    pub vpc_id: String,
    pub service_name: String,
    pub route_table_ids: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndpointState {
    pub vpc_id: String,
    pub service_name: String,
    pub route_table_ids: BTreeSet<String>,
    pub policy: Vec<Statement>,
    pub tags: Tags,
}

#[derive(Debug)]
pub struct LiveEndpoint {
    pub state: EndpointState,
    pub id: String,
    /// Not `available` yet (or any more): wait before changing it.
    pub settled: bool,
}

/// AWS's default gateway endpoint policy: anyone, any action, any resource.
fn full_access() -> Vec<Statement> {
    vec![Statement {
        sid: None,
        effect: "Allow".into(),
        principal: Some(Principal::Anyone("*".into())),
        action: BTreeSet::from(["*".to_string()]),
        not_action: BTreeSet::new(),
        resource: BTreeSet::from(["*".to_string()]),
        not_resource: BTreeSet::new(),
        condition: BTreeMap::new(),
    }]
}

crate::live_of!(LiveEndpoint, Endpoint, id);

#[async_trait]
impl Kind for Endpoint {
    const TYPE: &'static str = "vpc_gateway_endpoint";
    const ATTRIBUTES: &'static [&'static str] = &["id", "vpc_id"];
    const ARN: ArnFormat = ArnFormat::regional("ec2", "vpc-endpoint", "vpc-endpoint/");
    const NEEDS: &'static [&'static [Need]] = &[ops::NEEDS, crate::aws::lookup::NEEDS];
    /// What its policy names.
    const USES: &'static [&'static str] = &["dynamodb_table"];
    type Raw = spec::RawEndpoint;
    type State = EndpointState;
    type Live = LiveEndpoint;
    type Resolved = Resolved;

    fn policies(&self) -> Vec<&StatementSpec> {
        self.policy.iter().flatten().collect()
    }

    /// EC2 stores the endpoint policy's resources without looking at them.
    fn needs(&self, _template: &Template) -> Needs {
        Needs::Values
    }

    fn templates(&self) -> Vec<&Template> {
        self.policy
            .iter()
            .flatten()
            .flat_map(StatementSpec::templates)
            .collect()
    }

    async fn read(&self, aws: &Aws, me: &Identity<'_>) -> anyhow::Result<Observation<Self>> {
        let (live, resolved) = ops::read(self, aws, me).await?;
        Ok(Observation { live, resolved })
    }

    /// EC2 filters by tag itself: one call finds the stack's endpoints.
    async fn discover(aws: &Aws, find: &Discovery<'_>) -> anyhow::Result<Vec<LiveEndpoint>> {
        ops::discover(aws, find.owner).await
    }

    fn planned_id(&self, resolved: &Resolved) -> String {
        format!("{} in {}", resolved.service_name, resolved.vpc_id)
    }

    fn planned_attributes(
        &self,
        resolved: &Resolved,
        _context: Option<&DeploymentContext>,
    ) -> Attributes {
        // The id is EC2's to give.
        BTreeMap::from([("id", None), ("vpc_id", Some(resolved.vpc_id.clone()))])
    }

    fn desired(&self, resolved: &Resolved, inputs: &Inputs, tags: Tags) -> EndpointState {
        let render = |t: &Template| inputs.render(t);
        let anyone = || Some(Principal::Anyone("*".into()));
        EndpointState {
            vpc_id: resolved.vpc_id.clone(),
            service_name: resolved.service_name.clone(),
            route_table_ids: resolved.route_table_ids.clone(),
            policy: match &self.policy {
                None => full_access(),
                Some(statements) => policy::sorted(
                    statements
                        .iter()
                        .map(|s| s.render(&render, anyone()))
                        .collect(),
                ),
            },
            tags,
        }
    }

    fn replaces(&self, change: &FieldChange, live: &LiveEndpoint) -> Option<String> {
        let after = change.after.as_str().unwrap_or_default();
        match change.path.key(0)? {
            "vpc_id" => Some(format!(
                "the VPC changes ({} → {after}); an endpoint cannot move",
                live.state.vpc_id
            )),
            "service_name" => Some(format!(
                "the service changes ({} → {after})",
                live.state.service_name
            )),
            _ => None,
        }
    }

    /// The policy's size is known only once the ARNs it names are.
    fn refused(&self, desired: &EndpointState) -> Option<String> {
        let size = policy::document(&desired.policy).chars().count();
        (size > policy::ENDPOINT_POLICY_MAX).then(|| {
            format!(
                "its policy is {size} characters as sent and a VPC endpoint's policy holds \
                 at most {} (AWS PrivateLink quotas); fewer statements, or wildcards where \
                 they are safe",
                policy::ENDPOINT_POLICY_MAX
            )
        })
    }

    /// The endpoint's id is AWS's to choose (it is granted by its tags); the VPC and route
    /// tables it goes into are not the stack's, and may be looked up: any of them.
    fn arns(&self, at: &DeploymentContext) -> Vec<(&'static str, String)> {
        vec![
            ("vpc", at.arn("ec2", true, "vpc/*")),
            ("route-table", at.arn("ec2", true, "route-table/*")),
        ]
    }

    #[cfg(test)]
    fn applied(&self, desired: EndpointState, _resolved: &Resolved) -> LiveEndpoint {
        LiveEndpoint {
            state: desired,
            id: "vpce-0a1b2c3d4e5f60718".into(),
            settled: true,
        }
    }

    #[cfg(test)]
    fn resolved_for_tests(&self) -> Resolved {
        Resolved {
            vpc_id: "vpc-0a1b2c3d".into(),
            service_name: self.service_name("us-east-1"),
            route_table_ids: BTreeSet::from(["rtb-0a1b2c3d".into()]),
        }
    }
}

#[async_trait]
impl Live for LiveEndpoint {
    fn attributes(&self) -> Attributes {
        BTreeMap::from([
            ("id", Some(self.id.clone())),
            ("vpc_id", Some(self.state.vpc_id.clone())),
        ])
    }

    fn settled(&self) -> bool {
        self.settled
    }

    async fn settle(&self, cx: &ExecCtx<'_>) -> anyhow::Result<()> {
        ops::wait_available(cx, &self.id).await.map(drop)
    }

    async fn delete(&self, cx: &ExecCtx<'_>) -> anyhow::Result<()> {
        ops::delete_endpoint(cx, self).await
    }
}
