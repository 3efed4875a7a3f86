//! `dev --env <emulator env>`: the whole stack on the local emulator, with each event
//! source mapping run on this machine as Lambda runs it (see `crate::dev`): apply as
//! `apply --auto-approve` does, start each function's bootstrap, poll each mapping's
//! stream, watch each function's package and run each new build, until Ctrl-C. The
//! emulator and the stack stay as they are.

use super::common;
use super::invoke::LocalFunction;
use crate::cli::{ApplyArgs, Global};
use crate::dev::batch::RetryPolicy;
use crate::dev::watch::Watcher;
use crate::dev::{self, Mapping};
use crate::engine::{self, PlanRequest};
use crate::event_filter::EventFilter;
use crate::local::bootstrap::Launch;
use crate::local::runtime_api::RuntimeApi;
use anyhow::{Context, bail};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

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
    let mut mappings = 0;
    let mut readies = Vec::new();
    for change in plan
        .resource_changes
        .iter()
        .filter(|c| c.kind == "event_source_mapping")
    {
        let desired = &change.states.after;
        if desired["enabled"] == Value::Bool(false) {
            continue;
        }
        let function = desired["function"].as_str().unwrap_or_default();
        let api = apis.get(function).with_context(|| {
            format!(
                "{}: function {function} is not a lambda_function of this stack; dev runs only the stack's own functions",
                change.name
            )
        })?;
        let mapping = mapping_of(&change.name, desired, &checkpoints)?;
        let (ready, started) = tokio::sync::oneshot::channel();
        tasks.spawn(dev::run_mapping(aws.clone(), mapping, api.clone(), ready));
        readies.push(started);
        mappings += 1;
    }
    for started in readies {
        tokio::select! {
            Ok(()) = started => {}
            Some(ended) = tasks.join_next() => {
                ended??;
            }
        }
    }
    println!(
        "dev: {mappings} mapping(s) and {} function(s) running against the emulator; watching their code; Ctrl-C stops them",
        apis.len()
    );
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
        replace: Vec::new(),
        target: Vec::new(),
        output: crate::cli::Output::Text,
    }
}

/// A mapping's settings from its planned state (the plan's `after`).
fn mapping_of(name: &str, desired: &Value, checkpoints: &Path) -> anyhow::Result<Mapping> {
    let int = |field: &str, default: i64| desired[field].as_i64().unwrap_or(default);
    let stream_arn = desired["source"].as_str().unwrap_or_default().to_string();
    let filters: Vec<Value> = desired["filters"].as_array().cloned().unwrap_or_default();
    let filter = EventFilter::new(&filters).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
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
        starting_position: desired["starting_position"]
            .as_str()
            .unwrap_or("LATEST")
            .to_string(),
        batch_size: usize::try_from(int("batch_size", 100)).unwrap_or(100),
        batching_window: Duration::from_secs(
            u64::try_from(int("batching_window_seconds", 0)).unwrap_or(0),
        ),
        policy: RetryPolicy {
            maximum_retry_attempts: i32::try_from(int("maximum_retry_attempts", -1)).unwrap_or(-1),
            maximum_record_age_seconds: i32::try_from(int("maximum_record_age_seconds", -1))
                .unwrap_or(-1),
            bisect_on_error: desired["bisect_on_error"].as_bool().unwrap_or(false),
            report_batch_item_failures: desired["report_batch_item_failures"]
                .as_bool()
                .unwrap_or(false),
        },
        filter,
        on_failure: desired["on_failure"].as_str().map(str::to_string),
        checkpoints: checkpoints.join(format!("{name}-{label}.json")),
        stream_arn,
    })
}
