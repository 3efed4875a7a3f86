//! Ownership lives in AWS as tags, not in a state file: every resource the tool creates
//! carries `managed-by=cruddur-infra`, `cruddur-infra:stack=<stack>/<env>` and
//! `cruddur-infra:resource=<logical name>`. A resource without them is never changed or
//! deleted unless the user adopts it.

use crate::spec::diag::{Diagnostic, Diags};
use crate::spec::raw::SpannedMap;
use crate::spec::template::{Context, Template};
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

pub const MANAGED_BY_TAG: &str = "managed-by";
pub const MANAGED_BY_VALUE: &str = "cruddur-infra";
pub const STACK_TAG: &str = "cruddur-infra:stack";
pub const RESOURCE_TAG: &str = "cruddur-infra:resource";

/// AWS allows 50 tags per resource; the ownership tags take three of them.
pub const MAX_USER_TAGS: usize = 50 - 3;

/// The ownership tags of resource `logical` in `owner` (`<stack>/<env>`).
pub fn ownership(owner: &str, logical: &str) -> [(String, String); 3] {
    [
        (MANAGED_BY_TAG.into(), MANAGED_BY_VALUE.into()),
        (STACK_TAG.into(), owner.into()),
        (RESOURCE_TAG.into(), logical.into()),
    ]
}

#[derive(Debug, PartialEq, Eq)]
pub enum Owner<'a> {
    /// Tagged as managed by this stack/environment (or another one).
    Stack(&'a str),
    /// No ownership tag: made by hand or by another tool.
    Nobody,
}

pub fn owner_of(tags: &BTreeMap<String, String>) -> Owner<'_> {
    match tags.get(STACK_TAG) {
        Some(owner) => Owner::Stack(owner),
        None => Owner::Nobody,
    }
}

/// Whether `live` carries the same stack and resource ownership tags as `desired`: the
/// resource found where a create was meant to make it is the one this resource made (its
/// answer lost and the create sent again), not someone else's.
pub fn same_owner(desired: &BTreeMap<String, String>, live: &BTreeMap<String, String>) -> bool {
    [STACK_TAG, RESOURCE_TAG]
        .iter()
        .all(|key| desired.get(*key).is_some_and(|v| live.get(*key) == Some(v)))
}

/// What to set (new or changed values) and what to remove to turn `before` into `after`.
pub fn changes(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let set = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let removed = before
        .keys()
        .filter(|k| !after.contains_key(*k))
        .cloned()
        .collect();
    (set, removed)
}

/// Reads a `tags:` mapping (stack, environment or resource level), checking AWS's rules.
/// Values may reference other resources (`${messages.arn}`).
pub fn parse_user_tags(
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

fn value_problem(value: &str) -> Option<String> {
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
    fn ownership_is_read_from_the_stack_tag() {
        let mut tags: BTreeMap<String, String> = ownership("cruddur/dev", "messages").into();
        assert_eq!(owner_of(&tags), Owner::Stack("cruddur/dev"));
        tags.remove(STACK_TAG);
        assert_eq!(owner_of(&tags), Owner::Nobody);
    }

    #[test]
    fn same_owner_needs_the_same_stack_and_resource() {
        let mine: BTreeMap<String, String> = ownership("cruddur/dev", "messages").into();
        let mut live = mine.clone();
        live.insert("team".into(), "chat".into());
        assert!(same_owner(&mine, &live));
        let other_env: BTreeMap<String, String> = ownership("cruddur/prod", "messages").into();
        assert!(!same_owner(&mine, &other_env));
        let other_resource: BTreeMap<String, String> = ownership("cruddur/dev", "inbox").into();
        assert!(!same_owner(&mine, &other_resource));
        assert!(!same_owner(&mine, &BTreeMap::new()));
        // Nothing desired is nothing to recognise.
        assert!(!same_owner(&BTreeMap::new(), &BTreeMap::new()));
    }

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
