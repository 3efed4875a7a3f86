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
use crate::kinds::kind::{Kind, Live, Tags};
use crate::plan::FieldChange;
use crate::spec::template::Inputs;
use crate::values::{ArnFormat, Attributes};
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

crate::live_of!(LiveQueue, Queue, arn);

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
    /// Its `url` is SQS's to say (the endpoint's host): unknown until it exists.
    const ATTRIBUTES: &'static [&'static str] = &["name", "arn", "url"];
    const ARN: ArnFormat = ArnFormat::regional("sqs", "queue", "");
    const NEEDS: &'static [&'static [Need]] = &[ops::NEEDS];
    const LISTED_BY_TAG: bool = true;
    type Raw = spec::RawQueue;
    type State = QueueState;
    type Live = LiveQueue;
    type Resolved = ();

    fn known_name(&self) -> Option<String> {
        Some(self.name.clone())
    }

    async fn read_named(aws: &Aws, name: &str, owner: &str) -> anyhow::Result<Option<LiveQueue>> {
        ops::read_queue(aws, name, Some(owner)).await
    }

    fn desired(&self, _resolved: &(), _inputs: &Inputs, tags: Tags) -> QueueState {
        QueueState {
            message_retention_seconds: self.message_retention_seconds,
            visibility_timeout_seconds: self.visibility_timeout_seconds,
            encryption: self.encryption.name().to_string(),
            tags,
        }
    }

    fn note(&self, change: &FieldChange, _live: &LiveQueue) -> Option<String> {
        (change.path.key(0) == Some("message_retention_seconds"))
            .then(|| "SQS applies a new retention within 15 minutes".into())
    }

    #[cfg(test)]
    fn applied(&self, desired: QueueState, _resolved: &()) -> LiveQueue {
        LiveQueue {
            state: desired,
            url: format!(
                "https://sqs.us-east-1.amazonaws.com/123456789012/{}",
                self.name
            ),
            arn: Self::ARN.of(&crate::values::DeploymentContext::example(), &self.name),
            messages: 0,
        }
    }
}

#[async_trait]
impl Live for LiveQueue {
    fn attributes(&self) -> Attributes {
        BTreeMap::from([
            ("name", Some(self.physical_id())),
            ("arn", Some(self.arn.clone())),
            ("url", Some(self.url.clone())),
        ])
    }

    fn deletion_warning(&self) -> Option<String> {
        Some(match self.messages {
            0 => "any message in the queue is deleted with it (SQS reports none)".into(),
            n => format!("the queue holds about {n} messages; they are deleted with it"),
        })
    }

    async fn data_at_risk(&self, aws: &Aws) -> anyhow::Result<Option<String>> {
        ops::messages_at_risk(aws, self).await
    }

    async fn delete(&self, cx: &ExecCtx<'_>) -> anyhow::Result<()> {
        ops::delete(cx, self).await
    }
}
