//! Whose a resource is decides what planning does with it: ours, nobody's (adopt), another
//! stack's or environment's; and destroy deletes only what is ours.

use super::*;

#[test]
fn an_empty_account_gets_everything_created_in_dependency_order() {
    let stack = stack(SYSTEM);
    let plan = apply(&stack, &nothing(&stack));
    assert!(actions(&plan).iter().all(|(_, a)| *a == Action::Create));
    // Each after what it references.
    let at = |name: &str| actions(&plan).iter().position(|(n, _)| n == name).unwrap();
    assert!(at("messages") < at("role") && at("role") < at("processor"));
    assert!(at("processor") < at("trigger") && at("messages") < at("trigger"));
    assert_eq!(plan.summary.create, 5);
    assert_eq!(plan.refusals.first(), None);
}

#[test]
fn what_an_apply_left_needs_no_change() {
    let stack = stack(SYSTEM);
    let plan = apply(&stack, &applied(&stack));
    assert!(!plan.has_changes(), "{:#?}", plan.resource_changes);
    assert_eq!(plan.summary.no_op, 5);
}

#[test]
fn a_resource_without_ownership_tags_is_a_conflict() {
    let stack = stack(TABLE);
    let mut observed = applied(&stack);
    untag(&mut observed, "messages");
    let plan = apply(&stack, &observed);
    let rc = change(&plan, "messages");
    assert_eq!(rc.action, Action::Conflict);
    assert!(rc.reasons[0].contains("--adopt"), "{:?}", rc.reasons);
    let refusal = plan.refusals.conflicts.as_deref().unwrap();
    assert!(
        refusal.contains("messages-dev") && refusal.contains("--adopt"),
        "{refusal}"
    );
}

#[test]
fn another_stacks_resource_is_a_conflict() {
    let stack = stack(TABLE);
    let mut observed = applied(&stack);
    owned_by(&mut observed, "messages", "billing/dev");
    let plan = apply(&stack, &observed);
    let rc = change(&plan, "messages").clone();
    assert_eq!(rc.action, Action::Conflict);
    assert!(rc.reasons[0].contains("`billing/dev`"), "{:?}", rc.reasons);
    // --adopt takes over only what nobody manages: the refusal does not offer it here.
    let refusal = plan.refusals.conflicts.as_deref().unwrap();
    assert!(
        refusal.contains("belong to another stack or environment") && !refusal.contains("--adopt"),
        "{refusal}"
    );
}

#[test]
fn another_environments_resource_is_a_conflict() {
    let stack = stack(TABLE);
    let observed = applied_by(&stack, "shop/prod");
    let plan = apply(&stack, &observed);
    assert_eq!(change(&plan, "messages").action, Action::Conflict);
    assert!(change(&plan, "messages").reasons[0].contains("`shop/prod`"));
}

#[test]
fn adopt_takes_over_what_nobody_owns() {
    let stack = stack(TABLE);
    let mut observed = applied(&stack);
    untag(&mut observed, "messages");
    let request = PlanRequest {
        adopt: true,
        ..PlanRequest::apply()
    };
    let plan = plan(&stack, &observed, &request);
    let rc = change(&plan, "messages");
    assert_eq!(rc.action, Action::Adopt);
    // The ownership tags are what adopting adds.
    let fields: Vec<String> = rc.changes.iter().map(|c| c.path.to_string()).collect();
    assert!(
        fields.contains(&"tags[\"cruddur-infra:stack\"]".to_string()),
        "{fields:?}"
    );
    assert_eq!(plan.refusals.first(), None);
    assert_eq!(plan.summary.adopt, 1);
}

#[test]
fn adopt_never_takes_another_stacks_resource() {
    let stack = stack(TABLE);
    let mut observed = applied(&stack);
    owned_by(&mut observed, "messages", "billing/dev");
    let request = PlanRequest {
        adopt: true,
        ..PlanRequest::apply()
    };
    assert_eq!(
        change(&plan(&stack, &observed, &request), "messages").action,
        Action::Conflict
    );
}

#[test]
fn destroy_deletes_only_what_is_ours() {
    let stack = stack(
        "  mine:
    type: iam_role
    name: mine
  handmade:
    type: iam_role
    name: handmade
  theirs:
    type: iam_role
    name: theirs
  gone:
    type: iam_role
    name: gone
",
    );
    let mut observed = applied(&stack);
    untag(&mut observed, "handmade");
    owned_by(&mut observed, "theirs", "billing/dev");
    stack
        .nodes
        .iter()
        .find(|n| n.name() == "gone")
        .unwrap()
        .assume_missing(&mut observed.resources);
    let plan = destroy(&stack, &observed);
    assert_eq!(change(&plan, "mine").action, Action::Delete);
    let handmade = change(&plan, "handmade");
    assert_eq!(handmade.action, Action::NoOp);
    assert!(handmade.reasons[0].contains("not created by cruddur-infra"));
    let theirs = change(&plan, "theirs");
    assert_eq!(theirs.action, Action::NoOp);
    assert!(theirs.reasons[0].contains("belongs to `billing/dev`"));
    assert_eq!(change(&plan, "gone").reasons, ["does not exist"]);
    assert_eq!(plan.summary.delete, 1);
}

#[test]
fn destroy_goes_dependents_first() {
    let stack = stack(SYSTEM);
    let plan = destroy(&stack, &applied(&stack));
    let at = |name: &str| actions(&plan).iter().position(|(n, _)| n == name).unwrap();
    assert!(at("trigger") < at("processor") && at("processor") < at("role"));
    assert!(at("role") < at("messages") && at("trigger") < at("messages"));
    assert!(actions(&plan).iter().all(|(_, a)| *a == Action::Delete));
}

#[test]
fn a_resource_that_was_not_read_is_never_touched() {
    let stack = stack(TABLE);
    let plan = apply(&stack, &Observed::default());
    let rc = change(&plan, "messages");
    assert_eq!(rc.action, Action::Conflict);
    assert!(rc.reasons[0].contains("not read"), "{:?}", rc.reasons);
    assert!(plan.refusals.conflicts.is_some());
    assert_eq!(destroy(&stack, &Observed::default()).summary.delete, 0);
}
