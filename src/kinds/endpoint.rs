//! `vpc_gateway_endpoint`: a gateway VPC endpoint (DynamoDB, or any gateway service) so
//! code in the VPC reaches the service without a NAT.
//!
//! An endpoint has no name of its own: it is found by its ownership tags, so re-applying
//! never makes a second one (and the create carries a client token, so a retried request
//! cannot either). The VPC and route tables are given by id, by tags, or as "the default
//! VPC" / "all its route tables", and resolved when the stack is observed: one that does not
//! exist is an error at plan time. Route tables and the policy change in place; another VPC
//! or service is a replacement.

use super::vpc::{self, VpcChoice, ec2_id, filter, tag_map};
use super::{Attributes, ExecCtx, Identity, Inputs, Kind, ValidateCtx};
use crate::aws::{Aws, error_code, sdk};
use crate::create_once;
use crate::plan::FieldChange;
use crate::policy::{self, Principal, RawStatement, Statement, StatementSpec};
use crate::spec::diag::{Diagnostic, Diags};
use crate::spec::raw::{SpannedMap, raw_resource};
use crate::spec::template::{Template, UNKNOWN};
use crate::tags::{RESOURCE_TAG, STACK_TAG};
use crate::wait::{self, Check};
use anyhow::{Context, bail};
use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_sdk_ec2::types as ec2;
use serde::Serialize;
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

raw_resource! {
    /// A `vpc_gateway_endpoint` as written in the stack file.
    pub struct RawEndpoint {
        service: Spanned<String>,
        vpc: Spanned<String>,
        vpc_tags: SpannedMap<Spanned<String>>,
        route_table_ids: Spanned<Vec<Spanned<String>>>,
        route_table_tags: SpannedMap<Spanned<String>>,
        policy: Spanned<Vec<Spanned<RawStatement>>>,
    }
}

#[derive(Debug, Clone)]
enum RouteTableChoice {
    /// Every route table of the VPC.
    All,
    Ids(BTreeSet<String>),
    Tags(BTreeMap<String, String>),
}

/// What the choices above came to in the live account.
#[derive(Debug, Clone)]
struct Resolved {
    vpc_id: String,
    service_name: String,
    route_table_ids: BTreeSet<String>,
}

/// A validated `vpc_gateway_endpoint`.
#[derive(Debug)]
pub struct Endpoint {
    /// `dynamodb`, or a full service name such as `com.amazonaws.us-east-1.dynamodb`.
    service: String,
    vpc: VpcChoice,
    route_tables: RouteTableChoice,
    /// `None`: AWS's default policy (full access).
    policy: Option<Vec<StatementSpec>>,
    /// Set when the stack is observed.
    resolved: OnceLock<Resolved>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndpointState {
    pub vpc_id: String,
    pub service_name: String,
    pub route_table_ids: BTreeSet<String>,
    pub policy: Vec<Statement>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug)]
pub struct LiveEndpoint {
    state: EndpointState,
    id: String,
    /// Not `available` yet (or any more): wait before changing it.
    settled: bool,
}

fn service_ok(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
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

impl Endpoint {
    fn validate_raw(raw: RawEndpoint, cx: &ValidateCtx, diags: &mut Diags) -> Option<Endpoint> {
        let errors_before = diags.error_count();
        let service = match raw.service() {
            None => {
                diags.push(
                    Diagnostic::new(&cx.loc, cx.field("service"), "missing field `service`")
                        .hint("the gateway service, e.g. `service: dynamodb`"),
                );
                String::new()
            }
            Some(s) if !service_ok(&s.value) => {
                diags.push(
                    Diagnostic::new(&s.referenced, cx.field("service"), format!("invalid service `{}`", s.value))
                        .hint("a service such as dynamodb or s3, or a full name such as com.amazonaws.us-east-1.dynamodb"),
                );
                String::new()
            }
            Some(s) => s.value.clone(),
        };
        let vpc = vpc::vpc_choice(raw.vpc(), raw.vpc_tags(), cx, "", diags);
        let route_tables = match (raw.route_table_ids(), raw.route_table_tags()) {
            (Some(ids), Some(_)) => {
                diags.push(
                    Diagnostic::new(
                        &ids.referenced,
                        cx.field("route_table_ids"),
                        "give `route_table_ids` or `route_table_tags`, not both",
                    )
                    .hint("or neither, for every route table of the VPC"),
                );
                RouteTableChoice::All
            }
            (Some(ids), None) => {
                if ids.value.is_empty() {
                    diags.push(
                        Diagnostic::new(
                            &ids.referenced,
                            cx.field("route_table_ids"),
                            "the list is empty",
                        )
                        .hint(
                            "name at least one route table, or leave the field out for all of them",
                        ),
                    );
                }
                for id in &ids.value {
                    if !ec2_id(&id.value, "rtb-") {
                        diags.push(
                            Diagnostic::new(
                                &id.referenced,
                                cx.field("route_table_ids"),
                                format!("`{}` is not a route table id", id.value),
                            )
                            .hint("route table ids look like rtb-0a1b2c3d4e5f60718"),
                        );
                    }
                }
                RouteTableChoice::Ids(ids.value.iter().map(|i| i.value.clone()).collect())
            }
            (None, Some(tags)) if tags.0.is_empty() => {
                diags.error(
                    &cx.loc,
                    cx.field("route_table_tags"),
                    "`route_table_tags` needs at least one tag",
                );
                RouteTableChoice::All
            }
            (None, Some(tags)) => RouteTableChoice::Tags(tag_map(tags)),
            (None, None) => RouteTableChoice::All,
        };
        let policy = raw.policy().map(|statements| {
            if statements.value.is_empty() {
                diags.push(
                    Diagnostic::new(
                        &statements.referenced,
                        cx.field("policy"),
                        "the policy has no statements",
                    )
                    .hint("leave `policy` out for AWS's default (full access), or add statements"),
                );
            }
            policy::validate_statements(&statements.value, cx.template, &cx.field("policy"), diags)
        });
        if diags.error_count() > errors_before {
            return None;
        }
        Some(Endpoint {
            service,
            vpc,
            route_tables,
            policy,
            resolved: OnceLock::new(),
        })
    }

    fn service_name(&self, region: &str) -> String {
        if self.service.contains('.') {
            self.service.clone()
        } else {
            format!("com.amazonaws.{region}.{}", self.service)
        }
    }

    /// The route tables the endpoint should use, checked against the VPC's own.
    async fn resolve_route_tables(
        &self,
        aws: &Aws,
        vpc_id: &str,
    ) -> anyhow::Result<BTreeSet<String>> {
        let mut tables = Vec::new();
        let mut next = None;
        loop {
            let request = aws
                .ec2
                .describe_route_tables()
                .filters(filter("vpc-id", vpc_id))
                .set_next_token(next);
            let out = sdk("DescribeRouteTables", request.send().await)?;
            tables.extend(out.route_tables.unwrap_or_default());
            match out.next_token {
                Some(t) => next = Some(t),
                None => break,
            }
        }
        let ids = |keep: &dyn Fn(&ec2::RouteTable) -> bool| -> BTreeSet<String> {
            tables
                .iter()
                .filter(|t| keep(t))
                .filter_map(|t| t.route_table_id.clone())
                .collect()
        };
        match &self.route_tables {
            RouteTableChoice::All => {
                let all = ids(&|_| true);
                if all.is_empty() {
                    bail!("VPC {vpc_id} has no route tables");
                }
                Ok(all)
            }
            RouteTableChoice::Ids(wanted) => {
                let present = ids(&|_| true);
                let missing: Vec<&String> = wanted.difference(&present).collect();
                if !missing.is_empty() {
                    bail!(
                        "route table(s) {} do not exist in VPC {vpc_id}; fix `route_table_ids`",
                        missing
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
                Ok(wanted.clone())
            }
            RouteTableChoice::Tags(wanted) => {
                let matching = ids(&|t| {
                    wanted.iter().all(|(k, v)| {
                        t.tags()
                            .iter()
                            .any(|tag| tag.key() == Some(k) && tag.value() == Some(v))
                    })
                });
                if matching.is_empty() {
                    bail!(
                        "no route table of VPC {vpc_id} is tagged {wanted:?}; fix `route_table_tags`"
                    );
                }
                Ok(matching)
            }
        }
    }

    fn resolved(&self) -> Option<&Resolved> {
        self.resolved.get()
    }
}

#[async_trait]
impl Kind for Endpoint {
    const TYPE: &'static str = "vpc_gateway_endpoint";
    const ATTRIBUTES: &'static [&'static str] = &["id", "vpc_id"];
    type Raw = RawEndpoint;
    type State = EndpointState;
    type Live = LiveEndpoint;

    fn validate(raw: RawEndpoint, cx: &ValidateCtx, diags: &mut Diags) -> Option<Endpoint> {
        Endpoint::validate_raw(raw, cx, diags)
    }

    fn physical_id(&self, live: Option<&LiveEndpoint>) -> String {
        match (live, self.resolved()) {
            (Some(live), _) => live.id.clone(),
            (None, Some(r)) => format!("{} in {}", r.service_name, r.vpc_id),
            (None, None) => format!("{} endpoint", self.service),
        }
    }

    fn templates(&self) -> Vec<&Template> {
        self.policy
            .iter()
            .flatten()
            .flat_map(StatementSpec::templates)
            .collect()
    }

    async fn read(&self, aws: &Aws, me: &Identity<'_>) -> anyhow::Result<Option<LiveEndpoint>> {
        let service_name = self.service_name(&aws.region);
        let vpc_id = vpc::resolve_vpc(aws, &self.vpc).await?;
        let endpoints = async {
            let all = all_endpoints(aws).await?;
            anyhow::Ok(
                all.into_iter()
                    .filter(|e| {
                        e.service_name() == Some(service_name.as_str())
                            && e.vpc_endpoint_type() == Some(&ec2::VpcEndpointType::Gateway)
                    })
                    .collect::<Vec<_>>(),
            )
        };
        let (route_table_ids, endpoints) =
            tokio::try_join!(self.resolve_route_tables(aws, &vpc_id), endpoints)?;
        let _ = self.resolved.set(Resolved {
            vpc_id: vpc_id.clone(),
            service_name,
            route_table_ids,
        });
        let alive: Vec<&ec2::VpcEndpoint> = endpoints.iter().filter(|e| !gone(e)).collect();
        let tagged = |e: &&ec2::VpcEndpoint, key: &str, value: &str| {
            e.tags()
                .iter()
                .any(|t| t.key() == Some(key) && t.value() == Some(value))
        };
        // Ours, by its tags, wherever it is (a changed `vpc` is then a replacement); else any
        // endpoint for this service in the VPC, which plan shows as a conflict (or adopts).
        let found = alive
            .iter()
            .find(|e| tagged(e, STACK_TAG, me.owner) && tagged(e, RESOURCE_TAG, me.resource))
            .or_else(|| {
                alive
                    .iter()
                    .find(|e| e.vpc_id.as_deref() == Some(vpc_id.as_str()))
            });
        found.map(|e| live_from(e)).transpose()
    }

    fn state(live: &LiveEndpoint) -> &EndpointState {
        &live.state
    }

    fn tags(state: &EndpointState) -> &BTreeMap<String, String> {
        &state.tags
    }

    fn attributes(live: &LiveEndpoint) -> Attributes {
        BTreeMap::from([
            ("id", Some(live.id.clone())),
            ("vpc_id", Some(live.state.vpc_id.clone())),
        ])
    }

    fn desired(&self, inputs: &Inputs, tags: BTreeMap<String, String>) -> EndpointState {
        let (vpc_id, service_name, route_table_ids) = match self.resolved() {
            Some(r) => (
                r.vpc_id.clone(),
                r.service_name.clone(),
                r.route_table_ids.clone(),
            ),
            // Only before the stack was observed; never executed like this.
            None => (UNKNOWN.to_string(), UNKNOWN.to_string(), BTreeSet::new()),
        };
        let render = |t: &Template| inputs.render(t);
        let anyone = || Some(Principal::Anyone("*".into()));
        EndpointState {
            vpc_id,
            service_name,
            route_table_ids,
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

    fn replacement_reasons(&self, desired: &EndpointState, live: &LiveEndpoint) -> Vec<String> {
        let mut reasons = Vec::new();
        if desired.vpc_id != live.state.vpc_id {
            reasons.push(format!(
                "the VPC changes ({} → {}); an endpoint cannot move",
                live.state.vpc_id, desired.vpc_id
            ));
        }
        if desired.service_name != live.state.service_name {
            reasons.push(format!(
                "the service changes ({} → {})",
                live.state.service_name, desired.service_name
            ));
        }
        reasons
    }

    fn annotate(&self, change: &mut FieldChange, _live: &LiveEndpoint) {
        if change.field == "vpc_id" || change.field == "service_name" {
            change.forces_replacement = true;
        }
    }

    async fn create(
        &self,
        cx: &ExecCtx<'_>,
        desired: &EndpointState,
    ) -> anyhow::Result<LiveEndpoint> {
        cx.tracker.status("creating endpoint");
        let tags = ec2::TagSpecification::builder()
            .resource_type(ec2::ResourceType::VpcEndpoint)
            .set_tags(Some(sdk_tags(&desired.tags)))
            .build();
        let request = cx
            .aws
            .ec2
            .create_vpc_endpoint()
            .vpc_endpoint_type(ec2::VpcEndpointType::Gateway)
            .vpc_id(&desired.vpc_id)
            .service_name(&desired.service_name)
            .set_route_table_ids(Some(desired.route_table_ids.iter().cloned().collect()))
            .policy_document(policy::document(&desired.policy))
            // Tags go on with the create, so the endpoint is recognisably ours at once.
            .tag_specifications(tags)
            // One token for every send: AWS hands back the endpoint a token already made.
            .client_token(client_token());
        // The SDK does not resend it (the emulator ignores the token, and AWS keeps a
        // token only for a while); `create_once` looks for it by its tags first.
        let send = || async {
            let sent = request
                .clone()
                .customize()
                .config_override(
                    aws_sdk_ec2::Config::builder().retry_config(RetryConfig::disabled()),
                )
                .send()
                .await;
            create_once::attempt("CreateVpcEndpoint", sent)?.map(|out| {
                out.vpc_endpoint
                    .and_then(|e| e.vpc_endpoint_id)
                    .context("CreateVpcEndpoint returned no endpoint id")
            })
        };
        let find = || find_tagged(cx.aws, &desired.tags);
        let id = create_once::create_once(cx, "creating the endpoint", send, find).await?;
        wait_available(cx, &id).await
    }

    async fn update(
        &self,
        cx: &ExecCtx<'_>,
        live: &LiveEndpoint,
        desired: &EndpointState,
    ) -> anyhow::Result<LiveEndpoint> {
        if !live.settled {
            wait_available(cx, &live.id).await?;
        }
        let before = &live.state;
        // Tags first: adopting an endpoint makes it ours before anything else changes.
        sync_tags(cx, &live.id, &before.tags, &desired.tags).await?;
        let add: Vec<String> = desired
            .route_table_ids
            .difference(&before.route_table_ids)
            .cloned()
            .collect();
        let remove: Vec<String> = before
            .route_table_ids
            .difference(&desired.route_table_ids)
            .cloned()
            .collect();
        let policy_changes = before.policy != desired.policy;
        if add.is_empty() && remove.is_empty() && !policy_changes {
            return Ok(LiveEndpoint {
                state: desired.clone(),
                id: live.id.clone(),
                settled: true,
            });
        }
        cx.tracker.status("modifying endpoint");
        let request = cx
            .aws
            .ec2
            .modify_vpc_endpoint()
            .vpc_endpoint_id(&live.id)
            .set_add_route_table_ids((!add.is_empty()).then_some(add))
            .set_remove_route_table_ids((!remove.is_empty()).then_some(remove))
            .set_policy_document(policy_changes.then(|| policy::document(&desired.policy)));
        sdk("ModifyVpcEndpoint", request.send().await)?;
        wait_available(cx, &live.id).await
    }

    async fn delete(&self, cx: &ExecCtx<'_>, live: &LiveEndpoint) -> anyhow::Result<()> {
        delete_endpoint(cx, live).await
    }

    const DELETE_ORDER: u8 = 30;

    async fn discover(
        aws: &Aws,
        owner: &str,
        _skip: &BTreeSet<String>,
    ) -> anyhow::Result<Vec<LiveEndpoint>> {
        let tagged = |e: &ec2::VpcEndpoint| {
            e.tags()
                .iter()
                .any(|t| t.key() == Some(STACK_TAG) && t.value() == Some(owner))
        };
        all_endpoints(aws)
            .await?
            .iter()
            .filter(|e| tagged(e) && !gone(e))
            .map(live_from)
            .collect()
    }

    async fn delete_orphan(cx: &ExecCtx<'_>, live: &LiveEndpoint) -> anyhow::Result<()> {
        delete_endpoint(cx, live).await
    }
}

/// Every VPC endpoint in the region, listed once per run: the endpoint's read picks those
/// of its service, orphan discovery the stack's.
async fn all_endpoints(aws: &Aws) -> anyhow::Result<Vec<ec2::VpcEndpoint>> {
    aws.reads
        .once("DescribeVpcEndpoints".into(), || async {
            let mut all = Vec::new();
            let mut next = None;
            loop {
                let request = aws.ec2.describe_vpc_endpoints().set_next_token(next);
                let out = sdk("DescribeVpcEndpoints", request.send().await)?;
                all.extend(out.vpc_endpoints.unwrap_or_default());
                match out.next_token {
                    Some(t) => next = Some(t),
                    None => return Ok(all),
                }
            }
        })
        .await
}

/// The id of the endpoint (not deleted) carrying the stack and resource tags in `tags`.
async fn find_tagged(aws: &Aws, tags: &BTreeMap<String, String>) -> anyhow::Result<Option<String>> {
    let mut request = aws.ec2.describe_vpc_endpoints();
    for key in [STACK_TAG, RESOURCE_TAG] {
        let value = tags
            .get(key)
            .context("the endpoint has no ownership tags")?;
        request = request.filters(filter(&format!("tag:{key}"), value));
    }
    let out = sdk("DescribeVpcEndpoints", request.send().await)?;
    Ok(out
        .vpc_endpoints()
        .iter()
        .find(|e| !gone(e))
        .and_then(|e| e.vpc_endpoint_id.clone()))
}

/// Deletes the endpoint and waits until it is gone.
async fn delete_endpoint(cx: &ExecCtx<'_>, live: &LiveEndpoint) -> anyhow::Result<()> {
    cx.tracker.status("deleting endpoint");
    let sent = cx
        .aws
        .ec2
        .delete_vpc_endpoints()
        .vpc_endpoint_ids(&live.id)
        .send()
        .await;
    let refused = match sent {
        Ok(out) => out
            .unsuccessful
            .unwrap_or_default()
            .into_iter()
            .find_map(|u| u.error)
            .map(|failure| {
                format!(
                    "DeleteVpcEndpoints failed: {}: {}",
                    failure.code.unwrap_or_default(),
                    failure.message.unwrap_or_default()
                )
            }),
        Err(e) if error_code(&e) == Some("InvalidVpcEndpointId.NotFound") => return Ok(()),
        Err(e) => Some(crate::aws::describe_error("DeleteVpcEndpoints", &e)),
    };
    if let Some(why) = refused {
        // A delete the SDK resent after its first answer was lost finds the endpoint
        // already going (and the emulator then complains about its routes): that is done.
        if describe(cx.aws, &live.id).await?.is_some_and(|e| !gone(&e)) {
            bail!(why);
        }
    }
    let aws = cx.aws;
    let id = live.id.as_str();
    wait::until(
        cx,
        "waiting for the endpoint to be deleted",
        move || async move {
            Ok(match describe(aws, id).await? {
                None => Check::Done(()),
                Some(e) if gone(&e) => Check::Done(()),
                Some(e) => Check::Waiting(state_of(&e)),
            })
        },
    )
    .await
}

fn state_of(e: &ec2::VpcEndpoint) -> String {
    e.state
        .as_ref()
        .map_or("unknown", |s| s.as_str())
        .to_ascii_lowercase()
}

/// Deleted (or on its way): no longer counts as existing. EC2 reports states in lower case
/// even where the SDK's enum spells them capitalised, so compare the text.
fn gone(e: &ec2::VpcEndpoint) -> bool {
    matches!(
        state_of(e).as_str(),
        "deleted" | "deleting" | "failed" | "rejected" | "expired"
    )
}

fn live_from(e: &ec2::VpcEndpoint) -> anyhow::Result<LiveEndpoint> {
    let policy = match e.policy_document.as_deref() {
        Some(doc) => policy::parse_document(doc).context("reading the endpoint policy")?,
        None => full_access(),
    };
    Ok(LiveEndpoint {
        id: e
            .vpc_endpoint_id
            .clone()
            .context("an endpoint without an id")?,
        settled: state_of(e) == "available",
        state: EndpointState {
            vpc_id: e.vpc_id.clone().unwrap_or_default(),
            service_name: e.service_name.clone().unwrap_or_default(),
            route_table_ids: e.route_table_ids().iter().cloned().collect(),
            policy,
            tags: e
                .tags()
                .iter()
                .filter_map(|t| Some((t.key.clone()?, t.value.clone().unwrap_or_default())))
                .collect(),
        },
    })
}

async fn describe(aws: &Aws, id: &str) -> anyhow::Result<Option<ec2::VpcEndpoint>> {
    match aws
        .ec2
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.vpc_endpoints.unwrap_or_default().into_iter().next()),
        Err(e) if error_code(&e) == Some("InvalidVpcEndpointId.NotFound") => Ok(None),
        Err(e) => bail!(crate::aws::describe_error("DescribeVpcEndpoints", &e)),
    }
}

async fn wait_available(cx: &ExecCtx<'_>, id: &str) -> anyhow::Result<LiveEndpoint> {
    let aws = cx.aws;
    wait::until(
        cx,
        "waiting for the endpoint to become available",
        move || async move {
            let e = describe(aws, id)
                .await?
                .with_context(|| format!("endpoint {id} disappeared"))?;
            Ok(match state_of(&e).as_str() {
                "available" => Check::Done(live_from(&e)?),
                "pending" | "pendingacceptance" | "partial" => Check::Waiting(state_of(&e)),
                other => bail!("endpoint {id} is {other}"),
            })
        },
    )
    .await
}

async fn sync_tags(
    cx: &ExecCtx<'_>,
    id: &str,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let (set, removed) = crate::tags::changes(before, after);
    let removed: Vec<ec2::Tag> = removed
        .iter()
        .map(|k| ec2::Tag::builder().key(k).build())
        .collect();
    if !set.is_empty() {
        cx.tracker.status("tagging");
        let request = cx
            .aws
            .ec2
            .create_tags()
            .resources(id)
            .set_tags(Some(sdk_tags(&set)));
        sdk("CreateTags", request.send().await)?;
    }
    if !removed.is_empty() {
        cx.tracker.status("removing tags");
        let request = cx
            .aws
            .ec2
            .delete_tags()
            .resources(id)
            .set_tags(Some(removed));
        sdk("DeleteTags", request.send().await)?;
    }
    Ok(())
}

fn sdk_tags(tags: &BTreeMap<String, String>) -> Vec<ec2::Tag> {
    tags.iter()
        .map(|(k, v)| ec2::Tag::builder().key(k).value(v).build())
        .collect()
}

/// Unique per create call (EC2 keeps a token's result for a while, so a fixed token would
/// hand back an endpoint deleted since).
fn client_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("cruddur-infra-{:x}-{nanos:x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_forms() {
        assert!(ec2_id("vpc-0a1b2c3d", "vpc-"));
        assert!(ec2_id("vpc-0a1b2c3d4e5f60718", "vpc-"));
        assert!(!ec2_id("vpc-xyz", "vpc-"));
        assert!(!ec2_id("rtb-0a1b2c3d", "vpc-"));
        assert!(ec2_id("rtb-0a1b2c3d4e5f60718", "rtb-"));
        assert!(!ec2_id("rtb-0A1B2C3D", "rtb-"));
    }
}
