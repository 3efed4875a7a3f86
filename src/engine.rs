//! The engine: observe every resource (all reads at once), plan against the spec, and
//! execute the plan along the dependency graph, independent resources in parallel.

use crate::aws::Aws;
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
    let (results, context) = tokio::join!(
        join_all(
            stack
                .nodes
                .iter()
                .map(|node| node.observe(aws, &owner, &names))
        ),
        context
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
    let changes = stack
        .nodes
        .iter()
        .rev()
        .map(|node| node.plan_destroy(&cx))
        .collect();
    Plan::new(
        stack.name.clone(),
        stack.env.name.clone(),
        Operation::Destroy,
        changes,
    )
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
    for (node, risk) in deleting.iter().zip(risks) {
        let Some(change) = plan.get_mut(node.name()) else {
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
                "{}; destroy --allow-data-loss deletes it anyway",
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
