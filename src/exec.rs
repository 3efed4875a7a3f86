//! What carrying out one change needs: the AWS clients, the line its progress shows on, how
//! long one step may take, the builds started ahead for it, and where it says its values
//! as soon as it knows them.

use crate::aws::Aws;
use crate::prebuild::Prebuilds;
use crate::progress::Tracker;
use crate::values::Attributes;
use crate::wait::{Service, Wait};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use serde_json::Value;
use std::time::Duration;

pub struct ExecCtx<'a> {
    pub aws: &'a Aws,
    pub tracker: &'a Tracker,
    /// Longest wait for AWS to finish one step (table ACTIVE, deletion, ...).
    pub wait_timeout: Duration,
    /// Bundles whose builds started with the change (see [`crate::prebuild`]).
    pub prebuilds: &'a Prebuilds,
    /// Where a change says the resource's attributes once they are known, before it is
    /// ready: what needs only those values starts then (see `engine::execute`).
    pub published: Option<&'a (dyn Fn(Attributes) + Send + Sync)>,
    /// Keep a backup of a table that holds items before deleting it (`--no-backup`: no).
    pub backups: bool,
    /// Run a release's canary and bake (`apply --no-bake`: the check only).
    pub bake: bool,
    /// What runs a closed stream's records through a function before the mapping that read
    /// it goes (none: nothing is replayed; only the engine's own tests run without one).
    pub replayer: Option<&'a dyn Replayer>,
}

/// How a run carries out its changes, as the command line set it.
#[derive(Clone, Copy)]
pub struct RunOptions<'a> {
    /// `--wait-timeout`.
    pub wait_timeout: Duration,
    /// Backups before a table goes (`--no-backup` turns them off).
    pub backups: bool,
    /// See [`ExecCtx::bake`].
    pub bake: bool,
    /// See [`ExecCtx::replayer`].
    pub replayer: Option<&'a dyn Replayer>,
}

/// A mapping's stream that was closed (its table's stream was disabled or made anew), to
/// be read to its end and run through the mapping's function as the mapping would run it.
#[derive(Debug, Clone)]
pub struct ClosedStream {
    /// The function's name.
    pub function: String,
    pub stream_arn: String,
    pub batch_size: usize,
    /// The mapping's filter patterns: the records they drop are not run.
    pub filters: Vec<Value>,
    pub report_batch_item_failures: bool,
}

/// What runs the stack's functions for the engine, with Lambda's Invoke, or, against the
/// local emulator, the function's bundle on this machine (the commands layer makes it, with
/// what it needs to run a function), and knows the stack around a function.
#[async_trait::async_trait]
pub trait Replayer: Send + Sync {
    /// Runs what a closed stream still holds through its function, saying on the
    /// resource's progress line what it does. A stream still open, or no longer kept, runs
    /// nothing. An error when a batch fails, or the stream cannot be read.
    async fn replay(&self, cx: &ExecCtx<'_>, stream: &ClosedStream) -> anyhow::Result<()>;
    /// A release's check: `event` (a stream event) run through `version` of `function`
    /// (its physical name). Why it failed, with the function's last log lines, when it
    /// crashed, timed out or reported a batch item failure; an error when it could not be
    /// run at all.
    async fn check(
        &self,
        cx: &ExecCtx<'_>,
        function: &str,
        version: &str,
        event: &Value,
    ) -> anyhow::Result<Option<String>>;
    /// The names of the stack's alarms on `function` (a metric of AWS/Lambda with its
    /// name): what a release's canary and bake watch.
    fn alarms_on(&self, function: &str) -> Vec<String>;
}

impl ExecCtx<'_> {
    /// Shows `doing` on the resource's progress line, then sends one request (`sent`, the
    /// SDK's `send()`), with an AWS error turned into a readable one naming `operation`
    /// (see [`crate::aws::sdk`]).
    pub async fn send<T, E, R>(
        &self,
        doing: impl AsRef<str>,
        operation: &str,
        sent: impl Future<Output = Result<T, SdkError<E, R>>>,
    ) -> anyhow::Result<T>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        self.tracker.status(doing);
        crate::aws::sdk(operation, sent.await)
    }

    /// A wait of this change: shown on its line, within `--wait-timeout`.
    pub fn wait<'w>(&'w self, doing: &'w str, service: Service) -> Wait<'w> {
        Wait {
            doing,
            service,
            timeout: self.wait_timeout,
            tracker: Some(self.tracker),
        }
    }

    /// Says the resource's attributes (its ARNs, say) as soon as they are known: what
    /// refers to it only by those values may start before it is ready.
    pub fn publish(&self, attributes: Attributes) {
        if let Some(published) = self.published {
            published(attributes);
        }
    }
}
