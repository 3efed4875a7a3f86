//! Reading and changing a role: the role, its inline policies (compared semantically),
//! its managed policy attachments and its tags.

use super::spec::DEFAULT_MAX_SESSION;
use super::{LiveRole, Role, RoleState};
use crate::aws::needs::Need;
use crate::aws::{Aws, absent_on, answered, describe_error, returned, sdk};
use crate::exec::ExecCtx;
use crate::kinds::kind::{Changes, Kind, Made};
use crate::policy::{self, Statement};
use crate::tags::{Owner, owner_of, same_owner};
use anyhow::{Context, bail};
use async_trait::async_trait;
use aws_sdk_iam::operation::create_role::CreateRoleError;
use aws_sdk_iam::operation::delete_role::DeleteRoleError;
use aws_sdk_iam::operation::delete_role_policy::DeleteRolePolicyError;
use aws_sdk_iam::operation::detach_role_policy::DetachRolePolicyError;
use aws_sdk_iam::operation::get_role::GetRoleError;
use aws_sdk_iam::operation::get_role_policy::GetRolePolicyError;
use aws_sdk_iam::types as iam;
use futures::future::try_join_all;
use std::collections::{BTreeMap, BTreeSet};

/// The IAM actions a role's code calls; see `crate::aws::needs`.
pub const NEEDS: &[Need] = &[
    // TagRole is also what a CreateRole that carries tags needs; a role's policies go
    // before the role does.
    Need::on(
        "role",
        "read: iam:GetRole iam:ListRolePolicies iam:GetRolePolicy iam:ListAttachedRolePolicies iam:ListRoleTags; create: iam:CreateRole; change: iam:TagRole iam:UntagRole iam:PutRolePolicy iam:AttachRolePolicy iam:UpdateAssumeRolePolicy iam:UpdateRole iam:PutRolePermissionsBoundary iam:DeleteRolePermissionsBoundary; delete: iam:DeleteRolePolicy iam:DetachRolePolicy iam:DeleteRole",
    ),
    // --deep-scan only: every role of the account.
    Need::anywhere("read: iam:ListRoles"),
];

/// Removes the role's policies, then the role.
pub async fn delete_role(cx: &ExecCtx<'_>, name: &str, live: &LiveRole) -> anyhow::Result<()> {
    cx.tracker.status("removing the role's policies");
    let none = RoleState {
        policies: BTreeMap::new(),
        managed_policies: BTreeSet::new(),
        ..live.state.clone()
    };
    sync_policies(cx, name, &live.state, &none).await?;
    cx.tracker.status("deleting role");
    match cx.aws.iam.delete_role().role_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if answered(&e, DeleteRoleError::is_no_such_entity_exception) => Ok(()),
        Err(e) if answered(&e, DeleteRoleError::is_delete_conflict_exception) => bail!(
            "{}; something outside the stack still uses the role (an instance profile, or a policy attached since plan ran): detach it, then run this again",
            describe_error("DeleteRole", &e)
        ),
        Err(e) => Err(crate::aws::errors::error("DeleteRole", &e)),
    }
}

/// Everything about the role `name`; `None` when it does not exist. `expected` names the
/// inline policies the file declares: the role's name and theirs are known without
/// asking, so GetRole, both listings and their GetRolePolicy all go out at once, and only
/// a policy found that the file does not declare costs a second round.
pub async fn read_role(
    aws: &Aws,
    name: &str,
    expected: &[String],
) -> anyhow::Result<Option<LiveRole>> {
    let get_role = async {
        let sent = aws.iam.get_role().role_name(name).send().await;
        let out = absent_on(GetRoleError::is_no_such_entity_exception, "GetRole", sent)?;
        out.map(|out| returned(out.role, "GetRole", "role"))
            .transpose()
    };
    let (role, names, managed_policies, documents) = tokio::join!(
        get_role,
        list_inline_policies(aws, name),
        read_attached_policies(aws, name),
        read_inline_policies(aws, name, expected),
    );
    // Without the role, the other reads failed or found nothing: their errors do not count.
    let Some(role) = role? else {
        return Ok(None);
    };
    let (names, managed_policies) = (names?, managed_policies?);
    let mut policies = documents?;
    let unexpected: Vec<String> = names
        .iter()
        .filter(|n| !policies.contains_key(*n))
        .cloned()
        .collect();
    let (extra, tags) = tokio::try_join!(
        read_inline_policies(aws, name, &unexpected),
        read_tags(aws, name, role.tags.as_deref()),
    )?;
    policies.extend(extra);
    // A policy read but not listed was deleted meanwhile, or never existed: it is gone.
    policies.retain(|policy, _| names.contains(policy));
    let trust_policy = match role.assume_role_policy_document.as_deref() {
        Some(doc) => policy::parse_document(doc).context("reading the role's trust policy")?,
        None => Vec::new(),
    };
    Ok(Some(LiveRole {
        state: RoleState {
            path: role.path.clone(),
            description: role.description.clone().unwrap_or_default(),
            max_session_duration: role
                .max_session_duration
                .unwrap_or(DEFAULT_MAX_SESSION as i32),
            permissions_boundary: role
                .permissions_boundary
                .as_ref()
                .and_then(|b| b.permissions_boundary_arn.clone()),
            trust_policy,
            managed_policies,
            policies,
            tags,
        },
        arn: role.arn,
    }))
}

/// Puts new or changed inline policies, deletes removed ones, attaches and detaches managed
/// policies: all independent, so all at once.
async fn sync_policies(
    cx: &ExecCtx<'_>,
    name: &str,
    before: &RoleState,
    after: &RoleState,
) -> anyhow::Result<()> {
    let iam = &cx.aws.iam;
    let puts = after
        .policies
        .iter()
        .filter(|(policy, statements)| before.policies.get(*policy) != Some(statements))
        .map(|(policy, statements)| async move {
            let request = iam
                .put_role_policy()
                .role_name(name)
                .policy_name(policy)
                .policy_document(policy::document(statements));
            sdk("PutRolePolicy", request.send().await).map(drop)
        });
    let deletes = before
        .policies
        .keys()
        .filter(|policy| !after.policies.contains_key(*policy))
        .map(|policy| async move {
            let request = iam.delete_role_policy().role_name(name).policy_name(policy);
            let sent = request.send().await;
            gone_is_done(
                "DeleteRolePolicy",
                DeleteRolePolicyError::is_no_such_entity_exception,
                sent,
            )
        });
    let attaches = after
        .managed_policies
        .difference(&before.managed_policies)
        .map(|arn| async move {
            let request = iam.attach_role_policy().role_name(name).policy_arn(arn);
            sdk("AttachRolePolicy", request.send().await).map(drop)
        });
    let detaches = before
        .managed_policies
        .difference(&after.managed_policies)
        .map(|arn| async move {
            let request = iam.detach_role_policy().role_name(name).policy_arn(arn);
            let sent = request.send().await;
            gone_is_done(
                "DetachRolePolicy",
                DetachRolePolicyError::is_no_such_entity_exception,
                sent,
            )
        });
    tokio::try_join!(
        try_join_all(puts),
        try_join_all(deletes),
        try_join_all(attaches),
        try_join_all(detaches)
    )?;
    Ok(())
}

/// A removal that finds nothing to remove is done: the SDK resent it after its first
/// answer was lost, or someone removed it meanwhile.
fn gone_is_done<T, E, R>(
    operation: &str,
    gone: impl Fn(&E) -> bool,
    result: Result<T, aws_sdk_iam::error::SdkError<E, R>>,
) -> anyhow::Result<()>
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    absent_on(gone, operation, result).map(drop)
}

crate::tag_api!(
    /// IAM's tagging API for roles, by the role's name.
    RoleTags,
    |aws, role, tags| aws.iam.tag_role().role_name(role).set_tags(Some(sdk_tags(tags)?)) => "TagRole",
    |aws, role, keys| aws.iam.untag_role().role_name(role).set_tag_keys(Some(keys.to_vec())) => "UntagRole",
);

fn sdk_tags(tags: &BTreeMap<String, String>) -> anyhow::Result<Vec<iam::Tag>> {
    tags.iter()
        .map(|(k, v)| Ok(iam::Tag::builder().key(k).value(v).build()?))
        .collect()
}

/// The names of the role's inline policies (every page).
async fn list_inline_policies(aws: &Aws, name: &str) -> anyhow::Result<Vec<String>> {
    let request = aws.iam.list_role_policies().role_name(name);
    let names = request.into_paginator().items().send().collect().await;
    sdk("ListRolePolicies", names)
}

/// The documents of the inline policies `policies`, all at once; a policy (or role) that
/// does not exist is left out.
async fn read_inline_policies(
    aws: &Aws,
    name: &str,
    policies: &[String],
) -> anyhow::Result<BTreeMap<String, Vec<Statement>>> {
    let documents = try_join_all(policies.iter().map(|policy| async move {
        let request = aws
            .iam
            .get_role_policy()
            .role_name(name)
            .policy_name(policy);
        let out = match request.send().await {
            Ok(out) => out,
            Err(e) if answered(&e, GetRolePolicyError::is_no_such_entity_exception) => {
                return anyhow::Ok(None);
            }
            Err(e) => return Err(crate::aws::errors::error("GetRolePolicy", &e)),
        };
        let statements = policy::parse_document(&out.policy_document)
            .with_context(|| format!("reading inline policy {policy}"))?;
        anyhow::Ok(Some((policy.clone(), statements)))
    }))
    .await?;
    Ok(documents.into_iter().flatten().collect())
}

async fn read_attached_policies(aws: &Aws, name: &str) -> anyhow::Result<BTreeSet<String>> {
    let request = aws.iam.list_attached_role_policies().role_name(name);
    let attached: Result<Vec<_>, _> = request.into_paginator().items().send().collect().await;
    let attached = sdk("ListAttachedRolePolicies", attached)?;
    Ok(attached.into_iter().filter_map(|p| p.policy_arn).collect())
}

/// GetRole carries the role's tags; ListRoleTags only when it did not (older APIs, or
/// emulators), so a normal read costs no extra call.
async fn read_tags(
    aws: &Aws,
    name: &str,
    from_get_role: Option<&[iam::Tag]>,
) -> anyhow::Result<BTreeMap<String, String>> {
    if let Some(tags) = from_get_role {
        return Ok(tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect());
    }
    let request = aws.iam.list_role_tags().role_name(name);
    let tags: Result<Vec<_>, _> = request.into_paginator().items().send().collect().await;
    let tags = sdk("ListRoleTags", tags)?;
    Ok(tags.into_iter().map(|t| (t.key, t.value)).collect())
}

#[async_trait]
impl Changes for Role {
    /// Creates the role (tagged as ours from the start), then its policies.
    async fn create(&self, cx: &ExecCtx<'_>, desired: &Self::State) -> Made<Self> {
        let name = &self.name;
        cx.tracker.status("creating role");
        let request = cx
            .aws
            .iam
            .create_role()
            .role_name(name)
            .path(&desired.path)
            .assume_role_policy_document(policy::document(&desired.trust_policy))
            .set_description((!desired.description.is_empty()).then(|| desired.description.clone()))
            .max_session_duration(desired.max_session_duration)
            .set_permissions_boundary(desired.permissions_boundary.clone())
            // Tags go on with the create, so the role is recognisably ours from the start.
            .set_tags(Some(sdk_tags(&desired.tags)?));
        let arn = match request.send().await {
            Ok(created) => returned(created.role, "CreateRole", "role")?.arn,
            // Made by this create whose answer was lost (the SDK sent it again): carry on
            // from what is there.
            Err(e) if answered(&e, CreateRoleError::is_entity_already_exists_exception) => {
                let live = read_role(cx.aws, name, &[]).await?;
                match live {
                    Some(live) if same_owner(&desired.tags, &live.state.tags) => {
                        return self.update(cx, &live, desired).await;
                    }
                    _ => bail!(
                        "{}; it is not this stack's: someone created it since plan ran (run plan again)",
                        describe_error("CreateRole", &e)
                    ),
                }
            }
            Err(e) => return Err(crate::aws::errors::error("CreateRole", &e)),
        };
        // Its name and ARN are what others refer to it by (a function's role): they may go
        // on while its policies are put.
        cx.publish(BTreeMap::from([
            ("name", Some(name.clone())),
            ("arn", Some(arn.clone())),
        ]));
        let empty = RoleState {
            policies: BTreeMap::new(),
            managed_policies: BTreeSet::new(),
            ..desired.clone()
        };
        sync_policies(cx, name, &empty, desired).await?;
        Ok(LiveRole {
            state: desired.clone(),
            arn,
        })
    }

    /// Changes the role in place: tags first (adopting a role makes it ours before anything
    /// else about it changes), then everything else at once.
    async fn update(&self, cx: &ExecCtx<'_>, live: &Self::Live, to: &Self::State) -> Made<Self> {
        let name = &self.name;
        let before = &live.state;
        crate::tags::sync(cx, &RoleTags(name), &before.tags, &to.tags).await?;
        cx.tracker.status("updating role");
        let iam = &cx.aws.iam;
        let trust = async {
            if before.trust_policy != to.trust_policy {
                let request = iam
                    .update_assume_role_policy()
                    .role_name(name)
                    .policy_document(policy::document(&to.trust_policy));
                sdk("UpdateAssumeRolePolicy", request.send().await)?;
            }
            anyhow::Ok(())
        };
        let settings = async {
            if before.description != to.description
                || before.max_session_duration != to.max_session_duration
            {
                let request = iam
                    .update_role()
                    .role_name(name)
                    .description(&to.description)
                    .max_session_duration(to.max_session_duration);
                sdk("UpdateRole", request.send().await)?;
            }
            anyhow::Ok(())
        };
        let boundary = async {
            match (&before.permissions_boundary, &to.permissions_boundary) {
                (old, Some(new)) if old.as_ref() != Some(new) => {
                    let request = iam
                        .put_role_permissions_boundary()
                        .role_name(name)
                        .permissions_boundary(new);
                    sdk("PutRolePermissionsBoundary", request.send().await)?;
                }
                (Some(_), None) => {
                    let request = iam.delete_role_permissions_boundary().role_name(name);
                    sdk("DeleteRolePermissionsBoundary", request.send().await)?;
                }
                _ => {}
            }
            anyhow::Ok(())
        };
        tokio::try_join!(
            trust,
            settings,
            boundary,
            sync_policies(cx, name, before, to)
        )?;
        Ok(LiveRole {
            state: to.clone(),
            arn: live.arn.clone(),
        })
    }
}

/// The roles the stack's index names (but those in `skip`), read in full; only those whose
/// tags say they are `owner`'s count (an entry is a place to look, not a claim).
pub async fn discover_indexed(
    aws: &Aws,
    owner: &str,
    skip: &BTreeSet<String>,
) -> anyhow::Result<Vec<LiveRole>> {
    let Some(names) = crate::index::keys(aws, owner, super::Role::TYPE).await? else {
        return Ok(Vec::new());
    };
    let reads = names
        .iter()
        .filter(|name| !skip.contains(*name))
        .map(|name| read_role(aws, name, &[]));
    let roles = try_join_all(reads).await?;
    Ok(roles
        .into_iter()
        .flatten()
        .filter(|role| owner_of(&role.state.tags) == Owner::Stack(owner))
        .collect())
}

/// Every role of the account tagged as `owner`'s, for an account whose stacks were made
/// before the index existed: IAM roles are not in the Resource Groups Tagging API, and
/// ListRoles carries no tags, so every role's tags are read (at most eight at a time),
/// skipping AWS's own service roles. Costs a call per role in the account.
pub async fn discover_deep(
    aws: &Aws,
    owner: &str,
    skip: &BTreeSet<String>,
) -> anyhow::Result<Vec<LiveRole>> {
    use futures::StreamExt;
    let roles: Result<Vec<_>, _> = aws
        .iam
        .list_roles()
        .into_paginator()
        .items()
        .send()
        .collect()
        .await;
    let names = sdk("ListRoles", roles)?
        .into_iter()
        .filter(|r| !r.path.starts_with("/aws-service-role/"))
        .filter(|r| !skip.contains(&r.role_name))
        .map(|r| r.role_name);
    let ours: Vec<String> = futures::stream::iter(names)
        .map(|name| async move {
            let tags = read_tags(aws, &name, None).await?;
            anyhow::Ok(
                (tags.get(crate::tags::STACK_TAG).map(String::as_str) == Some(owner))
                    .then_some(name),
            )
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .filter_map(|r| r.transpose())
        .collect::<anyhow::Result<_>>()?;
    let roles = try_join_all(ours.iter().map(|name| read_role(aws, name, &[]))).await?;
    Ok(roles.into_iter().flatten().collect())
}
