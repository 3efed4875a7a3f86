//! `sqs_queue`: a standard SQS queue with its retention, visibility timeout, server-side
//! encryption and tags; in the default stack, where the stream trigger sends the records
//! it gives up on. Everything changes in place. Deleting a queue deletes its messages, so
//! a queue that holds some is only deleted with `--allow-data-loss`, like a table.

mod ops;
mod spec;

pub use spec::Queue;

use crate::aws::Aws;
use crate::aws::needs::Need;
use crate::exec::ExecCtx;
use crate::kinds::kind::{Discovery, Identity, Kind, Live, Observation, Tags};
use crate::kinds::tagged;
use crate::plan::FieldChange;
use crate::spec::diag::Diags;
use crate::spec::fields::ValidateCtx;
use crate::spec::template::{Inputs, Template};
use crate::values::{Attributes, DeploymentContext};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Server-side encryption of a queue's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Encryption {
    /// SSE-SQS: encrypted at rest with keys SQS owns, at no cost.
    Sqs,
    /// Not encrypted at rest.
    None,
}

impl Encryption {
    fn name(self) -> &'static str {
        match self {
            Encryption::Sqs => "sqs",
            Encryption::None => "none",
        }
    }
}

/// The comparable form of a queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueState {
    pub message_retention_seconds: i64,
    pub visibility_timeout_seconds: i64,
    /// `sqs`, `none`, or `kms (<key>)` when a KMS key was set out of band.
    pub encryption: String,
    pub tags: Tags,
}

#[derive(Debug)]
pub struct LiveQueue {
    pub state: QueueState,
    pub url: String,
    pub arn: String,
    /// Messages in it (visible, in flight and delayed), as SQS counts them: approximately.
    pub messages: i64,
}

#[async_trait]
impl Kind for Queue {
    const TYPE: &'static str = "sqs_queue";
    const ATTRIBUTES: &'static [&'static str] = &["name", "arn", "url"];
    const ARN_SAMPLES: &'static [(&'static str, &'static str)] =
        &[("arn", "arn:aws:sqs:us-east-1:123456789012:sample")];
    type Raw = spec::RawQueue;
    type State = QueueState;
    type Live = LiveQueue;
    type Resolved = ();

    fn validate(raw: spec::RawQueue, cx: &ValidateCtx, diags: &mut Diags) -> Option<Queue> {
        Queue::validate_raw(raw, cx, diags)
    }

    fn templates(&self) -> Vec<&Template> {
        Vec::new()
    }

    fn known_name(&self) -> Option<String> {
        Some(self.name.clone())
    }

    async fn read(&self, aws: &Aws, me: &Identity<'_>) -> anyhow::Result<Observation<Self>> {
        Ok(Observation {
            live: ops::read_queue(aws, &self.name, Some(me.owner)).await?,
            resolved: (),
        })
    }

    async fn discover(aws: &Aws, find: &Discovery<'_>) -> anyhow::Result<Vec<LiveQueue>> {
        let owner = find.owner;
        tagged::read_each(aws, "sqs", owner, find.skip, name_of, |name| async move {
            ops::read_queue(aws, &name, Some(owner)).await
        })
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
        BTreeMap::from([
            ("name", Some(self.name.clone())),
            ("arn", context.map(|c| c.arn("sqs", true, &self.name))),
            // The endpoint's host is SQS's to say.
            ("url", None),
        ])
    }

    fn desired(&self, _resolved: &(), _inputs: &Inputs, tags: Tags) -> QueueState {
        QueueState {
            message_retention_seconds: self.message_retention_seconds,
            visibility_timeout_seconds: self.visibility_timeout_seconds,
            encryption: self.encryption.name().to_string(),
            tags,
        }
    }

    fn replacement_reasons(&self, _desired: &QueueState, _live: &LiveQueue) -> Vec<String> {
        Vec::new()
    }

    fn annotate(&self, change: &mut FieldChange, _live: &LiveQueue) {
        if change.path.key(0) == Some("message_retention_seconds") {
            change.note = Some("SQS applies a new retention within 15 minutes".into());
        }
    }

    fn needs() -> Vec<Need> {
        ops::NEEDS.to_vec()
    }

    fn arns(&self, at: &DeploymentContext) -> Vec<(&'static str, String)> {
        vec![("queue", at.arn("sqs", true, &self.name))]
    }

    fn any_arns(at: &DeploymentContext) -> Vec<(&'static str, String)> {
        vec![("queue", at.arn("sqs", true, "*"))]
    }

    async fn create(&self, cx: &ExecCtx<'_>, desired: &QueueState) -> anyhow::Result<LiveQueue> {
        ops::create(cx, &self.name, desired).await
    }

    async fn update(
        &self,
        cx: &ExecCtx<'_>,
        live: &LiveQueue,
        desired: &QueueState,
    ) -> anyhow::Result<LiveQueue> {
        ops::update(cx, live, desired).await
    }

    #[cfg(test)]
    fn applied(&self, desired: QueueState, _resolved: &()) -> LiveQueue {
        LiveQueue {
            state: desired,
            url: format!(
                "https://sqs.us-east-1.amazonaws.com/123456789012/{}",
                self.name
            ),
            arn: format!("arn:aws:sqs:us-east-1:123456789012:{}", self.name),
            messages: 0,
        }
    }

    #[cfg(test)]
    fn resolved_for_tests(&self) {}
}

/// The queue's name from its ARN (`arn:aws:sqs:<region>:<account>:<name>`).
fn name_of(arn: &str) -> String {
    arn.rsplit(':').next().unwrap_or_default().to_string()
}

#[async_trait]
impl Live for LiveQueue {
    fn kind(&self) -> &'static str {
        Queue::TYPE
    }

    fn physical_id(&self) -> String {
        name_of(&self.arn)
    }

    fn tags(&self) -> &Tags {
        &self.state.tags
    }

    fn attributes(&self) -> Attributes {
        BTreeMap::from([
            ("name", Some(name_of(&self.arn))),
            ("arn", Some(self.arn.clone())),
            ("url", Some(self.url.clone())),
        ])
    }

    fn state_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).unwrap_or_default()
    }

    fn deletion_warning(&self) -> Option<String> {
        Some(match self.messages {
            0 => "any message in the queue is deleted with it (SQS reports none)".into(),
            n => format!("the queue holds about {n} messages; they are deleted with it"),
        })
    }

    /// After the triggers that send to it (10) and the functions (20).
    fn delete_order(&self) -> u8 {
        50
    }

    async fn data_at_risk(&self, aws: &Aws) -> anyhow::Result<Option<String>> {
        ops::messages_at_risk(aws, self).await
    }

    async fn delete(&self, cx: &ExecCtx<'_>) -> anyhow::Result<()> {
        ops::delete(cx, self).await
    }

    #[cfg(test)]
    fn tags_mut(&mut self) -> &mut Tags {
        &mut self.state.tags
    }
}
