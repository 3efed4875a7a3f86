//! `dev`'s pipeline: each event source mapping of the stack run on this machine the way
//! Lambda runs it, against the emulator's stream. One poller per shard reads records
//! (`stream`), drops those the mapping's filters do not match, batches the rest
//! (`batch_size`, `batching_window_seconds`, in order), invokes the function's bootstrap
//! through the tool's Runtime API, and then does what Lambda does after the invocation
//! (`batch`: partial failures, retries, bisecting, giving up with an on-failure record).
//! A crashed bootstrap is restarted. One line per batch on stdout.

pub mod batch;
pub mod stream;
pub mod watch;

use crate::aws::{Aws, sdk};
use crate::event_filter::EventFilter;
use crate::local::bootstrap::{Bootstrap, Launch};
use crate::local::runtime_api::{Outcome, RuntimeApi};
use batch::{Pending, RetryPolicy, Then, Verdict, decide, expired, sequence_number};
use serde_json::{Value, json};
use std::collections::{BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use stream::Checkpoints;

/// How often an idle shard is read again; Lambda polls a stream's shards four times a
/// second.
const POLL: Duration = Duration::from_millis(250);
/// How often the stream is asked for new shards.
const SHARD_DISCOVERY: Duration = Duration::from_secs(5);

/// One event source mapping, as the stack sets it up.
pub struct Mapping {
    /// Its name under `resources:`.
    pub name: String,
    pub stream_arn: String,
    pub starting_position: String,
    pub batch_size: usize,
    pub batching_window: Duration,
    pub policy: RetryPolicy,
    pub filter: EventFilter,
    /// The queue (or topic) ARN that gets the on-failure record.
    pub on_failure: Option<String>,
    /// Where its checkpoints are kept.
    pub checkpoints: PathBuf,
    /// Set when the mapping is gone: its pollers end after the batch under way, as Lambda
    /// lets a running invocation finish.
    pub stopping: Arc<AtomicBool>,
}

/// Runs `mapping` until the task is dropped: one poller per shard, new shards as they
/// appear. `ready` is told once the shards there at the start have their position, so
/// that what is written after it is read (from `LATEST`, nothing before that is).
pub async fn run_mapping(
    aws: Aws,
    mapping: Mapping,
    api: Arc<RuntimeApi>,
    ready: tokio::sync::oneshot::Sender<()>,
) -> anyhow::Result<()> {
    let mut ready = Some(ready);
    let checkpoints = Arc::new(Mutex::new(Checkpoints::load(mapping.checkpoints.clone())?));
    let mapping = Arc::new(mapping);
    let mut started = BTreeSet::new();
    let mut pollers = tokio::task::JoinSet::new();
    // The shards there at the start are read from the starting position; a shard that
    // appears later holds only records written since, and is read from its beginning.
    let mut position = mapping.starting_position.clone();
    loop {
        if mapping.stopping.load(Ordering::SeqCst) {
            while let Some(ended) = pollers.join_next().await {
                ended??;
            }
            return Ok(());
        }
        for shard in stream::shards(&aws, &mapping.stream_arn).await? {
            if started.insert(shard.clone()) {
                let poller = Poller {
                    aws: aws.clone(),
                    mapping: mapping.clone(),
                    api: api.clone(),
                    checkpoints: checkpoints.clone(),
                    shard,
                };
                let iterator = poller.start(&position).await?;
                pollers.spawn(poller.run(iterator));
            }
        }
        if let Some(ready) = ready.take() {
            let _ = ready.send(());
        }
        position = "TRIM_HORIZON".to_string();
        tokio::select! {
            () = tokio::time::sleep(SHARD_DISCOVERY) => {}
            Some(ended) = pollers.join_next() => ended??,
        }
    }
}

struct Poller {
    aws: Aws,
    mapping: Arc<Mapping>,
    api: Arc<RuntimeApi>,
    checkpoints: Arc<Mutex<Checkpoints>>,
    shard: String,
}

/// Counts for the batch line.
#[derive(Default)]
struct Tally {
    read: usize,
    filtered: usize,
}

impl Poller {
    /// Where reading starts: after the checkpoint, else at `position`.
    async fn start(&self, position: &str) -> anyhow::Result<Option<String>> {
        let after = self.checkpoint();
        let m = &self.mapping;
        stream::iterator(
            &self.aws,
            &m.stream_arn,
            &self.shard,
            after.as_deref(),
            position,
        )
        .await
    }

    async fn run(self, mut iterator: Option<String>) -> anyhow::Result<()> {
        let m = &self.mapping;
        let mut matched: VecDeque<Value> = VecDeque::new();
        let mut last_read: Option<String> = None;
        let mut first_matched_at: Option<Instant> = None;
        let mut tally = Tally::default();
        while let Some(it) = iterator.take() {
            if m.stopping.load(Ordering::SeqCst) {
                return Ok(());
            }
            let limit = i32::try_from(m.batch_size).unwrap_or(i32::MAX);
            let (records, next) = stream::read(&self.aws, &it, limit, &m.stream_arn).await?;
            iterator = next;
            let got = records.len();
            tally.read += got;
            if let Some(last) = records.last() {
                last_read = Some(sequence_number(last).to_string());
            }
            for record in records {
                if m.filter.matches(&record) {
                    first_matched_at.get_or_insert_with(Instant::now);
                    matched.push_back(record);
                } else {
                    tally.filtered += 1;
                }
            }
            loop {
                let window_over = first_matched_at.is_none_or(|t| t.elapsed() >= m.batching_window);
                let ready = !matched.is_empty()
                    && (matched.len() >= m.batch_size || window_over || iterator.is_none());
                if !ready {
                    break;
                }
                let take = matched.len().min(m.batch_size);
                let batch: Vec<Value> = matched.drain(..take).collect();
                first_matched_at = (!matched.is_empty()).then(Instant::now);
                self.process(batch, std::mem::take(&mut tally)).await?;
            }
            if matched.is_empty() {
                // Everything read is finished (or filtered out): resume after it.
                if let Some(seq) = &last_read {
                    self.set_checkpoint(seq)?;
                }
                if tally.read > 0 {
                    println!(
                        "{} {}: {} in, {} filtered out, 0 invoked",
                        m.name,
                        short(&self.shard),
                        tally.read,
                        tally.filtered
                    );
                    tally = Tally::default();
                }
            }
            if got == 0 && iterator.is_some() {
                tokio::time::sleep(POLL).await;
            }
        }
        Ok(())
    }

    fn checkpoint(&self) -> Option<String> {
        let checkpoints = self.checkpoints.lock().unwrap_or_else(|e| e.into_inner());
        checkpoints.get(&self.shard).map(str::to_string)
    }

    fn set_checkpoint(&self, seq: &str) -> anyhow::Result<()> {
        let mut checkpoints = self.checkpoints.lock().unwrap_or_else(|e| e.into_inner());
        checkpoints.set(&self.shard, seq)
    }

    /// Invokes the function with `records` until every one is finished or given up on,
    /// checkpointing as they finish; then prints the batch's line.
    async fn process(&self, records: Vec<Value>, tally: Tally) -> anyhow::Result<()> {
        let m = &self.mapping;
        let started = Instant::now();
        let count = records.len();
        let (mut invocations, mut failures, mut given_up) = (0, 0, 0);
        let mut queue = VecDeque::from([Pending {
            records,
            retries: 0,
        }]);
        while let Some(pending) = queue.pop_front() {
            if m.stopping.load(Ordering::SeqCst) {
                // The mapping is gone: what it had not finished is no longer its to do.
                return Ok(());
            }
            let last = pending
                .records
                .last()
                .map(|r| sequence_number(r).to_string());
            if expired(&m.policy, &pending, now()) {
                given_up += pending.records.len();
                self.give_up(
                    &pending.records,
                    "the records are older than maximum_record_age_seconds",
                    invocations,
                )
                .await?;
                if let Some(seq) = last {
                    self.set_checkpoint(&seq)?;
                }
                continue;
            }
            invocations += 1;
            let verdict = match self.api.invoke(json!({ "Records": pending.records })).await {
                Outcome::Response(body) => Verdict::Answered(body),
                Outcome::Error(e) => Verdict::Failed(format!("function error: {e}")),
                Outcome::InitError(e) => {
                    Verdict::Failed(format!("the function failed to start: {e}"))
                }
                Outcome::TimedOut => Verdict::Failed("the function timed out".into()),
            };
            let records = pending.records.clone();
            let decision = decide(&m.policy, pending, &verdict);
            if decision.done < records.len() {
                failures += 1;
            }
            if decision.done > 0 {
                self.set_checkpoint(sequence_number(&records[decision.done - 1]))?;
            }
            match decision.then {
                Then::Nothing => {}
                Then::Retry(next) => {
                    for p in next.into_iter().rev() {
                        queue.push_front(p);
                    }
                }
                Then::GiveUp { records, reason } => {
                    given_up += records.len();
                    self.give_up(&records, &reason, invocations).await?;
                    if let Some(last) = records.last() {
                        self.set_checkpoint(sequence_number(last))?;
                    }
                }
            }
        }
        println!(
            "{} {}: {} in, {} filtered out, {count} invoked in {invocations} invocation{}, {failures} failed, {given_up} given up, {} ms",
            m.name,
            short(&self.shard),
            tally.read,
            tally.filtered,
            if invocations == 1 { "" } else { "s" },
            started.elapsed().as_millis()
        );
        Ok(())
    }

    /// Logs the records given up on and sends Lambda's on-failure record (the shard and
    /// sequence range; not the records) to the mapping's queue.
    async fn give_up(
        &self,
        records: &[Value],
        reason: &str,
        invocations: u32,
    ) -> anyhow::Result<()> {
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            return Ok(());
        };
        let m = &self.mapping;
        eprintln!(
            "{} {}: gave up on {} record(s), {} to {}: {reason}",
            m.name,
            short(&self.shard),
            records.len(),
            sequence_number(first),
            sequence_number(last)
        );
        let Some(destination) = &m.on_failure else {
            return Ok(());
        };
        let arrival = |r: &Value| r["dynamodb"]["ApproximateCreationDateTime"].clone();
        let record = json!({
            "requestContext": {
                "condition": if reason.contains("maximum_record_age") { "RecordAgeExceeded" } else { "RetryAttemptsExhausted" },
                "approximateInvokeCount": invocations,
            },
            "version": "1.0",
            "timestamp": now(),
            "DDBStreamBatchInfo": {
                "shardId": self.shard,
                "startSequenceNumber": sequence_number(first),
                "endSequenceNumber": sequence_number(last),
                "approximateArrivalOfFirstRecord": arrival(first),
                "approximateArrivalOfLastRecord": arrival(last),
                "batchSize": records.len(),
                "streamArn": m.stream_arn,
            },
        });
        let Some(queue) = destination
            .strip_prefix("arn:aws:sqs:")
            .and_then(|r| r.rsplit(':').next())
        else {
            eprintln!(
                "{}: on_failure {destination} is not an SQS queue; dev sends on-failure records to queues only",
                m.name
            );
            return Ok(());
        };
        let url = sdk(
            "GetQueueUrl",
            self.aws.sqs.get_queue_url().queue_name(queue).send().await,
        )?
        .queue_url
        .unwrap_or_default();
        let request = self
            .aws
            .sqs
            .send_message()
            .queue_url(url)
            .message_body(record.to_string());
        sdk("SendMessage", request.send().await)?;
        Ok(())
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// A shard id shortened for the batch line: its last 8 characters, said to be a shard's
/// (a bare hex word next to the mapping's name reads as the mapping's UUID).
fn short(shard: &str) -> String {
    format!("shard …{}", &shard[shard.len().saturating_sub(8)..])
}

/// One function's bootstrap, kept running: restarted whenever it exits, with the
/// invocation it held failed as Lambda fails it, and replaced by each new build sent on
/// `builds` once no invocation is running (as Lambda lets running invocations finish on
/// the old code).
pub async fn supervise(
    api: Arc<RuntimeApi>,
    mut launch: Launch,
    mut builds: tokio::sync::mpsc::UnboundedReceiver<Launch>,
) -> anyhow::Result<()> {
    loop {
        let started = Instant::now();
        let mut process = Bootstrap::spawn(&launch, &api)?;
        let name = launch.lambda.function_name.clone();
        tokio::select! {
            status = process.wait() => {
                let status = status?;
                eprintln!("{name}: the bootstrap exited ({status}); restarting it");
                api.abandon(&format!("the bootstrap exited ({status})"));
                // A bootstrap that dies at once would otherwise be restarted in a tight
                // loop.
                if started.elapsed() < Duration::from_secs(1) {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            () = api.timed_out() => {
                // Lambda stops a runtime that ran past its timeout; the next invocation
                // gets a new one (a hung process would otherwise hold every later batch).
                eprintln!("{name}: an invocation timed out; restarting the bootstrap");
                process.stop().await?;
                api.abandon("the invocation timed out");
            }
            Some(next) = builds.recv() => {
                let _paused = api.pause().await;
                process.stop().await?;
                api.abandon("replaced by a new build");
                launch = next;
                println!("dev: {name} restarted with the new build");
            }
        }
    }
}
