//! The structured diff: which leaves of a resource's state change, each named by a path of
//! segments (an object's field or a map's key, or an element of a set).
//!
//! States are compared as JSON. Objects are compared key by key, so a changed index
//! capacity is one change, not the whole index. Every array in a resource state is a set
//! (subnet ids, managed policies, actions, route tables, policy statements): what leaves and
//! what arrives, element by element. A policy statement that changed (the same `Sid`, or
//! the same effect and actions or resources) is paired with its old self and compared field
//! by field, so a plan says "this statement gained an action", not "one went, one came".
//! A missing key, `null`, an empty map and an empty set are all "nothing there".
//!
//! A value not known until apply is [`UNKNOWN`] inside its string, whole or in part: the
//! rest of the value stays readable. In JSON, such a string is `null` and its place in
//! `after_unknown` is `true`, as in Terraform's plans.

use crate::values::UNKNOWN;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value;
use std::fmt;

/// One step into a value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    /// An object's field or a map's key.
    Key(String),
    /// A set's element, by its position among the set's elements before and after
    /// together: an element that was there (removed, kept, or changed) by its position in
    /// `before`; one only in `after` by `before`'s length plus its position among those.
    Index(usize),
}

impl Serialize for Segment {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Segment::Key(k) => s.serialize_str(k),
            Segment::Index(i) => s.serialize_u64(*i as u64),
        }
    }
}

/// Where a change is: `global_secondary_indexes["by-group"].key.hash` for people, an
/// array of segments in JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Path(pub Vec<Segment>);

impl Path {
    pub fn child(&self, segment: Segment) -> Path {
        let mut segments = self.0.clone();
        segments.push(segment);
        Path(segments)
    }

    /// The key at position `i`, if that segment is a key.
    pub fn key(&self, i: usize) -> Option<&str> {
        match self.0.get(i) {
            Some(Segment::Key(k)) => Some(k),
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The path for people without a trailing set position: the set an element was added
    /// to or removed from (`managed_policies`), as drift reports name it.
    pub fn field(&self) -> String {
        let mut segments = self.0.as_slice();
        while let [rest @ .., Segment::Index(_)] = segments {
            segments = rest;
        }
        Path(segments.to_vec()).to_string()
    }
}

/// `a.b` for identifier-like keys, `a["key-with-dashes"]` otherwise, `a[2]` for a set
/// element.
impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(k) if plain(k) && i == 0 => write!(f, "{k}")?,
                Segment::Key(k) if plain(k) => write!(f, ".{k}")?,
                Segment::Key(k) => write!(f, "[{}]", Value::String(k.clone()))?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// The segments, each a key (string) or a set element's position (integer).
impl schemars::JsonSchema for Path {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Path".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Where the change is: object fields and map keys (strings) and set elements (their position among the set's elements before and after together).",
            "type": "array",
            "items": { "type": ["string", "integer"] }
        })
    }
}

impl Serialize for Path {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for segment in &self.0 {
            seq.serialize_element(segment)?;
        }
        seq.end()
    }
}

/// An identifier (letters, digits and `_`, not starting with a digit): a key that reads
/// well after a dot.
pub fn plain(key: &str) -> bool {
    key.chars().next().is_some_and(|c| !c.is_ascii_digit())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// One leaf that differs between what exists and what the file asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub path: Path,
    /// `null` when it does not exist yet.
    pub before: Value,
    /// `null` when it goes away; may hold [`UNKNOWN`] (see the module's comment).
    pub after: Value,
    pub forces_replacement: bool,
    /// Side effects worth knowing, e.g. "the stream ARN changes".
    pub note: Option<String>,
}

impl FieldChange {
    /// Whether the new value is only known after apply, in whole or in part.
    pub fn after_unknown(&self) -> bool {
        contains_unknown(&self.after)
    }

    pub fn added(&self) -> bool {
        self.before.is_null() && !self.after.is_null()
    }

    pub fn removed(&self) -> bool {
        self.after.is_null() && !self.before.is_null()
    }
}

impl schemars::JsonSchema for FieldChange {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FieldChange".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "One leaf of the resource's state that changes.",
            "type": "object",
            "properties": {
                "path": generator.subschema_for::<Path>(),
                "before": { "description": "The value now; null when it is not there." },
                "after": { "description": "The value after; null when it goes away or is unknown." },
                "after_unknown": { "type": "boolean", "description": "The value is only known after apply (whole or in part)." },
                "forces_replacement": { "type": "boolean" },
                "note": { "type": "string", "description": "A side effect worth knowing." }
            },
            "required": ["path", "before", "after", "after_unknown", "forces_replacement"],
            "additionalProperties": false
        })
    }
}

impl Serialize for FieldChange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("path", &self.path)?;
        map.serialize_entry("before", &self.before)?;
        map.serialize_entry("after", &known(&self.after))?;
        map.serialize_entry("after_unknown", &unknown_tree(&self.after))?;
        map.serialize_entry("forces_replacement", &self.forces_replacement)?;
        if let Some(note) = &self.note {
            map.serialize_entry("note", note)?;
        }
        map.end()
    }
}

/// A resource's whole state before (`null`: it does not exist) and after (`null`: it will
/// not exist). In JSON: `before`, `after` with unknown parts `null`, and `after_unknown`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct States {
    pub before: Value,
    pub after: Value,
}

impl schemars::JsonSchema for States {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "States".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "properties": {
                "before": { "description": "The whole state now; null when it does not exist." },
                "after": { "description": "The whole state after; null when it will not exist. Parts only known after apply are null." },
                "after_unknown": { "description": "Which parts of `after` are only known after apply: true, or an object or array of such marks mirroring `after`; false when all is known." }
            },
            "required": ["before", "after", "after_unknown"]
        })
    }
}

impl Serialize for States {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("before", &self.before)?;
        map.serialize_entry("after", &known(&self.after))?;
        map.serialize_entry("after_unknown", &unknown_tree(&self.after))?;
        map.end()
    }
}

/// `v` with every string that is unknown, in whole or in part, replaced by `null`.
fn known(v: &Value) -> Value {
    match v {
        Value::String(s) if s.contains(UNKNOWN) => Value::Null,
        Value::Array(items) => Value::Array(items.iter().map(known).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), known(v))).collect())
        }
        other => other.clone(),
    }
}

/// Which parts of `v` are unknown: `true` for an unknown string, an array or object of
/// such marks where some part is, `false` where nothing is.
fn unknown_tree(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::Bool(s.contains(UNKNOWN)),
        Value::Array(items) if items.iter().any(contains_unknown) => {
            Value::Array(items.iter().map(unknown_tree).collect())
        }
        Value::Object(map) if map.values().any(contains_unknown) => Value::Object(
            map.iter()
                .filter(|(_, v)| contains_unknown(v))
                .map(|(k, v)| (k.clone(), unknown_tree(v)))
                .collect(),
        ),
        _ => Value::Bool(false),
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

/// The leaves that differ between two JSON renderings of a resource's state.
pub fn diff_values(before: &Value, after: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    diff_into(&Path::default(), before, after, &mut out);
    out
}

/// Every leaf of `value` as a change from nothing (what a create sets).
pub fn all_fields(value: &Value) -> Vec<FieldChange> {
    diff_values(&Value::Null, value)
}

fn diff_into(path: &Path, before: &Value, after: &Value, out: &mut Vec<FieldChange>) {
    if nothing(before) && nothing(after) {
        return;
    }
    let key = |k: &String| path.child(Segment::Key(k.clone()));
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let bv = b.get(k).unwrap_or(&Value::Null);
                let av = a.get(k).unwrap_or(&Value::Null);
                diff_into(&key(k), bv, av, out);
            }
        }
        (Value::Object(b), Value::Null) => {
            for (k, v) in b {
                diff_into(&key(k), v, &Value::Null, out);
            }
        }
        (Value::Null, Value::Object(a)) => {
            for (k, v) in a {
                diff_into(&key(k), &Value::Null, v, out);
            }
        }
        (Value::Array(_) | Value::Null, Value::Array(_) | Value::Null) => {
            let empty = Vec::new();
            let b = before.as_array().unwrap_or(&empty);
            let a = after.as_array().unwrap_or(&empty);
            diff_sets(path, b, a, out);
        }
        _ if before != after => out.push(FieldChange {
            path: path.clone(),
            before: before.clone(),
            after: after.clone(),
            forces_replacement: false,
            note: None,
        }),
        _ => {}
    }
}

/// What leaves a set and what arrives; a statement that changed is compared with its old
/// self. Positions are those of [`Segment::Index`].
fn diff_sets(path: &Path, before: &[Value], after: &[Value], out: &mut Vec<FieldChange>) {
    let index = |i: usize| path.child(Segment::Index(i));
    let arrived: Vec<&Value> = after.iter().filter(|v| !before.contains(v)).collect();
    // Elements only in `after`, by position, until one is found to be a changed old one.
    let mut added: Vec<(usize, &Value)> = arrived
        .iter()
        .enumerate()
        .map(|(k, v)| (before.len() + k, *v))
        .collect();
    let mut removed = Vec::new();
    let mut changed = Vec::new();
    for (i, old) in before
        .iter()
        .enumerate()
        .filter(|(_, v)| !after.contains(v))
    {
        match added.iter().position(|(_, new)| same_statement(old, new)) {
            Some(at) => changed.push((i, old, added.remove(at).1)),
            None => removed.push((i, old)),
        }
    }
    for (i, old) in removed {
        diff_into(&index(i), old, &Value::Null, out);
    }
    for (i, old, new) in changed {
        diff_into(&index(i), old, new, out);
    }
    for (j, new) in added {
        diff_into(&index(j), &Value::Null, new, out);
    }
}

/// The values at `path` before and after (`None`: not there), resolving set positions as
/// [`diff_values`] numbers them; for renderers that show what a block is.
pub fn sides<'v>(
    before: &'v Value,
    after: &'v Value,
    path: &[Segment],
) -> (Option<&'v Value>, Option<&'v Value>) {
    let (mut b, mut a) = (Some(before), Some(after));
    for segment in path {
        (b, a) = match segment {
            Segment::Key(k) => (b.and_then(|v| v.get(k)), a.and_then(|v| v.get(k))),
            Segment::Index(p) => {
                let bs = b
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                let as_ = a
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                match bs.get(*p) {
                    Some(old) if as_.contains(old) => (Some(old), Some(old)),
                    Some(old) => (
                        Some(old),
                        as_.iter()
                            .find(|new| !bs.contains(new) && same_statement(old, new)),
                    ),
                    None => (
                        None,
                        as_.iter().filter(|v| !bs.contains(v)).nth(p - bs.len()),
                    ),
                }
            }
        };
    }
    let there = |v: Option<&'v Value>| v.filter(|v| !nothing(v));
    (there(b), there(a))
}

/// Two policy statements that are one statement changed: the same `Sid`, or (without
/// Sids) the same effect and the same actions or the same resources.
fn same_statement(a: &Value, b: &Value) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return false;
    };
    if !a.contains_key("Effect") || !b.contains_key("Effect") {
        return false;
    }
    match (a.get("Sid"), b.get("Sid")) {
        (Some(x), Some(y)) => x == y,
        (None, None) => {
            a.get("Effect") == b.get("Effect")
                && (a.get("Action") == b.get("Action") || a.get("Resource") == b.get("Resource"))
        }
        _ => false,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(changes: &[FieldChange]) -> Vec<String> {
        changes.iter().map(|c| c.path.to_string()).collect()
    }

    #[test]
    fn nested_objects_diff_by_leaf() {
        let before = json!({"billing_mode": "PROVISIONED", "read_capacity": 5,
            "global_secondary_indexes": {"by-user": {"read_capacity": 5, "projection": "ALL"}},
            "tags": {"a": "1", "Team": "x"}});
        let after = json!({"billing_mode": "PROVISIONED", "read_capacity": 10,
            "global_secondary_indexes": {"by-user": {"read_capacity": 7, "projection": "ALL"}},
            "tags": {"a": "1", "b": "2"}});
        let changes = diff_values(&before, &after);
        assert_eq!(
            paths(&changes),
            [
                "global_secondary_indexes[\"by-user\"].read_capacity",
                "read_capacity",
                "tags.Team",
                "tags.b"
            ]
        );
        assert_eq!(
            (&changes[1].before, &changes[1].after),
            (&json!(5), &json!(10))
        );
        assert!(changes[2].removed() && changes[3].added());
        let json = serde_json::to_value(&changes[0]).unwrap();
        assert_eq!(
            json["path"],
            json!(["global_secondary_indexes", "by-user", "read_capacity"])
        );
    }

    #[test]
    fn a_create_lists_every_leaf_and_every_set_element() {
        let changes = all_fields(&json!({"key": {"hash": "pk"}, "tags": {"a-b": "1"}, "n": 5,
            "subnets": ["subnet-1", "subnet-2"], "indexes": {}, "list": []}));
        assert_eq!(
            paths(&changes),
            ["key.hash", "n", "subnets[0]", "subnets[1]", "tags[\"a-b\"]"]
        );
        assert!(changes.iter().all(FieldChange::added));
    }

    #[test]
    fn sets_diff_element_by_element() {
        let changes = diff_values(
            &json!({"managed": ["a", "b"]}),
            &json!({"managed": ["b", "c"]}),
        );
        let shown: Vec<_> = changes
            .iter()
            .map(|c| (c.path.to_string(), c.before.clone(), c.after.clone()))
            .collect();
        assert_eq!(
            shown,
            [
                ("managed[0]".into(), json!("a"), Value::Null),
                ("managed[2]".into(), Value::Null, json!("c")),
            ]
        );
        assert_eq!(changes[0].path.field(), "managed");
        assert!(diff_values(&json!({"l": ["b", "a"]}), &json!({"l": ["b", "a"]})).is_empty());
    }

    #[test]
    fn a_statement_that_changed_shows_how() {
        let old = json!({"Sid": "Reads", "Effect": "Allow", "Action": ["dynamodb:Query"],
            "Resource": ["arn:t", "arn:t/index/*"]});
        let new = json!({"Sid": "Reads", "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"],
            "Resource": ["arn:t"]});
        let other = json!({"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": ["*"]});
        let changes = diff_values(
            &json!({"p": [old, other.clone()]}),
            &json!({"p": [new, other]}),
        );
        let shown: Vec<_> = changes
            .iter()
            .map(|c| (c.path.to_string(), c.before.clone(), c.after.clone()))
            .collect();
        assert_eq!(
            shown,
            [
                (
                    "p[0].Action[1]".into(),
                    Value::Null,
                    json!("dynamodb:GetItem")
                ),
                (
                    "p[0].Resource[1]".into(),
                    json!("arn:t/index/*"),
                    Value::Null
                ),
            ]
        );
    }
    #[test]
    fn removed_and_added_elements_never_share_a_position() {
        let changes = diff_values(&json!({"r": ["a", "b"]}), &json!({"r": ["c"]}));
        let paths: Vec<String> = changes.iter().map(|c| c.path.to_string()).collect();
        assert_eq!(paths, ["r[0]", "r[1]", "r[2]"]);
        let before = json!({"s": [{"Sid": "A", "Effect": "Allow", "Action": ["x"]}]});
        let after = json!({"s": [{"Sid": "A", "Effect": "Allow", "Action": ["x", "y"]}, "new"]});
        let at = |p: &[Segment]| sides(&before, &after, p);
        let (b, a) = at(&[Segment::Key("s".into()), Segment::Index(0)]);
        assert_eq!(
            (b.unwrap()["Action"].clone(), a.unwrap()["Action"].clone()),
            (json!(["x"]), json!(["x", "y"]))
        );
        assert_eq!(
            at(&[Segment::Key("s".into()), Segment::Index(2)]),
            (None, Some(&json!("new")))
        );
    }

    #[test]
    fn unknown_parts_stay_local() {
        let partial = format!("arn:aws:dynamodb:r:1:table/t/stream/{UNKNOWN}");
        let changes = all_fields(&json!({"source": partial, "tags": {"s": UNKNOWN}, "n": 1}));
        let unknown: Vec<_> = changes
            .iter()
            .filter(|c| c.after_unknown())
            .map(|c| c.path.to_string())
            .collect();
        assert_eq!(unknown, ["source", "tags.s"]);
        let json = serde_json::to_value(&changes[1]).unwrap();
        assert_eq!(
            (&json["after"], &json["after_unknown"]),
            (&Value::Null, &json!(true))
        );
        let states = States {
            before: Value::Null,
            after: json!({"n": 1, "policy": [{"Resource": ["arn:x", UNKNOWN]}]}),
        };
        let json = serde_json::to_value(&states).unwrap();
        assert_eq!(
            json["after"]["policy"][0]["Resource"],
            json!(["arn:x", null])
        );
        assert_eq!(
            json["after_unknown"],
            json!({"policy": [{"Resource": [false, true]}]})
        );
    }
}
