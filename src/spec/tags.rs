//! `tags:` in the stack file (stack-wide, per environment, per resource), checked against
//! AWS's rules for keys and values; values may reference other resources.

use crate::spec::diag::{Diagnostic, Diags};
use crate::spec::raw::Spanned;
use crate::spec::raw::SpannedMap;
use crate::spec::template::{Context, Template};
use crate::tags::{MANAGED_BY_TAG, MAX_USER_TAGS};
use std::collections::BTreeMap;

/// Reads a `tags:` mapping (stack, environment or resource level), checking AWS's rules.
/// Values may reference other resources (`${messages.arn}`).
pub fn parse(
    map: &SpannedMap<Spanned<String>>,
    ctx: &Context,
    path: &str,
    diags: &mut Diags,
) -> BTreeMap<String, Template> {
    let mut out = BTreeMap::new();
    if map.0.len() > MAX_USER_TAGS {
        let at = map.0[MAX_USER_TAGS].0.referenced;
        diags.push(
            Diagnostic::new(
                &at,
                path,
                format!("{} tags; at most {MAX_USER_TAGS} are allowed", map.0.len()),
            )
            .hint("AWS allows 50 tags per resource and cruddur-infra uses 3 for ownership"),
        );
    }
    for (key, value) in map.iter() {
        let field = format!("{path}.{}", key.value);
        if let Some(problem) = key_problem(&key.value) {
            diags.push(Diagnostic::new(&key.referenced, &field, problem).hint("tag keys are 1-128 characters of letters, digits, spaces and _ . : / = + - @, not starting with `aws:` or `cruddur-infra:` and not `managed-by`"));
            continue;
        }
        match Template::parse(&value.value, ctx, value.referenced, field.clone()) {
            Err(e) => diags.push(crate::spec::template::syntax_error(
                &value.referenced,
                &field,
                e,
            )),
            Ok(t) => {
                if let Some(literal) = t.literal()
                    && let Some(problem) = value_problem(&literal)
                {
                    diags.push(Diagnostic::new(&value.referenced, &field, problem).hint(
                        "tag values are 0-256 characters of letters, digits, spaces and _ . : / = + - @",
                    ));
                } else {
                    out.insert(key.value.clone(), t);
                }
            }
        }
    }
    out
}

fn allowed_char(c: char) -> bool {
    c.is_alphanumeric() || " _.:/=+-@".contains(c)
}

fn key_problem(key: &str) -> Option<String> {
    let lower = key.to_ascii_lowercase();
    if key.is_empty() || key.chars().count() > 128 {
        Some(format!("tag key `{key}` must be 1-128 characters long"))
    } else if lower.starts_with("aws:") {
        Some(format!(
            "tag key `{key}`: the `aws:` prefix is reserved by AWS"
        ))
    } else if lower.starts_with("cruddur-infra:") || key == MANAGED_BY_TAG {
        Some(format!(
            "tag key `{key}` is reserved for cruddur-infra's ownership tags"
        ))
    } else if !key.chars().all(allowed_char) {
        Some(format!(
            "tag key `{key}` has a character AWS does not allow in tags"
        ))
    } else {
        None
    }
}

/// Why AWS would refuse `value` as a tag value, if it would.
pub fn value_problem(value: &str) -> Option<String> {
    if value.chars().count() > 256 {
        Some("tag value is longer than 256 characters".into())
    } else if !value.chars().all(allowed_char) {
        Some(format!(
            "tag value `{value}` has a character AWS does not allow in tags"
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_malformed_keys_are_refused() {
        assert!(key_problem("aws:cloudformation:stack-name").is_some());
        assert!(key_problem("cruddur-infra:stack").is_some());
        assert!(key_problem("managed-by").is_some());
        assert!(key_problem("bad#key").is_some());
        assert!(key_problem("").is_some());
        assert!(key_problem("team").is_none());
        assert!(value_problem("a/b c=d").is_none());
        assert!(value_problem("semi;colon").is_some());
    }
}
