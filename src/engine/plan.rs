//! Planning: what apply or destroy would do, as a pure function of the stack, what was
//! observed and the request. Every safety rule a command must respect is decided here, once:
//! conflicts, replacements that need --allow-replace, and deletions that are blocked
//! (deletion protection, items at risk) unless --allow-data-loss.

use super::observed::{Observed, PlanRequest};
use crate::kinds::{Live, PlanCtx, Stack};
use crate::plan::{Action, Deletion, Operation, Plan, Refusals, ResourceChange, States};
use crate::spec::template::Inputs;

/// The plan for `request`. For apply, each resource is planned with the attributes its
/// dependencies will have (unknown where they are still to be created or replaced);
/// orphans go last. For destroy, orphans go first, then dependents before what they use.
pub fn plan(stack: &Stack, observed: &Observed, request: &PlanRequest) -> Plan {
    let cx = PlanCtx {
        owner: stack.owner(),
        adopt: request.adopt && request.operation == Operation::Apply,
        context: observed.context.clone(),
    };
    let mut changes = match request.operation {
        Operation::Apply => {
            let mut inputs = Inputs::new(observed.context.as_ref());
            let mut changes = Vec::new();
            for node in &stack.nodes {
                let (change, attributes) = node.plan_apply(&observed.resources, &cx, &inputs);
                tracing::debug!(
                    resource = %format!("{}.{}", node.kind(), node.name()),
                    action = ?change.action,
                    fields = change.changes.len(),
                    reasons = ?change.reasons,
                    "planned"
                );
                inputs.insert(node.name(), attributes);
                changes.push(change);
            }
            // Orphans go after everything declared has converged (a function moves to its
            // new role before the old one is deleted).
            changes.extend(orphan_changes(observed));
            changes
        }
        // Orphans first: they may depend on declared resources (an old trigger on the
        // function), never the other way round.
        Operation::Destroy => orphan_changes(observed)
            .into_iter()
            .chain(
                stack
                    .nodes
                    .iter()
                    .rev()
                    .map(|node| node.plan_destroy(&observed.resources, &cx)),
            )
            .collect(),
    };
    guard_deletions(&mut changes, observed, request);
    let mut plan = Plan::new(
        stack.name.clone(),
        stack.env.name.clone(),
        request.operation,
        changes,
    );
    plan.refusals = refusals(&plan, request);
    plan
}

/// The orphans' deletions, in the order they will happen.
fn orphan_changes(observed: &Observed) -> Vec<ResourceChange> {
    let mut orphans: Vec<&dyn Live> = observed.orphans.iter().map(|o| o.as_ref()).collect();
    orphans.sort_by_key(|o| (o.delete_order(), o.physical_id()));
    orphans.into_iter().map(orphan_change).collect()
}

fn orphan_change(live: &dyn Live) -> ResourceChange {
    let logical = live
        .tags()
        .get(crate::tags::RESOURCE_TAG)
        .cloned()
        .unwrap_or_else(|| "?".into());
    let mut reasons = vec![format!(
        "tagged as this stack's `{logical}` but no longer in the stack file"
    )];
    reasons.extend(live.deletion_warning());
    ResourceChange {
        name: logical,
        kind: live.kind(),
        physical_id: live.physical_id(),
        action: Action::Delete,
        reasons,
        changes: Vec::new(),
        states: States {
            before: live.state_json(),
            after: serde_json::Value::Null,
        },
        blocked: live.deletion_blocker(),
        safe_to_replace: false,
        orphan: true,
    }
}

/// Every deletion that would lose data (a table's items, as observed) or that deletion
/// protection forbids is blocked, naming the flag that allows it, unless the request allows
/// data loss; then the plan says what is lost instead.
fn guard_deletions(changes: &mut [ResourceChange], observed: &Observed, request: &PlanRequest) {
    let command = match request.operation {
        Operation::Apply => "apply",
        Operation::Destroy => "destroy",
    };
    for change in changes.iter_mut().filter(|c| c.action == Action::Delete) {
        let mut problems: Vec<String> = change.blocked.take().into_iter().collect();
        problems.extend(observed.at_risk.get(&Deletion::of(change)).cloned());
        if problems.is_empty() {
            continue;
        }
        if request.allow_data_loss {
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
}

/// Why the plan must not be carried out, as the messages apply and destroy stop with.
fn refusals(plan: &Plan, request: &PlanRequest) -> Refusals {
    fn ids<'p>(changes: impl Iterator<Item = &'p ResourceChange>) -> Vec<&'p str> {
        changes.map(|c| c.physical_id.as_str()).collect()
    }
    let conflicts = ids(plan.conflicts());
    let replacements = ids(plan.guarded_replacements());
    let blocked: Vec<String> = plan
        .blocked()
        .map(|c| {
            format!(
                "{}: {}",
                c.physical_id,
                c.blocked.as_deref().unwrap_or_default()
            )
        })
        .collect();
    let verb = match plan.operation {
        Operation::Apply => "change",
        Operation::Destroy => "delete",
    };
    Refusals {
        conflicts: (!conflicts.is_empty()).then(|| {
            format!(
                "{} resource(s) already exist and are not this stack's: {}. Nothing was changed; \
                 re-run with --adopt to take over resources nobody manages",
                conflicts.len(),
                conflicts.join(", ")
            )
        }),
        replacements: (!replacements.is_empty() && !request.allow_replace).then(|| {
            format!(
                "refusing to replace {}: a replacement deletes the resource and everything in it. \
                 Nothing was changed; re-run with --allow-replace if that is what you want",
                replacements.join(", ")
            )
        }),
        blocked: (!blocked.is_empty())
            .then(|| format!("cannot {verb} {}. Nothing was changed", blocked.join("; "))),
    }
}
