//! A `vpc_gateway_endpoint` as written in the stack file, and its validation.

use crate::aws::vpc::{VpcChoice, ec2_id};
use crate::kinds::kind::Validate;
use crate::spec::diag::{Diagnostic, Diags};
use crate::spec::fields::ValidateCtx;
use crate::spec::network::{self, tag_map};
use crate::spec::policy::{self, RawStatement, StatementSpec};
use crate::spec::raw::Spanned;
use crate::spec::raw::{SpannedMap, raw_resource};
use std::collections::{BTreeMap, BTreeSet};

raw_resource! {
    /// A `vpc_gateway_endpoint` as written in the stack file.
    #[schemars(rename = "VpcGatewayEndpoint")]
    pub struct RawEndpoint {
        /// `dynamodb`, `s3`, or a full service name (`com.amazonaws.us-east-1.dynamodb`).
        /// Required; a change replaces the endpoint.
        service: Spanned<String>,
        /// `default` (the default) or a VPC id; a change replaces the endpoint.
        vpc: Spanned<String>,
        /// Or: the VPC whose tags are these.
        vpc_tags: SpannedMap<Spanned<String>>,
        /// Route table ids (default: all of the VPC's route tables).
        route_table_ids: Spanned<Vec<Spanned<String>>>,
        /// Or: the VPC's route tables with these tags.
        route_table_tags: SpannedMap<Spanned<String>>,
        /// The endpoint policy's statements (principal `*`; default: full access).
        policy: Spanned<Vec<Spanned<RawStatement>>>,
    }
}

#[derive(Debug, Clone)]
pub enum RouteTableChoice {
    /// Every route table of the VPC.
    All,
    Ids(BTreeSet<String>),
    Tags(BTreeMap<String, String>),
}

/// A validated `vpc_gateway_endpoint`.
#[derive(Debug)]
pub struct Endpoint {
    /// `dynamodb`, or a full service name such as `com.amazonaws.us-east-1.dynamodb`.
    pub service: String,
    pub vpc: VpcChoice,
    pub route_tables: RouteTableChoice,
    /// `None`: AWS's default policy (full access).
    pub policy: Option<Vec<StatementSpec>>,
}

/// Gateway endpoints exist for two services only (Amazon VPC, "Gateway endpoints"):
/// `dynamodb` and `s3`, by short name or as `com.amazonaws.<region>.<service>`.
fn service_ok(s: &str) -> bool {
    let short = s.rsplit('.').next().unwrap_or_default();
    matches!(short, "dynamodb" | "s3")
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

impl Validate<Endpoint> for RawEndpoint {
    fn validate(self, cx: &ValidateCtx, diags: &mut Diags) -> Option<Endpoint> {
        let raw = self;
        let start = diags.mark();
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
                        .hint("gateway endpoints exist for dynamodb and s3 only (or their full names, such as com.amazonaws.us-east-1.dynamodb)"),
                );
                String::new()
            }
            Some(s) => s.value.clone(),
        };
        let vpc = network::vpc_choice(raw.vpc(), raw.vpc_tags(), cx, "", diags);
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
        diags.clean_since(start)?;
        Some(Endpoint {
            service,
            vpc,
            route_tables,
            policy,
        })
    }
}

impl Endpoint {
    pub fn service_name(&self, region: &str) -> String {
        if self.service.contains('.') {
            self.service.clone()
        } else {
            format!("com.amazonaws.{region}.{}", self.service)
        }
    }
}
