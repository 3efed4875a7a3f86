//! What carrying out one change needs: the AWS clients, the line its progress shows on, how
//! long one step may take, and the builds started ahead for it.

use crate::aws::Aws;
use crate::prebuild::Prebuilds;
use crate::progress::Tracker;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use std::time::Duration;

pub struct ExecCtx<'a> {
    pub aws: &'a Aws,
    pub tracker: &'a Tracker,
    /// Longest wait for AWS to finish one step (table ACTIVE, deletion, ...).
    pub wait_timeout: Duration,
    /// Bundles whose builds started with the change (see [`crate::prebuild`]).
    pub prebuilds: &'a Prebuilds,
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
}
