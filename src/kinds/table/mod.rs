//! `dynamodb_table`: a DynamoDB table — key schema, attribute definitions, billing mode and
//! capacity, global secondary indexes, stream, point-in-time recovery, deletion protection,
//! TTL, table class and tags.
//!
//! In place (UpdateTable and friends): capacity, billing mode, GSIs added or removed (one
//! per call, each waited for), stream view type (disable, then enable: the stream ARN
//! changes), PITR, deletion protection, TTL, table class, tags. A new key schema or key
//! attribute type cannot be made in place: that is a replacement, which loses every item.
//!
//! `spec.rs` is the stack-file form and its validation, `state.rs` the comparable state,
//! `read.rs` the reads, `ops.rs` the changes; this file is the kind's planning rules.

mod backup;
mod ops;
mod read;
mod spec;
mod state;

pub use spec::Table;
pub use state::{LiveTable, StreamView, TableState};

use crate::aws::Aws;
use crate::aws::needs::Need;
use crate::exec::ExecCtx;
use crate::kinds::kind::{Kind, Live, Tags};
use crate::plan::FieldChange;
use crate::spec::template::Inputs;
use crate::values::{ArnFormat, Attributes, DeploymentContext, UNKNOWN};
use async_trait::async_trait;
use read::{items_at_risk, read_table};
use state::Key;
use std::collections::BTreeMap;

crate::live_of!(LiveTable, Table, arn);

#[async_trait]
impl Kind for Table {
    const TYPE: &'static str = "dynamodb_table";
    const ATTRIBUTES: &'static [&'static str] = &["name", "arn", "stream_arn", "index_names"];
    const ARN: ArnFormat = ArnFormat::regional("dynamodb", "table", "table/");
    const NEEDS: &'static [&'static [Need]] = &[ops::NEEDS, backup::NEEDS];
    const LISTED_BY_TAG: bool = true;
    type Raw = spec::RawTable;
    type State = TableState;
    type Live = LiveTable;
    type Resolved = ();

    fn arn_samples() -> Vec<(&'static str, String)> {
        let arn = Self::ARN.sample();
        let stream = format!("{arn}/stream/2026-01-01T00:00:00.000");
        vec![("arn", arn), ("stream_arn", stream)]
    }

    fn check_attribute(&self, attribute: &str) -> Result<(), String> {
        match attribute {
            "stream_arn" if self.state.stream == StreamView::Disabled => Err(
                "the table has no stream in this environment (set `stream:` to a view type such as NEW_IMAGE)".into(),
            ),
            "name" | "arn" | "stream_arn" | "index_names" => Ok(()),
            other => Err(format!(
                "dynamodb_table has no attribute `{other}` (it has: {})",
                Self::ATTRIBUTES.join(", ")
            )),
        }
    }

    fn known_name(&self) -> Option<String> {
        Some(self.name.clone())
    }

    /// The table, and the backups kept of it before it is deleted (see `backup.rs`; a
    /// backup is never an orphan, so `any_arns` has none).
    fn arns(&self, at: &DeploymentContext) -> Vec<(&'static str, String)> {
        let arn = Self::ARN.of(at, &self.name);
        vec![
            ("backup", format!("{arn}/backup/*")),
            ("stream", format!("{arn}/stream/*")),
            ("table", arn),
        ]
    }

    async fn read_named(aws: &Aws, name: &str, owner: &str) -> anyhow::Result<Option<LiveTable>> {
        read_table(aws, name, Some(owner)).await
    }

    fn planned_attributes(
        &self,
        _resolved: &(),
        context: Option<&DeploymentContext>,
    ) -> Attributes {
        let arn = context.map(|c| Self::ARN.of(c, &self.name));
        // A stream's ARN ends in the time it was enabled: only that part is unknown.
        let stream_arn = match self.state.stream {
            StreamView::Disabled => None,
            _ => arn.as_ref().map(|arn| format!("{arn}/stream/{UNKNOWN}")),
        };
        BTreeMap::from([
            ("name", Some(self.name.clone())),
            ("arn", arn),
            ("stream_arn", stream_arn),
            ("index_names", Some(index_names(&self.state))),
        ])
    }

    fn desired(&self, _resolved: &(), _inputs: &Inputs, tags: Tags) -> TableState {
        TableState {
            tags,
            ..self.state.clone()
        }
    }

    /// A table's key, and the type of an attribute in it, are fixed.
    fn replaces(&self, change: &FieldChange, live: &LiveTable) -> Option<String> {
        let (before, after) = (&live.state, &self.state);
        let in_key = |key: &Key, attr: &str| key.names().any(|k| k == attr);
        let key_changes = || {
            format!(
                "the key schema changes ({} → {}); DynamoDB cannot change a table's key",
                show_key(&before.key),
                show_key(&after.key)
            )
        };
        match (change.path.key(0), change.path.key(1)) {
            (Some("key"), _) => Some(key_changes()),
            (Some("attributes"), Some(attr)) if in_key(&after.key, attr) => {
                match (before.attributes.get(attr), after.attributes.get(attr)) {
                    (Some(was), Some(is)) if was != is => Some(format!(
                        "key attribute `{attr}` changes type ({was:?} → {is:?}); DynamoDB cannot change it in place"
                    )),
                    _ => Some(key_changes()),
                }
            }
            (Some("attributes"), Some(attr)) if in_key(&before.key, attr) => Some(key_changes()),
            _ => None,
        }
    }

    fn note(&self, change: &FieldChange, live: &LiveTable) -> Option<String> {
        let (before, after) = (&live.state, &self.state);
        let note = match (change.path.key(0), change.path.key(1), change.path.key(2)) {
            (Some("attributes"), Some(_), _) if !change.added() && !change.removed() => {
                "indexes keyed on it are deleted and rebuilt"
            }
            (Some("global_secondary_indexes"), Some(index), field) => {
                let exists = before.global_secondary_indexes.contains_key(index);
                let wanted = after.global_secondary_indexes.contains_key(index);
                match (exists, wanted, field) {
                    (false, true, _) => "the index backfills before it can be queried",
                    (true, true, Some("key" | "projection" | "non_key_attributes")) => {
                        "the index is deleted and rebuilt; queries on it fail until it is ACTIVE again"
                    }
                    _ => return None,
                }
            }
            (Some("stream"), None, _) => stream_note(before.stream, after.stream),
            (Some("billing_mode"), None, _) => {
                "AWS allows switching a table's billing mode once per 24 hours"
            }
            _ => return None,
        };
        Some(note.into())
    }

    fn update_blocker(&self, desired: &TableState, live: &LiveTable) -> Option<String> {
        let (before, after) = (&live.state.ttl_attribute, &desired.ttl_attribute);
        if before == after {
            return None;
        }
        if let Some(status) = &live.ttl_in_progress {
            return Some(format!(
                "TTL is still changing on this table ({status}); DynamoDB refuses another TTL change until that \
                 is done (up to an hour): apply again later"
            ));
        }
        match (before, after) {
            (Some(old), Some(new)) => Some(format!(
                "moving TTL from `{old}` to `{new}` takes two applies, because DynamoDB refuses \
                 a second TTL change within an hour of the first: remove `ttl_attribute` and \
                 apply (TTL off), then set `ttl_attribute: {new}` and apply again once DynamoDB \
                 reports TTL DISABLED"
            )),
            _ => None,
        }
    }

    fn attributes_after_update(live: &LiveTable, desired: &TableState) -> Attributes {
        let mut attributes = live.attributes();
        if desired.stream != live.state.stream {
            // A new stream is made with a new ARN: the table's, and the time it is enabled.
            let stream_arn = (desired.stream != StreamView::Disabled)
                .then(|| format!("{}/stream/{UNKNOWN}", live.arn));
            attributes.insert("stream_arn", stream_arn);
        }
        attributes.insert("index_names", Some(index_names(desired)));
        attributes
    }

    #[cfg(test)]
    fn applied(&self, desired: TableState, _resolved: &()) -> LiveTable {
        let arn = Self::ARN.of(&DeploymentContext::example(), &self.name);
        LiveTable {
            stream_arn: (desired.stream != StreamView::Disabled)
                .then(|| format!("{arn}/stream/2026-12-01T00:00:00.000")),
            state: desired,
            arn,
            item_count: 0,
            ttl_in_progress: None,
            active: true,
        }
    }
}

/// A table's attributes: its name, ARNs and indexes (the stream ARN only while `state` has
/// a stream).
fn attributes_of(
    name: &str,
    arn: &str,
    stream_arn: Option<&str>,
    state: &TableState,
) -> Attributes {
    let stream_arn = match state.stream {
        StreamView::Disabled => None,
        _ => stream_arn.map(str::to_string),
    };
    BTreeMap::from([
        ("name", Some(name.to_string())),
        ("arn", Some(arn.to_string())),
        ("stream_arn", stream_arn),
        ("index_names", Some(index_names(state))),
    ])
}

#[async_trait]
impl Live for LiveTable {
    fn attributes(&self) -> Attributes {
        attributes_of(
            &self.physical_id(),
            &self.arn,
            self.stream_arn.as_deref(),
            &self.state,
        )
    }

    fn deletion_warning(&self) -> Option<String> {
        Some(match self.item_count {
            0 => "every item in the table is deleted with it (DynamoDB reports no items, but its count lags by up to six hours)".into(),
            1 => "the table holds about 1 item; it is deleted with it".into(),
            n => format!("the table holds about {n} items; they are deleted with it"),
        })
    }

    fn deletion_blocker(&self) -> Option<String> {
        self.state.deletion_protection.then(|| {
            "deletion protection is enabled on the table (set `deletion_protection: false` and apply to lift it)".to_string()
        })
    }

    async fn data_at_risk(&self, aws: &Aws) -> anyhow::Result<Option<String>> {
        items_at_risk(aws, &self.physical_id()).await
    }

    fn settled(&self) -> bool {
        self.active
    }

    async fn settle(&self, cx: &ExecCtx<'_>) -> anyhow::Result<()> {
        ops::settle(cx, &self.physical_id()).await
    }

    async fn delete(&self, cx: &ExecCtx<'_>) -> anyhow::Result<()> {
        ops::delete_table(cx, &self.physical_id(), self).await
    }
}

/// The global secondary indexes' names, comma-separated (for `outputs` and references).
fn index_names(state: &TableState) -> String {
    state
        .global_secondary_indexes
        .keys()
        .cloned()
        .collect::<Vec<_>>()
        .join(",")
}

fn show_key(key: &Key) -> String {
    match &key.range {
        Some(range) => format!("{} + {range}", key.hash),
        None => key.hash.clone(),
    }
}

fn stream_note(before: StreamView, after: StreamView) -> &'static str {
    match (before, after) {
        (StreamView::Disabled, _) => "a new stream is created; its ARN is known after apply",
        (_, StreamView::Disabled) => {
            "the stream is disabled; triggers reading it stop receiving records"
        }
        _ => {
            "the stream is disabled and a new one enabled: the stream ARN changes, so triggers on it must be replaced"
        }
    }
}
