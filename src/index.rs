//! The stack's index: where to look for the resources of a stack and environment that AWS
//! cannot find by tag in one call. IAM is not in the Resource Groups Tagging API and
//! ListRoles carries no tags; Lambda's listing of event source mappings carries none
//! either. Finding a stack's roles or mappings by tag alone means one tag read per role or
//! mapping in the account: thousands of calls in a busy account, against IAM's low,
//! account-wide request rate. So each resource of those kinds is written down here before
//! the call that makes it, and discovery reads only what the index names.
//!
//! An entry is a place to look, never a claim: what is found there is this stack's only if
//! its ownership tags say so. Entries are written before a create (so a run killed right
//! after its create call leaves a findable orphan), removed after a delete, and repaired
//! by every apply and destroy against what observing found (see [`Repair`]).
//!
//! It is one item per `<stack>/<env>` in the deploy lock's table (`lock_id` =
//! `<stack>/<env>#index`), with one string set per kind. An account whose stacks were made
//! before the index existed has no item: observing then scans the account once (see
//! `engine::observe`), and the next apply writes the item.

use crate::aws::needs::Need;
use crate::aws::{Aws, answered, sdk};
use anyhow::Context;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::get_item::GetItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types as ddb;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The IAM actions the index calls: its item in the deploy lock's table (see
/// `crate::lock::NEEDS`, which also grants the table itself).
pub const NEEDS: &[Need] = &[Need::on(
    "lock-item",
    "read: dynamodb:GetItem; change: dynamodb:UpdateItem; delete: dynamodb:DeleteItem",
)
.when(crate::lock::LEADING_KEYS)];

/// A resource's place in the index: its kind (`type:`) and the key the kind finds it by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Entry {
    pub kind: String,
    pub key: String,
}

impl Entry {
    pub fn new(kind: &str, key: impl Into<String>) -> Entry {
        Entry {
            kind: kind.to_string(),
            key: key.into(),
        }
    }
}

/// The entries of one stack and environment, as read.
pub type Index = BTreeSet<Entry>;

/// Marks the item as an index (not a lease) and says which layout it has.
const FORMAT: &str = "index_format";

fn item_key(owner: &str) -> ddb::AttributeValue {
    ddb::AttributeValue::S(format!("{owner}#index"))
}

/// The index of `owner`, read once per run (strongly consistent); `None` when there is
/// none yet (no lock table, or no item).
pub async fn read(aws: &Aws, owner: &str) -> anyhow::Result<Option<Index>> {
    let pairs = aws
        .reads
        .index
        .get(owner.to_string(), || async {
            let index = read_item(aws, owner).await?;
            Ok(index.map(|entries| entries.into_iter().map(|e| (e.kind, e.key)).collect()))
        })
        .await?;
    Ok(pairs.map(|pairs| {
        pairs
            .into_iter()
            .map(|(kind, key)| Entry { kind, key })
            .collect()
    }))
}

/// The keys of one kind in `owner`'s index; `None` when there is no index.
pub async fn keys(aws: &Aws, owner: &str, kind: &str) -> anyhow::Result<Option<BTreeSet<String>>> {
    Ok(read(aws, owner).await?.map(|index| {
        index
            .into_iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.key)
            .collect()
    }))
}

async fn read_item(aws: &Aws, owner: &str) -> anyhow::Result<Option<Index>> {
    let request = aws
        .dynamodb
        .get_item()
        .table_name(crate::lock::TABLE)
        .key(crate::lock::KEY, item_key(owner))
        .consistent_read(true);
    let item = match request.send().await {
        Ok(out) => out.item,
        // No lock table: nothing was ever applied in this account and region.
        Err(e) if answered(&e, GetItemError::is_resource_not_found_exception) => None,
        Err(e) => return Err(crate::aws::errors::error("GetItem (stack index)", &e)),
    };
    let Some(item) = item else {
        return Ok(None);
    };
    let mut index = Index::new();
    for (kind, value) in item {
        if let ddb::AttributeValue::Ss(keys) = value {
            index.extend(keys.into_iter().map(|key| Entry::new(&kind, key)));
        }
    }
    Ok(Some(index))
}

/// Adds `entries` to `owner`'s index, making the item if there is none (also with no
/// entries: an index that exists says the account needs no scan).
pub async fn add(aws: &Aws, owner: &str, entries: &[Entry]) -> anyhow::Result<()> {
    let Sets {
        mut names,
        mut values,
        clauses: adds,
    } = sets(entries);
    names.insert("#f".into(), FORMAT.into());
    values.insert(":f".into(), ddb::AttributeValue::N("1".into()));
    let mut expression = "SET #f = :f".to_string();
    if !adds.is_empty() {
        expression.push_str(&format!(" ADD {}", adds.join(", ")));
    }
    let request = aws
        .dynamodb
        .update_item()
        .table_name(crate::lock::TABLE)
        .key(crate::lock::KEY, item_key(owner))
        .update_expression(expression)
        .set_expression_attribute_names(Some(names))
        .set_expression_attribute_values(Some(values));
    match request.clone().send().await {
        Ok(_) => Ok(()),
        // Written under the deploy lock, whose table exists; made here only if someone
        // deleted it meanwhile.
        Err(e) if answered(&e, UpdateItemError::is_resource_not_found_exception) => {
            crate::lock::create_table(aws).await?;
            sdk("UpdateItem (stack index)", request.send().await).map(drop)
        }
        Err(e) => Err(crate::aws::errors::error("UpdateItem (stack index)", &e)),
    }
    .context("writing the stack's index before a create")
}

/// Removes `entries` from `owner`'s index (those not there are ignored).
pub async fn remove(aws: &Aws, owner: &str, entries: &[Entry]) -> anyhow::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let Sets {
        mut names,
        values,
        clauses: deletes,
    } = sets(entries);
    let request = aws
        .dynamodb
        .update_item()
        .table_name(crate::lock::TABLE)
        .key(crate::lock::KEY, item_key(owner))
        .update_expression(format!("DELETE {}", deletes.join(", ")))
        // Never makes an item: removing from an index that is not there is nothing to do.
        .condition_expression("attribute_exists(#f)")
        .set_expression_attribute_names(Some({
            names.insert("#f".into(), FORMAT.into());
            names
        }))
        .set_expression_attribute_values(Some(values));
    match request.send().await {
        Ok(_) => Ok(()),
        Err(e)
            if answered(&e, UpdateItemError::is_conditional_check_failed_exception)
                || answered(&e, UpdateItemError::is_resource_not_found_exception) =>
        {
            Ok(())
        }
        Err(e) => Err(crate::aws::errors::error("UpdateItem (stack index)", &e)),
    }
}

/// Deletes `owner`'s index: after a destroy that removed everything, nothing is left of
/// the environment in the account, not even its index.
pub async fn delete(aws: &Aws, owner: &str) -> anyhow::Result<()> {
    let request = aws
        .dynamodb
        .delete_item()
        .table_name(crate::lock::TABLE)
        .key(crate::lock::KEY, item_key(owner));
    match request.send().await {
        Ok(_) => Ok(()),
        Err(e) if answered(&e, DeleteItemError::is_resource_not_found_exception) => Ok(()),
        Err(e) => Err(crate::aws::errors::error("DeleteItem (stack index)", &e)),
    }
}

/// An update's string sets, one per kind: `#k<i>` names the kind's attribute, `:v<i>`
/// holds its keys, and each clause is `#k<i> :v<i>` (for ADD or DELETE).
struct Sets {
    names: HashMap<String, String>,
    values: HashMap<String, ddb::AttributeValue>,
    clauses: Vec<String>,
}

fn sets(entries: &[Entry]) -> Sets {
    let mut sets = Sets {
        names: HashMap::new(),
        values: HashMap::new(),
        clauses: Vec::new(),
    };
    for (i, (kind, keys)) in by_kind(entries).into_iter().enumerate() {
        sets.names.insert(format!("#k{i}"), kind);
        sets.values
            .insert(format!(":v{i}"), ddb::AttributeValue::Ss(keys));
        sets.clauses.push(format!("#k{i} :v{i}"));
    }
    sets
}

fn by_kind(entries: &[Entry]) -> BTreeMap<String, Vec<String>> {
    let mut kinds: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in entries {
        kinds
            .entry(e.kind.clone())
            .or_default()
            .insert(e.key.clone());
    }
    kinds
        .into_iter()
        .map(|(kind, keys)| (kind, keys.into_iter().collect()))
        .collect()
}

/// What an apply or destroy writes to the index before it changes anything, so the index
/// matches what observing found: entries for what exists as ours but is not written down
/// (made before the index existed, or its entry lost), and no entries that lead nowhere
/// (a run killed between writing an entry and its create, or a resource deleted out of
/// band). Planning never writes; it only reads.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Repair {
    pub add: Vec<Entry>,
    pub remove: Vec<Entry>,
    /// There is no index yet: it is made, even with nothing in it.
    pub make: bool,
}

impl Repair {
    /// Compares the index with `found`: the entries of everything observed as ours.
    pub fn of(index: Option<&Index>, found: &BTreeSet<Entry>) -> Repair {
        let empty = Index::new();
        let current = index.unwrap_or(&empty);
        Repair {
            add: found.difference(current).cloned().collect(),
            remove: current.difference(found).cloned().collect(),
            make: index.is_none(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty() && !self.make
    }

    /// Writes the repair: at most two calls, none when there is nothing to repair.
    pub async fn write(&self, aws: &Aws, owner: &str) -> anyhow::Result<()> {
        if !self.add.is_empty() || self.make {
            add(aws, owner, &self.add).await?;
        }
        remove(aws, owner, &self.remove).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(entries: &[(&str, &str)]) -> BTreeSet<Entry> {
        entries.iter().map(|(k, v)| Entry::new(k, *v)).collect()
    }

    #[test]
    fn a_repair_adds_what_exists_and_removes_what_leads_nowhere() {
        let index = set(&[("iam_role", "kept"), ("iam_role", "gone")]);
        let found = set(&[("iam_role", "kept"), ("event_source_mapping", "f|trigger")]);
        let repair = Repair::of(Some(&index), &found);
        assert_eq!(
            repair.add,
            vec![Entry::new("event_source_mapping", "f|trigger")]
        );
        assert_eq!(repair.remove, vec![Entry::new("iam_role", "gone")]);
        assert!(!repair.make);
    }

    #[test]
    fn a_missing_index_is_made_even_when_empty_and_a_matching_one_is_left_alone() {
        let none = Repair::of(None, &BTreeSet::new());
        assert!(none.make && !none.is_empty());
        let found = set(&[("iam_role", "r")]);
        assert!(Repair::of(Some(&found), &found).is_empty());
    }

    #[test]
    fn entries_are_grouped_by_kind_for_one_update() {
        let entries = [
            Entry::new("iam_role", "b"),
            Entry::new("event_source_mapping", "f|t"),
            Entry::new("iam_role", "a"),
            Entry::new("iam_role", "a"),
        ];
        let grouped = by_kind(&entries);
        assert_eq!(grouped["iam_role"], vec!["a".to_string(), "b".to_string()]);
        assert_eq!(grouped["event_source_mapping"], vec!["f|t".to_string()]);
    }
}
