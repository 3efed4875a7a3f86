//! Choosing EC2 networking by id, by tags, or by default, for the kinds that live in a VPC
//! (a gateway endpoint, a function's VPC config): the stack-file forms, their validation,
//! and their resolution against the live account at plan time.

use super::ValidateCtx;
use crate::aws::{Aws, error_code, sdk};
use crate::spec::diag::{Diagnostic, Diags};
use crate::spec::raw::SpannedMap;
use anyhow::{Context, bail};
use aws_sdk_ec2::types as ec2;
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone)]
pub enum VpcChoice {
    Default,
    Id(String),
    Tags(BTreeMap<String, String>),
}

/// `<prefix>` and 8 or 17 hex digits: the forms EC2 ids take (`vpc-`, `rtb-`, `subnet-`, `sg-`).
pub fn ec2_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17)
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

pub fn tag_map(map: &SpannedMap<Spanned<String>>) -> BTreeMap<String, String> {
    map.iter()
        .map(|(k, v)| (k.value.clone(), v.value.clone()))
        .collect()
}

pub fn filter(name: &str, value: &str) -> ec2::Filter {
    ec2::Filter::builder().name(name).values(value).build()
}

/// `vpc: default | vpc-…` or `vpc_tags: {…}` (fields named `<prefix>vpc` and
/// `<prefix>vpc_tags` under `cx.path`).
pub fn vpc_choice(
    vpc: Option<&Spanned<String>>,
    vpc_tags: Option<&SpannedMap<Spanned<String>>>,
    cx: &ValidateCtx,
    prefix: &str,
    diags: &mut Diags,
) -> VpcChoice {
    let field = |name: &str| cx.field(&format!("{prefix}{name}"));
    match (vpc, vpc_tags) {
        (Some(v), Some(_)) => {
            diags.push(
                Diagnostic::new(
                    &v.referenced,
                    field("vpc"),
                    "give `vpc` or `vpc_tags`, not both",
                )
                .hint("`vpc: default`, `vpc: vpc-…`, or `vpc_tags: { Name: … }`"),
            );
            VpcChoice::Default
        }
        (None, Some(tags)) if tags.0.is_empty() => {
            diags.error(
                &cx.loc,
                field("vpc_tags"),
                "`vpc_tags` needs at least one tag",
            );
            VpcChoice::Default
        }
        (None, Some(tags)) => VpcChoice::Tags(tag_map(tags)),
        (Some(v), None) if v.value == "default" => VpcChoice::Default,
        (Some(v), None) if ec2_id(&v.value, "vpc-") => VpcChoice::Id(v.value.clone()),
        (Some(v), None) => {
            diags.push(
                Diagnostic::new(
                    &v.referenced,
                    field("vpc"),
                    format!("`{}` is not a VPC id", v.value),
                )
                .hint("`default`, or an id such as vpc-0a1b2c3d4e5f60718"),
            );
            VpcChoice::Default
        }
        (None, None) => VpcChoice::Default,
    }
}

/// The VPC's id: looked up by id (to check it exists), by tags, or as the default VPC.
/// Once per run for each choice (the endpoint and the function both ask).
pub async fn resolve_vpc(aws: &Aws, choice: &VpcChoice) -> anyhow::Result<String> {
    aws.reads
        .once(format!("DescribeVpcs {choice:?}"), || {
            describe_vpc(aws, choice)
        })
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
        Err(e) if error_code(&e) == Some("InvalidVpcID.NotFound") => Vec::new(),
        Err(e) => bail!(crate::aws::describe_error("DescribeVpcs", &e)),
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

/// A set of EC2 things of one VPC chosen by ids, by tags, or "the VPC's default" (all
/// subnets; its `default` security group).
#[derive(Debug, Clone)]
pub enum MemberChoice {
    Default,
    Ids(BTreeSet<String>),
    Tags(BTreeMap<String, String>),
}

/// Reads `<what>_ids` / `<what>_tags` (e.g. `subnet_ids` / `subnet_tags`), checking the
/// id form with `id_prefix`.
pub fn member_choice(
    ids: Option<&Spanned<Vec<Spanned<String>>>>,
    tags: Option<&SpannedMap<Spanned<String>>>,
    what: &str,
    id_prefix: &str,
    cx: &ValidateCtx,
    diags: &mut Diags,
) -> MemberChoice {
    let ids_field = cx.field(&format!("{what}_ids"));
    match (ids, tags) {
        (Some(ids), Some(_)) => {
            diags.push(
                Diagnostic::new(
                    &ids.referenced,
                    ids_field,
                    format!("give `{what}_ids` or `{what}_tags`, not both"),
                )
                .hint("or neither, for the VPC's default"),
            );
            MemberChoice::Default
        }
        (Some(ids), None) => {
            if ids.value.is_empty() {
                diags.push(
                    Diagnostic::new(&ids.referenced, &ids_field, "the list is empty")
                        .hint("name at least one, or leave the field out for the VPC's default"),
                );
            }
            for id in &ids.value {
                if !ec2_id(&id.value, id_prefix) {
                    diags.push(
                        Diagnostic::new(
                            &id.referenced,
                            &ids_field,
                            format!("`{}` is not a {what} id", id.value),
                        )
                        .hint(format!("{what} ids look like {id_prefix}0a1b2c3d4e5f60718")),
                    );
                }
            }
            MemberChoice::Ids(ids.value.iter().map(|i| i.value.clone()).collect())
        }
        (None, Some(tags)) if tags.0.is_empty() => {
            diags.error(
                &cx.loc,
                cx.field(&format!("{what}_tags")),
                format!("`{what}_tags` needs at least one tag"),
            );
            MemberChoice::Default
        }
        (None, Some(tags)) => MemberChoice::Tags(tag_map(tags)),
        (None, None) => MemberChoice::Default,
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
    let mut subnets = Vec::new();
    let mut next = None;
    loop {
        let request = aws
            .ec2
            .describe_subnets()
            .filters(filter("vpc-id", vpc_id))
            .set_next_token(next);
        let out = sdk("DescribeSubnets", request.send().await)?;
        subnets.extend(out.subnets.unwrap_or_default());
        match out.next_token {
            Some(t) => next = Some(t),
            None => break,
        }
    }
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
    let mut groups = Vec::new();
    let mut next = None;
    loop {
        let request = aws
            .ec2
            .describe_security_groups()
            .filters(filter("vpc-id", vpc_id))
            .set_next_token(next);
        let out = sdk("DescribeSecurityGroups", request.send().await)?;
        groups.extend(out.security_groups.unwrap_or_default());
        match out.next_token {
            Some(t) => next = Some(t),
            None => break,
        }
    }
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
