//! IAM policy documents: the compact form written in the stack file, and a canonical form in
//! which two documents that mean the same compare equal.
//!
//! IAM hands documents back URL-encoded, with keys reordered, and with a single string where
//! a one-element list was written; statements may come back in another order. None of that
//! is a change, so both sides are brought to [`Statement`]: every list a sorted set, every
//! condition value a string, statements sorted.

use crate::spec::diag::{Diagnostic, Diags};
use crate::spec::raw::SpannedMap;
use crate::spec::template::{Context, Template, syntax_error};
use anyhow::Context as _;
use serde::de::{self, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub const VERSION: &str = "2012-10-17";

/// One statement in canonical form; serialized with IAM's own key names so plans read like
/// the policies people know.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Statement {
    #[serde(rename = "Sid", skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(rename = "Effect")]
    pub effect: String,
    #[serde(rename = "Principal", skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    #[serde(rename = "Action", skip_serializing_if = "BTreeSet::is_empty")]
    pub action: BTreeSet<String>,
    #[serde(rename = "NotAction", skip_serializing_if = "BTreeSet::is_empty")]
    pub not_action: BTreeSet<String>,
    #[serde(rename = "Resource", skip_serializing_if = "BTreeSet::is_empty")]
    pub resource: BTreeSet<String>,
    #[serde(rename = "NotResource", skip_serializing_if = "BTreeSet::is_empty")]
    pub not_resource: BTreeSet<String>,
    #[serde(rename = "Condition", skip_serializing_if = "BTreeMap::is_empty")]
    pub condition: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
}

/// `"*"` or `{ "Service": [...], "AWS": [...] }`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(untagged)]
pub enum Principal {
    Anyone(String),
    Typed(BTreeMap<String, BTreeSet<String>>),
}

/// A whole document (for PutRolePolicy, UpdateAssumeRolePolicy, ModifyVpcEndpoint).
pub fn document(statements: &[Statement]) -> String {
    serde_json::json!({ "Version": VERSION, "Statement": statements }).to_string()
}

/// Reads a document as AWS returns it (possibly URL-encoded) into sorted canonical
/// statements.
pub fn parse_document(text: &str) -> anyhow::Result<Vec<Statement>> {
    let decoded;
    let text = if text.trim_start().starts_with('{') {
        text
    } else {
        decoded = percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .context("the policy document is neither JSON nor URL-encoded JSON")?;
        &decoded
    };
    let value: Value = serde_json::from_str(text).context("the policy document is not JSON")?;
    let statements = match &value["Statement"] {
        Value::Array(list) => list
            .iter()
            .map(statement_from_json)
            .collect::<anyhow::Result<Vec<_>>>()?,
        Value::Object(_) => vec![statement_from_json(&value["Statement"])?],
        Value::Null => Vec::new(),
        other => anyhow::bail!("unexpected Statement in policy document: {other}"),
    };
    Ok(sorted(statements))
}

pub fn sorted(mut statements: Vec<Statement>) -> Vec<Statement> {
    statements.sort();
    statements.dedup();
    statements
}

/// A string or a list of strings (or, in conditions, numbers and booleans) as a set.
fn strings(value: &Value) -> BTreeSet<String> {
    match value {
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::String(s) => BTreeSet::from([s.clone()]),
        Value::Null => BTreeSet::new(),
        other => BTreeSet::from([other.to_string()]),
    }
}

fn statement_from_json(v: &Value) -> anyhow::Result<Statement> {
    let principal = match &v["Principal"] {
        Value::Null => None,
        Value::String(s) => Some(Principal::Anyone(s.clone())),
        Value::Object(map) => Some(Principal::Typed(
            map.iter().map(|(k, v)| (k.clone(), strings(v))).collect(),
        )),
        other => anyhow::bail!("unexpected Principal in policy document: {other}"),
    };
    let mut condition = BTreeMap::new();
    if let Value::Object(operators) = &v["Condition"] {
        for (operator, keys) in operators {
            let keys = keys
                .as_object()
                .with_context(|| format!("condition {operator} is not a mapping"))?;
            condition.insert(
                operator.clone(),
                keys.iter().map(|(k, v)| (k.clone(), strings(v))).collect(),
            );
        }
    }
    Ok(Statement {
        sid: v["Sid"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        effect: v["Effect"].as_str().unwrap_or("Allow").to_string(),
        principal,
        action: strings(&v["Action"]),
        not_action: strings(&v["NotAction"]),
        resource: strings(&v["Resource"]),
        not_resource: strings(&v["NotResource"]),
        condition,
    })
}

// ---------------------------------------------------------------------------------------
// The stack-file form.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// A statement as written in the stack file:
/// `{ sid?, effect? (Allow), actions, resources, conditions? }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStatement {
    #[serde(default)]
    sid: Option<Spanned<String>>,
    #[serde(default)]
    effect: Option<Spanned<Effect>>,
    actions: Spanned<Vec<Spanned<String>>>,
    resources: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    conditions: Option<SpannedMap<SpannedMap<Spanned<OneOrMany>>>>,
}

/// A scalar or a list of scalars, read without buffering (so positions survive).
#[derive(Debug)]
pub struct OneOrMany(pub Vec<String>);

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

/// Validates a list of compact statements at `path`, warning on wildcards.
pub fn validate_statements(
    raw: &[Spanned<RawStatement>],
    ctx: &Context,
    path: &str,
    diags: &mut Diags,
) -> Vec<StatementSpec> {
    let mut out = Vec::new();
    for (i, statement) in raw.iter().enumerate() {
        let path = format!("{path}[{i}]");
        let r = &statement.value;
        let errors_before = diags.error_count();
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
                        } else if broad_resource(&literal) {
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
            let mut by_key = BTreeMap::new();
            for (key, values) in keys.iter() {
                if values.value.0.is_empty() {
                    diags.error(
                        &values.referenced,
                        format!("{path}.conditions.{}.{}", operator.value, key.value),
                        "a condition needs at least one value",
                    );
                }
                by_key.insert(key.value.clone(), values.value.0.iter().cloned().collect());
            }
            conditions.insert(operator.value.clone(), by_key);
        }
        if diags.error_count() == errors_before {
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
    fn equivalent_documents_compare_equal() {
        let written = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:Query"],"Resource":["arn:a","arn:b"]}]}"#;
        // As IAM returns it: URL-encoded, keys reordered, a list of one as a string,
        // resources in another order.
        let returned = "%7B%22Statement%22%3A%5B%7B%22Resource%22%3A%5B%22arn%3Ab%22%2C%22arn%3Aa%22%5D%2C%22Action%22%3A%22dynamodb%3AQuery%22%2C%22Effect%22%3A%22Allow%22%7D%5D%2C%22Version%22%3A%222012-10-17%22%7D";
        assert_eq!(
            parse_document(written).unwrap(),
            parse_document(returned).unwrap()
        );
        let single = r#"{"Statement":{"Effect":"Allow","Action":"dynamodb:Query","Resource":["arn:b","arn:a"]}}"#;
        assert_eq!(
            parse_document(written).unwrap(),
            parse_document(single).unwrap()
        );
    }

    #[test]
    fn real_changes_differ() {
        let a =
            r#"{"Statement":[{"Effect":"Allow","Action":"dynamodb:Query","Resource":"arn:a"}]}"#;
        let b =
            r#"{"Statement":[{"Effect":"Allow","Action":"dynamodb:PutItem","Resource":"arn:a"}]}"#;
        assert_ne!(parse_document(a).unwrap(), parse_document(b).unwrap());
    }

    #[test]
    fn conditions_and_principals_are_canonical() {
        let a = r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:SecureTransport":true}}}]}"#;
        let b = r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":["lambda.amazonaws.com"]},"Action":["sts:AssumeRole"],"Condition":{"Bool":{"aws:SecureTransport":["true"]}}}]}"#;
        assert_eq!(parse_document(a).unwrap(), parse_document(b).unwrap());
    }

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
