//! How the stack file chooses EC2 networking (`vpc`/`vpc_tags`, `<what>_ids`/`<what>_tags`):
//! read and checked here; found in the live account by `aws::lookup`.

use crate::aws::vpc::{MemberChoice, VpcChoice, ec2_id};
use crate::spec::diag::{Diagnostic, Diags};
use crate::spec::fields::ValidateCtx;
use crate::spec::raw::Spanned;
use crate::spec::raw::SpannedMap;
use std::collections::BTreeMap;

pub fn tag_map(map: &SpannedMap<Spanned<String>>) -> BTreeMap<String, String> {
    map.iter()
        .map(|(k, v)| (k.value.clone(), v.value.clone()))
        .collect()
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

/// Members of a VPC that a resource chooses by `<what>_ids` or `<what>_tags`.
pub struct Members {
    /// `subnet`: what the fields are named after.
    what: &'static str,
    /// How their ids start.
    id_prefix: &'static str,
}

pub const SUBNETS: Members = Members {
    what: "subnet",
    id_prefix: "subnet-",
};

pub const SECURITY_GROUPS: Members = Members {
    what: "security_group",
    id_prefix: "sg-",
};

impl Members {
    /// Reads `<what>_ids` / `<what>_tags` (e.g. `subnet_ids` / `subnet_tags`), checking the
    /// form of the ids.
    pub fn choice(
        &self,
        ids: Option<&Spanned<Vec<Spanned<String>>>>,
        tags: Option<&SpannedMap<Spanned<String>>>,
        cx: &ValidateCtx,
        diags: &mut Diags,
    ) -> MemberChoice {
        let Members { what, id_prefix } = *self;
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
                        Diagnostic::new(&ids.referenced, &ids_field, "the list is empty").hint(
                            "name at least one, or leave the field out for the VPC's default",
                        ),
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
}
