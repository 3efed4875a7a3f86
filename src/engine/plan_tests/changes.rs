//! Changes in place, replacements, and what stops them.

use super::*;

#[test]
fn a_changed_setting_is_an_update_of_that_field() {
    let before = stack(&TABLE.replace(
        "    stream: NEW_IMAGE\n",
        "    stream: NEW_IMAGE\n    point_in_time_recovery: false\n",
    ));
    let after = stack(&TABLE.replace(
        "    stream: NEW_IMAGE\n",
        "    stream: NEW_IMAGE\n    point_in_time_recovery: true\n",
    ));
    let plan = apply(&after, &applied(&before));
    let rc = change(&plan, "messages");
    assert_eq!(rc.action, Action::Update);
    assert_eq!(rc.changes.len(), 1, "{:#?}", rc.changes);
    assert_eq!(rc.changes[0].path.to_string(), "point_in_time_recovery");
    assert_eq!(
        (&rc.changes[0].before, &rc.changes[0].after),
        (&json!(false), &json!(true))
    );
}

#[test]
fn a_renamed_table_is_a_new_table_and_the_old_one_an_orphan() {
    let before = stack(TABLE);
    let after = stack(&TABLE.replace("messages-${env}", "messages-v2-${env}"));
    // Observe finds no table under the new name, and the old one by its tags.
    let mut observed = nothing(&after);
    orphan(applied(&before), "messages", &mut observed);
    let plan = apply(&after, &observed);
    let created = change(&plan, "messages");
    assert_eq!(
        (created.action, created.physical_id.as_str()),
        (Action::Create, "messages-v2-dev")
    );
    let old = plan.resource_changes.iter().find(|rc| rc.orphan).unwrap();
    assert_eq!(
        (old.action, old.physical_id.as_str()),
        (Action::Delete, "messages-dev")
    );
    assert!(
        old.reasons
            .iter()
            .any(|r| r.contains("every item in the table is deleted"))
    );
}

#[test]
fn a_new_key_is_a_replacement_that_needs_allow_replace() {
    let before = stack(TABLE);
    let after = stack(
        &TABLE
            .replace("range: sk", "range: ts")
            .replace("sk: S", "ts: S"),
    );
    let observed = applied(&before);
    let plan = apply(&after, &observed);
    let rc = change(&plan, "messages");
    assert_eq!(rc.action, Action::Replace);
    assert!(
        rc.reasons[0].contains("key schema changes (pk + sk → pk + ts)"),
        "{:?}",
        rc.reasons
    );
    assert!(
        rc.changes
            .iter()
            .any(|c| c.path.to_string() == "key.range" && c.forces_replacement)
    );
    let refusal = plan.refusals.replacements.as_deref().unwrap();
    assert!(refusal.contains("messages-dev") && refusal.contains("--allow-replace"));
    let allowed = plan_with(&after, &observed, |r| r.allow_replace = true);
    assert_eq!(allowed.refusals.first(), None);
}

#[test]
fn replacing_what_loses_nothing_needs_no_flag() {
    let before = stack(SYSTEM);
    let after = stack(&SYSTEM.replace(
        "starting_position: LATEST",
        "starting_position: TRIM_HORIZON",
    ));
    let plan = apply(&after, &applied(&before));
    let rc = change(&plan, "trigger");
    assert_eq!(rc.action, Action::Replace);
    assert!(rc.reasons.iter().any(|r| r.contains("starting position")));
    assert_eq!(plan.refusals.first(), None, "a mapping holds no data");
}

#[test]
fn adopting_what_would_need_replacing_is_blocked() {
    let before = stack(TABLE);
    let after = stack(
        &TABLE
            .replace("range: sk", "range: ts")
            .replace("sk: S", "ts: S"),
    );
    let mut observed = applied(&before);
    untag(&mut observed, "messages");
    let plan = plan_with(&after, &observed, |r| {
        r.adopt = true;
        r.allow_replace = true;
    });
    let rc = change(&plan, "messages");
    assert_eq!(rc.action, Action::Replace);
    assert!(
        rc.blocked
            .as_deref()
            .unwrap()
            .contains("never deletes what it does not own")
    );
    assert!(
        plan.refusals
            .blocked
            .as_deref()
            .unwrap()
            .starts_with("cannot change messages-dev")
    );
}

#[test]
fn a_replacement_says_what_it_loses_and_what_stops_it() {
    let before =
        stack(&TABLE.replace("    stream: NEW_IMAGE\n", "    deletion_protection: true\n"));
    let after = stack(
        &TABLE
            .replace("    stream: NEW_IMAGE\n", "    deletion_protection: true\n")
            .replace("range: sk", "range: ts")
            .replace("sk: S", "ts: S"),
    );
    let mut observed = applied(&before);
    observed
        .resources
        .tables
        .get_mut("messages")
        .unwrap()
        .live
        .as_mut()
        .unwrap()
        .item_count = 42;
    let plan = plan_with(&after, &observed, |r| r.allow_replace = true);
    let rc = change(&plan, "messages");
    assert!(
        rc.reasons.iter().any(|r| r.contains("about 42 items")),
        "{:?}",
        rc.reasons
    );
    assert!(
        rc.blocked
            .as_deref()
            .unwrap()
            .contains("deletion protection")
    );
    assert!(plan.refusals.blocked.is_some());
}

#[test]
fn a_second_ttl_change_within_the_hour_is_blocked() {
    let before = stack(&TABLE.replace("    stream: NEW_IMAGE\n", "    ttl_attribute: expires\n"));
    let after = stack(&TABLE.replace("    stream: NEW_IMAGE\n", "    ttl_attribute: expiry\n"));
    let plan = apply(&after, &applied(&before));
    let rc = change(&plan, "messages");
    assert_eq!(rc.action, Action::Update);
    assert!(rc.blocked.as_deref().unwrap().contains("takes two applies"));
    assert!(
        plan.refusals
            .blocked
            .as_deref()
            .unwrap()
            .starts_with("cannot change")
    );
}

#[test]
fn an_index_added_is_listed_leaf_by_leaf_and_named_in_the_attributes() {
    let before = stack(TABLE);
    let after = stack(&TABLE.replace(
        "    stream: NEW_IMAGE\n",
        "    stream: NEW_IMAGE\n    global_secondary_indexes:\n      - { name: by-group, key: { hash: pk, range: sk } }\n",
    ));
    let rc = change(&apply(&after, &applied(&before)), "messages").clone();
    assert_eq!(rc.action, Action::Update);
    assert!(rc.changes.iter().all(|c| {
        c.path
            .to_string()
            .starts_with("global_secondary_indexes[\"by-group\"]")
    }));
    assert!(
        rc.changes
            .iter()
            .any(|c| c.note.as_deref() == Some("the index backfills before it can be queried"))
    );
}

/// `count` statements, each on its own index of the table, as YAML list items indented
/// by `indent` spaces.
fn statements(count: usize, indent: usize) -> String {
    let pad = " ".repeat(indent);
    (0..count)
        .map(|i| {
            format!(
                "{pad}- actions: [dynamodb:Query]\n{pad}  resources: [\"${{messages.arn}}/index/i{i:03}\"]\n"
            )
        })
        .collect()
}

fn role_with(per_policy: usize) -> Stack {
    stack(&format!(
        "{TABLE}  role:\n    type: iam_role\n    name: processor-${{env}}\n    policies:\n      a:\n{}      b:\n{}",
        statements(per_policy, 8),
        statements(per_policy, 8).replace("/index/i", "/index/j"),
    ))
}

#[test]
fn inline_policies_over_iams_total_per_role_block_the_plan() {
    // Each rendered statement is about 133 characters: 2 × 35 fit in 10,240, 2 × 50 not.
    let fits = role_with(35);
    let plan = apply(&fits, &nothing(&fits));
    assert_eq!(change(&plan, "role").blocked, None);

    let too_big = role_with(50);
    let plan = apply(&too_big, &nothing(&too_big));
    let blocked = change(&plan, "role").blocked.clone().unwrap();
    assert!(
        blocked.starts_with("its inline policies hold ")
            && blocked.contains(
                " characters together (white space not counted) and IAM allows 10240 per role"
            ),
        "{blocked}"
    );
    assert!(
        plan.refusals
            .blocked
            .as_deref()
            .unwrap()
            .starts_with("cannot change processor-dev: its inline policies hold ")
    );
    // The same growth on a role that exists is refused as well.
    let plan = apply(&too_big, &applied(&fits));
    assert_eq!(change(&plan, "role").action, Action::Update);
    assert!(change(&plan, "role").blocked.is_some());
}

#[test]
fn an_endpoint_policy_over_privatelinks_limit_blocks_the_plan() {
    let endpoint = |count: usize| {
        stack(&format!(
            "{TABLE}  endpoint:\n    type: vpc_gateway_endpoint\n    service: dynamodb\n    policy:\n{}",
            statements(count, 6)
        ))
    };
    let fits = endpoint(100);
    assert_eq!(
        change(&apply(&fits, &nothing(&fits)), "endpoint").blocked,
        None
    );
    let too_big = endpoint(200);
    let plan = apply(&too_big, &nothing(&too_big));
    let blocked = change(&plan, "endpoint").blocked.clone().unwrap();
    assert!(
        blocked.contains(" characters as sent and a VPC endpoint's policy holds at most 20480"),
        "{blocked}"
    );
}

#[test]
fn an_environment_over_lambdas_4_kb_once_rendered_blocks_the_plan() {
    // Each variable holds the table's ARN: 15 characters as written, about 55 rendered.
    let variables: String = (0..80)
        .map(|i| format!("      V{i:03}: ${{messages.arn}}\n"))
        .collect();
    let stack = stack(&format!(
        "{TABLE}  processor:\n    type: lambda_function\n    name: processor-${{env}}\n    code: tests/fixtures/tiny-function\n    role: arn:aws:iam::123456789012:role/r\n    environment:\n{variables}"
    ));
    let plan = apply(&stack, &nothing(&stack));
    let blocked = change(&plan, "processor").blocked.clone().unwrap();
    assert!(
        blocked.contains(" bytes once references are filled in, and Lambda allows 4096 in all"),
        "{blocked}"
    );
}

#[test]
fn a_tag_value_over_256_characters_once_rendered_blocks_the_plan() {
    let arns = "${messages.arn}".repeat(6);
    let stack = stack(&format!(
        "{TABLE}  role:\n    type: iam_role\n    name: processor-${{env}}\n    tags:\n      origin: \"{arns}\"\n"
    ));
    let plan = apply(&stack, &nothing(&stack));
    assert_eq!(
        change(&plan, "role").blocked.as_deref(),
        Some("tag `origin`: tag value is longer than 256 characters")
    );
    assert_eq!(change(&plan, "messages").blocked, None);
}
