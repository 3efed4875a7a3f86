//! Values known and unknown at plan time, warnings, and planning as a pure function.

use super::*;

#[test]
fn references_to_what_is_still_to_be_made_are_unknown() {
    let stack = stack(SYSTEM);
    let plan = apply(&stack, &nothing(&stack));
    let role = change(&plan, "role");
    let unknown: Vec<&str> = role
        .changes
        .iter()
        .filter(|c| c.after_unknown)
        .map(|c| c.field.as_str())
        .collect();
    assert_eq!(unknown, ["policies.table"], "{:#?}", role.changes);
    let processor = change(&plan, "processor");
    assert!(
        processor
            .changes
            .iter()
            .any(|c| c.field == "role" && c.after_unknown)
    );
}

#[test]
fn the_deployment_context_fills_in_aws_values() {
    let stack = stack(SYSTEM);
    let plan = apply(&stack, &nothing(&stack));
    let logs = change(&plan, "role")
        .changes
        .iter()
        .find(|c| c.field == "policies.logs")
        .unwrap();
    assert!(!logs.after_unknown);
    assert!(
        logs.after
            .to_string()
            .contains("arn:aws:logs:us-east-1:123456789012:log-group:*"),
        "{}",
        logs.after
    );
    let mut without = nothing(&stack);
    without.context = None;
    let plan = apply(&stack, &without);
    assert!(
        change(&plan, "role")
            .changes
            .iter()
            .any(|c| c.field == "policies.logs" && c.after_unknown)
    );
}

#[test]
fn references_to_what_exists_are_known() {
    let stack = stack(SYSTEM);
    let mut observed = applied(&stack);
    // The function alone is missing: its environment comes from the existing table.
    stack
        .nodes
        .iter()
        .find(|n| n.name() == "processor")
        .unwrap()
        .assume_missing(&mut observed.resources);
    let plan = apply(&stack, &observed);
    let env = change(&plan, "processor")
        .changes
        .iter()
        .find(|c| c.field == "environment[\"TABLE_NAME\"]")
        .unwrap();
    assert_eq!(
        (env.after_unknown, &env.after),
        (false, &json!("messages-dev"))
    );
}

#[test]
fn a_new_stream_replaces_the_trigger_on_it() {
    let before = stack(SYSTEM);
    let after = stack(&SYSTEM.replace("stream: NEW_IMAGE", "stream: NEW_AND_OLD_IMAGES"));
    let plan = apply(&after, &applied(&before));
    assert_eq!(change(&plan, "messages").action, Action::Update);
    let trigger = change(&plan, "trigger");
    assert_eq!(trigger.action, Action::Replace);
    assert!(
        trigger.reasons[0].contains("source stream is being replaced"),
        "{:?}",
        trigger.reasons
    );
    assert_eq!(plan.refusals.first(), None);
}

#[test]
fn a_replaced_table_makes_everything_that_references_it_unknown() {
    let before = stack(SYSTEM);
    let after = stack(
        &SYSTEM
            .replace("range: sk", "range: ts")
            .replace("sk: S", "ts: S"),
    );
    let plan = plan_with(&after, &applied(&before), |r| r.allow_replace = true);
    assert_eq!(change(&plan, "messages").action, Action::Replace);
    assert_eq!(change(&plan, "trigger").action, Action::Replace);
    let role = change(&plan, "role");
    assert_eq!(role.action, Action::Update);
    assert!(
        role.changes
            .iter()
            .any(|c| c.field == "policies.table" && c.after_unknown)
    );
}

// Warnings, and planning as a pure function.

#[test]
fn another_mapping_on_the_function_is_a_warning() {
    let stack = stack(SYSTEM);
    let mut observed = applied(&stack);
    let trigger = observed.resources.triggers.get_mut("trigger").unwrap();
    trigger
        .live
        .as_mut()
        .unwrap()
        .others
        .push("abc (arn:other-stream, Enabled)".into());
    let rc = change(&apply(&stack, &observed), "trigger").clone();
    assert_eq!(rc.action, Action::NoOp);
    assert!(
        rc.reasons.iter().any(|r| r.contains("see records twice")),
        "{:?}",
        rc.reasons
    );
}

#[test]
fn a_mapping_aws_disabled_is_drift() {
    let stack = stack(SYSTEM);
    let mut observed = applied(&stack);
    let live = observed
        .resources
        .triggers
        .get_mut("trigger")
        .unwrap()
        .live
        .as_mut()
        .unwrap();
    live.state.settings.enabled = false;
    live.status = "Disabled".into();
    let rc = change(&apply(&stack, &observed), "trigger").clone();
    assert_eq!(rc.action, Action::Update);
    assert!(rc.changes.iter().any(|c| c.field == "enabled"));
    assert!(rc.reasons.iter().any(|r| r.contains("Disabled")));
}

#[test]
fn the_same_inputs_give_the_same_plan() {
    let stack = stack(SYSTEM);
    let mut observed = applied(&stack);
    untag(&mut observed, "role");
    let one = serde_json::to_value(apply(&stack, &observed)).unwrap();
    let two = serde_json::to_value(apply(&stack, &observed)).unwrap();
    assert_eq!(one, two);
    // Refusals are decided with the plan but are not part of its JSON.
    assert!(one.get("refusals").is_none());
}

#[test]
fn ownership_tags_are_part_of_what_is_desired() {
    let stack = stack(TABLE);
    let plan = apply(&stack, &nothing(&stack));
    let tags: Vec<(&str, &serde_json::Value)> = change(&plan, "messages")
        .changes
        .iter()
        .filter(|c| c.field.starts_with("tags"))
        .map(|c| (c.field.as_str(), &c.after))
        .collect();
    assert!(
        tags.contains(&("tags[\"cruddur-infra:stack\"]", &json!("shop/dev"))),
        "{tags:?}"
    );
    assert!(
        tags.contains(&(&*format!("tags[{:?}]", RESOURCE_TAG), &json!("messages"))),
        "{tags:?}"
    );
}

#[test]
fn a_tag_changed_by_hand_is_an_update() {
    let stack = stack(&TABLE.replace(
        "    stream: NEW_IMAGE\n",
        "    stream: NEW_IMAGE\n    tags: { team: chat }\n",
    ));
    let mut observed = applied(&stack);
    observed
        .resources
        .live_mut("messages")
        .unwrap()
        .tags_mut()
        .insert("team".into(), "ops".into());
    let rc = change(&apply(&stack, &observed), "messages").clone();
    assert_eq!(rc.action, Action::Update);
    assert_eq!(rc.changes.len(), 1);
    assert_eq!(
        (&rc.changes[0].before, &rc.changes[0].after),
        (&json!("ops"), &json!("chat"))
    );
}
