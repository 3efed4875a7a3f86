//! Deletions that would lose data, and orphans: resources tagged as ours that the file no
//! longer declares.

use super::*;

#[test]
fn items_at_risk_block_a_destroy_unless_allowed() {
    let stack = stack(TABLE);
    let mut observed = applied(&stack);
    observed.at_risk.insert(
        Deletion::Declared("messages".into()),
        "the table still holds 3 items, which would be lost".into(),
    );
    let plan = destroy(&stack, &observed);
    let blocked = change(&plan, "messages").blocked.clone().unwrap();
    assert!(
        blocked.contains("3 items")
            && blocked.ends_with("destroy --allow-data-loss deletes it anyway")
    );
    assert!(
        plan.refusals
            .blocked
            .as_deref()
            .unwrap()
            .starts_with("cannot delete messages-dev: ")
    );

    let request = PlanRequest {
        allow_data_loss: true,
        ..PlanRequest::destroy()
    };
    let allowed = plan_fn(&stack, &observed, &request);
    let rc = change(&allowed, "messages");
    assert_eq!(rc.blocked, None);
    assert!(
        rc.reasons
            .iter()
            .any(|r| r.ends_with("(allowed by --allow-data-loss)"))
    );
    assert_eq!(allowed.refusals.first(), None);
}

#[test]
fn deletion_protection_blocks_a_destroy_unless_allowed() {
    let stack = stack(&TABLE.replace("    stream: NEW_IMAGE\n", "    deletion_protection: true\n"));
    let observed = applied(&stack);
    let plan = destroy(&stack, &observed);
    let blocked = change(&plan, "messages").blocked.clone().unwrap();
    assert!(
        blocked.starts_with("deletion protection is enabled"),
        "{blocked}"
    );
    let request = PlanRequest {
        allow_data_loss: true,
        ..PlanRequest::destroy()
    };
    assert_eq!(plan_fn(&stack, &observed, &request).refusals.first(), None);
}

#[test]
fn an_empty_table_deletes_without_a_flag() {
    let stack = stack(TABLE);
    let plan = destroy(&stack, &applied(&stack));
    assert_eq!(change(&plan, "messages").blocked, None);
    assert_eq!(plan.refusals.first(), None);
    assert!(change(&plan, "messages").reasons[0].contains("every item in the table is deleted"));
}

// Orphans.

#[test]
fn an_orphan_is_deleted_after_everything_declared() {
    let full = stack(SYSTEM);
    let without = stack(&SYSTEM.replace("  trigger:\n    type: event_source_mapping\n    function: ${processor.name}\n    source: ${messages.stream_arn}\n    starting_position: LATEST\n", ""));
    let mut observed = applied(&without);
    orphan(applied(&full), "trigger", &mut observed);
    let plan = apply(&without, &observed);
    let last = plan.resource_changes.last().unwrap();
    assert_eq!(
        (last.name.as_str(), last.action, last.orphan),
        ("trigger", Action::Delete, true)
    );
    assert!(last.reasons[0].contains("no longer in the stack file"));
    assert_eq!(plan.summary.delete, 1);
    // And first on destroy.
    let plan = destroy(&without, &observed);
    assert!(plan.resource_changes[0].orphan);
}

#[test]
fn orphans_go_in_their_deletion_order() {
    let full = stack(SYSTEM);
    let only_table = stack(TABLE);
    let mut observed = applied(&only_table);
    for name in ["role", "processor", "trigger"] {
        orphan(applied(&full), name, &mut observed);
    }
    let plan = destroy(&only_table, &observed);
    let kinds: Vec<&str> = plan
        .resource_changes
        .iter()
        .take(3)
        .map(|rc| rc.kind)
        .collect();
    assert_eq!(
        kinds,
        ["event_source_mapping", "lambda_function", "iam_role"]
    );
}

#[test]
fn an_orphan_table_with_items_is_guarded_like_a_declared_one() {
    let with_archive = stack(&format!(
        "{TABLE}  archive:\n    type: dynamodb_table\n    name: archive-${{env}}\n    attributes: {{ id: S }}\n    key: {{ hash: id }}\n"
    ));
    let only_messages = stack(TABLE);
    let mut observed = applied(&only_messages);
    orphan(applied(&with_archive), "archive", &mut observed);
    observed.at_risk.insert(
        Deletion::Orphan {
            kind: "dynamodb_table",
            physical_id: "archive-dev".into(),
        },
        "the table still holds 7 items, which would be lost".into(),
    );
    let plan = apply(&only_messages, &observed);
    let archive = plan.resource_changes.iter().find(|rc| rc.orphan).unwrap();
    assert!(
        archive
            .blocked
            .as_deref()
            .unwrap()
            .ends_with("apply --allow-data-loss deletes it anyway")
    );
    assert!(
        plan.refusals
            .blocked
            .as_deref()
            .unwrap()
            .contains("archive-dev")
    );
    let allowed = plan_with(&only_messages, &observed, |r| r.allow_data_loss = true);
    assert_eq!(allowed.refusals.first(), None);
}

#[test]
fn the_deletions_a_plan_makes_are_named_for_the_risk_reads() {
    let stack = stack(SYSTEM);
    let mut observed = applied(&stack);
    orphan(applied(&stack), "messages", &mut observed);
    let deletions: Vec<Deletion> = destroy(&stack, &observed).deletions().collect();
    assert_eq!(deletions.len(), 6);
    assert!(deletions.contains(&Deletion::Orphan {
        kind: "dynamodb_table",
        physical_id: "messages-dev".into()
    }));
    assert!(deletions.contains(&Deletion::Declared("role".into())));
    assert_eq!(apply(&stack, &applied(&stack)).deletions().count(), 0);
}

#[test]
fn what_an_orphan_would_lose_stays_with_that_orphan() {
    // A table and a function may share a name; the table's items block the table, not
    // the function (the guard once matched orphans by name alone).
    let full = stack(&SYSTEM.replace("name: messages-${env}", "name: processor-${env}"));
    let only_role = stack(
        "  role:
    type: iam_role
    name: processor-${env}
",
    );
    let mut observed = applied(&only_role);
    orphan(applied(&full), "messages", &mut observed);
    orphan(applied(&full), "processor", &mut observed);
    observed.at_risk.insert(
        Deletion::Orphan {
            kind: "dynamodb_table",
            physical_id: "processor-dev".into(),
        },
        "the table still holds 2 items, which would be lost".into(),
    );
    let plan = destroy(&only_role, &observed);
    let orphan_of = |kind: &str| {
        plan.resource_changes
            .iter()
            .find(|rc| rc.orphan && rc.kind == kind)
            .unwrap()
    };
    assert_eq!(orphan_of("lambda_function").physical_id, "processor-dev");
    assert_eq!(orphan_of("lambda_function").blocked, None);
    let table = orphan_of("dynamodb_table").blocked.as_deref().unwrap();
    assert!(table.contains("2 items"), "{table}");
}
