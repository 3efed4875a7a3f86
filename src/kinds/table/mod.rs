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

mod ops;
mod read;
mod spec;
mod state;

pub use spec::Table;
pub use state::{LiveTable, StreamView, TableState};

use crate::aws::Aws;
use crate::aws::needs::Need;
use crate::exec::ExecCtx;
use crate::kinds::kind::{Discovery, Identity, Kind, Live, Observation, Tags};
use crate::kinds::tagged;
use crate::plan::FieldChange;
use crate::spec::diag::Diags;
use crate::spec::fields::ValidateCtx;
use crate::spec::template::{Inputs, Template};
use crate::values::{Attributes, DeploymentContext, UNKNOWN};
use async_trait::async_trait;
use read::{items_at_risk, live_name, read_table};
use state::Key;
use std::collections::BTreeMap;

#[async_trait]
impl Kind for Table {
    const TYPE: &'static str = "dynamodb_table";
    const ATTRIBUTES: &'static [&'static str] = &["name", "arn", "stream_arn", "index_names"];
    const ARN_SAMPLES: &'static [(&'static str, &'static str)] = &[
        (
            "arn",
            "arn:aws:dynamodb:us-east-1:123456789012:table/sample",
        ),
        (
            "stream_arn",
            "arn:aws:dynamodb:us-east-1:123456789012:table/sample/stream/2026-01-01T00:00:00.000",
        ),
    ];
    type Raw = spec::RawTable;
    type State = TableState;
    type Live = LiveTable;
    type Resolved = ();

    fn validate(raw: spec::RawTable, cx: &ValidateCtx, diags: &mut Diags) -> Option<Table> {
        Table::validate_raw(raw, cx, diags)
    }

    fn templates(&self) -> Vec<&Template> {
        Vec::new()
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

    async fn read(&self, aws: &Aws, me: &Identity<'_>) -> anyhow::Result<Observation<Self>> {
        Ok(Observation {
            live: read_table(aws, &self.name, Some(me.owner)).await?,
            resolved: (),
        })
    }

    async fn discover(aws: &Aws, find: &Discovery<'_>) -> anyhow::Result<Vec<LiveTable>> {
        let owner = find.owner;
        tagged::read_each(
            aws,
            "dynamodb:table",
            owner,
            find.skip,
            live_name,
            |name| async move { read_table(aws, &name, Some(owner)).await },
        )
        .await
    }

    fn planned_id(&self, _resolved: &()) -> String {
        self.name.clone()
    }

    fn planned_attributes(
        &self,
        _resolved: &(),
        context: Option<&DeploymentContext>,
    ) -> Attributes {
        let arn = context.map(|c| table_arn(c, &self.name));
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

    fn replacement_reasons(&self, desired: &TableState, live: &LiveTable) -> Vec<String> {
        let live = &live.state;
        let mut reasons = Vec::new();
        if desired.key != live.key {
            reasons.push(format!(
                "the key schema changes ({} → {}); DynamoDB cannot change a table's key",
                show_key(&live.key),
                show_key(&desired.key)
            ));
        }
        for name in desired.key.names() {
            if let (Some(before), Some(after)) =
                (live.attributes.get(name), desired.attributes.get(name))
                && before != after
            {
                reasons.push(format!(
                    "key attribute `{name}` changes type ({before:?} → {after:?}); DynamoDB cannot change it in place"
                ));
            }
        }
        reasons
    }

    fn annotate(&self, change: &mut FieldChange, live: &LiveTable) {
        let path = &change.path;
        let in_table_key = |attr: &str| {
            self.state.key.names().any(|k| k == attr) || live.state.key.names().any(|k| k == attr)
        };
        match (path.key(0), path.key(1), path.key(2)) {
            (Some("key"), _, _) => change.forces_replacement = true,
            (Some("attributes"), Some(attr), _) if in_table_key(attr) => {
                change.forces_replacement = true
            }
            (Some("attributes"), Some(_), _) if !change.added() && !change.removed() => {
                change.note = Some("indexes keyed on it are deleted and rebuilt".into())
            }
            (Some("global_secondary_indexes"), Some(index), field) => {
                let exists = live.state.global_secondary_indexes.contains_key(index);
                let wanted = self.state.global_secondary_indexes.contains_key(index);
                change.note = match (exists, wanted, field) {
                    (false, true, _) => Some("the index backfills before it can be queried".into()),
                    (true, true, Some("key" | "projection" | "non_key_attributes")) => Some(
                        "the index is deleted and rebuilt; queries on it fail until it is ACTIVE again"
                            .into(),
                    ),
                    _ => None,
                };
            }
            (Some("stream"), None, _) => {
                change.note = Some(stream_note(live.state.stream, self.state.stream).into())
            }
            (Some("billing_mode"), None, _) => {
                change.note =
                    Some("AWS allows switching a table's billing mode once per 24 hours".into())
            }
            _ => {}
        }
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

    fn needs() -> Vec<Need> {
        ops::NEEDS.to_vec()
    }

    fn arns(&self, at: &DeploymentContext) -> Vec<(&'static str, String)> {
        vec![("table", table_arn(at, &self.name))]
    }

    fn any_arns(at: &DeploymentContext) -> Vec<(&'static str, String)> {
        vec![("table", table_arn(at, "*"))]
    }

    async fn create(&self, cx: &ExecCtx<'_>, desired: &TableState) -> anyhow::Result<LiveTable> {
        ops::create(cx, &self.name, desired).await
    }

    async fn update(
        &self,
        cx: &ExecCtx<'_>,
        live: &LiveTable,
        desired: &TableState,
    ) -> anyhow::Result<LiveTable> {
        ops::update(cx, &self.name, live, desired).await
    }

    #[cfg(test)]
    fn applied(&self, desired: TableState, _resolved: &()) -> LiveTable {
        let arn = format!(
            "arn:aws:dynamodb:us-east-1:123456789012:table/{}",
            self.name
        );
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

    #[cfg(test)]
    fn resolved_for_tests(&self) {}
}

#[async_trait]
impl Live for LiveTable {
    fn kind(&self) -> &'static str {
        Table::TYPE
    }

    fn physical_id(&self) -> String {
        live_name(&self.arn)
    }

    fn tags(&self) -> &Tags {
        &self.state.tags
    }

    fn attributes(&self) -> Attributes {
        let stream_arn = match self.state.stream {
            StreamView::Disabled => None,
            _ => self.stream_arn.clone(),
        };
        BTreeMap::from([
            ("name", Some(live_name(&self.arn))),
            ("arn", Some(self.arn.clone())),
            ("stream_arn", stream_arn),
            ("index_names", Some(index_names(&self.state))),
        ])
    }

    fn state_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).unwrap_or_default()
    }

    fn deletion_warning(&self) -> Option<String> {
        Some(match self.item_count {
            0 => "every item in the table is deleted with it (DynamoDB reports no items, but its count lags by up to six hours)".into(),
            n => format!("the table holds about {n} items; they are deleted with it"),
        })
    }

    fn deletion_blocker(&self) -> Option<String> {
        self.state.deletion_protection.then(|| {
            "deletion protection is enabled on the table (set `deletion_protection: false` and apply to lift it)".to_string()
        })
    }

    async fn data_at_risk(&self, aws: &Aws) -> anyhow::Result<Option<String>> {
        items_at_risk(aws, &live_name(&self.arn)).await
    }

    async fn delete(&self, cx: &ExecCtx<'_>) -> anyhow::Result<()> {
        ops::delete_table(cx, &live_name(&self.arn), self).await
    }

    #[cfg(test)]
    fn tags_mut(&mut self) -> &mut Tags {
        &mut self.state.tags
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

/// The ARN of table `name` (`*`: every table).
fn table_arn(at: &DeploymentContext, name: &str) -> String {
    at.arn("dynamodb", true, &format!("table/{name}"))
}
