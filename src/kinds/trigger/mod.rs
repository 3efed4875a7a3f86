//! `event_source_mapping`: the trigger that feeds a table's stream to a function, with its
//! batching, retry, failure and filter settings.
//!
//! A mapping has no name: it is found among the function's mappings by its ownership tags
//! (or, for adoption, as the untagged mapping from the same table's stream). Any other
//! mapping on the function, made out of band, is shown in plan (it would process the
//! stream a second time) but left alone. Settings change in place; a new source (the
//! table's stream was replaced, so it has a new ARN) or a new starting position makes a
//! new mapping, which loses nothing: the mapping holds no data.

mod ops;
mod spec;

pub use ops::listed_now;
pub use spec::Trigger;

use crate::aws::Aws;
use crate::aws::needs::Need;
use crate::exec::{ClosedStream, ExecCtx};
use crate::kinds::kind::{Discovery, Identity, Kind, Live, Observation, Tags};
use crate::plan::FieldChange;
use crate::spec::arn::ArnField;
use crate::spec::template::{Inputs, Template};
use crate::values::{ArnFormat, Attributes, DeploymentContext, is_unknown};
use anyhow::Context;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StartingPosition {
    Latest,
    TrimHorizon,
}

/// The settings that need no rendering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settings {
    pub batch_size: i32,
    pub batching_window_seconds: i32,
    pub starting_position: StartingPosition,
    pub maximum_retry_attempts: i32,
    pub maximum_record_age_seconds: i32,
    pub bisect_on_error: bool,
    pub report_batch_item_failures: bool,
    /// Event patterns, sorted by their JSON text (Lambda keeps no order).
    pub filters: Vec<Value>,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TriggerState {
    /// The function's name (an ARN in the file is compared by its name).
    pub function: String,
    pub source: String,
    #[serde(flatten)]
    pub settings: Settings,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<String>,
    pub tags: Tags,
}

#[derive(Debug)]
pub struct LiveTrigger {
    pub state: TriggerState,
    pub uuid: String,
    pub arn: String,
    /// Lambda's own word: Enabled, Disabled, Creating, Updating, ...
    pub status: String,
    /// Other mappings on the same function: `uuid (source, state)`.
    pub others: Vec<String>,
}

/// The function as a mapping invokes it, from a name or an ARN
/// (`arn:aws:lambda:r:a:function:NAME[:qualifier]`): `NAME`, or `NAME:qualifier` for an
/// alias or a version.
fn function_name(s: &str) -> String {
    let parts: Vec<&str> = s.split(':').collect();
    // An ARN, or a partial one (`123456789012:function:NAME`).
    let arn = s.starts_with("arn:") || parts.get(1) == Some(&"function");
    match parts.iter().position(|p| *p == "function") {
        Some(i) if arn && i + 1 < parts.len() => parts[i + 1..].join(":"),
        _ => s.to_string(),
    }
}

/// The function's own name, without an alias or version.
pub fn bare(function: &str) -> &str {
    function.split(':').next().unwrap_or(function)
}

/// A mapping's entry in the stack's index: `<function>|<logical name>`. The function is
/// where discovery lists (Lambda lists mappings by function); the logical name makes the
/// entry the mapping's own, so deleting one mapping never removes another's entry.
fn index_key(function: &str, tags: &Tags) -> String {
    let resource = tags
        .get(crate::tags::RESOURCE_TAG)
        .map_or("", String::as_str);
    format!("{function}|{resource}")
}

/// The function an index entry of a mapping lists under.
fn indexed_function(key: &str) -> &str {
    key.split_once('|').map_or(key, |(function, _)| function)
}

fn canonical_filters(mut filters: Vec<Value>) -> Vec<Value> {
    filters.sort_by_key(|v| v.to_string());
    filters
}

crate::live_of!(LiveTrigger, Trigger, arn);

impl Trigger {
    /// Where the new mapping reads from, as the plan says it.
    fn reads_from(&self) -> &'static str {
        match self.settings.starting_position {
            StartingPosition::TrimHorizon => "the new mapping reads its stream from the start",
            StartingPosition::Latest => {
                "the new mapping reads from LATEST: records written before it is Enabled are \
                 skipped (TRIM_HORIZON reads them)"
            }
        }
    }
}

#[async_trait]
impl Kind for Trigger {
    const TYPE: &'static str = "event_source_mapping";
    const ATTRIBUTES: &'static [&'static str] = &["uuid", "arn"];
    const ARN: ArnFormat =
        ArnFormat::regional("lambda", "event-source-mapping", "event-source-mapping:");
    const NEEDS: &'static [&'static [Need]] = &[ops::NEEDS];
    /// Its function, the stream's table, where failures go.
    const USES: &'static [&'static str] = &["lambda_function", "dynamodb_table", "sqs_queue"];
    const SAFE_TO_REPLACE: bool = true;
    type Raw = spec::RawTrigger;
    type State = TriggerState;
    type Live = LiveTrigger;
    type Resolved = ();

    fn arn_fields(&self) -> Vec<ArnField<'_>> {
        let source = ArnField {
            template: &self.source,
            accepts: &[("dynamodb", "stream")],
            hint: "a DynamoDB stream's ARN: the table's stream_arn, e.g. ${messages.stream_arn}",
        };
        let on_failure = self.on_failure.as_ref().map(|template| ArnField {
            template,
            accepts: &[("sqs", "queue"), ("sns", "topic"), ("s3", "bucket")],
            hint: "an SQS queue's, SNS topic's or S3 bucket's ARN, e.g. ${processor_failures.arn}",
        });
        std::iter::once(source).chain(on_failure).collect()
    }

    fn templates(&self) -> Vec<&Template> {
        [&self.function, &self.source]
            .into_iter()
            .chain(self.on_failure.as_ref())
            .collect()
    }

    async fn read(&self, aws: &Aws, me: &Identity<'_>) -> anyhow::Result<Observation<Self>> {
        Ok(Observation {
            live: ops::read(self, aws, me).await?,
            resolved: (),
        })
    }

    /// The mappings of the functions the stack's index names (or, deep, every mapping of
    /// the account): the listing has no tags, so each mapping found costs a tag read.
    async fn discover(aws: &Aws, find: &Discovery<'_>) -> anyhow::Result<Vec<LiveTrigger>> {
        match find.deep {
            true => ops::discover_deep(aws, find.owner).await,
            false => ops::discover_indexed(aws, find.owner).await,
        }
    }

    fn index_key(&self, desired: &TriggerState) -> Option<String> {
        Some(index_key(&desired.function, &desired.tags))
    }

    fn planned_id(&self, _resolved: &()) -> String {
        "new mapping".into()
    }

    fn planned_attributes(
        &self,
        _resolved: &(),
        _context: Option<&DeploymentContext>,
    ) -> Attributes {
        // The UUID, and the ARN made of it, are Lambda's to give.
        BTreeMap::from([("uuid", None), ("arn", None)])
    }

    fn desired(&self, _resolved: &(), inputs: &Inputs, tags: Tags) -> TriggerState {
        let function = inputs.render(&self.function);
        TriggerState {
            function: if is_unknown(&function) {
                function
            } else {
                function_name(&function)
            },
            source: inputs.render(&self.source),
            settings: self.settings.clone(),
            on_failure: self.on_failure.as_ref().map(|t| inputs.render(t)),
            tags,
        }
    }

    /// A mapping on a new stream is made before the old one goes, so that the stack is
    /// never without a trigger (two mappings of one function on different streams may
    /// exist at once; on the same stream Lambda refuses the second).
    fn replaces_by_creating_first(&self, live: &LiveTrigger, desired: &TriggerState) -> bool {
        live.state.source != desired.source
    }

    /// The old mapping's stream was closed (its table's stream disabled, or enabled anew
    /// with another view type): what the old mapping had not yet processed is in it, and
    /// AWS documents no way to know how far a mapping has read (its position is its own;
    /// IteratorAge is emitted only after a batch). So everything the closed stream still
    /// holds is run through the function, as the mapping would run it, before the new
    /// mapping is made; the old one reads on meanwhile and goes last. Safe for a function
    /// that, like the processor, never moves a conversation backwards. A stream still open
    /// (the mapping moved to another table's) hands nothing over: moving is the choice.
    async fn hand_over(&self, cx: &ExecCtx<'_>, old: &LiveTrigger) -> anyhow::Result<()> {
        let Some(replayer) = cx.replayer else {
            return Ok(());
        };
        let s = &old.state.settings;
        let stream = ClosedStream {
            function: old.state.function.clone(),
            stream_arn: old.state.source.clone(),
            batch_size: usize::try_from(s.batch_size).unwrap_or(1).max(1),
            filters: s.filters.clone(),
            report_batch_item_failures: s.report_batch_item_failures,
        };
        replayer.replay(cx, &stream).await.with_context(|| {
            format!(
                "replaying the closed stream {} before its mapping {} goes (that mapping stays and reads on; no new one was made: run apply again once the function handles the records)",
                old.state.source, old.uuid
            )
        })
    }

    fn replaces(&self, change: &FieldChange, live: &LiveTrigger) -> Option<String> {
        let reads = self.reads_from();
        match change.path.key(0)? {
            "source" => Some(match change.after.as_str().filter(|s| is_unknown(s)) {
                Some(_) => format!(
                    "the source stream is being replaced (it gets a new ARN), so the mapping \
                     is made anew for it; the old stream, once closed, is replayed through \
                     the function first, and {reads}"
                ),
                None => format!(
                    "the source changes ({} → {}); a mapping cannot move to another stream; {}",
                    live.state.source,
                    change.after.as_str().unwrap_or_default(),
                    reads
                ),
            }),
            "starting_position" => Some(format!(
                "the starting position of a mapping cannot change; {reads}"
            )),
            _ => None,
        }
    }

    #[cfg(test)]
    fn applied(&self, desired: TriggerState, _resolved: &()) -> LiveTrigger {
        let uuid = "6f0ad0c4-5b2e-4b1a-9d7e-2f3c4a5b6c7d".to_string();
        LiveTrigger {
            arn: Self::ARN.of(&DeploymentContext::example(), &uuid),
            uuid,
            status: if desired.settings.enabled {
                "Enabled".into()
            } else {
                "Disabled".into()
            },
            state: desired,
            others: Vec::new(),
        }
    }
}

#[async_trait]
impl Live for LiveTrigger {
    fn attributes(&self) -> Attributes {
        BTreeMap::from([
            ("uuid", Some(self.uuid.clone())),
            ("arn", Some(self.arn.clone())),
        ])
    }

    fn warnings(&self) -> Vec<String> {
        let mut warnings: Vec<String> = self
            .others
            .iter()
            .map(|other| {
                format!(
                    "another event source mapping on function {} was made outside this stack: {other}; \
                     it is left alone, but it makes the function see records twice",
                    self.state.function
                )
            })
            .collect();
        if !self.state.settings.enabled && self.status == "Disabled" {
            warnings.push(
                "the mapping is Disabled: the function gets no records until it is enabled".into(),
            );
        }
        warnings
    }

    fn settled(&self) -> bool {
        ops::settled(&self.status)
    }

    async fn settle(&self, cx: &ExecCtx<'_>) -> anyhow::Result<()> {
        ops::wait_settled(cx, &self.uuid).await.map(drop)
    }

    fn index_key(&self) -> Option<String> {
        Some(index_key(&self.state.function, &self.state.tags))
    }

    async fn delete(&self, cx: &ExecCtx<'_>) -> anyhow::Result<()> {
        ops::delete_mapping(cx, self).await
    }
}

#[cfg(test)]
mod tests {
    use super::{bare, function_name};

    #[test]
    fn a_function_is_named_with_its_alias_or_version() {
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:processor";
        assert_eq!(function_name(arn), "processor");
        assert_eq!(function_name(&format!("{arn}:live")), "processor:live");
        assert_eq!(function_name(&format!("{arn}:7")), "processor:7");
        assert_eq!(
            function_name("123456789012:function:processor:live"),
            "processor:live"
        );
        assert_eq!(function_name("processor:live"), "processor:live");
        assert_eq!(function_name("my-function"), "my-function");
        assert_eq!(bare("processor:live"), "processor");
        assert_eq!(bare("processor"), "processor");
    }
}
