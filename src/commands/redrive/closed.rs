//! A closed stream handed over before its mapping goes (see the trigger kind's
//! `hand_over`): what the stream still holds, read shard by shard to each shard's end,
//! filtered as the mapping filters, and run through the mapping's function in batches of
//! its size, by redrive's runner (Lambda's Invoke on AWS; the bundle on this machine
//! against the emulator). apply and destroy carry one while they run.

use super::runner::Runner;
use crate::aws::Aws;
use crate::cli::Global;
use crate::commands::common::{self, Carry, Flags};
use crate::engine::Observed;
use crate::event_filter::EventFilter;
use crate::exec::{ClosedStream, ExecCtx, Replayer};
use crate::kinds::Stack;
use crate::plan::Plan;
use crate::redrive::record::failure;
use crate::redrive::{self, Range, StreamNow};
use crate::wait::{Check, Service, until};
use anyhow::{anyhow, bail};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::process::ExitCode;

/// [`common::carry_out`] with the stack's replayer, for apply and destroy: a trigger moved
/// off a closed stream hands what the stream holds over through it; the bootstraps it
/// started here are stopped at the end.
pub async fn carry_out(
    g: &Global,
    stack: &Stack,
    plan: &Plan,
    observed: &Observed,
    aws: &Aws,
    flags: Flags,
) -> anyhow::Result<ExitCode> {
    let replayer = StackReplayer::new(stack, observed, plan, aws);
    let how = Carry {
        flags,
        replayer: &replayer,
    };
    let carried = common::carry_out(g, stack, plan, observed, aws, how).await;
    replayer.stop().await;
    carried
}

/// The stack's replayer for one run: a runner per function, made when first needed.
pub struct StackReplayer<'a> {
    stack: &'a Stack,
    observed: &'a Observed,
    plan: &'a Plan,
    aws: &'a Aws,
    runners: tokio::sync::Mutex<BTreeMap<String, Runner>>,
}

impl<'a> StackReplayer<'a> {
    pub fn new(
        stack: &'a Stack,
        observed: &'a Observed,
        plan: &'a Plan,
        aws: &'a Aws,
    ) -> StackReplayer<'a> {
        StackReplayer {
            stack,
            observed,
            plan,
            aws,
            runners: Default::default(),
        }
    }

    /// Stops the bootstraps started on this machine.
    pub async fn stop(&self) {
        for runner in self.runners.lock().await.values_mut() {
            runner.stop().await;
        }
    }
}

#[async_trait::async_trait]
impl Replayer for StackReplayer<'_> {
    async fn replay(&self, cx: &ExecCtx<'_>, stream: &ClosedStream) -> anyhow::Result<()> {
        let filter = EventFilter::new(&stream.filters).map_err(|e| anyhow!("{e}"))?;
        // DISABLING lasts a moment after UpdateTable (Streams.html: "If you disable a
        // stream, any shards that are open will be closed").
        let wait = cx.wait("waiting for the old stream to close", Service::DynamoDb);
        let now = until(wait, || async {
            Ok(
                match redrive::stream_now(self.aws, &stream.stream_arn).await? {
                    StreamNow::Closing => Check::Waiting("DISABLING".into()),
                    now => Check::Done(now),
                },
            )
        })
        .await?;
        let shards = match now {
            StreamNow::Closed(shards) => shards,
            StreamNow::Open => {
                cx.tracker
                    .status("the old stream is still open: it is not handed over");
                return Ok(());
            }
            StreamNow::Gone | StreamNow::Closing => {
                cx.tracker
                    .status("the old stream is no longer kept: nothing of it to hand over");
                return Ok(());
            }
        };
        let mut records: Vec<Value> = Vec::new();
        for shard in &shards {
            match redrive::read_closed_shard(self.aws, shard).await? {
                Range::Read(read) => records.extend(read),
                // Trimmed or expired while it was read: gone for every reader alike.
                Range::Gone(_) => {}
                Range::Unreadable(why) => bail!("shard {}: {why}", shard.shard_id),
            }
        }
        let all = records.len();
        records.retain(|r| filter.matches(r));
        let (total, filtered) = (records.len(), all - records.len());
        if total == 0 {
            // Nothing to run: no runner is made (here, no bundle is built for it).
            cx.tracker.status(format!(
                "the old stream is closed and holds no record to replay ({filtered} filtered out)"
            ));
            return Ok(());
        }
        cx.tracker.status(format!(
            "the old stream is closed: replaying the {total} record(s) it holds ({filtered} filtered out) through {}",
            stream.function
        ));
        let mut runners = self.runners.lock().await;
        let runner = match runners.contains_key(&stream.function) {
            true => runners.get_mut(&stream.function),
            false => {
                let made = Runner::of(
                    self.stack,
                    self.observed,
                    self.plan,
                    self.aws,
                    &stream.function,
                )
                .await?;
                Some(runners.entry(stream.function.clone()).or_insert(made))
            }
        };
        let Some(runner) = runner else {
            bail!("no runner for {}", stream.function);
        };
        let (mut done, mut invocations) = (0, 0);
        for batch in records.chunks(stream.batch_size) {
            invocations += 1;
            let verdict = runner.invoke(json!({ "Records": batch })).await?;
            if let Some(error) = failure(&verdict, stream.report_batch_item_failures, batch) {
                bail!("{error}");
            }
            done += batch.len();
            cx.tracker.status(format!(
                "replaying the closed stream: {done} of {total} record(s), {invocations} invocation(s)"
            ));
        }
        cx.tracker.status(format!(
            "replayed the closed stream's {total} record(s) in {invocations} invocation(s)"
        ));
        Ok(())
    }

    /// On AWS, Lambda's Invoke of `function:version`; on the emulator, the stack's code
    /// (what was just uploaded) run here, as `invoke` runs it, in a bootstrap of its own.
    async fn check(
        &self,
        _cx: &ExecCtx<'_>,
        function: &str,
        version: &str,
        event: &Value,
    ) -> anyhow::Result<Option<String>> {
        let qualified = format!("{function}:{version}");
        let mut runner =
            Runner::of(self.stack, self.observed, self.plan, self.aws, &qualified).await?;
        let verdict = runner.invoke(event.clone()).await;
        let last_lines = runner.take_logs();
        runner.stop().await;
        let records: Vec<Value> = event
            .get("Records")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        // Lambda reads batchItemFailures only when the mapping asks for them; a check
        // counts any it reports.
        let Some(problem) = failure(&verdict?, true, &records) else {
            return Ok(None);
        };
        let said = match last_lines.is_empty() {
            true => "(the function logged nothing)".to_string(),
            false => last_lines.join("\n  "),
        };
        Ok(Some(format!("{problem}\n  its last log lines:\n  {said}")))
    }

    fn alarms_on(&self, function: &str) -> Vec<String> {
        self.plan
            .resource_changes
            .iter()
            .filter(|c| c.kind == "cloudwatch_alarm" && !c.orphan)
            .filter(|c| {
                let state = match c.states.after.is_null() {
                    true => &c.states.before,
                    false => &c.states.after,
                };
                state.get("namespace").and_then(Value::as_str) == Some("AWS/Lambda")
                    && state
                        .get("dimensions")
                        .and_then(|d| d.get("FunctionName"))
                        .and_then(Value::as_str)
                        .is_some_and(|f| f.split(':').next() == Some(function))
            })
            .map(|c| c.physical_id.clone())
            .collect()
    }
}
