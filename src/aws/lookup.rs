//! Finding the EC2 networking the stack file chooses, in the live account, when the stack
//! is observed: one that does not exist is an error at plan time.

use super::client::Aws;
use super::errors::sdk;
use super::needs::Need;
use super::vpc::{MemberChoice, VpcChoice, filter};
use anyhow::{Context, bail};
use aws_sdk_ec2::types as ec2;
use std::collections::{BTreeMap, BTreeSet};

/// The IAM actions the lookups call; EC2's Describe calls have no resource type. Lambda
/// also needs them to make or change a function in a VPC.
pub const NEEDS: &[Need] = &[Need::anywhere(
    "read: ec2:DescribeVpcs ec2:DescribeSubnets ec2:DescribeSecurityGroups",
)];

/// The VPC's id: looked up by id (to check it exists), by tags, or as the default VPC.
/// Once per run for each choice (the endpoint and the function both ask).
pub async fn resolve_vpc(aws: &Aws, choice: &VpcChoice) -> anyhow::Result<String> {
    aws.reads
        .vpcs
        .get(choice.clone(), || describe_vpc(aws, choice))
        .await
}

async fn describe_vpc(aws: &Aws, choice: &VpcChoice) -> anyhow::Result<String> {
    let request = aws.ec2.describe_vpcs();
    let (request, what) = match choice {
        VpcChoice::Default => (
            request.filters(filter("is-default", "true")),
            "no default VPC in this region".to_string(),
        ),
        VpcChoice::Id(id) => (request.vpc_ids(id), format!("VPC {id} does not exist")),
        VpcChoice::Tags(tags) => {
            let filters = tags
                .iter()
                .map(|(k, v)| filter(&format!("tag:{k}"), v))
                .collect();
            (
                request.set_filters(Some(filters)),
                format!("no VPC is tagged {tags:?}"),
            )
        }
    };
    let vpcs = match request.send().await {
        Ok(out) => out.vpcs.unwrap_or_default(),
        Err(e) if super::codes::NO_SUCH_VPC.is(&e) => Vec::new(),
        Err(e) => return Err(crate::aws::errors::error("DescribeVpcs", &e)),
    };
    match vpcs.as_slice() {
        [] => bail!("{what} (region {}); fix `vpc` or `vpc_tags`", aws.region),
        [vpc] => vpc
            .vpc_id
            .clone()
            .context("DescribeVpcs returned a VPC without an id"),
        many => bail!(
            "{} VPCs match {choice:?}: {}; tag exactly one, or name it with `vpc: vpc-…`",
            many.len(),
            many.iter()
                .filter_map(|v| v.vpc_id.as_deref())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Whether an EC2 object's tags include every wanted tag.
pub fn has_tags(tags: &[ec2::Tag], wanted: &BTreeMap<String, String>) -> bool {
    wanted.iter().all(|(k, v)| {
        tags.iter()
            .any(|t| t.key() == Some(k) && t.value() == Some(v))
    })
}

/// The VPC's subnets chosen by `choice` (default: all of them), checked to exist.
pub async fn resolve_subnets(
    aws: &Aws,
    vpc_id: &str,
    choice: &MemberChoice,
) -> anyhow::Result<BTreeSet<String>> {
    let request = aws.ec2.describe_subnets().filters(filter("vpc-id", vpc_id));
    let subnets: Result<Vec<_>, _> = request.into_paginator().items().send().collect().await;
    let subnets = sdk("DescribeSubnets", subnets)?;
    let pick = |keep: &dyn Fn(&ec2::Subnet) -> bool| -> BTreeSet<String> {
        subnets
            .iter()
            .filter(|s| keep(s))
            .filter_map(|s| s.subnet_id.clone())
            .collect()
    };
    chosen(
        pick(&|_| true),
        choice,
        |wanted| pick(&|s| has_tags(s.tags(), wanted)),
        "subnet",
        vpc_id,
    )
}

/// The VPC's security groups chosen by `choice` (default: the group named `default`).
pub async fn resolve_security_groups(
    aws: &Aws,
    vpc_id: &str,
    choice: &MemberChoice,
) -> anyhow::Result<BTreeSet<String>> {
    let request = aws
        .ec2
        .describe_security_groups()
        .filters(filter("vpc-id", vpc_id));
    let groups: Result<Vec<_>, _> = request.into_paginator().items().send().collect().await;
    let groups = sdk("DescribeSecurityGroups", groups)?;
    let pick = |keep: &dyn Fn(&ec2::SecurityGroup) -> bool| -> BTreeSet<String> {
        groups
            .iter()
            .filter(|g| keep(g))
            .filter_map(|g| g.group_id.clone())
            .collect()
    };
    let default = pick(&|g| g.group_name() == Some("default"));
    let all = pick(&|_| true);
    match choice {
        MemberChoice::Default if default.is_empty() => {
            bail!(
                "VPC {vpc_id} has no `default` security group; name the groups with `security_group_ids`"
            )
        }
        MemberChoice::Default => Ok(default),
        other => chosen(
            all,
            other,
            |wanted| pick(&|g| has_tags(g.tags(), wanted)),
            "security group",
            vpc_id,
        ),
    }
}

fn chosen(
    all: BTreeSet<String>,
    choice: &MemberChoice,
    tagged: impl Fn(&BTreeMap<String, String>) -> BTreeSet<String>,
    what: &str,
    vpc_id: &str,
) -> anyhow::Result<BTreeSet<String>> {
    match choice {
        MemberChoice::Default if all.is_empty() => bail!("VPC {vpc_id} has no {what}s"),
        MemberChoice::Default => Ok(all),
        MemberChoice::Ids(wanted) => {
            let missing: Vec<&str> = wanted.difference(&all).map(String::as_str).collect();
            if !missing.is_empty() {
                bail!(
                    "{what}(s) {} do not exist in VPC {vpc_id}",
                    missing.join(", ")
                );
            }
            Ok(wanted.clone())
        }
        MemberChoice::Tags(wanted) => {
            let matching = tagged(wanted);
            if matching.is_empty() {
                bail!("no {what} of VPC {vpc_id} is tagged {wanted:?}");
            }
            Ok(matching)
        }
    }
}
