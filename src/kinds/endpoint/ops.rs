//! Finding, creating, changing and deleting a gateway endpoint.

use super::spec::{Endpoint, RouteTableChoice};
use super::{EndpointState, LiveEndpoint, Resolved, full_access};
use crate::aws::codes::NO_SUCH_ENDPOINT;
use crate::aws::lookup;
use crate::aws::needs::Need;
use crate::aws::vpc::filter;
use crate::aws::{Aws, describe_error, returned, sdk};
use crate::create_once;
use crate::exec::ExecCtx;
use crate::kinds::kind::{Changes, Identity, Made};
use crate::policy;
use crate::tags::{RESOURCE_TAG, STACK_TAG};
use crate::wait::{Check, Service::Ec2, until};
use anyhow::{Context, bail};
use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_sdk_ec2::types as ec2;
use std::collections::{BTreeMap, BTreeSet};

/// The IAM actions an endpoint's code calls; see `crate::aws::needs`. EC2's Describe
/// calls have no resource type; CreateVpcEndpoint is authorized on the endpoint, its VPC
/// and its route tables together.
pub const NEEDS: &[Need] = &[
    Need::anywhere("read: ec2:DescribeVpcEndpoints ec2:DescribeRouteTables"),
    // CreateTags is also what a CreateVpcEndpoint that carries tags needs; and adopting
    // one tags it.
    Need::on(
        "vpc-endpoint",
        "create: ec2:CreateVpcEndpoint ec2:CreateTags; change: ec2:CreateTags ec2:DeleteTags ec2:ModifyVpcEndpoint; delete: ec2:DeleteVpcEndpoints",
    ),
    Need::on("vpc", "change: ec2:CreateVpcEndpoint"),
    Need::on(
        "route-table",
        "change: ec2:CreateVpcEndpoint ec2:ModifyVpcEndpoint",
    ),
];

/// Resolves the endpoint's VPC and route tables and finds it: ours by its tags, wherever
/// it is (a changed `vpc` is then a replacement), else any endpoint for this service in the
/// VPC, which plan shows as a conflict (or adopts). Both are asked of EC2 with filters, so
/// the read grows with the stack, not with the account's endpoints.
pub async fn read(
    endpoint: &Endpoint,
    aws: &Aws,
    me: &Identity<'_>,
) -> anyhow::Result<(Option<LiveEndpoint>, Resolved)> {
    let service_name = endpoint.service_name(&aws.region);
    let is_ours = |e: &&ec2::VpcEndpoint| {
        tagged(e, RESOURCE_TAG, me.resource)
            && e.service_name() == Some(service_name.as_str())
            && !gone(e)
    };
    let (vpc_id, ours) = tokio::try_join!(
        lookup::resolve_vpc(aws, &endpoint.vpc),
        stack_endpoints(aws, me.owner)
    )?;
    let ours = ours.iter().find(is_ours);
    // Not ours: any gateway endpoint for this service in the VPC is in the way (a conflict,
    // or one to adopt). Asked beside the route tables, so it costs no round trip.
    let in_the_way = async {
        if ours.is_some() {
            return Ok(None);
        }
        let request = aws
            .ec2
            .describe_vpc_endpoints()
            .filters(filter("vpc-id", &vpc_id))
            .filters(filter("service-name", &service_name))
            .filters(filter("vpc-endpoint-type", "Gateway"));
        let out = sdk("DescribeVpcEndpoints", request.send().await)?;
        anyhow::Ok(
            out.vpc_endpoints
                .unwrap_or_default()
                .into_iter()
                .find(|e| !gone(e)),
        )
    };
    let (route_table_ids, in_the_way) =
        tokio::try_join!(resolve_route_tables(endpoint, aws, &vpc_id), in_the_way)?;
    let resolved = Resolved {
        vpc_id: vpc_id.clone(),
        service_name,
        route_table_ids,
    };
    let found = match ours {
        Some(e) => Some(live_from(e)?),
        None => in_the_way.as_ref().map(live_from).transpose()?,
    };
    Ok((found, resolved))
}

fn tagged(e: &ec2::VpcEndpoint, key: &str, value: &str) -> bool {
    e.tags()
        .iter()
        .any(|t| t.key() == Some(key) && t.value() == Some(value))
}

/// The route tables the endpoint should use, checked against the VPC's own.
async fn resolve_route_tables(
    endpoint: &Endpoint,
    aws: &Aws,
    vpc_id: &str,
) -> anyhow::Result<BTreeSet<String>> {
    let request = aws
        .ec2
        .describe_route_tables()
        .filters(filter("vpc-id", vpc_id));
    let tables: Result<Vec<_>, _> = request.into_paginator().items().send().collect().await;
    let tables = sdk("DescribeRouteTables", tables)?;
    let ids = |keep: &dyn Fn(&ec2::RouteTable) -> bool| -> BTreeSet<String> {
        tables
            .iter()
            .filter(|t| keep(t))
            .filter_map(|t| t.route_table_id.clone())
            .collect()
    };
    match &endpoint.route_tables {
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

#[async_trait]
impl Changes for Endpoint {
    /// Creates the endpoint (tagged as ours from the start) exactly once, and waits until it
    /// is available.
    async fn create(&self, cx: &ExecCtx<'_>, desired: &Self::State) -> Made<Self> {
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
                let id = out.vpc_endpoint.and_then(|e| e.vpc_endpoint_id);
                returned(id, "CreateVpcEndpoint", "endpoint id")
            })
        };
        let find = || find_tagged(cx.aws, &desired.tags);
        let id =
            create_once::create_once(cx.wait("creating the endpoint", Ec2), send, find).await?;
        wait_available(cx, &id).await
    }

    /// Changes the route tables and the policy in place (tags first).
    async fn update(&self, cx: &ExecCtx<'_>, live: &Self::Live, to: &Self::State) -> Made<Self> {
        if !live.settled {
            wait_available(cx, &live.id).await?;
        }
        let before = &live.state;
        // Tags first: adopting an endpoint makes it ours before anything else changes.
        crate::tags::sync(cx, &EndpointTags(&live.id), &before.tags, &to.tags).await?;
        let add: Vec<String> = to
            .route_table_ids
            .difference(&before.route_table_ids)
            .cloned()
            .collect();
        let remove: Vec<String> = before
            .route_table_ids
            .difference(&to.route_table_ids)
            .cloned()
            .collect();
        let policy_changes = before.policy != to.policy;
        if add.is_empty() && remove.is_empty() && !policy_changes {
            return Ok(LiveEndpoint {
                state: to.clone(),
                id: live.id.clone(),
                settled: true,
            });
        }
        let request = cx
            .aws
            .ec2
            .modify_vpc_endpoint()
            .vpc_endpoint_id(&live.id)
            .set_add_route_table_ids((!add.is_empty()).then_some(add))
            .set_remove_route_table_ids((!remove.is_empty()).then_some(remove))
            .set_policy_document(policy_changes.then(|| policy::document(&to.policy)));
        cx.send("modifying endpoint", "ModifyVpcEndpoint", request.send())
            .await?;
        wait_available(cx, &live.id).await
    }
}

/// Every endpoint tagged as `owner`'s.
pub async fn discover(aws: &Aws, owner: &str) -> anyhow::Result<Vec<LiveEndpoint>> {
    stack_endpoints(aws, owner)
        .await?
        .iter()
        .filter(|e| !gone(e))
        .map(live_from)
        .collect()
}

/// The endpoints tagged as `owner`'s (EC2 filters by tag itself), listed once per run:
/// each declared endpoint's read picks its own, orphan discovery the rest.
async fn stack_endpoints(aws: &Aws, owner: &str) -> anyhow::Result<Vec<ec2::VpcEndpoint>> {
    aws.reads
        .stack_endpoints
        .get(owner.to_string(), || async {
            let request = aws
                .ec2
                .describe_vpc_endpoints()
                .filters(filter(&format!("tag:{STACK_TAG}"), owner));
            let all = request.into_paginator().items().send().collect().await;
            sdk("DescribeVpcEndpoints", all)
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
pub async fn delete_endpoint(cx: &ExecCtx<'_>, live: &LiveEndpoint) -> anyhow::Result<()> {
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
        Err(e) if NO_SUCH_ENDPOINT.is(&e) => return Ok(()),
        Err(e) => Some(describe_error("DeleteVpcEndpoints", &e)),
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
    until(
        cx.wait("waiting for the endpoint to be deleted", Ec2),
        move || async move {
            Ok(match describe(aws, id).await? {
                None => Check::Done(()),
                // `deleting` still holds the endpoint's routes: wait for it to end.
                Some(e) if gone(&e) && state_of(&e) != "deleting" => Check::Done(()),
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
    let sent = aws
        .ec2
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(id)
        .send()
        .await;
    let out = match sent {
        Err(e) if NO_SUCH_ENDPOINT.is(&e) => None,
        sent => Some(sdk("DescribeVpcEndpoints", sent)?),
    };
    Ok(out.and_then(|out| out.vpc_endpoints.unwrap_or_default().into_iter().next()))
}

pub async fn wait_available(cx: &ExecCtx<'_>, id: &str) -> anyhow::Result<LiveEndpoint> {
    let aws = cx.aws;
    until(
        cx.wait("waiting for the endpoint to become available", Ec2),
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

crate::tag_api!(
    /// EC2's tagging API, by the endpoint's id; a tag is removed by its key alone.
    EndpointTags,
    |aws, id, tags| aws.ec2.create_tags().resources(id).set_tags(Some(sdk_tags(tags))) => "CreateTags",
    |aws, id, keys| aws.ec2.delete_tags().resources(id).set_tags(Some(keys.iter().map(|k| ec2::Tag::builder().key(k).build()).collect())) => "DeleteTags",
);

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
