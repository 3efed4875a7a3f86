//! An `iam_role` as written in the stack file, and its validation.

use crate::kinds::kind::Validate;
use crate::policy::{
    Principal, Statement, TRUST_POLICY_DEFAULT_MAX, TRUST_POLICY_RAISED_MAX, iam_size,
};
use crate::spec::diag::{Diagnostic, Diags};
use crate::spec::fields::{IntRule, NameRules, ValidateCtx, physical_name};
use crate::spec::policy::{self, RawStatement, StatementSpec};
use crate::spec::raw::Spanned;
use crate::spec::raw::{SpannedMap, raw_resource};
use crate::spec::template::{Template, syntax_error};
use std::collections::{BTreeMap, BTreeSet};

raw_resource! {
    /// An `iam_role` as written in the stack file.
    #[schemars(rename = "IamRole")]
    pub struct RawRole {
        /// The role's name (1-64 of letters, digits, `+=,.@_-`). Required.
        #[schemars(length(min = 1, max = 64))]
        name: Spanned<String>,
        /// The role's path (default `/`); a change replaces the role.
        #[schemars(length(min = 1, max = 512))]
        path: Spanned<String>,
        /// What the role is for.
        #[schemars(length(max = 1000))]
        description: Spanned<String>,
        /// Service principals allowed to assume the role (default `[lambda.amazonaws.com]`).
        trusted_services: Spanned<Vec<Spanned<String>>>,
        /// Longest session, in seconds (default 3600).
        #[schemars(range(min = 3600, max = 43200))]
        max_session_duration: Spanned<i64>,
        /// ARN of a managed policy that bounds the role's permissions.
        permissions_boundary: Spanned<String>,
        /// ARNs of managed policies to attach.
        managed_policies: Spanned<Vec<Spanned<String>>>,
        /// Inline policies: name → statements.
        policies: SpannedMap<Spanned<Vec<Spanned<RawStatement>>>>,
    }
}

/// A validated `iam_role`.
#[derive(Debug)]
pub struct Role {
    pub name: String,
    pub path: String,
    pub description: String,
    pub trusted_services: BTreeSet<String>,
    pub max_session_duration: i32,
    pub permissions_boundary: Option<Template>,
    pub managed_policies: Vec<Template>,
    pub policies: BTreeMap<String, Vec<StatementSpec>>,
}

const DEFAULT_MANAGED_POLICIES: usize = 10;
const MAX_MANAGED_POLICIES: usize = 20;

const DEFAULT_TRUSTED_SERVICE: &str = "lambda.amazonaws.com";

pub const DEFAULT_MAX_SESSION: i64 = 3600;
const MAX_SESSION: IntRule = IntRule::range(
    3600..=43200,
    DEFAULT_MAX_SESSION,
    "seconds: IAM allows 3600 (one hour) to 43200 (twelve hours)",
);

/// IAM's characters for role and policy names: letters, digits and `+=,.@_-`.
const IAM_CHARS: &str = "+=,.@_-";
const ROLE_NAMES: NameRules = NameRules::letters_digits_and("role", 1..=64, IAM_CHARS)
    .example("cruddur-stream-processor-${env}")
    .ignoring_case();
const POLICY_NAMES: NameRules = NameRules::letters_digits_and("policy", 1..=128, IAM_CHARS);

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
    /// The inline policies the file declares, by name.
    pub fn policy_names(&self) -> Vec<String> {
        self.policies.keys().cloned().collect()
    }
}

impl Validate<Role> for RawRole {
    fn validate(self, cx: &ValidateCtx, diags: &mut Diags) -> Option<Role> {
        let raw = self;
        let start = diags.mark();
        let name = physical_name(raw.name(), &ROLE_NAMES, cx, diags);
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
        // CreateRole's Description pattern: tab, line breaks, printable ASCII and Latin-1.
        if let Some(d) = raw.description()
            && let Some(c) = d.value.chars().find(
                |c| !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{a1}'..='\u{ff}'),
            )
        {
            diags.push(
                Diagnostic::new(
                    &d.referenced,
                    cx.field("description"),
                    format!("a role description cannot hold `{c}`"),
                )
                .hint(
                    "IAM takes printable ASCII and Latin-1 letters in a description (CreateRole)",
                ),
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
        // The trust policy holds no references: its size is known here.
        let trust_size = iam_size(&trust_policy_of(&trusted_services));
        if let Some(list) = raw.trusted_services()
            && trust_size > TRUST_POLICY_DEFAULT_MAX
        {
            let field = cx.field("trusted_services");
            let message =
                format!("the trust policy is {trust_size} characters (white space not counted)");
            diags.push(if trust_size > TRUST_POLICY_RAISED_MAX {
                Diagnostic::new(&list.referenced, field, format!("{message}; IAM allows at most {TRUST_POLICY_RAISED_MAX}"))
                    .hint("IAM and AWS STS quotas: 2,048 by default, 4,096 at most on request; trust fewer services, or split the role")
            } else {
                Diagnostic::warning(&list.referenced, field, format!("{message}; IAM allows {TRUST_POLICY_DEFAULT_MAX} unless the account's quota was raised"))
                    .hint("IAM and AWS STS quotas: raise it to 4,096, or the role's creation fails mid-apply")
            });
        }
        let max_session = raw.max_session_duration();
        let max_session = MAX_SESSION.read(max_session, cx.field("max_session_duration"), diags);
        let permissions_boundary = raw
            .permissions_boundary()
            .and_then(|b| policy_arn(b, cx, &cx.field("permissions_boundary"), diags));
        let mut managed_policies = Vec::new();
        if let Some(list) = raw.managed_policies() {
            // IAM's quota: 10 managed policies per role by default, 20 at most on request.
            let count = list.value.len();
            if count > MAX_MANAGED_POLICIES {
                diags.push(
                    Diagnostic::new(
                        &list.referenced,
                        cx.field("managed_policies"),
                        format!(
                            "{count} managed policies; a role takes at most {MAX_MANAGED_POLICIES}"
                        ),
                    )
                    .hint("IAM's quota (IAM and AWS STS quotas): fold some into an inline policy"),
                );
            } else if count > DEFAULT_MANAGED_POLICIES {
                diags.push(
                    Diagnostic::warning(&list.referenced, cx.field("managed_policies"), format!("{count} managed policies; IAM allows {DEFAULT_MANAGED_POLICIES} per role unless the account's quota was raised"))
                        .hint("IAM's default quota (IAM and AWS STS quotas); the attach fails mid-apply otherwise"),
                );
            }
            for arn in &list.value {
                managed_policies.extend(policy_arn(arn, cx, &cx.field("managed_policies"), diags));
            }
        }
        let mut policies = BTreeMap::new();
        for (policy_name, statements) in raw.policies().iter().flat_map(|p| p.iter()) {
            let path = format!("{}.policies.{}", cx.path, policy_name.value);
            if !POLICY_NAMES.allows(&policy_name.value) {
                diags.push(
                    Diagnostic::new(
                        &policy_name.referenced,
                        &path,
                        format!("invalid policy name `{}`", policy_name.value),
                    )
                    .hint(POLICY_NAMES.says()),
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
        diags.clean_since(start)?;
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
}

impl Role {
    pub fn trust_policy(&self) -> Vec<Statement> {
        trust_policy_of(&self.trusted_services)
    }
}

/// The trust policy that lets `services` assume the role.
fn trust_policy_of(services: &BTreeSet<String>) -> Vec<Statement> {
    vec![Statement {
        sid: None,
        effect: "Allow".into(),
        principal: Some(Principal::Typed(BTreeMap::from([(
            "Service".to_string(),
            services.clone(),
        )]))),
        action: BTreeSet::from(["sts:AssumeRole".to_string()]),
        not_action: BTreeSet::new(),
        resource: BTreeSet::new(),
        not_resource: BTreeSet::new(),
        condition: BTreeMap::new(),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert!(ROLE_NAMES.allows("cruddur-stream-processor-dev"));
        assert!(!ROLE_NAMES.allows("has space"));
        assert!(!ROLE_NAMES.allows(&"x".repeat(65)));
        assert!(POLICY_NAMES.allows(&"x".repeat(65)));
        assert_eq!(
            POLICY_NAMES.says(),
            "1-128 characters: letters, digits, `+`, `=`, `,`, `.`, `@`, `_` and `-`"
        );
        assert!(valid_path("/"));
        assert!(valid_path("/cruddur/"));
        assert!(!valid_path("cruddur/"));
        assert!(!valid_path("/cruddur"));
        assert!(service_principal("lambda.amazonaws.com"));
        assert!(!service_principal("lambda"));
    }
}
