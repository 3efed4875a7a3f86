//! What people read, checked as text: plans (text, Markdown, JSON) of a create, an update
//! (an index added, capacity changed, a statement narrowed, a subnet removed), a
//! replacement and a destroy, a topic's subscriptions changed, and a drift report, each
//! against a file in `tests/golden/`.
//!
//! After an intended change of the output, rewrite the files and review the diff:
//! `UPDATE_GOLDEN=1 cargo test --lib golden`.

use super::*;
use crate::render::{self, Styles, drift};

/// The default stack's shape, with provisioned capacity and explicit subnets.
const GOLDEN: &str = "  messages:
    type: dynamodb_table
    name: messages-${env}
    attributes: { pk: S, sk: S, message_group_uuid: S }
    key: { hash: pk, range: sk }
    billing_mode: PROVISIONED
    read_capacity: 5
    write_capacity: 5
    global_secondary_indexes:
      - name: message-group-sk-index
        key: { hash: message_group_uuid, range: sk }
        read_capacity: 5
        write_capacity: 5
    stream: NEW_IMAGE
  role:
    type: iam_role
    name: processor-${env}
    policies:
      processor:
        - sid: FindConversations
          actions: [dynamodb:Query]
          resources: [\"${messages.arn}\", \"${messages.arn}/index/*\"]
        - sid: ReadTheStream
          actions: [dynamodb:GetRecords, dynamodb:GetShardIterator]
          resources: [\"${messages.stream_arn}\"]
  processor:
    type: lambda_function
    name: processor-${env}
    code: tests/fixtures/tiny-function
    role: ${role.arn}
    environment:
      TABLE_NAME: ${messages.name}
    vpc:
      subnet_ids: [subnet-0a1b2c3d, subnet-1a2b3c4d]
  trigger:
    type: event_source_mapping
    function: ${processor.name}
    source: ${messages.stream_arn}
    starting_position: LATEST
";

/// The file changed: capacity up, an index added, the statement narrowed to the index.
fn golden_update() -> String {
    GOLDEN
        .replace("    read_capacity: 5\n    write_capacity: 5\n    global", "    read_capacity: 10\n    write_capacity: 5\n    global")
        .replace(
            "    stream: NEW_IMAGE\n",
            "      - name: by-user\n        key: { hash: pk, range: message_group_uuid }\n        projection: KEYS_ONLY\n        read_capacity: 1\n        write_capacity: 1\n    stream: NEW_IMAGE\n",
        )
        .replace(
            "resources: [\"${messages.arn}\", \"${messages.arn}/index/*\"]",
            "resources: [\"${messages.arn}/index/message-group-sk-index\"]",
        )
}

/// Compares `actual` with `tests/golden/<name>`, or rewrites the file with UPDATE_GOLDEN.
fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; write it with UPDATE_GOLDEN=1 cargo test --lib golden",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{name} is not what tests/golden/{name} says. If the change is intended, run \
         UPDATE_GOLDEN=1 cargo test --lib golden and review the diff.\n--- actual\n{actual}"
    );
}

/// The plan in all three forms.
fn golden_plan(name: &str, plan: &Plan) {
    golden(
        &format!("{name}.txt"),
        &render::plan_text(plan, &Styles::new(false)),
    );
    golden(&format!("{name}.md"), &render::plan_markdown(plan));
    golden(
        &format!("{name}.json"),
        &(serde_json::to_string_pretty(plan).unwrap() + "\n"),
    );
}

#[test]
fn a_first_plan() {
    let stack = stack(GOLDEN);
    golden_plan("create", &apply(&stack, &nothing(&stack)));
}

#[test]
fn an_update() {
    let before = stack(GOLDEN);
    let after = stack(&golden_update());
    let mut observed = applied(&before);
    // A subnet the file no longer lists.
    let function = observed.resources.functions.get_mut("processor").unwrap();
    let vpc = function.live.as_mut().unwrap().state.vpc.as_mut().unwrap();
    vpc.subnet_ids.insert("subnet-2b3c4d5e".into());
    let plan = apply(&after, &observed);
    assert_eq!(plan.summary.update, 3, "{:#?}", plan.resource_changes);
    golden_plan("update", &plan);
}

#[test]
fn a_replacement() {
    let before = stack(GOLDEN);
    let after = stack(&GOLDEN.replace(
        "range: sk }\n    billing",
        "range: message_group_uuid }\n    billing",
    ));
    let plan = plan_with(&after, &applied(&before), |r| r.allow_replace = true);
    assert_eq!(change(&plan, "messages").action, Action::Replace);
    golden_plan("replace", &plan);
}

#[test]
fn a_destroy() {
    let stack = stack(GOLDEN);
    golden_plan("destroy", &destroy(&stack, &applied(&stack)));
}

#[test]
fn a_drift_report() {
    let stack = stack(GOLDEN);
    let mut observed = applied(&stack);
    // Out of band: capacity raised, a tag added, the mapping disabled by AWS.
    let table = observed.resources.tables.get_mut("messages").unwrap();
    let live = table.live.as_mut().unwrap();
    live.state.write_capacity = Some(7);
    live.state.tags.insert("owner".into(), "someone".into());
    let trigger = observed.resources.triggers.get_mut("trigger").unwrap();
    let live = trigger.live.as_mut().unwrap();
    live.state.settings.enabled = false;
    live.status = "Disabled".into();
    let report = drift::Report {
        format_version: drift::FORMAT_VERSION,
        stack: stack.name.clone(),
        environments: vec![drift::from_plan(&apply(&stack, &observed))],
    };
    golden("drift.txt", &drift::text(&report));
    golden("drift.md", &drift::markdown(&report));
    golden(
        "drift.json",
        &(serde_json::to_string_pretty(&report).unwrap() + "\n"),
    );
}

/// A topic that alarms notify, with a queue and an address subscribed.
const TOPIC: &str = "  alerts:
    type: sns_topic
    name: alerts-${env}
    subscriptions:
      - { protocol: email, endpoint: oncall@example.com }
      - { protocol: sqs, endpoint: \"${inbox.arn}\" }
  inbox:
    type: sqs_queue
    name: inbox-${env}
";

#[test]
fn a_topics_subscriptions_change() {
    let before = stack(TOPIC);
    let after = stack(&TOPIC.replace(
        "oncall@example.com",
        "pager@example.com }\n      - { protocol: lambda, endpoint: \"arn:aws:lambda:us-east-1:123456789012:function:notify\"",
    ));
    let mut observed = applied(&before);
    // The address has not confirmed yet: SNS lists it as pending, with no ARN.
    let topic = observed.resources.topics.get_mut("alerts").unwrap();
    let live = topic.live.as_mut().unwrap();
    live.confirmed
        .retain(|subscribed, _| subscribed.protocol != "email");
    let plan = apply(&after, &observed);
    assert_eq!(change(&plan, "alerts").action, Action::Update);
    golden_plan("topic", &plan);
}
