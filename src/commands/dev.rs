//! `dev --env <emulator env>`: the whole stack on the local emulator, with each event
//! source mapping run on this machine as Lambda runs it (see `crate::dev`): apply as
//! `apply --auto-approve` does, start each function's bootstrap, poll each mapping's
//! stream, watch each function's package and run each new build, until Ctrl-C. The
//! emulator and the stack stay as they are.

use super::common;
use super::invoke::LocalFunction;
use crate::aws::Aws;
use crate::cli::{ApplyArgs, Global};
use crate::dev::batch::RetryPolicy;
use crate::dev::watch::Watcher;
use crate::dev::{self, Mapping};
use crate::engine::{self, PlanRequest};
use crate::event_filter::EventFilter;
use crate::kinds::trigger::{StartingPosition, TriggerState, bare, listed_now};
use crate::local::bootstrap::Launch;
use crate::local::runtime_api::RuntimeApi;
use crate::plan::Plan;
use anyhow::{Context, bail};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

pub async fn run(g: &Global, checkpoints: Option<&Path>) -> anyhow::Result<ExitCode> {
    let stack = common::load(g)?;
    if stack.env.settings().emulator.is_none() {
        bail!(
            "environment {} is not an emulator environment: dev runs the stack's functions on this machine against the local emulator only (declare `emulator:` for the environment)",
            stack.env.name
        );
    }
    let applied = super::apply::run(g, &auto_approve()).await?;
    if applied != ExitCode::SUCCESS {
        return Ok(applied);
    }

    let aws = common::connect(g, &stack).await?;
    let (observed, plan) = engine::prepare(&stack, &aws, &PlanRequest::apply())
        .await
        .map_err(|e| aws.explain(e))?;
    let checkpoints = checkpoints.map_or_else(
        || {
            g.file
                .parent()
                .unwrap_or(Path::new("."))
                .join("target/cruddur-dev")
        },
        Path::to_path_buf,
    );
    let mut tasks = tokio::task::JoinSet::new();
    let mut apis: BTreeMap<String, Arc<RuntimeApi>> = BTreeMap::new();
    let mut builds = BTreeMap::new();
    let mut watcher = Watcher::default();
    for node in &stack.nodes {
        let Some(source) = node.bundle_source() else {
            continue;
        };
        let local = LocalFunction::planned(&stack, &observed, &plan, node.name(), &aws).await?;
        let api = Arc::new(RuntimeApi::start(local.info).await?);
        let name = local.launch.lambda.function_name.clone();
        let (send, receive) = tokio::sync::mpsc::unbounded_channel();
        tasks.spawn(dev::supervise(api.clone(), local.launch, receive));
        watcher.add(node.name(), source)?;
        builds.insert(node.name().to_string(), send);
        apis.insert(name, api);
    }
    for change in plan
        .resource_changes
        .iter()
        .filter(|c| c.kind == "event_source_mapping")
    {
        let function = change.states.after["function"].as_str().unwrap_or_default();
        if !apis.contains_key(bare(function)) {
            bail!(
                "{}: function {function} is not a lambda_function of this stack; dev runs only the stack's own functions",
                change.name
            );
        }
    }
    let mut following = Following::new(&plan, checkpoints);
    let readies = following.look(&aws, &apis, &mut tasks, false).await?;
    for started in readies {
        tokio::select! {
            Ok(()) = started => {}
            Some(ended) = tasks.join_next() => {
                ended??;
            }
        }
    }
    println!(
        "dev: {} mapping(s) and {} function(s) running against the emulator; watching their code; Ctrl-C stops them",
        following.running.len(),
        apis.len()
    );
    let mut look_again = tokio::time::interval(FOLLOW);
    look_again.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Made once, so that a Ctrl-C during a rebuild (while nothing polls it) is not lost.
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        tokio::select! {
            stop = &mut interrupted => {
                stop.context("waiting for Ctrl-C")?;
                break;
            }
            Some(ended) = tasks.join_next() => {
                ended??;
            }
            _ = look_again.tick() => {
                // Mappings made or deleted since (an apply here, or in another shell).
                following.look(&aws, &apis, &mut tasks, true).await?;
            }
            change = watcher.changed() => {
                let Some(builds) = builds.get(&change.name) else { continue };
                println!("dev: {} changed; rebuilding {}", change.inputs.join(", "), change.name);
                // An apply stopped half-way would leave the deploy lock held until its
                // lease ends: a Ctrl-C now stops dev once the apply is done.
                let rebuilding = rebuild(g, &change.name);
                tokio::pin!(rebuilding);
                let mut stopping = false;
                let rebuilt = loop {
                    tokio::select! {
                        rebuilt = &mut rebuilding => break rebuilt,
                        stop = &mut interrupted, if !stopping => {
                            stop.context("waiting for Ctrl-C")?;
                            eprintln!("dev: stopping once the apply under way is done");
                            stopping = true;
                        }
                    }
                };
                match rebuilt {
                    Ok(launch) => {
                        // The supervisor swaps it in once no invocation is running.
                        let _ = builds.send(launch);
                    }
                    Err(e) => {
                        eprintln!("dev: {e:#}");
                        println!(
                            "dev: {} keeps running its last good build; saving a change that builds replaces it",
                            change.name
                        );
                    }
                }
                if stopping {
                    break;
                }
            }
        }
    }
    eprintln!(
        "dev: stopping the pollers, the bootstraps and the watcher; the emulator and the stack stay"
    );
    tasks.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// After a change to function `name`'s code: apply the stack again, as `apply
/// --auto-approve` does (which builds the function and updates it in the emulator, so
/// that `plan` stays clean), then make the new build ready to run.
async fn rebuild(g: &Global, name: &str) -> anyhow::Result<Launch> {
    let applied = super::apply::run(g, &auto_approve()).await?;
    if applied != ExitCode::SUCCESS {
        bail!("the apply did not finish");
    }
    let stack = common::load(g)?;
    let aws = common::connect(g, &stack).await?;
    let local = LocalFunction::of(&stack, &aws, name).await?;
    Ok(local.launch)
}

fn auto_approve() -> ApplyArgs {
    ApplyArgs {
        plan_file: None,
        auto_approve: true,
        adopt: false,
        allow_replace: false,
        allow_data_loss: false,
        no_backup: false,
        no_bake: false,
        replace: Vec::new(),
        target: Vec::new(),
        output: crate::cli::Output::Text,
    }
}

/// How often dev looks at the mappings the emulator has for the stack's functions.
const FOLLOW: Duration = Duration::from_secs(1);

/// The mappings dev runs, as Lambda (the emulator) has them: a mapping made is run, from
/// its starting position (or its checkpoint), as Lambda starts one; a mapping deleted or
/// disabled is stopped; one whose settings changed is run again with them (its
/// checkpoints keep its place). So an apply that moves a trigger to a new stream (run by
/// dev, or in another shell) is followed as it happens on AWS.
struct Following {
    /// The stack's mappings' names and planned sources, by function.
    names: BTreeMap<String, Vec<(String, String)>>,
    checkpoints: PathBuf,
    /// Each mapping run, by UUID: what stops it, and the settings it runs with.
    running: BTreeMap<String, (Arc<AtomicBool>, TriggerState)>,
}

impl Following {
    fn new(plan: &Plan, checkpoints: PathBuf) -> Following {
        let mut names: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for change in plan
            .resource_changes
            .iter()
            .filter(|c| c.kind == "event_source_mapping" && !c.orphan)
        {
            let after = &change.states.after;
            let text = |field: &str| after[field].as_str().unwrap_or_default().to_string();
            names
                .entry(text("function"))
                .or_default()
                .push((change.name.clone(), text("source")));
        }
        Following {
            names,
            checkpoints,
            running: BTreeMap::new(),
        }
    }

    /// Starts what is new, stops what is gone; `say`: a line for each (not at the start).
    /// What each started mapping tells once its shards have their positions is returned.
    async fn look(
        &mut self,
        aws: &Aws,
        apis: &BTreeMap<String, Arc<RuntimeApi>>,
        tasks: &mut JoinSet<anyhow::Result<()>>,
        say: bool,
    ) -> anyhow::Result<Vec<oneshot::Receiver<()>>> {
        let mut live = BTreeMap::new();
        // Lambda lists mappings by what they invoke: the function, or an alias of it. Here
        // the stack's code runs for either.
        let invoked: BTreeSet<&String> = apis.keys().chain(self.names.keys()).collect();
        for function in invoked {
            for m in listed_now(aws, function).await? {
                // Lambda reads while a mapping is Enabled, and on while it is Updating.
                if matches!(m.status.as_str(), "Enabled" | "Updating") {
                    live.insert(m.uuid.clone(), m);
                }
            }
        }
        self.running.retain(|uuid, (stopping, state)| {
            let same = live.get(uuid).is_some_and(|m| m.state == *state);
            if !same {
                // It ends after the batch under way (a new run of it starts below).
                stopping.store(true, Ordering::SeqCst);
                if say && !live.contains_key(uuid) {
                    println!(
                        "dev: mapping {} is gone; stopped reading {}",
                        short(uuid),
                        label(&state.source)
                    );
                }
            }
            same
        });
        let mut readies = Vec::new();
        for (uuid, m) in live {
            if self.running.contains_key(&uuid) {
                continue;
            }
            let Some(api) = apis.get(bare(&m.state.function)) else {
                continue;
            };
            let name = self.name_of(&m.state.function, &m.state.source, &uuid);
            let mapping = mapping_of(&name, &m.state, &self.checkpoints)?;
            let stopping = mapping.stopping.clone();
            if say {
                println!(
                    "dev: {name} ({}) reads stream {}",
                    short(&uuid),
                    label(&m.state.source)
                );
            }
            let (ready, started) = oneshot::channel();
            tasks.spawn(dev::run_mapping(aws.clone(), mapping, api.clone(), ready));
            self.running.insert(uuid, (stopping, m.state));
            readies.push(started);
        }
        Ok(readies)
    }

    /// The stack's name of a mapping: the one on that source, else the function's only one.
    fn name_of(&self, function: &str, source: &str, uuid: &str) -> String {
        let names = self.names.get(function).map_or(&[][..], Vec::as_slice);
        names
            .iter()
            .find(|(_, planned)| planned == source)
            .or(if names.len() == 1 {
                names.first()
            } else {
                None
            })
            .map_or_else(
                || format!("mapping {}", short(uuid)),
                |(name, _)| name.clone(),
            )
    }
}

/// "…f35f62ef": the end of a UUID, as the batch lines show shards.
fn short(id: &str) -> String {
    let tail: String = id
        .chars()
        .rev()
        .take(8)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}

/// A stream by its label (the end of its ARN).
fn label(stream_arn: &str) -> &str {
    stream_arn.rsplit('/').next().unwrap_or(stream_arn)
}

/// A mapping's settings as Lambda has them.
fn mapping_of(name: &str, state: &TriggerState, checkpoints: &Path) -> anyhow::Result<Mapping> {
    let s = &state.settings;
    let stream_arn = state.source.clone();
    let filter = EventFilter::new(&s.filters).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    // Checkpoints belong to one stream: a table made again has a new stream label.
    let label: String = stream_arn
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    Ok(Mapping {
        name: name.to_string(),
        starting_position: match s.starting_position {
            StartingPosition::TrimHorizon => "TRIM_HORIZON",
            StartingPosition::Latest => "LATEST",
        }
        .to_string(),
        batch_size: usize::try_from(s.batch_size).unwrap_or(100),
        batching_window: Duration::from_secs(u64::try_from(s.batching_window_seconds).unwrap_or(0)),
        policy: RetryPolicy {
            maximum_retry_attempts: s.maximum_retry_attempts,
            maximum_record_age_seconds: s.maximum_record_age_seconds,
            bisect_on_error: s.bisect_on_error,
            report_batch_item_failures: s.report_batch_item_failures,
        },
        filter,
        on_failure: state.on_failure.clone(),
        checkpoints: checkpoints.join(format!("{name}-{label}.json")),
        stream_arn,
        stopping: Arc::default(),
    })
}
