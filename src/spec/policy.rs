//! Policy statements as written in the stack file (an `iam_role`'s inline policies, a
//! `vpc_gateway_endpoint`'s policy): `{ sid?, effect?, actions, resources, conditions? }`,
//! validated with warnings on wildcards, and rendered to canonical [`Statement`]s once the
//! resources they name are known.

use crate::policy::{Principal, Statement};
use crate::spec::arn;
use crate::spec::condition;
use crate::spec::diag::{Diagnostic, Diags};
use crate::spec::raw::Spanned;
use crate::spec::raw::SpannedMap;
use crate::spec::template::{Context, Template, syntax_error};
use serde::Deserialize;
use serde::de::{self, Visitor};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
pub enum Effect {
    Allow,
    Deny,
}

/// A statement as written in the stack file:
/// `{ sid?, effect? (Allow), actions, resources, conditions? }`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Statement")]
pub struct RawStatement {
    /// The statement's id: letters and digits.
    #[serde(default)]
    #[schemars(regex(pattern = r"^[A-Za-z0-9]+$"))]
    sid: Option<Spanned<String>>,
    /// `Allow` (default) or `Deny`.
    #[serde(default)]
    effect: Option<Spanned<Effect>>,
    /// Actions as `service:Action` (wildcards warn). Required.
    #[schemars(length(min = 1))]
    actions: Spanned<Vec<Spanned<String>>>,
    /// Resource ARNs, references or `${aws.*}` placeholders. Required.
    #[schemars(length(min = 1))]
    resources: Spanned<Vec<Spanned<String>>>,
    /// Condition operator → condition key → value or values.
    #[serde(default)]
    conditions: Option<SpannedMap<SpannedMap<Spanned<OneOrMany>>>>,
}

/// A scalar or a list of scalars, read without buffering (so positions survive).
#[derive(Debug)]
pub struct OneOrMany(pub Vec<String>);

/// A value (string, number, true/false) or a list of them.
impl schemars::JsonSchema for OneOrMany {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "OneOrMany".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "anyOf": [
                { "type": ["string", "number", "boolean"] },
                { "type": "array", "items": { "type": "string" } }
            ]
        })
    }
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value or a list of values")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![s.to_string()]))
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![b.to_string()]))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![n.to_string()]))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![n.to_string()]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut all = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    all.push(s);
                }
                Ok(OneOrMany(all))
            }
        }
        d.deserialize_any(V)
    }
}

/// A validated statement whose resources may still reference other resources.
#[derive(Debug, Clone)]
pub struct StatementSpec {
    sid: Option<String>,
    effect: Effect,
    actions: BTreeSet<String>,
    resources: Vec<Template>,
    conditions: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
}

impl StatementSpec {
    pub fn templates(&self) -> impl Iterator<Item = &Template> {
        self.resources.iter()
    }

    pub fn actions(&self) -> impl Iterator<Item = &String> {
        self.actions.iter()
    }

    /// The canonical statement, with references rendered by `render`.
    pub fn render(
        &self,
        render: &dyn Fn(&Template) -> String,
        principal: Option<Principal>,
    ) -> Statement {
        Statement {
            sid: self.sid.clone(),
            effect: match self.effect {
                Effect::Allow => "Allow".into(),
                Effect::Deny => "Deny".into(),
            },
            principal,
            action: self.actions.clone(),
            not_action: BTreeSet::new(),
            resource: self.resources.iter().map(render).collect(),
            not_resource: BTreeSet::new(),
            condition: self.conditions.clone(),
        }
    }
}

/// `service:Action` with an optional wildcard, or `*`.
fn action_problem(action: &str) -> Option<String> {
    if action == "*" {
        return None;
    }
    let Some((service, name)) = action.split_once(':') else {
        return Some(format!(
            "action `{action}` must look like `service:Action` (e.g. dynamodb:Query)"
        ));
    };
    if service.is_empty()
        || !service
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Some(format!(
            "action `{action}`: `{service}` is not a service prefix (lower-case, e.g. dynamodb)"
        ));
    }
    if name.is_empty() {
        return Some(format!(
            "action `{action}` has no action name after `{service}:`"
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?')
    {
        return Some(format!("action `{action}`: `{name}` is not an action name"));
    }
    None
}

/// An ARN whose partition, service, region or account is a wildcard grants far more than
/// one resource; so does `*`.
fn broad_resource(resource: &str) -> bool {
    resource == "*" || resource.split(':').take(5).any(|part| part.contains('*'))
}

/// Whether every action is one that can only be granted on `*` (dynamodb:ListStreams):
/// then `*` is no wildcard to warn about.
fn only_star_grants(actions: &BTreeSet<String>) -> bool {
    !actions.is_empty()
        && actions
            .iter()
            .all(|a| arn::action_resource_types(a).is_some_and(<[&str]>::is_empty))
}

/// Validates a list of compact statements at `path`, warning on wildcards.
pub fn validate_statements(
    raw: &[Spanned<RawStatement>],
    ctx: &Context,
    path: &str,
    diags: &mut Diags,
) -> Vec<StatementSpec> {
    let mut out = Vec::new();
    let mut sids: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, statement) in raw.iter().enumerate() {
        let path = format!("{path}[{i}]");
        let r = &statement.value;
        let start = diags.mark();
        if let Some(sid) = &r.sid
            && let first = *sids.entry(&sid.value).or_insert(i)
            && first != i
        {
            diags.push(
                Diagnostic::new(
                    &sid.referenced,
                    format!("{path}.sid"),
                    format!("sid `{}` is already the id of statement {first}", sid.value),
                )
                .hint("statement ids must be unique within a policy (IAM refuses the policy)"),
            );
        }
        if let Some(sid) = &r.sid
            && (sid.value.is_empty() || !sid.value.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            diags.push(
                Diagnostic::new(
                    &sid.referenced,
                    format!("{path}.sid"),
                    format!("invalid sid `{}`", sid.value),
                )
                .hint("a statement id is letters and digits only"),
            );
        }
        if r.actions.value.is_empty() {
            diags.push(
                Diagnostic::new(
                    &r.actions.referenced,
                    format!("{path}.actions"),
                    "a statement needs at least one action",
                )
                .hint("e.g. actions: [dynamodb:Query]"),
            );
        }
        let mut actions = BTreeSet::new();
        for action in &r.actions.value {
            match action_problem(&action.value) {
                Some(problem) => diags.push(
                    Diagnostic::new(&action.referenced, format!("{path}.actions"), problem)
                        .hint("actions are `service:ActionName`, such as dynamodb:PutItem or logs:PutLogEvents"),
                ),
                None => {
                    if action.value.contains('*') || action.value.contains('?') {
                        diags.push(
                            Diagnostic::warning(&action.referenced, format!("{path}.actions"), format!("action `{}` is a wildcard", action.value))
                                .hint("least privilege: list the actions the code really calls"),
                        );
                    }
                    actions.insert(action.value.clone());
                }
            }
        }
        if r.resources.value.is_empty() {
            diags.push(
                Diagnostic::new(
                    &r.resources.referenced,
                    format!("{path}.resources"),
                    "a statement needs at least one resource",
                )
                .hint("e.g. resources: [\"${messages.arn}\"]"),
            );
        }
        let mut resources = Vec::new();
        for resource in &r.resources.value {
            let field = format!("{path}.resources");
            match Template::parse(&resource.value, ctx, resource.referenced, field.clone()) {
                Err(e) => diags.push(syntax_error(&resource.referenced, &field, e)),
                Ok(t) => {
                    if let Some(literal) = t.literal() {
                        if literal != "*" && !literal.starts_with("arn:") {
                            diags.push(
                                Diagnostic::new(&resource.referenced, &field, format!("resource `{literal}` is not an ARN"))
                                    .hint("use an ARN (arn:aws:...), a reference such as ${messages.arn}, or *"),
                            );
                        } else if broad_resource(&literal) && !only_star_grants(&actions) {
                            diags.push(
                                Diagnostic::warning(
                                    &resource.referenced,
                                    &field,
                                    format!(
                                        "resource `{literal}` matches every resource of its kind"
                                    ),
                                )
                                .hint("least privilege: name the resources, e.g. ${messages.arn}"),
                            );
                        }
                    }
                    resources.push(t);
                }
            }
        }
        let mut conditions = BTreeMap::new();
        for (operator, keys) in r.conditions.iter().flat_map(|c| c.iter()) {
            let field = format!("{path}.conditions.{}", operator.value);
            let base = condition::base_operator(&operator.value);
            if let Err(problem) = &base {
                diags.push(
                    Diagnostic::new(&operator.referenced, &field, problem)
                        .hint("e.g. StringEquals, ArnLike, NumericLessThan, Bool, Null; add IfExists or a ForAllValues:/ForAnyValue: prefix as IAM allows"),
                );
            }
            let mut by_key = BTreeMap::new();
            for (key, values) in keys.iter() {
                let field = format!("{field}.{}", key.value);
                if let Some(problem) = condition::key_problem(&key.value) {
                    diags.push(
                        Diagnostic::new(&key.referenced, &field, problem)
                            .hint("condition keys are `aws:...` or `<service>:...`, such as aws:SourceVpce or dynamodb:LeadingKeys"),
                    );
                }
                if values.value.0.is_empty() {
                    diags.error(
                        &values.referenced,
                        &field,
                        "a condition needs at least one value",
                    );
                }
                if let Ok(base) = base {
                    for value in &values.value.0 {
                        if let Some(problem) = condition::value_problem(base, value) {
                            diags.push(
                                Diagnostic::new(&values.referenced, &field, problem)
                                    .hint("Bool and Null compare true or false, the Numeric operators numbers (IAM JSON policy elements: Condition operators)"),
                            );
                        }
                    }
                }
                by_key.insert(key.value.clone(), values.value.0.iter().cloned().collect());
            }
            conditions.insert(operator.value.clone(), by_key);
        }
        if diags.clean_since(start).is_some() {
            out.push(StatementSpec {
                sid: r.sid.as_ref().map(|s| s.value.clone()),
                effect: r.effect.as_ref().map_or(Effect::Allow, |e| e.value),
                actions,
                resources,
                conditions,
            });
        }
    }
    out
}

/// `arn:aws:iam::aws:policy/...` (AWS managed) or `arn:aws:iam::<account>:policy/...`.
pub fn policy_arn_problem(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && (parts[4] == "aws"
            || (parts[4].len() == 12 && parts[4].chars().all(|c| c.is_ascii_digit())))
        && parts[5].starts_with("policy/")
        && parts[5].len() > "policy/".len();
    (!ok).then(|| format!("`{arn}` is not a managed policy ARN"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_forms() {
        assert!(action_problem("dynamodb:Query").is_none());
        assert!(action_problem("dynamodb:Get*").is_none());
        assert!(action_problem("*").is_none());
        assert!(
            action_problem("dynamodb:")
                .unwrap()
                .contains("no action name")
        );
        assert!(action_problem("Query").is_some());
        assert!(action_problem("DynamoDB:Query").is_some());
        assert!(action_problem("dynamodb:Query Items").is_some());
    }

    #[test]
    fn policy_arn_forms() {
        assert!(
            policy_arn_problem("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
                .is_none()
        );
        assert!(policy_arn_problem("arn:aws:iam::123456789012:policy/mine").is_none());
        assert!(policy_arn_problem("AWSLambdaBasicExecutionRole").is_some());
        assert!(policy_arn_problem("arn:aws:iam::aws:role/x").is_some());
        assert!(policy_arn_problem("arn:aws:iam::12345:policy/x").is_some());
    }

    #[test]
    fn broad_resources() {
        assert!(broad_resource("*"));
        assert!(broad_resource("arn:aws:dynamodb:*:123456789012:table/x"));
        assert!(!broad_resource(
            "arn:aws:dynamodb:us-east-1:123456789012:table/x/stream/*"
        ));
    }
}
