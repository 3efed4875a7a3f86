//! `redrive`: the records Lambda gave up on, replayed. Each event source mapping of the
//! stack whose `on_failure` is an SQS queue has its queue read; each message there is an
//! on-failure record naming a sequence range of a stream shard (`crate::redrive::record`).
//! The range is read again from the stream, filtered as the mapping filters, and handed to
//! the mapping's function in batches of the mapping's size, with Lambda's event shape; the
//! message is deleted only when every batch finished without a failure. A message that is
//! not such a record, whose records the stream no longer holds, or whose function fails
//! again stays in the queue, said in one line. Like apply, it shows what it would do and
//! asks first (`--auto-approve`), or only shows it (`--dry-run`); `--output json` writes
//! events instead.

mod closed;
mod runner;

pub use closed::carry_out;

use super::common;
use super::confirm::{check_can_confirm, check_can_stream, confirm};
use crate::aws::Aws;
use crate::cli::{Global, Output};
use crate::engine::{self, PlanRequest};
use crate::event_filter::EventFilter;
use crate::kinds::Stack;
use crate::plan::Plan;
use crate::redrive::record::{BatchInfo, Stays, failure, table_of, tail};
use crate::redrive::{self, HOLD_SECONDS, Message, Queue, Range};
use anyhow::{anyhow, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use runner::Runner;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::process::ExitCode;
use std::time::Instant;

/// A mapping that sends what it gives up on to a queue, as it is deployed.
struct Mapping {
    name: String,
    function: String,
    source: String,
    batch_size: usize,
    report_batch_item_failures: bool,
    filter: EventFilter,
}

/// The mappings (their indexes) that send to each queue, by its ARN.
type Readers = BTreeMap<String, Vec<usize>>;

/// A message with what is to be done with it.
struct Item {
    message: Message,
    todo: Todo,
}

enum Todo {
    /// Replay `records` through `mapping` (the `filtered` others it would not send).
    Replay {
        info: BatchInfo,
        mapping: usize,
        records: Vec<Value>,
        filtered: usize,
    },
    Stays(Stays),
}

/// One thing that happened, as `--output json` prints it: a line of JSON, `event` first.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RedriveEvent {
    /// A message whose records will be replayed (or, with --dry-run, would be).
    Found {
        queue: String,
        message_id: String,
        mapping: String,
        function: String,
        stream_arn: String,
        shard_id: String,
        start_sequence_number: String,
        end_sequence_number: String,
        records: usize,
        filtered_out: usize,
    },
    /// Its records were replayed, and the message deleted.
    Replayed {
        message_id: String,
        records: usize,
        invocations: usize,
        elapsed_ms: u64,
    },
    /// A message that stays in the queue: `reason` is a word for why, `message` the line.
    Stays {
        queue: String,
        message_id: String,
        reason: String,
        message: String,
    },
    /// The run ended.
    Summary {
        dry_run: bool,
        replayed_messages: usize,
        replayed_records: usize,
        invocations: usize,
        stayed: Vec<String>,
        elapsed_ms: u64,
    },
}

impl RedriveEvent {
    fn print(&self) {
        println!("{}", serde_json::to_string(self).unwrap_or_default());
    }
}

/// The JSON Schema of `redrive --output json`'s events.
pub fn schema() -> schemars::Schema {
    schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<RedriveEvent>()
}

pub async fn run(
    g: &Global,
    auto_approve: bool,
    dry_run: bool,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let json = output == Output::Json;
    check_can_stream(json, auto_approve || dry_run, " or --dry-run")?;
    check_can_confirm(
        auto_approve || dry_run,
        "redrive",
        "--auto-approve (or --dry-run)",
    )?;
    let stack = common::load(g)?;
    let aws = common::connect(g, &stack).await?;
    let (observed, plan) = engine::prepare(&stack, &aws, &PlanRequest::apply())
        .await
        .map_err(|e| aws.explain(e))?;
    let (mappings, queues) = mappings_of(&stack, &plan)?;
    let mut held = Held::default();
    let mut outcome = Outcome::default();
    let result = async {
        // Every message of every queue, held, and what to do with each (the ranges read at
        // once).
        let mut found: Vec<(Queue, Vec<Item>)> = Vec::new();
        for (arn, readers) in &queues {
            let queue = find_queue(&aws, arn, readers, &mappings, &stack.env.name).await?;
            let messages = receive(&aws, &queue, json).await?;
            held.add(&queue, &messages);
            let considered = messages
                .into_iter()
                .map(|message| consider(&aws, message, readers, &mappings));
            let items = futures::future::try_join_all(considered).await?;
            found.push((queue, items));
        }
        let to_replay = show(&found, &mappings, json);
        let stays = found.iter().map(|(_, items)| items.len()).sum::<usize>() - to_replay;
        let answer = if dry_run {
            Answer::DryRun
        } else if to_replay == 0 {
            Answer::Nothing
        } else if auto_approve
            || confirm(&format!(
                "\nDo you want to replay the records of {to_replay} message(s) through their functions? Each message is deleted once its records are done."
            ))?
        {
            Answer::Go
        } else {
            Answer::No
        };
        if answer == Answer::Go {
            let functions = Functions {
                stack: &stack,
                observed: &observed,
                plan: &plan,
            };
            replay(&functions, &aws, &mappings, &found, json, &mut outcome).await?;
        }
        anyhow::Ok((answer, to_replay, stays))
    }
    .await;
    // Whatever was not deleted goes back to its queue now, for the next reader: also when
    // the run failed half-way (held messages would come back only after HOLD_SECONDS).
    let released = held.release(&aws, &outcome.deleted).await;
    let (answer, to_replay, stays) = result.map_err(|e| aws.explain(e))?;
    released.map_err(|e| aws.explain(e))?;
    let stayed: Vec<String> = held
        .messages
        .iter()
        .map(|(_, m)| m.id.clone())
        .filter(|id| !outcome.deleted.contains(id))
        .collect();
    if json {
        RedriveEvent::Summary {
            dry_run: answer == Answer::DryRun,
            replayed_messages: outcome.deleted.len(),
            replayed_records: outcome.records,
            invocations: outcome.invocations,
            stayed: stayed.clone(),
            elapsed_ms: started.elapsed().as_millis() as u64,
        }
        .print();
    }
    match answer {
        Answer::DryRun => {
            if !json {
                println!(
                    "\nDry run: {to_replay} message(s) would be replayed{}; nothing was invoked, and every message is back in its queue.",
                    if stays > 0 {
                        format!(", {stays} would stay")
                    } else {
                        String::new()
                    }
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        Answer::No => {
            println!("Redrive cancelled; every message is back in its queue.");
            return Ok(ExitCode::from(1));
        }
        Answer::Go if !json => println!(
            "\nRedrive done: {} message(s) replayed ({} record(s) in {} invocation(s)) and deleted from the queue.",
            outcome.deleted.len(),
            outcome.records,
            outcome.invocations
        ),
        Answer::Go | Answer::Nothing => {}
    }
    if !stayed.is_empty() {
        bail!(
            "{} message(s) stay in the queue (said above); nothing was lost",
            stayed.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The mappings whose `on_failure` is an SQS queue, as deployed, and the queues with the
/// mappings that send to each. A topic is noted and left: its subscribers got the records.
fn mappings_of(stack: &Stack, plan: &Plan) -> anyhow::Result<(Vec<Mapping>, Readers)> {
    let env = &stack.env.name;
    let mut mappings: Vec<Mapping> = Vec::new();
    let mut queues = Readers::new();
    for change in plan
        .resource_changes
        .iter()
        .filter(|c| c.kind == "event_source_mapping" && !c.orphan)
    {
        let declared = change.states.after["on_failure"].as_str();
        let live = &change.states.before;
        let Some(destination) = live["on_failure"].as_str().or(declared) else {
            continue;
        };
        if !destination.contains(":sqs:") {
            eprintln!(
                "{}: its on_failure is not an SQS queue ({destination}): what Lambda gave up on went to the topic's subscribers; redrive reads queues only",
                change.name
            );
            continue;
        }
        if live.is_null() {
            bail!(
                "{} is not deployed in environment {env}: run `cruddur-infra apply --env {env}` first",
                change.name
            );
        }
        let filters: Vec<Value> = live["filters"].as_array().cloned().unwrap_or_default();
        let filter = EventFilter::new(&filters).map_err(|e| anyhow!("{}: {e}", change.name))?;
        queues
            .entry(destination.to_string())
            .or_default()
            .push(mappings.len());
        mappings.push(Mapping {
            name: change.name.clone(),
            function: live["function"].as_str().unwrap_or_default().to_string(),
            source: live["source"].as_str().unwrap_or_default().to_string(),
            batch_size: live["batch_size"].as_u64().unwrap_or(100).max(1) as usize,
            report_batch_item_failures: live["report_batch_item_failures"]
                .as_bool()
                .unwrap_or(false),
            filter,
        });
    }
    if queues.is_empty() {
        bail!(
            "no event_source_mapping of stack {} sends what it gives up on to an SQS queue (on_failure), so there is nothing to redrive: Lambda keeps no other record of it",
            stack.name
        );
    }
    Ok((mappings, queues))
}

/// The queue `arn`, which the mappings `readers` send to; an error when it is not there.
async fn find_queue(
    aws: &Aws,
    arn: &str,
    readers: &[usize],
    mappings: &[Mapping],
    env: &str,
) -> anyhow::Result<Queue> {
    let names: Vec<&str> = readers.iter().map(|&m| mappings[m].name.as_str()).collect();
    match Queue::find(aws, arn).await? {
        Some(queue) => Ok(queue),
        None => bail!(
            "the on-failure queue of {} ({arn}) does not exist: run `cruddur-infra apply --env {env}` first",
            names.join(", ")
        ),
    }
}

/// Every message of `queue`, held; an empty queue said so.
async fn receive(aws: &Aws, queue: &Queue, json: bool) -> anyhow::Result<Vec<Message>> {
    let (waiting, held) = queue.count(aws).await?;
    let messages = match waiting {
        0 => Vec::new(),
        n => queue.receive_all(aws, n).await?,
    };
    if messages.is_empty() && !json {
        let name = queue.arn.rsplit(':').next().unwrap_or(&queue.arn);
        match held {
            0 => println!("Queue {name} is empty: nothing to redrive."),
            n => println!(
                "Queue {name} has nothing to redrive now; {n} message(s) are held by another reader and come back when its visibility timeout ends."
            ),
        }
    }
    Ok(messages)
}

/// The messages this run holds, to give back what it does not delete.
#[derive(Default)]
struct Held {
    messages: Vec<(Queue, Message)>,
}

impl Held {
    fn add(&mut self, queue: &Queue, messages: &[Message]) {
        self.messages
            .extend(messages.iter().map(|m| (queue.clone(), m.clone())));
    }

    /// Makes every message not `deleted` visible again; every one is tried, the first
    /// error is returned.
    async fn release(&self, aws: &Aws, deleted: &[String]) -> anyhow::Result<()> {
        let mut first_error = None;
        for (queue, message) in &self.messages {
            if !deleted.contains(&message.id)
                && let Err(e) = queue.hold(aws, message, 0).await
            {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// What will be done, said before it is done; how many messages are to be replayed.
fn show(found: &[(Queue, Vec<Item>)], mappings: &[Mapping], json: bool) -> usize {
    let mut to_replay = 0;
    for (queue, items) in found {
        for item in items {
            match &item.todo {
                Todo::Replay {
                    info,
                    mapping,
                    records,
                    filtered,
                } => {
                    to_replay += 1;
                    let m = &mappings[*mapping];
                    if json {
                        RedriveEvent::Found {
                            queue: queue.arn.clone(),
                            message_id: item.message.id.clone(),
                            mapping: m.name.clone(),
                            function: m.function.clone(),
                            stream_arn: info.stream_arn.clone(),
                            shard_id: info.shard_id.clone(),
                            start_sequence_number: info.start.clone(),
                            end_sequence_number: info.end.clone(),
                            records: records.len(),
                            filtered_out: *filtered,
                        }
                        .print();
                    } else {
                        println!(
                            "{}",
                            found_line(&item.message, info, m, records.len(), *filtered)
                        );
                    }
                }
                Todo::Stays(why) => say_stays(json, queue, &item.message, why),
            }
        }
    }
    to_replay
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Nothing,
    DryRun,
    No,
    Go,
}

/// What a runner is made from: the stack's functions, as planned now.
struct Functions<'a> {
    stack: &'a Stack,
    observed: &'a engine::Observed,
    plan: &'a Plan,
}

impl Functions<'_> {
    async fn runner(&self, aws: &Aws, function: &str) -> anyhow::Result<Runner> {
        Runner::of(self.stack, self.observed, self.plan, aws, function).await
    }
}

#[derive(Default)]
struct Outcome {
    deleted: Vec<String>,
    records: usize,
    invocations: usize,
}

/// What to do with `message`, a message of the queue `readers` (mappings) send to: its
/// record read, the mapping that reads its stream chosen, its records read again.
async fn consider(
    aws: &Aws,
    message: Message,
    readers: &[usize],
    mappings: &[Mapping],
) -> anyhow::Result<Item> {
    let todo = match BatchInfo::parse(&message.body) {
        Ok(info) => replay_of(aws, info, readers, mappings).await?,
        Err(why) => Todo::Stays(Stays::NotARecord(why)),
    };
    Ok(Item { message, todo })
}

/// The replay of `info`'s range: the mapping that reads its stream (else one on the same
/// table, whose stream was made anew since; else the queue's only one) and its records.
async fn replay_of(
    aws: &Aws,
    info: BatchInfo,
    readers: &[usize],
    mappings: &[Mapping],
) -> anyhow::Result<Todo> {
    let chosen = readers
        .iter()
        .find(|&&m| mappings[m].source == info.stream_arn)
        .or_else(|| {
            readers
                .iter()
                .find(|&&m| table_of(&mappings[m].source) == info.table_arn())
        })
        .or(if readers.len() == 1 {
            readers.first()
        } else {
            None
        });
    let Some(&mapping) = chosen else {
        return Ok(Todo::Stays(Stays::NoMapping(info.stream_arn)));
    };
    let records = match redrive::read_range(aws, &info).await? {
        Range::Read(records) if records.is_empty() => {
            let why = "the shard holds no record in the range".to_string();
            return Ok(Todo::Stays(Stays::Unreadable { info, why }));
        }
        Range::Read(records) => records,
        Range::Gone(why) => return Ok(Todo::Stays(Stays::Gone { info, why })),
        Range::Unreadable(why) => return Ok(Todo::Stays(Stays::Unreadable { info, why })),
    };
    let all = records.len();
    let records: Vec<Value> = records
        .into_iter()
        .filter(|r| mappings[mapping].filter.matches(r))
        .collect();
    let filtered = all - records.len();
    Ok(Todo::Replay {
        info,
        mapping,
        records,
        filtered,
    })
}

/// Replays every message to replay, one after the other, in the order received.
async fn replay(
    functions: &Functions<'_>,
    aws: &Aws,
    mappings: &[Mapping],
    found: &[(Queue, Vec<Item>)],
    json: bool,
    outcome: &mut Outcome,
) -> anyhow::Result<()> {
    let total: usize = found
        .iter()
        .flat_map(|(_, items)| items)
        .map(|i| match &i.todo {
            Todo::Replay { records, .. } => records.len(),
            Todo::Stays(_) => 0,
        })
        .sum();
    let bar = match json {
        true => ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::hidden()),
        false => ProgressBar::new(total as u64),
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} records replayed ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut runners: BTreeMap<String, Runner> = BTreeMap::new();
    for (queue, items) in found {
        for item in items {
            let Todo::Replay {
                info,
                mapping,
                records,
                ..
            } = &item.todo
            else {
                continue;
            };
            let m = &mappings[*mapping];
            queue.hold(aws, &item.message, HOLD_SECONDS).await?;
            let began = Instant::now();
            let mut invocations = 0;
            let mut failed = None;
            for batch in records.chunks(m.batch_size) {
                // Made once per function, when it is first needed (locally: built).
                let runner = match runners.entry(m.function.clone()) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => e.insert(functions.runner(aws, &m.function).await?),
                };
                invocations += 1;
                let verdict = runner.invoke(json!({ "Records": batch })).await?;
                if let Some(error) = failure(&verdict, m.report_batch_item_failures, batch) {
                    failed = Some(error);
                    break;
                }
                bar.inc(batch.len() as u64);
            }
            outcome.invocations += invocations;
            let elapsed_ms = began.elapsed().as_millis() as u64;
            match failed {
                None => {
                    queue.delete(aws, &item.message).await?;
                    outcome.deleted.push(item.message.id.clone());
                    outcome.records += records.len();
                    if json {
                        RedriveEvent::Replayed {
                            message_id: item.message.id.clone(),
                            records: records.len(),
                            invocations,
                            elapsed_ms,
                        }
                        .print();
                    } else {
                        // Above the bar on a terminal (a hidden bar prints nothing).
                        bar.suspend(|| {
                            println!(
                                "message …{}: replayed {} record(s) in {invocations} invocation(s), {elapsed_ms} ms; deleted from the queue",
                                tail(&item.message.id, 8),
                                records.len()
                            );
                        });
                    }
                }
                Some(error) => {
                    let why = Stays::Failed {
                        info: info.clone(),
                        error,
                    };
                    bar.suspend(|| say_stays(json, queue, &item.message, &why));
                }
            }
        }
    }
    bar.finish_and_clear();
    for runner in runners.values_mut() {
        runner.stop().await;
    }
    Ok(())
}

/// "message …abcd: 5 record(s) of shard …, A to B, to replay through processor (trigger,
/// batches of up to 10)".
fn found_line(
    message: &Message,
    info: &BatchInfo,
    m: &Mapping,
    records: usize,
    filtered: usize,
) -> String {
    format!(
        "message …{}: {records} record(s) of shard …{}, {} to {}{}, to replay through {} ({}, batches of up to {})",
        tail(&message.id, 8),
        tail(&info.shard_id, 8),
        info.start,
        info.end,
        match filtered {
            0 => String::new(),
            n => format!(" ({n} filtered out by the mapping)"),
        },
        m.function,
        m.name,
        m.batch_size
    )
}

fn say_stays(json: bool, queue: &Queue, message: &Message, why: &Stays) {
    let line = why.say(&message.id);
    if json {
        RedriveEvent::Stays {
            queue: queue.arn.clone(),
            message_id: message.id.clone(),
            reason: why.reason().to_string(),
            message: line,
        }
        .print();
    } else {
        eprintln!("{line}");
    }
}
