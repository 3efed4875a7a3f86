//! A policy statement's `conditions`, checked against IAM's grammar (the IAM User Guide,
//! "IAM JSON policy elements: Condition operators" and "Condition"): the operator names
//! IAM knows, with the `...IfExists` suffix and the `ForAllValues:`/`ForAnyValue:` set
//! prefixes; condition keys as `prefix:name`; and the values the boolean and numeric
//! operators can compare. IAM refuses a policy that breaks any of these, mid-apply.

/// Every base operator, as the IAM User Guide lists them.
const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
    "Null",
];

const SET_PREFIXES: &[&str] = &["ForAllValues:", "ForAnyValue:"];

/// The base operator of `operator` (without its set prefix and `IfExists`), or why it is
/// not one IAM knows.
pub fn base_operator(operator: &str) -> Result<&str, String> {
    let unprefixed = SET_PREFIXES
        .iter()
        .find_map(|p| operator.strip_prefix(p))
        .unwrap_or(operator);
    let (base, if_exists) = match unprefixed.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (unprefixed, false),
    };
    if !OPERATORS.contains(&base) {
        let close = OPERATORS
            .iter()
            .find(|known| known.eq_ignore_ascii_case(base))
            .map(|known| format!(" (IAM spells it `{known}`)"))
            .unwrap_or_default();
        return Err(format!("`{operator}` is not a condition operator{close}"));
    }
    if if_exists && base == "Null" {
        return Err(format!(
            "`{operator}`: Null takes no IfExists (it already tests whether the key is there)"
        ));
    }
    Ok(base)
}

/// Why `key` is not a condition key (`aws:SourceVpce`, `dynamodb:LeadingKeys`,
/// `aws:RequestTag/<tag key>`), if it is not.
pub fn key_problem(key: &str) -> Option<String> {
    let Some((prefix, name)) = key.split_once(':') else {
        return Some(format!(
            "condition key `{key}` must look like `prefix:name` (e.g. aws:SourceVpce)"
        ));
    };
    let prefix_ok = !prefix.is_empty()
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !prefix_ok {
        return Some(format!(
            "condition key `{key}`: `{prefix}` is not a service prefix (e.g. aws, dynamodb)"
        ));
    }
    if name.is_empty() {
        return Some(format!(
            "condition key `{key}` has no name after `{prefix}:`"
        ));
    }
    None
}

/// Why `value` cannot be compared by the base operator `base`, if it cannot. Values with
/// a policy variable (`${aws:username}`) are IAM's to resolve and are not checked.
pub fn value_problem(base: &str, value: &str) -> Option<String> {
    if value.contains("${") {
        return None;
    }
    match base {
        "Bool" | "Null" if !matches!(value, "true" | "false") => {
            Some(format!("{base} compares `true` or `false`, not `{value}`"))
        }
        _ if base.starts_with("Numeric") && value.parse::<f64>().is_err() => {
            Some(format!("{base} compares numbers; `{value}` is not one"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_as_iam_documents_them() {
        for operator in [
            "StringEquals",
            "StringLikeIfExists",
            "ForAllValues:StringEquals",
            "ForAnyValue:StringNotLikeIfExists",
            "ArnLike",
            "Null",
            "Bool",
            "NumericLessThanEquals",
            "DateGreaterThan",
            "IpAddress",
            "BinaryEquals",
        ] {
            assert!(base_operator(operator).is_ok(), "{operator}");
        }
        assert_eq!(base_operator("ForAnyValue:ArnLikeIfExists"), Ok("ArnLike"));
        assert_eq!(
            base_operator("stringEquals").unwrap_err(),
            "`stringEquals` is not a condition operator (IAM spells it `StringEquals`)"
        );
        assert!(base_operator("StringEqual").is_err());
        assert!(base_operator("ForEachValue:StringEquals").is_err());
        assert!(base_operator("NullIfExists").is_err());
        assert!(base_operator("").is_err());
    }

    #[test]
    fn keys_are_prefix_and_name() {
        assert!(key_problem("aws:SourceVpce").is_none());
        assert!(key_problem("dynamodb:LeadingKeys").is_none());
        assert!(key_problem("aws:RequestTag/cost center").is_none());
        assert!(key_problem("SourceVpce").is_some());
        assert!(key_problem("aws:").is_some());
        assert!(key_problem(":SourceVpce").is_some());
        assert!(key_problem("a ws:SourceVpce").is_some());
    }

    #[test]
    fn values_fit_their_operator() {
        assert!(value_problem("Bool", "true").is_none());
        assert!(value_problem("Null", "false").is_none());
        assert!(value_problem("Bool", "yes").is_some());
        assert!(value_problem("NumericLessThan", "3600").is_none());
        assert!(value_problem("NumericLessThan", "1.5").is_none());
        assert!(value_problem("NumericLessThan", "an hour").is_some());
        assert!(value_problem("StringEquals", "anything").is_none());
        assert!(value_problem("NumericEquals", "${aws:MultiFactorAuthAge}").is_none());
    }
}
