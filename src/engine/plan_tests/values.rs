//! Values known and unknown at plan time, warnings, and planning as a pure function.

use super::*;

#[test]
fn what_the_file_and_the_account_tell_is_known_before_anything_exists() {
    let stack = stack(SYSTEM);
    let plan = apply(&stack, &nothing(&stack));
    for name in ["role", "processor"] {
        let unknown: Vec<String> = change(&plan, name)
            .changes
            .iter()
            .filter(|c| c.after_unknown())
            .map(|c| c.path.to_string())
            .collect();
        assert!(unknown.is_empty(), "{name}: {unknown:?}");
    }
    let after = |name: &str, field: &str| {
        let rc = change(&plan, name);
        rc.changes
            .iter()
            .find(|c| c.path.to_string() == field)
            .unwrap()
            .after
            .clone()
    };
    assert_eq!(
        after("role", "policies.table[0].Resource[0]"),
        json!("arn:aws:dynamodb:us-east-1:123456789012:table/messages-dev")
    );
    assert_eq!(
        after("processor", "role"),
        json!("arn:aws:iam::123456789012:role/processor-dev")
    );
    assert_eq!(after("trigger", "function"), json!("processor-dev"));
    // Only the stream's timestamp is AWS's to give.
    let source = change(&plan, "trigger")
        .changes
        .iter()
        .find(|c| c.path.to_string() == "source")
        .unwrap();
    assert!(source.after_unknown());
}

/// What each kind's attributes are before the resource exists: names and ARNs are known
/// from the file and the account; what AWS assigns is not.
#[test]
fn each_kinds_attributes_before_it_is_made() {
    let stack = stack(SYSTEM);
    let observed = nothing(&stack);
    let cx = crate::kinds::PlanCtx {
        owner: stack.owner(),
        adopt: false,
        context: Some(context()),
    };
    let mut inputs = crate::spec::template::Inputs::new(observed.context.as_ref());
    let mut known = std::collections::BTreeMap::new();
    for node in &stack.nodes {
        let assessment = node.assess(&observed.resources, &cx, Some(&inputs));
        let (_, attributes) = crate::engine::decide::apply(assessment, &cx.owner, false, false);
        inputs.insert(node.name(), attributes.clone());
        known.insert(node.name().to_string(), attributes);
    }
    let unknown = crate::values::UNKNOWN;
    let expect = |name: &str, pairs: &[(&'static str, Option<String>)]| {
        let expected: crate::values::Attributes =
            pairs.iter().map(|(k, v)| (*k, v.clone())).collect();
        assert_eq!(known[name], expected, "{name}");
    };
    let s = |v: &str| Some(v.to_string());
    expect(
        "messages",
        &[
            ("name", s("messages-dev")),
            (
                "arn",
                s("arn:aws:dynamodb:us-east-1:123456789012:table/messages-dev"),
            ),
            (
                "stream_arn",
                Some(format!(
                    "arn:aws:dynamodb:us-east-1:123456789012:table/messages-dev/stream/{unknown}"
                )),
            ),
            ("index_names", s("")),
        ],
    );
    expect(
        "role",
        &[
            ("name", s("processor-dev")),
            ("arn", s("arn:aws:iam::123456789012:role/processor-dev")),
        ],
    );
    expect(
        "processor",
        &[
            ("name", s("processor-dev")),
            (
                "arn",
                s("arn:aws:lambda:us-east-1:123456789012:function:processor-dev"),
            ),
            // No `release:`: its mappings invoke the function itself.
            (
                "live_arn",
                s("arn:aws:lambda:us-east-1:123456789012:function:processor-dev"),
            ),
            ("log_group", s("/aws/lambda/processor-dev")),
        ],
    );
    expect("endpoint", &[("id", None), ("vpc_id", s("vpc-0a1b2c3d"))]);
    expect("trigger", &[("uuid", None), ("arn", None)]);
}

#[test]
fn the_deployment_context_fills_in_aws_values() {
    let stack = stack(SYSTEM);
    let plan = apply(&stack, &nothing(&stack));
    let logs = change(&plan, "role")
        .changes
        .iter()
        .find(|c| c.path.to_string() == "policies.logs[0].Resource[0]")
        .unwrap();
    assert_eq!(
        logs.after,
        json!("arn:aws:logs:us-east-1:123456789012:log-group:*")
    );
    let mut without = nothing(&stack);
    without.context = None;
    let plan = apply(&stack, &without);
    assert!(
        change(&plan, "role")
            .changes
            .iter()
            .any(|c| c.path.to_string() == "policies.logs[0].Resource[0]" && c.after_unknown())
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
        .find(|c| c.path.to_string() == "environment.TABLE_NAME")
        .unwrap();
    assert_eq!(
        (env.after_unknown(), &env.after),
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
fn a_replaced_table_keeps_its_arn_and_gets_a_new_stream() {
    let before = stack(SYSTEM);
    let after = stack(
        &SYSTEM
            .replace("range: sk", "range: ts")
            .replace("sk: S", "ts: S"),
    );
    let plan = plan_with(&after, &applied(&before), |r| r.allow_replace = true);
    assert_eq!(change(&plan, "messages").action, Action::Replace);
    // Same name, same ARN: the role's policy on it does not change.
    assert_eq!(change(&plan, "role").action, Action::NoOp);
    // The new table's stream is a new stream: the trigger is made anew on it.
    assert_eq!(change(&plan, "trigger").action, Action::Replace);
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
    assert!(rc.changes.iter().any(|c| c.path.to_string() == "enabled"));
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
    let tags: Vec<(String, &serde_json::Value)> = change(&plan, "messages")
        .changes
        .iter()
        .filter(|c| c.path.to_string().starts_with("tags"))
        .map(|c| (c.path.to_string(), &c.after))
        .collect();
    assert!(
        tags.contains(&("tags[\"cruddur-infra:stack\"]".into(), &json!("shop/dev"))),
        "{tags:?}"
    );
    assert!(
        tags.contains(&(format!("tags[{:?}]", RESOURCE_TAG), &json!("messages"))),
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
