//! `iam_role`: an IAM role with its trust policy, inline policies (compact statements in the
//! stack file, compared semantically with what IAM returns), managed policy attachments,
//! path, description, maximum session duration, permissions boundary and tags.
//!
//! Everything changes in place except the path (IAM cannot move a role): that is a
//! replacement. Inline policies and attachments not in the file are removed from the role,
//! so one attached out of band shows up in plan.

use super::{Attributes, ExecCtx, Inputs, Kind, ValidateCtx};
use crate::aws::{Aws, describe_error, error_code, sdk};
use crate::plan::FieldChange;
use crate::policy::{self, Principal, RawStatement, Statement, StatementSpec};
use crate::spec::diag::{Diagnostic, Diags};
use crate::spec::raw::{SpannedMap, raw_resource};
use crate::spec::template::{Template, syntax_error};
use crate::tags::same_owner;
use anyhow::{Context, bail};
use async_trait::async_trait;
use aws_sdk_iam::types as iam;
use futures::future::try_join_all;
use serde::Serialize;
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, BTreeSet};

raw_resource! {
    /// An `iam_role` as written in the stack file.
    pub struct RawRole {
        name: Spanned<String>,
        path: Spanned<String>,
        description: Spanned<String>,
        trusted_services: Spanned<Vec<Spanned<String>>>,
        max_session_duration: Spanned<i64>,
        permissions_boundary: Spanned<String>,
        managed_policies: Spanned<Vec<Spanned<String>>>,
        policies: SpannedMap<Spanned<Vec<Spanned<RawStatement>>>>,
    }
}

/// A validated `iam_role`.
#[derive(Debug)]
pub struct Role {
    name: String,
    path: String,
    description: String,
    trusted_services: BTreeSet<String>,
    max_session_duration: i32,
    permissions_boundary: Option<Template>,
    managed_policies: Vec<Template>,
    policies: BTreeMap<String, Vec<StatementSpec>>,
}

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
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug)]
pub struct LiveRole {
    state: RoleState,
    arn: String,
}

const DEFAULT_TRUSTED_SERVICE: &str = "lambda.amazonaws.com";
const DEFAULT_MAX_SESSION: i64 = 3600;

const ROLE_NAMES: super::NameRules = super::NameRules {
    what: "role",
    example: "cruddur-stream-processor-${env}",
    valid: |s| iam_name(s, 64),
    rules: "1-64 characters: letters, digits and + = , . @ _ -",
};

/// IAM's characters for role and policy names: letters, digits and `+=,.@_-`.
fn iam_name(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

fn valid_path(p: &str) -> bool {
    (1..=512).contains(&p.len())
        && p.starts_with('/')
        && p.ends_with('/')
        && p.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c))
}

fn service_principal(s: &str) -> bool {
    (s.ends_with(".amazonaws.com") || s.ends_with(".amazonaws.com.cn"))
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
}

/// A policy ARN (possibly with `${aws.*}` placeholders) as a template, checked when literal.
fn policy_arn(
    s: &Spanned<String>,
    cx: &ValidateCtx,
    field: &str,
    diags: &mut Diags,
) -> Option<Template> {
    let t = Template::parse(&s.value, cx.template, s.referenced, field.to_string())
        .map_err(|e| diags.push(syntax_error(&s.referenced, field, e)))
        .ok()?;
    if let Some(problem) = t.literal().and_then(|l| policy::policy_arn_problem(&l)) {
        diags.push(
            Diagnostic::new(&s.referenced, field, problem)
                .hint("e.g. arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole, or arn:aws:iam::${aws.account_id}:policy/<name>"),
        );
        return None;
    }
    Some(t)
}

impl Role {
    fn validate_raw(raw: RawRole, cx: &ValidateCtx, diags: &mut Diags) -> Option<Role> {
        let errors_before = diags.error_count();
        let name = super::physical_name(raw.name(), &ROLE_NAMES, cx, diags);
        let path = raw
            .path()
            .map_or_else(|| "/".to_string(), |p| p.value.clone());
        if let Some(p) = raw.path()
            && !valid_path(&p.value)
        {
            diags.push(
                Diagnostic::new(
                    &p.referenced,
                    cx.field("path"),
                    format!("invalid path `{}`", p.value),
                )
                .hint("a path starts and ends with `/`, e.g. `/` or `/cruddur/`"),
            );
        }
        let description = raw
            .description()
            .map(|d| d.value.clone())
            .unwrap_or_default();
        if let Some(d) = raw.description()
            && d.value.chars().count() > 1000
        {
            diags.error(
                &d.referenced,
                cx.field("description"),
                "a role description is at most 1000 characters",
            );
        }
        let mut trusted_services = BTreeSet::new();
        match raw.trusted_services() {
            None => {
                trusted_services.insert(DEFAULT_TRUSTED_SERVICE.to_string());
            }
            Some(list) => {
                if list.value.is_empty() {
                    diags.push(
                        Diagnostic::new(
                            &list.referenced,
                            cx.field("trusted_services"),
                            "a role must trust at least one service",
                        )
                        .hint(format!("e.g. [{DEFAULT_TRUSTED_SERVICE}]")),
                    );
                }
                for s in &list.value {
                    if !service_principal(&s.value) {
                        diags.push(
                            Diagnostic::new(
                                &s.referenced,
                                cx.field("trusted_services"),
                                format!("`{}` is not a service principal", s.value),
                            )
                            .hint("service principals look like lambda.amazonaws.com"),
                        );
                    }
                    trusted_services.insert(s.value.clone());
                }
            }
        }
        let max_session = raw
            .max_session_duration()
            .map_or(DEFAULT_MAX_SESSION, |m| m.value);
        if let Some(m) = raw.max_session_duration()
            && !(3600..=43200).contains(&m.value)
        {
            diags.push(
                Diagnostic::new(
                    &m.referenced,
                    cx.field("max_session_duration"),
                    format!("{} seconds is out of range", m.value),
                )
                .hint("IAM allows 3600 (one hour) to 43200 (twelve hours)"),
            );
        }
        let permissions_boundary = raw
            .permissions_boundary()
            .and_then(|b| policy_arn(b, cx, &cx.field("permissions_boundary"), diags));
        let mut managed_policies = Vec::new();
        if let Some(list) = raw.managed_policies() {
            for arn in &list.value {
                managed_policies.extend(policy_arn(arn, cx, &cx.field("managed_policies"), diags));
            }
        }
        let mut policies = BTreeMap::new();
        for (policy_name, statements) in raw.policies().iter().flat_map(|p| p.iter()) {
            let path = format!("{}.policies.{}", cx.path, policy_name.value);
            if !iam_name(&policy_name.value, 128) {
                diags.push(
                    Diagnostic::new(
                        &policy_name.referenced,
                        &path,
                        format!("invalid policy name `{}`", policy_name.value),
                    )
                    .hint("1-128 characters: letters, digits and + = , . @ _ -"),
                );
            }
            if statements.value.is_empty() {
                diags.push(
                    Diagnostic::new(
                        &statements.referenced,
                        &path,
                        "a policy needs at least one statement",
                    )
                    .hint("remove the policy, or add statements with actions and resources"),
                );
            }
            let specs = policy::validate_statements(&statements.value, cx.template, &path, diags);
            policies.insert(policy_name.value.clone(), specs);
        }
        if diags.error_count() > errors_before {
            return None;
        }
        Some(Role {
            name: name?,
            path,
            description,
            trusted_services,
            max_session_duration: max_session as i32,
            permissions_boundary,
            managed_policies,
            policies,
        })
    }

    fn trust_policy(&self) -> Vec<Statement> {
        vec![Statement {
            sid: None,
            effect: "Allow".into(),
            principal: Some(Principal::Typed(BTreeMap::from([(
                "Service".to_string(),
                self.trusted_services.clone(),
            )]))),
            action: BTreeSet::from(["sts:AssumeRole".to_string()]),
            not_action: BTreeSet::new(),
            resource: BTreeSet::new(),
            not_resource: BTreeSet::new(),
            condition: BTreeMap::new(),
        }]
    }
}

#[async_trait]
impl Kind for Role {
    const TYPE: &'static str = "iam_role";
    const ATTRIBUTES: &'static [&'static str] = &["name", "arn"];
    type Raw = RawRole;
    type State = RoleState;
    type Live = LiveRole;

    fn validate(raw: RawRole, cx: &ValidateCtx, diags: &mut Diags) -> Option<Role> {
        Role::validate_raw(raw, cx, diags)
    }

    fn known_name(&self) -> Option<String> {
        Some(self.name.clone())
    }

    fn physical_id(&self, _live: Option<&LiveRole>) -> String {
        self.name.clone()
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

    async fn read(&self, aws: &Aws, _me: &super::Identity<'_>) -> anyhow::Result<Option<LiveRole>> {
        read_role(aws, &self.name).await
    }

    fn state(live: &LiveRole) -> &RoleState {
        &live.state
    }

    fn tags(state: &RoleState) -> &BTreeMap<String, String> {
        &state.tags
    }

    fn attributes(live: &LiveRole) -> Attributes {
        let name = live.arn.rsplit('/').next().unwrap_or_default().to_string();
        BTreeMap::from([("name", Some(name)), ("arn", Some(live.arn.clone()))])
    }

    fn desired(&self, inputs: &Inputs, tags: BTreeMap<String, String>) -> RoleState {
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

    fn annotate(&self, change: &mut FieldChange, _live: &LiveRole) {
        if change.field == "path" {
            change.forces_replacement = true;
        } else if change.field == "managed_policies"
            && change.after.is_null()
            && !change.after_unknown
        {
            change.note =
                Some("attached to the role but not in the stack file: it is detached".into());
        }
    }

    async fn create(&self, cx: &ExecCtx<'_>, desired: &RoleState) -> anyhow::Result<LiveRole> {
        cx.tracker.status("creating role");
        let request = cx
            .aws
            .iam
            .create_role()
            .role_name(&self.name)
            .path(&desired.path)
            .assume_role_policy_document(policy::document(&desired.trust_policy))
            .set_description((!desired.description.is_empty()).then(|| desired.description.clone()))
            .max_session_duration(desired.max_session_duration)
            .set_permissions_boundary(desired.permissions_boundary.clone())
            // Tags go on with the create, so the role is recognisably ours from the start.
            .set_tags(Some(sdk_tags(&desired.tags)?));
        let arn = match request.send().await {
            Ok(created) => created.role.context("CreateRole returned no role")?.arn,
            // Made by this create whose answer was lost (the SDK sent it again): carry on
            // from what is there.
            Err(e) if error_code(&e) == Some("EntityAlreadyExists") => {
                let live = read_role(cx.aws, &self.name).await?;
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
            Err(e) => bail!(describe_error("CreateRole", &e)),
        };
        let empty = RoleState {
            policies: BTreeMap::new(),
            managed_policies: BTreeSet::new(),
            ..desired.clone()
        };
        sync_policies(cx, &self.name, &empty, desired).await?;
        Ok(LiveRole {
            state: desired.clone(),
            arn,
        })
    }

    async fn update(
        &self,
        cx: &ExecCtx<'_>,
        live: &LiveRole,
        desired: &RoleState,
    ) -> anyhow::Result<LiveRole> {
        let name = self.name.as_str();
        let before = &live.state;
        // Tags first: adopting a role makes it ours before anything else about it changes.
        sync_tags(cx, name, &before.tags, &desired.tags).await?;
        cx.tracker.status("updating role");
        let iam = &cx.aws.iam;
        let trust = async {
            if before.trust_policy != desired.trust_policy {
                let request = iam
                    .update_assume_role_policy()
                    .role_name(name)
                    .policy_document(policy::document(&desired.trust_policy));
                sdk("UpdateAssumeRolePolicy", request.send().await)?;
            }
            anyhow::Ok(())
        };
        let settings = async {
            if before.description != desired.description
                || before.max_session_duration != desired.max_session_duration
            {
                let request = iam
                    .update_role()
                    .role_name(name)
                    .description(&desired.description)
                    .max_session_duration(desired.max_session_duration);
                sdk("UpdateRole", request.send().await)?;
            }
            anyhow::Ok(())
        };
        let boundary = async {
            match (&before.permissions_boundary, &desired.permissions_boundary) {
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
            sync_policies(cx, name, before, desired)
        )?;
        Ok(LiveRole {
            state: desired.clone(),
            arn: live.arn.clone(),
        })
    }

    async fn delete(&self, cx: &ExecCtx<'_>, live: &LiveRole) -> anyhow::Result<()> {
        delete_role(cx, &self.name, live).await
    }

    const DELETE_ORDER: u8 = 40;

    /// IAM roles are not in the Resource Groups Tagging API, and ListRoles carries no tags:
    /// every role's tags are read (at most eight at a time), skipping AWS's own
    /// service roles.
    async fn discover(
        aws: &Aws,
        owner: &str,
        skip: &BTreeSet<String>,
    ) -> anyhow::Result<Vec<LiveRole>> {
        use futures::StreamExt;
        let mut names = Vec::new();
        let mut marker = None;
        loop {
            let out = sdk(
                "ListRoles",
                aws.iam.list_roles().set_marker(marker).send().await,
            )?;
            names.extend(
                out.roles
                    .iter()
                    .filter(|r| !r.path.starts_with("/aws-service-role/"))
                    .filter(|r| !skip.contains(&r.role_name))
                    .map(|r| r.role_name.clone()),
            );
            match (out.is_truncated, out.marker) {
                (true, Some(m)) => marker = Some(m),
                _ => break,
            }
        }
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
        let roles = try_join_all(ours.iter().map(|name| read_role(aws, name))).await?;
        Ok(roles.into_iter().flatten().collect())
    }

    async fn delete_orphan(cx: &ExecCtx<'_>, live: &LiveRole) -> anyhow::Result<()> {
        let name = live.arn.rsplit('/').next().unwrap_or_default().to_string();
        delete_role(cx, &name, live).await
    }
}

/// Removes the role's policies, then the role.
async fn delete_role(cx: &ExecCtx<'_>, name: &str, live: &LiveRole) -> anyhow::Result<()> {
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
        Err(e) if error_code(&e) == Some("NoSuchEntity") => Ok(()),
        Err(e) if error_code(&e) == Some("DeleteConflict") => bail!(
            "{}; something outside the stack still uses the role (an instance profile, or a policy attached since plan ran): detach it, then run this again",
            crate::aws::describe_error("DeleteRole", &e)
        ),
        Err(e) => bail!(crate::aws::describe_error("DeleteRole", &e)),
    }
}

/// Everything about the role `name`; `None` when it does not exist.
async fn read_role(aws: &Aws, name: &str) -> anyhow::Result<Option<LiveRole>> {
    let role = match aws.iam.get_role().role_name(name).send().await {
        Ok(out) => out.role.context("GetRole returned no role")?,
        Err(e) if error_code(&e) == Some("NoSuchEntity") => return Ok(None),
        Err(e) => bail!(crate::aws::describe_error("GetRole", &e)),
    };
    let (policies, managed_policies, tags) = tokio::try_join!(
        read_inline_policies(aws, name),
        read_attached_policies(aws, name),
        read_tags(aws, name, role.tags.as_deref()),
    )?;
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
            gone_is_done("DeleteRolePolicy", request.send().await)
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
            gone_is_done("DetachRolePolicy", request.send().await)
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
    result: Result<T, aws_sdk_iam::error::SdkError<E, R>>,
) -> anyhow::Result<()>
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Err(e) if error_code(&e) == Some("NoSuchEntity") => Ok(()),
        result => sdk(operation, result).map(drop),
    }
}

async fn sync_tags(
    cx: &ExecCtx<'_>,
    name: &str,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let (set, removed) = crate::tags::changes(before, after);
    if !set.is_empty() {
        cx.tracker.status("tagging");
        let request = cx
            .aws
            .iam
            .tag_role()
            .role_name(name)
            .set_tags(Some(sdk_tags(&set)?));
        sdk("TagRole", request.send().await)?;
    }
    if !removed.is_empty() {
        cx.tracker.status("removing tags");
        let request = cx
            .aws
            .iam
            .untag_role()
            .role_name(name)
            .set_tag_keys(Some(removed));
        sdk("UntagRole", request.send().await)?;
    }
    Ok(())
}

fn sdk_tags(tags: &BTreeMap<String, String>) -> anyhow::Result<Vec<iam::Tag>> {
    tags.iter()
        .map(|(k, v)| Ok(iam::Tag::builder().key(k).value(v).build()?))
        .collect()
}

/// Every inline policy: the names (paged), then each document, all at once.
async fn read_inline_policies(
    aws: &Aws,
    name: &str,
) -> anyhow::Result<BTreeMap<String, Vec<Statement>>> {
    let mut names = Vec::new();
    let mut marker = None;
    loop {
        let request = aws
            .iam
            .list_role_policies()
            .role_name(name)
            .set_marker(marker);
        let out = sdk("ListRolePolicies", request.send().await)?;
        names.extend(out.policy_names);
        match (out.is_truncated, out.marker) {
            (true, Some(m)) => marker = Some(m),
            _ => break,
        }
    }
    let documents = try_join_all(names.iter().map(|policy| async move {
        let request = aws
            .iam
            .get_role_policy()
            .role_name(name)
            .policy_name(policy);
        let out = sdk("GetRolePolicy", request.send().await)?;
        let statements = policy::parse_document(&out.policy_document)
            .with_context(|| format!("reading inline policy {policy}"))?;
        anyhow::Ok((policy.clone(), statements))
    }))
    .await?;
    Ok(documents.into_iter().collect())
}

async fn read_attached_policies(aws: &Aws, name: &str) -> anyhow::Result<BTreeSet<String>> {
    let mut arns = BTreeSet::new();
    let mut marker = None;
    loop {
        let request = aws
            .iam
            .list_attached_role_policies()
            .role_name(name)
            .set_marker(marker);
        let out = sdk("ListAttachedRolePolicies", request.send().await)?;
        arns.extend(
            out.attached_policies
                .unwrap_or_default()
                .into_iter()
                .filter_map(|p| p.policy_arn),
        );
        match (out.is_truncated, out.marker) {
            (true, Some(m)) => marker = Some(m),
            _ => return Ok(arns),
        }
    }
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
    let mut tags = BTreeMap::new();
    let mut marker = None;
    loop {
        let request = aws.iam.list_role_tags().role_name(name).set_marker(marker);
        let out = sdk("ListRoleTags", request.send().await)?;
        tags.extend(out.tags.into_iter().map(|t| (t.key, t.value)));
        match (out.is_truncated, out.marker) {
            (true, Some(m)) => marker = Some(m),
            _ => return Ok(tags),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert!(iam_name("cruddur-stream-processor-dev", 64));
        assert!(!iam_name("has space", 64));
        assert!(!iam_name(&"x".repeat(65), 64));
        assert!(valid_path("/"));
        assert!(valid_path("/cruddur/"));
        assert!(!valid_path("cruddur/"));
        assert!(!valid_path("/cruddur"));
        assert!(service_principal("lambda.amazonaws.com"));
        assert!(!service_principal("lambda"));
    }
}
