//! A plan: what apply or destroy would do to each resource, field by field. Built by the
//! engine from the spec and what it observed; rendered for people (Terraform-like) or as
//! JSON (`--output json`, documented in the README; `format_version` changes only when a
//! field is removed or its meaning changes).

use crate::values::UNKNOWN;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const FORMAT_VERSION: &str = "1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Nothing to do.
    NoOp,
    Create,
    /// Changed in place; the resource keeps its identity (and its data).
    Update,
    /// Taken over (tagged as this stack's), then updated in place.
    Adopt,
    /// Deleted and created again: for a table, every item is lost.
    Replace,
    Delete,
    /// Exists but belongs to nobody or to another stack: left alone unless adopted.
    Conflict,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Create => "+",
            Action::Update => "~",
            Action::Adopt => "<=",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::Conflict => "!",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Action::NoOp => "no changes",
            Action::Create => "will be created",
            Action::Update => "will be updated in place",
            Action::Adopt => "will be adopted, then updated in place",
            Action::Replace => "must be replaced",
            Action::Delete => "will be destroyed",
            Action::Conflict => "conflicts",
        }
    }
}

/// One field that differs between what exists and what the file asks for.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldChange {
    /// Path of the field, e.g. `read_capacity` or `global_secondary_indexes["by-user"].projection`.
    pub field: String,
    /// `null` when the field does not exist yet.
    pub before: Value,
    /// `null` when the field goes away, or when `after_unknown` is set.
    pub after: Value,
    /// The value is only known once apply has created something it depends on.
    pub after_unknown: bool,
    pub forces_replacement: bool,
    /// Side effects worth knowing, e.g. "the stream ARN changes".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourceChange {
    /// Logical name in the stack file.
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The AWS name or id of the resource (table name, ...).
    pub physical_id: String,
    pub action: Action,
    /// Why a replacement, a conflict or a skipped deletion; warnings about data.
    pub reasons: Vec<String>,
    pub changes: Vec<FieldChange>,
    /// Why the planned deletion (destroy or replace) cannot happen as things stand, e.g.
    /// deletion protection; apply and destroy refuse such a plan before changing anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked: Option<String>,
    /// Replacing it loses nothing (a trigger, remade from the file); apply does not ask
    /// for --allow-replace for it.
    #[serde(skip)]
    pub safe_to_replace: bool,
    /// Not in the stack file: found by its tags (see `kinds::orphan`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub orphan: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    Apply,
    Destroy,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub adopt: usize,
    pub replace: usize,
    pub delete: usize,
    pub no_op: usize,
    pub conflict: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub format_version: &'static str,
    pub stack: String,
    pub environment: String,
    pub operation: Operation,
    pub resource_changes: Vec<ResourceChange>,
    pub summary: Summary,
    /// Why carrying it out must not start; made with the plan (see `engine::plan`).
    #[serde(skip)]
    pub refusals: Refusals,
}

/// Why a plan must not be carried out as it stands, each as the message that says so and
/// what to do. Nothing is changed when any is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refusals {
    /// Resources that exist but are not this stack's (apply, unless adopted).
    pub conflicts: Option<String>,
    /// Replacements that would destroy data, without --allow-replace.
    pub replacements: Option<String>,
    /// Deletions (or updates) that cannot happen: deletion protection, items at risk
    /// without --allow-data-loss, a TTL still changing.
    pub blocked: Option<String>,
}

impl Refusals {
    /// The first reason, in the order apply checks them.
    pub fn first(&self) -> Option<&str> {
        [&self.conflicts, &self.replacements, &self.blocked]
            .into_iter()
            .find_map(|r| r.as_deref())
    }
}

impl Plan {
    pub fn new(
        stack: String,
        environment: String,
        operation: Operation,
        resource_changes: Vec<ResourceChange>,
    ) -> Plan {
        let mut summary = Summary::default();
        for rc in &resource_changes {
            *match rc.action {
                Action::NoOp => &mut summary.no_op,
                Action::Create => &mut summary.create,
                Action::Update => &mut summary.update,
                Action::Adopt => &mut summary.adopt,
                Action::Replace => &mut summary.replace,
                Action::Delete => &mut summary.delete,
                Action::Conflict => &mut summary.conflict,
            } += 1;
        }
        Plan {
            format_version: FORMAT_VERSION,
            stack,
            environment,
            operation,
            resource_changes,
            summary,
            refusals: Refusals::default(),
        }
    }

    pub fn has_changes(&self) -> bool {
        self.resource_changes
            .iter()
            .any(|rc| rc.action != Action::NoOp)
    }

    pub fn conflicts(&self) -> impl Iterator<Item = &ResourceChange> {
        self.resource_changes
            .iter()
            .filter(|rc| rc.action == Action::Conflict)
    }

    /// Replacements that destroy something (data, a resource others use): apply makes
    /// them only with --allow-replace.
    pub fn guarded_replacements(&self) -> impl Iterator<Item = &ResourceChange> {
        self.resource_changes
            .iter()
            .filter(|rc| rc.action == Action::Replace && !rc.safe_to_replace)
    }

    pub fn blocked(&self) -> impl Iterator<Item = &ResourceChange> {
        self.resource_changes
            .iter()
            .filter(|rc| rc.blocked.is_some())
    }

    /// The change of the declared resource `name` (orphans may share a logical name).
    pub fn get(&self, name: &str) -> Option<&ResourceChange> {
        self.resource_changes
            .iter()
            .find(|rc| rc.name == name && !rc.orphan)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut ResourceChange> {
        self.resource_changes
            .iter_mut()
            .find(|rc| rc.name == name && !rc.orphan)
    }

    /// What the plan deletes: declared resources by name, orphans by kind and id.
    pub fn deletions(&self) -> impl Iterator<Item = Deletion> + '_ {
        self.resource_changes
            .iter()
            .filter(|rc| rc.action == Action::Delete)
            .map(Deletion::of)
    }
}

/// A resource a plan deletes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Deletion {
    Declared(String),
    Orphan {
        kind: &'static str,
        physical_id: String,
    },
}

impl Deletion {
    pub fn of(rc: &ResourceChange) -> Deletion {
        if rc.orphan {
            Deletion::Orphan {
                kind: rc.kind,
                physical_id: rc.physical_id.clone(),
            }
        } else {
            Deletion::Declared(rc.name.clone())
        }
    }
}

/// Field-level differences between two JSON renderings of a resource's state. Objects are
/// compared key by key (so a changed GSI capacity shows as one line, not the whole index);
/// anything else is compared whole. A missing key and `null` are the same.
pub fn diff_values(before: &Value, after: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    diff_into("", before, after, &mut out);
    out
}

fn diff_into(path: &str, before: &Value, after: &Value, out: &mut Vec<FieldChange>) {
    // No value, an empty map and an empty list all mean "nothing there".
    if nothing(before) && nothing(after) {
        return;
    }
    // Lists in resource states are sets (policy statements, managed policy ARNs, route
    // tables): show what leaves and what arrives, one element per line.
    if (before.is_array() || after.is_array())
        && (before.is_array() || before.is_null())
        && (after.is_array() || after.is_null())
    {
        let empty = Vec::new();
        let b = before.as_array().unwrap_or(&empty);
        let a = after.as_array().unwrap_or(&empty);
        for gone in b.iter().filter(|v| !a.contains(v)) {
            diff_into(path, gone, &Value::Null, out);
        }
        for new in a.iter().filter(|v| !b.contains(v)) {
            diff_into(path, &Value::Null, new, out);
        }
        return;
    }
    if let (Value::Object(b), Value::Object(a)) = (before, after) {
        let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let child = join_path(path, key);
            let bv = b.get(key).unwrap_or(&Value::Null);
            let av = a.get(key).unwrap_or(&Value::Null);
            diff_into(&child, bv, av, out);
        }
        return;
    }
    if before != after {
        let unknown = contains_unknown(after);
        out.push(FieldChange {
            field: path.to_string(),
            before: before.clone(),
            after: if unknown { Value::Null } else { after.clone() },
            after_unknown: unknown,
            forces_replacement: false,
            note: None,
        });
    }
}

/// Every leaf of `value` as a change from nothing (what a create sets).
pub fn all_fields(value: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    leaves_into("", value, &mut out);
    out
}

fn leaves_into(path: &str, value: &Value, out: &mut Vec<FieldChange>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                leaves_into(&join_path(path, key), child, out);
            }
        }
        // Lists become one line per element in `diff_into`, as in updates.
        _ => diff_into(path, &Value::Null, value, out),
    }
}

fn nothing(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// Whether any string in `v` is unknown, in whole or in part.
pub fn contains_unknown(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains(UNKNOWN),
        Value::Array(items) => items.iter().any(contains_unknown),
        Value::Object(map) => map.values().any(contains_unknown),
        _ => false,
    }
}

/// `a.b` for identifier-like keys, `a["key-with-dashes"]` otherwise, so map keys such as
/// index names or tag keys stay readable and unambiguous.
fn join_path(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    match (parent.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{}]", Value::String(key.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_objects_diff_by_leaf() {
        let before = json!({"billing_mode": "PROVISIONED", "read_capacity": 5,
            "global_secondary_indexes": {"by-user": {"read_capacity": 5, "projection": "ALL"}},
            "tags": {"a": "1", "Team": "x"}});
        let after = json!({"billing_mode": "PROVISIONED", "read_capacity": 10,
            "global_secondary_indexes": {"by-user": {"read_capacity": 7, "projection": "ALL"}},
            "tags": {"a": "1", "b": "2"}});
        let changes = diff_values(&before, &after);
        let fields: Vec<_> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "global_secondary_indexes[\"by-user\"].read_capacity",
                "read_capacity",
                "tags[\"Team\"]",
                "tags.b"
            ]
        );
        assert_eq!(changes[1].before, json!(5));
        assert_eq!(changes[1].after, json!(10));
        assert_eq!(changes[2].after, Value::Null);
    }

    #[test]
    fn creates_list_every_leaf() {
        let fields: Vec<_> =
            all_fields(&json!({"key": {"hash": "pk"}, "tags": {"a-b": "1"}, "n": 5}))
                .into_iter()
                .map(|c| c.field)
                .collect();
        assert_eq!(fields, ["key.hash", "n", "tags[\"a-b\"]"]);
        assert!(all_fields(&json!({"indexes": {}, "list": []})).is_empty());
    }

    #[test]
    fn lists_diff_as_sets() {
        let changes = diff_values(
            &json!({"managed": ["a", "b"], "policies": {"p": [{"Action": ["x"]}]}}),
            &json!({"managed": ["b", "c"], "policies": {"p": [{"Action": ["y"]}]}}),
        );
        let shown: Vec<_> = changes
            .iter()
            .map(|c| (c.field.as_str(), c.before.clone(), c.after.clone()))
            .collect();
        assert_eq!(
            shown,
            [
                ("managed", json!("a"), Value::Null),
                ("managed", Value::Null, json!("c")),
                ("policies.p", json!({"Action": ["x"]}), Value::Null),
                ("policies.p", Value::Null, json!({"Action": ["y"]})),
            ]
        );
        assert!(diff_values(&json!({"l": ["b", "a"]}), &json!({"l": ["b", "a"]})).is_empty());
    }

    #[test]
    fn unknown_values_are_flagged() {
        let changes = diff_values(&json!({"tags": {}}), &json!({"tags": {"s": UNKNOWN}}));
        assert_eq!(changes.len(), 1);
        assert!(changes[0].after_unknown);
        assert_eq!(changes[0].after, Value::Null);
    }

    #[test]
    fn summary_counts_actions() {
        let rc = |action| ResourceChange {
            name: "t".into(),
            kind: "dynamodb_table",
            physical_id: "t".into(),
            action,
            reasons: vec![],
            changes: vec![],
            blocked: None,
            safe_to_replace: false,
            orphan: false,
        };
        let plan = Plan::new(
            "s".into(),
            "e".into(),
            Operation::Apply,
            vec![rc(Action::Create), rc(Action::NoOp), rc(Action::Replace)],
        );
        assert_eq!(plan.summary.create, 1);
        assert_eq!(plan.summary.replace, 1);
        assert_eq!(plan.summary.no_op, 1);
        assert!(plan.has_changes());
    }
}
