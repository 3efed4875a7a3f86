//! A plan: what apply or destroy would do to each resource, field by field. Built by the
//! engine from the spec and what it observed; rendered for people (Terraform-like) or as
//! JSON (`--output json`, documented in docs/plans.md; `format_version` changes only when a
//! field is removed or its meaning changes).

mod assessment;
mod diff;

pub use assessment::{Assessment, Existing, Wanted};
pub use diff::{
    FieldChange, Path, Segment, States, all_fields, contains_unknown, diff_values, plain, sides,
};

use serde::{Deserialize, Serialize};

/// The version of `plan --output json`: 2 since paths are arrays of segments and
/// unknown values are marked by an `after_unknown` tree.
pub const FORMAT_VERSION: &str = "2";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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

/// What happens to one resource.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
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
    /// The whole state before and after: `before`, `after` and `after_unknown` in JSON.
    #[serde(flatten)]
    pub states: States,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    Apply,
    Destroy,
}

/// How many resources each action applies to.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub adopt: usize,
    pub replace: usize,
    pub delete: usize,
    pub no_op: usize,
    pub conflict: usize,
}

/// A plan, as `plan --output json` prints it and `plan --out FILE` saves it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(title = "cruddur-infra plan")]
pub struct Plan {
    /// "2": changes only when a field is removed or changes meaning.
    pub format_version: &'static str,
    pub stack: String,
    pub environment: String,
    pub operation: Operation,
    /// In the order they are carried out (for destroy: orphans first, then dependents
    /// before what they use).
    pub resource_changes: Vec<ResourceChange>,
    pub summary: Summary,
    /// `--target`: the resources the plan was limited to (with what they depend on, or
    /// for destroy what depends on them); absent when it covers the whole stack.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
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

/// The JSON Schema of a plan (`plan --output json`), from the types that print it.
pub fn schema() -> schemars::Schema {
    // As serialized: a field left out when it is empty or false is not required.
    schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<Plan>()
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
            targets: Vec::new(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_actions() {
        let rc = |action| ResourceChange {
            name: "t".into(),
            kind: "dynamodb_table",
            physical_id: "t".into(),
            action,
            reasons: vec![],
            changes: vec![],
            states: States::default(),
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
