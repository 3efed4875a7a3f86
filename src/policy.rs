//! IAM policy documents in a canonical form in which two documents that mean the same
//! compare equal. (The compact form written in the stack file is `spec::policy`.)
//!
//! IAM hands documents back URL-encoded, with keys reordered, and with a single string where
//! a one-element list was written; statements may come back in another order. None of that
//! is a change, so both sides are brought to [`Statement`]: every list a sorted set, every
//! condition value a string, statements sorted.

use anyhow::Context as _;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

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

/// IAM's size of a document: its characters, white space not counted (IAM and AWS STS
/// quotas).
pub fn iam_size(statements: &[Statement]) -> usize {
    document(statements)
        .chars()
        .filter(|c| !c.is_whitespace())
        .count()
}

/// The most an IAM role's inline policies may hold together, white space not counted
/// (IAM and AWS STS quotas; not adjustable).
pub const ROLE_INLINE_POLICIES_MAX: usize = 10_240;
/// A role's trust policy: IAM's default quota, and the most it can be raised to.
pub const TRUST_POLICY_DEFAULT_MAX: usize = 2_048;
pub const TRUST_POLICY_RAISED_MAX: usize = 4_096;
/// A VPC endpoint's policy, white space included (AWS PrivateLink quotas).
pub const ENDPOINT_POLICY_MAX: usize = 20_480;

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
}
