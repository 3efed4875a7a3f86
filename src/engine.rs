//! The engine: observe every resource (all reads at once), plan against the spec, and
//! execute the plan along the dependency graph, independent resources in parallel.

use crate::aws::Aws;
use crate::kinds::orphan::OrphanNode;
use crate::kinds::{AWS_CONTEXT, Attributes, ExecCtx, Inputs, Node, PlanCtx};
use crate::plan::{Action, Operation, Plan};
use crate::progress::{Progress, Tracker};
use crate::spec::Stack;
use futures::StreamExt;
use futures::future::join_all;
use futures::stream::FuturesUnordered;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

/// Reads every declared resource from AWS concurrently, and (only if some value needs it)
/// the account and region the stack deploys to. Returns the latter as the starting inputs
/// of planning and execution.
pub async fn observe(stack: &Stack, aws: &Aws) -> anyhow::Result<Inputs> {
    let needs_context = stack.nodes.iter().any(|node| {
        node.templates()
            .iter()
            .any(|t| t.references().any(|r| r.resource == AWS_CONTEXT))
    });
    let owner = stack.owner();
    let names: BTreeMap<String, String> = stack
        .nodes
        .iter()
        .filter_map(|n| Some((n.name().to_string(), n.known_name()?)))
        .collect();
    let context = async {
        match needs_context {
            true => aws.deployment_context().await.map(Some),
            false => Ok(None),
        }
    };
    // Resources whose names the file gives are read by their nodes; discovery skips them.
    let declared_names: BTreeSet<(&'static str, String)> = stack
        .nodes
        .iter()
        .filter_map(|n| Some((n.kind(), n.known_name()?)))
        .collect();
    let (results, context, tagged) = tokio::join!(
        join_all(
            stack
                .nodes
                .iter()
                .map(|node| node.observe(aws, &owner, &names))
        ),
        context,
        crate::kinds::discover_tagged(aws, &owner, &declared_names)
    );
    let errors: Vec<String> = results
        .into_iter()
        .chain([context
            .as_ref()
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("{e:#}"))])
        .filter_map(|r| r.err().map(|e| format!("{e:#}")))
        .collect();
    if !errors.is_empty() {
        anyhow::bail!(errors.join("\n"));
    }
    let tagged = tagged
        .map_err(|e| anyhow::anyhow!("looking for this stack's resources by their tags: {e:#}"))?;
    // What a declared resource found is not an orphan, whatever its resource tag says.
    let declared: BTreeSet<(&str, String)> = stack
        .nodes
        .iter()
        .filter_map(|n| Some((n.kind(), n.live_physical()?)))
        .collect();
    let orphans = tagged
        .into_iter()
        .filter(|o| !declared.contains(&(o.kind(), o.physical_id())))
        .collect();
    let _ = stack.orphans.set(orphans);
    let mut inputs = Inputs::default();
    if let Some(context) = context? {
        inputs.0.insert(AWS_CONTEXT.to_string(), context);
    }
    Ok(inputs)
}

/// What apply would do, in dependency order. Each resource is planned with the attributes
/// its dependencies will have (unknown where they are still to be created or replaced).
pub fn plan_apply(stack: &Stack, adopt: bool, context: &Inputs) -> Plan {
    let cx = PlanCtx {
        owner: stack.owner(),
        adopt,
    };
    let mut inputs = context.clone();
    let mut changes = Vec::new();
    let orphans = orphan_changes(stack);
    for node in &stack.nodes {
        let (change, attributes) = node.plan_apply(&cx, &inputs);
        tracing::debug!(
            resource = %format!("{}.{}", node.kind(), node.name()),
            action = ?change.action,
            fields = change.changes.len(),
            reasons = ?change.reasons,
            "planned"
        );
        inputs.0.insert(node.name().to_string(), attributes);
        changes.push(change);
    }
    // Orphans go after everything declared has converged (a function moves to its new
    // role before the old one is deleted).
    changes.extend(orphans);
    Plan::new(
        stack.name.clone(),
        stack.env.name.clone(),
        Operation::Apply,
        changes,
    )
}

/// What destroy would do: dependents first.
pub fn plan_destroy(stack: &Stack) -> Plan {
    let cx = PlanCtx {
        owner: stack.owner(),
        adopt: false,
    };
    // Orphans first: they may depend on declared resources (an old trigger on the
    // function), never the other way round.
    let changes = orphan_changes(stack)
        .into_iter()
        .chain(stack.nodes.iter().rev().map(|node| node.plan_destroy(&cx)))
        .collect();
    Plan::new(
        stack.name.clone(),
        stack.env.name.clone(),
        Operation::Destroy,
        changes,
    )
}

/// The orphans' deletions, in the order they will happen.
fn orphan_changes(stack: &Stack) -> Vec<crate::plan::ResourceChange> {
    let mut orphans: Vec<&dyn OrphanNode> = stack
        .orphans
        .get()
        .map(|o| o.iter().map(|b| b.as_ref()).collect())
        .unwrap_or_default();
    orphans.sort_by_key(|o| (o.order(), o.physical_id()));
    orphans.iter().map(|o| o.change()).collect()
}

/// Deletes the plan's orphans, kind by kind in their order (all of one kind at once).
pub async fn execute_orphans(
    stack: &Stack,
    plan: &Plan,
    aws: &Aws,
    progress: &Progress,
    wait_timeout: Duration,
) -> Outcome {
    let mut outcome = Outcome::default();
    let Some(orphans) = stack.orphans.get() else {
        return outcome;
    };
    let planned: BTreeSet<&str> = plan
        .resource_changes
        .iter()
        .filter(|rc| rc.orphan && rc.action == Action::Delete)
        .map(|rc| rc.physical_id.as_str())
        .collect();
    let mut orders: Vec<u8> = orphans.iter().map(|o| o.order()).collect();
    orders.sort();
    orders.dedup();
    for order in orders {
        let batch = orphans
            .iter()
            .filter(|o| o.order() == order && planned.contains(o.physical_id().as_str()));
        let results = join_all(batch.map(|o| async move {
            let label = format!("{}.{} (orphan)", o.kind(), o.logical());
            let tracker = progress.start(label, "destroying");
            let cx = ExecCtx {
                aws,
                tracker: &tracker,
                wait_timeout,
            };
            let result = o.delete(&cx).await;
            match &result {
                Ok(()) => tracker.finish("destroyed"),
                Err(e) => tracker.fail(&format!("{e:#}")),
            }
            (format!("{} {}", o.kind(), o.physical_id()), result)
        }))
        .await;
        for (name, result) in results {
            match result {
                Ok(()) => outcome.done.push((name, Action::Delete)),
                Err(e) => outcome.failed.push((name, e)),
            }
        }
    }
    outcome
}

/// Guards a destroy: every planned deletion that would lose data (a table's items) or that
/// deletion protection forbids is blocked, naming the flag that allows it, unless
/// `allow_data_loss`; then the plan says what is lost instead. The checks run at once.
pub async fn guard_deletions(
    stack: &Stack,
    plan: &mut Plan,
    aws: &Aws,
    allow_data_loss: bool,
) -> anyhow::Result<()> {
    let deleting: Vec<&dyn Node> = stack
        .nodes
        .iter()
        .map(|n| n.as_ref())
        .filter(|n| {
            plan.get(n.name())
                .is_some_and(|c| c.action == Action::Delete)
        })
        .collect();
    let risks = futures::future::try_join_all(deleting.iter().map(|n| n.data_at_risk(aws))).await?;
    let command = match plan.operation {
        Operation::Apply => "apply",
        Operation::Destroy => "destroy",
    };
    let orphans: Vec<&dyn OrphanNode> = stack
        .orphans
        .get()
        .map(|o| o.iter().map(|b| b.as_ref()).collect())
        .unwrap_or_default();
    let orphan_risks =
        futures::future::try_join_all(orphans.iter().map(|o| o.data_at_risk(aws))).await?;
    // Declared resources by logical name, orphans by physical id (names may repeat).
    let targets: Vec<(Option<String>, Option<String>, Option<String>)> = deleting
        .iter()
        .zip(risks)
        .map(|(node, risk)| (Some(node.name().to_string()), None, risk))
        .chain(
            orphans
                .iter()
                .zip(orphan_risks)
                .map(|(o, risk)| (None, Some(o.physical_id()), risk)),
        )
        .collect();
    for (name, physical, risk) in targets {
        let change = match (&name, &physical) {
            (Some(name), _) => plan.get_mut(name),
            (None, Some(physical)) => plan.orphan_mut(physical),
            _ => None,
        };
        let Some(change) = change else {
            continue;
        };
        let mut problems: Vec<String> = change.blocked.take().into_iter().collect();
        problems.extend(risk);
        if problems.is_empty() {
            continue;
        }
        if allow_data_loss {
            change.reasons.extend(
                problems
                    .iter()
                    .map(|p| format!("{p} (allowed by --allow-data-loss)")),
            );
        } else {
            change.blocked = Some(format!(
                "{}; {command} --allow-data-loss deletes it anyway",
                problems.join("; ")
            ));
        }
    }
    Ok(())
}

/// What happened to each resource.
#[derive(Debug, Default)]
pub struct Outcome {
    pub done: Vec<(String, Action)>,
    pub failed: Vec<(String, anyhow::Error)>,
    /// Not started because something they wait for failed.
    pub skipped: Vec<String>,
}

impl Outcome {
    pub fn merge(&mut self, other: Outcome) {
        self.done.extend(other.done);
        self.failed.extend(other.failed);
        self.skipped.extend(other.skipped);
    }
}

/// Carries out `plan`. For apply, a resource starts once everything it depends on is done;
/// for destroy, once everything depending on it is gone. A failure stops only what waits
/// for the failed resource; independent work runs to completion.
pub async fn execute(
    stack: &Stack,
    plan: &Plan,
    context: &Inputs,
    aws: &Aws,
    progress: &Progress,
    wait_timeout: Duration,
) -> Outcome {
    let nodes = &stack.nodes;
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name(), i))
        .collect();
    let depends_on: Vec<BTreeSet<usize>> = nodes
        .iter()
        .map(|n| {
            n.dependencies()
                .iter()
                .filter_map(|d| index.get(d.as_str()).copied())
                .collect()
        })
        .collect();
    // waits_for[i]: what must finish before node i starts.
    let waits_for: Vec<BTreeSet<usize>> = match plan.operation {
        Operation::Apply => depends_on,
        Operation::Destroy => (0..nodes.len())
            .map(|i| {
                (0..nodes.len())
                    .filter(|&j| depends_on[j].contains(&i))
                    .collect()
            })
            .collect(),
    };
    let mut remaining: Vec<usize> = waits_for.iter().map(BTreeSet::len).collect();
    let owner = stack.owner();
    let mut inputs = context.clone();
    let mut started = vec![false; nodes.len()];
    let mut outcome = Outcome::default();
    let mut running = FuturesUnordered::new();

    let start = |i: usize, inputs: Inputs| {
        let node: &dyn Node = nodes[i].as_ref();
        let action = plan.get(node.name()).map_or(Action::NoOp, |c| c.action);
        let owner = owner.as_str();
        async move {
            let tracker = match action {
                Action::NoOp => Tracker::quiet(),
                _ => progress.start(format!("{}.{}", node.kind(), node.name()), doing(action)),
            };
            let cx = ExecCtx {
                aws,
                tracker: &tracker,
                wait_timeout,
            };
            tracing::debug!(resource = node.name(), ?action, "starting");
            let result = node.execute(&cx, action, owner, &inputs).await;
            tracing::debug!(resource = node.name(), ok = result.is_ok(), "finished");
            match &result {
                Ok(_) => tracker.finish(done(action)),
                Err(e) => tracker.fail(&format!("{e:#}")),
            }
            (i, action, result)
        }
    };

    for i in (0..nodes.len()).filter(|&i| remaining[i] == 0) {
        started[i] = true;
        running.push(start(i, inputs.clone()));
    }
    while let Some((i, action, result)) = running.next().await {
        let name = nodes[i].name().to_string();
        match result {
            Ok(attributes) => {
                finished(&mut inputs, &name, attributes);
                outcome.done.push((name, action));
                for j in (0..nodes.len()).filter(|&j| waits_for[j].contains(&i)) {
                    remaining[j] -= 1;
                    if remaining[j] == 0 {
                        started[j] = true;
                        running.push(start(j, inputs.clone()));
                    }
                }
            }
            Err(e) => outcome.failed.push((name, e)),
        }
    }
    outcome.skipped = (0..nodes.len())
        .filter(|&i| !started[i])
        .map(|i| nodes[i].name().to_string())
        .collect();
    outcome
}

fn finished(inputs: &mut Inputs, name: &str, attributes: Attributes) {
    inputs.0.insert(name.to_string(), attributes);
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
