//! Planning: what apply or destroy would do, as a pure function of the stack, what was
//! observed and the request. Each resource's change is decided by the rules in
//! [`decide`](super::decide), the same for every kind; here they are applied in order and
//! the plan's refusals said: conflicts, replacements that need --allow-replace, and
//! deletions that are blocked (deletion protection, items at risk) unless
//! --allow-data-loss.

use super::decide;
use super::observed::{Observed, PlanRequest};
use crate::kinds::{Live, PlanCtx, Stack};
use crate::plan::{Action, Deletion, Operation, Plan, Refusals, ResourceChange};
use crate::spec::template::Inputs;
use std::collections::BTreeSet;

/// The plan for `request`. For apply, each resource is planned with the attributes its
/// dependencies will have (unknown where they are still to be created or replaced);
/// orphans go last. For destroy, orphans go first, then dependents before what they use.
pub fn plan(stack: &Stack, observed: &Observed, request: &PlanRequest) -> Plan {
    let cx = PlanCtx {
        owner: stack.owner(),
        adopt: request.adopt && request.operation == Operation::Apply,
        context: observed.context.clone(),
    };
    let chosen = targeted(stack, request);
    let planned = |name: &str| chosen.as_ref().is_none_or(|c| c.contains(name));
    // Under --target, orphans are left alone: they are outside every target.
    let orphans = || match chosen {
        Some(_) => Vec::new(),
        None => orphan_changes(observed),
    };
    let mut changes = match request.operation {
        Operation::Apply => {
            let mut inputs = Inputs::new(observed.context.as_ref());
            let mut changes = Vec::new();
            for node in stack.nodes.iter().filter(|n| planned(n.name())) {
                let assessment = node.assess(&observed.resources, &cx, Some(&inputs));
                let forced = request.replace.contains(node.name());
                let (change, attributes) = decide::apply(assessment, &cx.owner, cx.adopt, forced);
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
            changes.extend(orphans());
            changes
        }
        // Orphans first: they may depend on declared resources (an old trigger on the
        // function), never the other way round.
        Operation::Destroy => orphans()
            .into_iter()
            .chain(
                stack
                    .nodes
                    .iter()
                    .rev()
                    .filter(|n| planned(n.name()))
                    .map(|node| {
                        decide::destroy(&node.assess(&observed.resources, &cx, None), &cx.owner)
                    }),
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
    plan.targets = request.targets.iter().cloned().collect();
    plan.refusals = refusals(&plan, request);
    plan
}

/// The resources `--target` names, with what they depend on (for a destroy: with what
/// depends on them), by name; `None` without --target: all of them. The stack's resources
/// are in dependency order, so one pass each way settles it: backwards, each chosen
/// resource brings what it depends on; forwards, each resource that depends on a chosen one
/// is chosen.
fn targeted<'s>(stack: &'s Stack, request: &'s PlanRequest) -> Option<BTreeSet<&'s str>> {
    if request.targets.is_empty() {
        return None;
    }
    let mut chosen: BTreeSet<&str> = request.targets.iter().map(String::as_str).collect();
    match request.operation {
        Operation::Apply => {
            for node in stack.nodes.iter().rev() {
                if chosen.contains(node.name()) {
                    chosen.extend(node.dependencies().iter().map(String::as_str));
                }
            }
        }
        Operation::Destroy => {
            for node in &stack.nodes {
                if node
                    .dependencies()
                    .iter()
                    .any(|d| chosen.contains(d.as_str()))
                {
                    chosen.insert(node.name());
                }
            }
        }
    }
    Some(chosen)
}

/// The orphans' deletions, in the order they will happen.
fn orphan_changes(observed: &Observed) -> Vec<ResourceChange> {
    let mut orphans: Vec<&dyn Live> = observed.orphans.iter().map(|o| o.as_ref()).collect();
    orphans.sort_by_key(|o| (crate::kinds::deletion_rank(o.kind()), o.physical_id()));
    orphans.into_iter().map(decide::orphan).collect()
}

/// Every deletion that would lose data or that deletion protection forbids is blocked
/// unless the request allows data loss (see [`decide::guard_deletion`]).
fn guard_deletions(changes: &mut [ResourceChange], observed: &Observed, request: &PlanRequest) {
    let command = match request.operation {
        Operation::Apply => "apply",
        Operation::Destroy => "destroy",
    };
    for change in changes.iter_mut().filter(|c| c.action == Action::Delete) {
        let at_risk = observed.at_risk.get(&Deletion::of(change));
        decide::guard_deletion(change, at_risk, request.allow_data_loss, command);
    }
}

/// Why the plan must not be carried out, as the messages apply and destroy stop with.
fn refusals(plan: &Plan, request: &PlanRequest) -> Refusals {
    fn ids<'p>(changes: impl Iterator<Item = &'p ResourceChange>) -> Vec<&'p str> {
        changes.map(|c| c.physical_id.as_str()).collect()
    }
    // Conflicts by what can be done about them.
    let conflicts_that = |reason: &str| -> Vec<&str> {
        ids(plan
            .conflicts()
            .filter(|c| c.reasons.first().is_some_and(|r| r.starts_with(reason))))
    };
    let (unmanaged, elsewhere) = (
        conflicts_that(decide::UNMANAGED),
        conflicts_that(decide::OWNED_ELSEWHERE),
    );
    let unread: Vec<&str> = ids(plan
        .conflicts()
        .filter(|c| !unmanaged.contains(&c.physical_id.as_str()))
        .filter(|c| !elsewhere.contains(&c.physical_id.as_str())));
    let mut conflicts = Vec::new();
    if !unmanaged.is_empty() {
        conflicts.push(format!(
            "{} resource(s) exist but were not made by cruddur-infra: {}; re-run with --adopt to take them over",
            unmanaged.len(),
            unmanaged.join(", ")
        ));
    }
    if !elsewhere.is_empty() {
        conflicts.push(format!(
            "{} resource(s) belong to another stack or environment (the plan says which): {}; \
             they are left alone: rename them in the stack file, or release them by removing \
             their `{}` tag in AWS",
            elsewhere.len(),
            elsewhere.join(", "),
            crate::tags::STACK_TAG
        ));
    }
    if !unread.is_empty() {
        conflicts.push(format!(
            "{} resource(s) could not be read: {}; run plan again",
            unread.len(),
            unread.join(", ")
        ));
    }
    let replacements = ids(plan
        .resource_changes
        .iter()
        .filter(|c| decide::refuses_replacement(c, request.allow_replace)));
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
        conflicts: (!conflicts.is_empty()).then(|| conflicts.join("; ")),
        replacements: (!replacements.is_empty()).then(|| {
            format!(
                "refusing to replace {}: a replacement deletes the resource and everything in it; \
                 re-run with --allow-replace if that is what you want",
                replacements.join(", ")
            )
        }),
        blocked: (!blocked.is_empty()).then(|| format!("cannot {verb} {}", blocked.join("; "))),
    }
}
