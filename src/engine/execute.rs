//! Carrying out a plan. For apply, a resource starts once everything it depends on is done;
//! for destroy, once everything depending on it is gone. A failure stops only what waits for
//! the failed resource; independent work runs to completion. Orphans go after everything
//! declared converged (apply) or before anything else (destroy). The builds a plan needs
//! start at once, beside everything else (see `prebuild`). Each resource's run is a step of
//! `--stats`' critical path.

use super::observe::PLAN_STEP;
use super::observed::Observed;
use crate::aws::Aws;
use crate::exec::{ExecCtx, RunOptions};
use crate::kinds::{Live, Needs, Node, Stack, deletion_rank};
use crate::plan::{Action, Operation, Plan};
use crate::prebuild::Prebuilds;
use crate::progress::{Progress, Tracker};
use crate::spec::template::{Inputs, Reference};
use crate::values::Attributes;
use anyhow::Context as _;
use futures::future::{AbortHandle, Aborted, join_all};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

/// What happened to each resource.
#[derive(Debug, Default)]
pub struct Outcome {
    pub done: Vec<(String, Action)>,
    pub failed: Vec<(String, anyhow::Error)>,
    /// Not started because something they wait for failed.
    pub skipped: Vec<String>,
}

impl Outcome {
    fn merge(&mut self, other: Outcome) {
        self.done.extend(other.done);
        self.failed.extend(other.failed);
        self.skipped.extend(other.skipped);
    }
}

/// Brings the stack's index up to date with what observing found, before anything
/// changes (at most two writes, none when it matches; see `index::Repair`). An apply or
/// destroy does this even when it has nothing else to do, so an environment made before
/// the index existed gets one.
pub async fn repair_index(stack: &Stack, observed: &Observed, aws: &Aws) -> anyhow::Result<()> {
    let repair = observed.index_repair(stack);
    if repair.is_empty() {
        return Ok(());
    }
    tracing::debug!(?repair, "repairing the stack's index");
    repair
        .write(aws, &stack.owner())
        .await
        .context("bringing the stack's index up to date")
}

/// Deletes the stack's index after a destroy that left nothing of the stack behind.
pub async fn drop_index(stack: &Stack, aws: &Aws) -> anyhow::Result<()> {
    crate::index::delete(aws, &stack.owner())
        .await
        .context("deleting the stack's index")
}

/// Carries out `plan`, made from `observed`: the stack's index first (see
/// [`repair_index`]), then the changes; a destroy that removed everything also removes
/// the index.
pub async fn execute(
    stack: &Stack,
    plan: &Plan,
    observed: &Observed,
    aws: &Aws,
    progress: &Progress,
    options: RunOptions<'_>,
) -> Outcome {
    let prebuilds = Prebuilds::default();
    for node in &stack.nodes {
        if let Some(source) = plan.get(node.name()).and_then(|c| node.bundle_needed(c)) {
            prebuilds.start(&source, PLAN_STEP);
        }
    }
    let owner = stack.owner();
    let run = Run {
        aws,
        progress,
        options,
        prebuilds: &prebuilds,
        owner: &owner,
    };
    if let Err(e) = repair_index(stack, observed, aws).await {
        return Outcome {
            failed: vec![("the stack's index".into(), e)],
            skipped: stack.nodes.iter().map(|n| n.name().to_string()).collect(),
            ..Outcome::default()
        };
    }
    match plan.operation {
        Operation::Destroy => {
            let mut outcome = orphans(plan, observed, &run, &[]).await;
            let gone = step_names(&outcome);
            outcome.merge(declared(stack, plan, observed, &run, &gone).await);
            // A targeted destroy leaves the rest of the stack: its index stays.
            if outcome.failed.is_empty()
                && plan.targets.is_empty()
                && let Err(e) = drop_index(stack, aws).await
            {
                outcome.failed.push(("the stack's index".into(), e));
            }
            outcome
        }
        // Orphans only once everything declared converged (a function must be on its new
        // role before the old role goes).
        Operation::Apply => {
            let mut outcome = declared(stack, plan, observed, &run, &[]).await;
            if outcome.failed.is_empty() {
                let converged = step_names(&outcome);
                outcome.merge(orphans(plan, observed, &run, &converged).await);
            } else {
                outcome.skipped.extend(
                    plan.resource_changes
                        .iter()
                        .filter(|rc| rc.orphan)
                        .map(|rc| format!("{} {} (orphan)", rc.kind, rc.physical_id)),
                );
            }
            outcome
        }
    }
}

/// What every resource's run shares.
struct Run<'a> {
    aws: &'a Aws,
    progress: &'a Progress,
    options: RunOptions<'a>,
    prebuilds: &'a Prebuilds,
    /// `<stack>/<env>`.
    owner: &'a str,
}

impl Run<'_> {
    fn cx<'a>(
        &'a self,
        tracker: &'a Tracker,
        published: &'a (dyn Fn(Attributes) + Send + Sync),
    ) -> ExecCtx<'a> {
        ExecCtx {
            aws: self.aws,
            tracker,
            wait_timeout: self.options.wait_timeout,
            prebuilds: self.prebuilds,
            published: Some(published),
            backups: self.options.backups,
            bake: self.options.bake,
            replayer: self.options.replayer,
        }
    }
}

/// The critical-path steps of what `outcome` did (a phase's steps, which the next phase
/// waits for).
fn step_names(outcome: &Outcome) -> Vec<String> {
    outcome.done.iter().map(|(name, _)| name.clone()).collect()
}

/// Deletes the plan's orphans, by their deletion order (all of one order at once), after
/// the steps `after`.
async fn orphans(plan: &Plan, observed: &Observed, run: &Run<'_>, after: &[String]) -> Outcome {
    let mut outcome = Outcome::default();
    let planned: BTreeSet<(&str, &str)> = plan
        .resource_changes
        .iter()
        .filter(|rc| rc.orphan && rc.action == Action::Delete)
        .map(|rc| (rc.kind, rc.physical_id.as_str()))
        .collect();
    let deleted: Vec<&dyn Live> = observed
        .orphans
        .iter()
        .map(|o| o.as_ref())
        .filter(|o| planned.contains(&(o.kind(), o.physical_id().as_str())))
        .collect();
    let mut orders: Vec<usize> = deleted.iter().map(|o| deletion_rank(o.kind())).collect();
    orders.sort();
    orders.dedup();
    let mut after: Vec<String> = [PLAN_STEP.to_string()]
        .into_iter()
        .chain(after.iter().cloned())
        .collect();
    for order in orders {
        let batch = deleted.iter().filter(|o| deletion_rank(o.kind()) == order);
        let results = join_all(batch.map(|o| {
            let after = &after;
            async move {
                let logical = o
                    .tags()
                    .get(crate::tags::RESOURCE_TAG)
                    .map_or("?", String::as_str);
                let tracker = run
                    .progress
                    .start(format!("{}.{logical} (orphan)", o.kind()), "destroying");
                let began = Instant::now();
                let cx = run.cx(&tracker, &|_| {});
                let result = match o.delete(&cx).await {
                    Ok(()) => crate::kinds::declared::forget(&cx, run.owner, *o).await,
                    Err(e) => Err(e),
                };
                let name = format!("{} {}", o.kind(), o.physical_id());
                crate::stats::step(&name, after, began, Instant::now());
                match &result {
                    Ok(()) => tracker.finish("destroyed"),
                    Err(e) => tracker.fail(&format!("{e:#}")),
                }
                (name, result)
            }
        }))
        .await;
        // The next order waits for this one.
        after = results.iter().map(|(name, _)| name.clone()).collect();
        for (name, result) in results {
            match result {
                Ok(()) => outcome.done.push((name, Action::Delete)),
                Err(e) => outcome.failed.push((name, e)),
            }
        }
    }
    outcome
}

/// What node `i` waits for of node `j`: what it needs (see [`Needs`]), and the attributes
/// of `j` it refers to.
struct Edge {
    needs: Needs,
    attributes: BTreeSet<String>,
}

/// The declared resources, along the dependency graph, after the steps `after`. For apply,
/// a resource starts once it has what it needs of each resource it refers to: the values
/// it names (known from the plan, or once the change that makes them knows them), that it
/// exists, or that it is ready (see [`Needs`]); so a role's policy does not wait for its
/// table to be ACTIVE. A resource started before something it refers to was done is
/// stopped if that then fails. For destroy, a resource goes once what needs it to exist is
/// gone (a policy that only names it does not keep it).
async fn declared(
    stack: &Stack,
    plan: &Plan,
    observed: &Observed,
    run: &Run<'_>,
    after: &[String],
) -> Outcome {
    let nodes = &stack.nodes;
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name(), i))
        .collect();
    let depends_on: Vec<BTreeMap<usize, Edge>> = nodes
        .iter()
        .map(|n| {
            n.dependencies()
                .iter()
                .filter_map(|d| {
                    let (needs, attributes) = n.needs_of(d);
                    Some((*index.get(d.as_str())?, Edge { needs, attributes }))
                })
                .collect()
        })
        .collect();
    let action_of = |i: usize| plan.get(nodes[i].name()).map_or(Action::NoOp, |c| c.action);
    // waits_for[i]: what node i waits for, and what it needs of each.
    let waits_for: Vec<BTreeMap<usize, Edge>> = match plan.operation {
        Operation::Apply => depends_on,
        Operation::Destroy => (0..nodes.len())
            .map(|i| {
                (0..nodes.len())
                    .filter(|&j| {
                        depends_on[j]
                            .get(&i)
                            .is_some_and(|e| e.needs != Needs::Values)
                    })
                    .map(|j| {
                        let gone = Edge {
                            needs: Needs::Ready,
                            attributes: BTreeSet::new(),
                        };
                        (j, gone)
                    })
                    .collect()
            })
            .collect(),
    };
    let owner = stack.owner();
    let mut inputs = Inputs::new(observed.context.as_ref());
    // What is known of a resource about to be made: its names and ARNs.
    if plan.operation == Operation::Apply {
        for (i, node) in nodes.iter().enumerate() {
            if matches!(action_of(i), Action::Create | Action::Replace) {
                let planned =
                    node.planned_attributes(&observed.resources, observed.context.as_ref());
                inputs.insert(node.name(), planned);
            }
        }
    }
    let mut started = vec![false; nodes.len()];
    let mut made = vec![false; nodes.len()];
    // finished[j]: its run ended; succeeded[j] or failed[j]: how.
    let mut finished = vec![false; nodes.len()];
    let mut succeeded = vec![false; nodes.len()];
    let mut failed = vec![false; nodes.len()];
    // started_on[i]: what node i started before it was done.
    let mut started_on: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); nodes.len()];
    let mut stoppers: Vec<Option<AbortHandle>> = (0..nodes.len()).map(|_| None).collect();
    let mut outcome = Outcome::default();
    let mut running = FuturesUnordered::new();
    let (publish, mut published) = tokio::sync::mpsc::unbounded_channel::<(usize, Attributes)>();

    // Whether node i has what it needs of node j.
    // Nothing is had of a resource that failed.
    let has = |i: usize,
               j: usize,
               inputs: &Inputs,
               made: &[bool],
               succeeded: &[bool],
               failed: &[bool]| {
        let edge = &waits_for[i][&j];
        succeeded[j]
            || !failed[j]
                && match edge.needs {
                    Needs::Ready => false,
                    Needs::Made => made[j],
                    Needs::Values => edge.attributes.iter().all(|attribute| {
                        let reference = Reference {
                            resource: nodes[j].name().to_string(),
                            attribute: attribute.clone(),
                        };
                        inputs
                            .lookup(&reference)
                            .is_some_and(|value| !value.contains(crate::values::UNKNOWN))
                    }),
                }
    };

    let start = |i: usize, inputs: Inputs, succeeded: &[bool]| {
        let node: &Node = nodes[i].as_ref();
        let action = action_of(i);
        let owner = owner.as_str();
        // Its step waits for what was done when it started, and for its build if one
        // started ahead.
        let step_after: Vec<String> = [PLAN_STEP.to_string()]
            .into_iter()
            .chain(after.iter().cloned())
            .chain(
                waits_for[i]
                    .keys()
                    .filter(|&&j| succeeded[j])
                    .map(|&j| nodes[j].name().to_string()),
            )
            .chain(
                node.bundle_source()
                    .and_then(|source| run.prebuilds.step_of(&source)),
            )
            .collect();
        let publish = publish.clone();
        let work = async move {
            // Nothing to do is shown only when it means waiting for AWS to finish an
            // earlier change.
            let settled = node.live(&observed.resources).is_none_or(|l| l.settled());
            let tracker = match (action, settled) {
                (Action::NoOp, true) => Tracker::quiet(),
                (Action::NoOp, false) => run.progress.start(
                    format!("{}.{}", node.kind(), node.name()),
                    "waiting for an earlier change to finish",
                ),
                _ => run
                    .progress
                    .start(format!("{}.{}", node.kind(), node.name()), doing(action)),
            };
            tracing::debug!(resource = node.name(), ?action, "starting");
            let began = Instant::now();
            let published = move |attributes: Attributes| {
                // The run may be over (and the receiver gone) only once this node is.
                let _ = publish.send((i, attributes));
            };
            let result = node
                .execute(
                    &run.cx(&tracker, &published),
                    &observed.resources,
                    action,
                    owner,
                    &inputs,
                )
                .await;
            crate::stats::step(node.name(), &step_after, began, Instant::now());
            tracing::debug!(resource = node.name(), ok = result.is_ok(), "finished");
            match &result {
                Ok(_) => tracker.finish(done(action)),
                Err(e) => tracker.fail(&format!("{e:#}")),
            }
            (action, result)
        };
        let (work, stopper) = futures::future::abortable(work);
        (work.map(move |result| (i, result)), stopper)
    };

    // Starts every node that has what it needs.
    macro_rules! start_ready {
        () => {
            for i in 0..nodes.len() {
                if started[i]
                    || !waits_for[i]
                        .keys()
                        .all(|&j| has(i, j, &inputs, &made, &succeeded, &failed))
                {
                    continue;
                }
                started[i] = true;
                started_on[i] = waits_for[i]
                    .keys()
                    .copied()
                    .filter(|&j| !finished[j])
                    .collect();
                let (work, stopper) = start(i, inputs.clone(), &succeeded);
                stoppers[i] = Some(stopper);
                running.push(work);
            }
        };
    }

    start_ready!();
    loop {
        tokio::select! {
            Some((j, attributes)) = published.recv() => {
                if finished[j] {
                    continue;
                }
                tracing::debug!(resource = nodes[j].name(), "made; its values are known");
                made[j] = true;
                inputs.insert(nodes[j].name(), attributes);
                start_ready!();
            }
            next = running.next() => {
                let Some((j, result)) = next else { break };
                finished[j] = true;
                let name = nodes[j].name().to_string();
                match result {
                    Ok((action, Ok(attributes))) => {
                        succeeded[j] = true;
                        inputs.insert(&name, attributes);
                        outcome.done.push((name, action));
                        start_ready!();
                    }
                    Ok((_, Err(e))) => {
                        failed[j] = true;
                        outcome.failed.push((name, e));
                        // What started on its values cannot go on.
                        for i in 0..nodes.len() {
                            if started_on[i].contains(&j) && !finished[i]
                                && let Some(stopper) = &stoppers[i]
                            {
                                stopper.abort();
                            }
                        }
                    }
                    Err(Aborted) => {
                        failed[j] = true;
                        let stopped_by: Vec<&str> = started_on[j]
                            .iter()
                            .map(|&k| nodes[k].name())
                            .collect();
                        let e = anyhow::anyhow!("stopped: {} failed", stopped_by.join(", "));
                        outcome.failed.push((name, e));
                    }
                }
            }
        }
    }
    outcome.skipped = (0..nodes.len())
        .filter(|&i| !started[i])
        .map(|i| nodes[i].name().to_string())
        .collect();
    outcome
}

fn doing(action: Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Update => "updating",
        Action::Adopt => "adopting",
        Action::Replace => "replacing",
        Action::Delete => "destroying",
        Action::NoOp | Action::Conflict => "checking",
    }
}

fn done(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Adopt => "adopted",
        Action::Replace => "replaced",
        Action::Delete => "destroyed",
        Action::NoOp | Action::Conflict => "unchanged",
    }
}
