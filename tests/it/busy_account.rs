//! A real account is busy: other teams' roles, tables, queues, functions, mappings and
//! endpoints, some tagged as other stacks', some as another environment of this stack.
//! Finding this stack's orphans reads only what is its own (the stack's index for roles
//! and mappings, filters AWS applies for the rest), finds what a killed run left behind,
//! and touches nothing else.

use crate::support::busy::{self, Crowd};
use crate::support::{Emulator, Live, StackFile, cli_command, ddb};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Small enough to seed in a second or two, big enough that reading it all would show.
const CROWD: Crowd = Crowd {
    roles: 60,
    tables: 6,
    queues: 6,
    functions: 5,
    endpoints: 3,
};

/// A table with a stream, two roles, the tiny function and its trigger, and an endpoint.
fn stack(spare: bool) -> String {
    let package = crate::support::repo_root().join("tests/fixtures/tiny-function");
    let mut text = format!(
        "  messages:
    type: dynamodb_table
    name: busy-messages
    attributes: {{ pk: S }}
    key: {{ hash: pk }}
    stream: NEW_IMAGE
  role:
    type: iam_role
    name: busy-role
    trusted_services: [lambda.amazonaws.com]
  fn:
    type: lambda_function
    name: busy-fn
    code: {}
    role: ${{role.arn}}
",
        package.display()
    );
    if spare {
        text.push_str(
            "  spare_role:
    type: iam_role
    name: busy-spare-role
  trigger:
    type: event_source_mapping
    function: ${fn.name}
    source: ${messages.stream_arn}
  endpoint:
    type: vpc_gateway_endpoint
    service: dynamodb
    vpc: default
",
        );
    }
    text
}

/// How many event source mappings `function` has.
fn mappings_of(live: &Live, function: &str) -> usize {
    let request = live
        .lambda
        .list_event_source_mappings()
        .function_name(function);
    live.block_on(request.send())
        .unwrap()
        .event_source_mappings()
        .len()
}

#[test]
fn an_orphan_in_a_busy_account_is_found_and_deleted_and_nothing_else_is_touched() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    // Among the crowd: resources tagged as this stack's `prod` environment.
    busy::seed(&live, CROWD, "busy");
    let before = busy::snapshot(&live);
    let file = StackFile::new("busy", &emulator.url, &stack(true));
    file.run(&["apply", "--auto-approve"]).expect_code(0);
    assert_eq!(mappings_of(&live, "busy-fn"), 1);

    // The spare role, the trigger and the endpoint leave the file: orphans.
    file.write(&stack(false));
    emulator.clear_requests();
    let plan = file
        .run(&["plan", "--output", "json"])
        .expect_code(0)
        .json();
    let orphans: Vec<String> = plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["orphan"] == true && c["action"] == "delete")
        .map(|c| c["type"].as_str().unwrap().to_string())
        .collect();
    let mut expected = vec![
        "event_source_mapping".to_string(),
        "iam_role".to_string(),
        "vpc_gateway_endpoint".to_string(),
    ];
    let mut found = orphans.clone();
    found.sort();
    expected.sort();
    assert_eq!(found, expected, "{plan:#}");

    // What the plan read: nothing per foreign resource, no account-wide listing.
    let requests = emulator.requests();
    let calls = |op: &str| requests.iter().filter(|r| r.operation == op).count();
    assert_eq!(calls("ListRoles"), 0, "{requests:#?}");
    assert_eq!(calls("ListRoleTags"), 0, "{requests:#?}");
    for r in &requests {
        if r.operation.contains("event-source-mappings") && r.operation.starts_with("GET") {
            assert!(
                r.call.contains("FunctionName=busy-fn"),
                "unfiltered: {}",
                r.call
            );
        }
        if r.operation == "DescribeVpcEndpoints" {
            assert!(r.call.contains("Filter"), "unfiltered: {}", r.call);
        }
    }
    assert!(
        requests.len() < 40,
        "a plan of a 6-resource stack sent {} requests",
        requests.len()
    );

    file.run(&["apply", "--auto-approve"]).expect_code(0);
    assert!(live.role("busy-spare-role").is_none());
    assert!(live.role("busy-role").is_some());
    assert_eq!(mappings_of(&live, "busy-fn"), 0);
    assert_eq!(
        busy::snapshot(&live),
        before,
        "someone else's resources changed"
    );
    file.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

/// Applies `file`, killing the process (SIGKILL) as soon as the emulator has received a
/// request `is_it` picks out; lifts the lock the killed run leaves, as an operator would.
fn apply_killed_after(emulator: &Emulator, live: &Live, file: &StackFile, is_it: fn(&str) -> bool) {
    emulator.clear_requests();
    let path = file.path();
    let mut child = cli_command(
        &[
            "-f",
            path.to_str().unwrap(),
            "--env",
            "test",
            "apply",
            "--auto-approve",
        ],
        path.parent().unwrap(),
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let started = Instant::now();
    while !emulator.requests().iter().any(|r| is_it(&r.operation)) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the apply ended before the create"
        );
        assert!(started.elapsed() < Duration::from_secs(120), "apply hung");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = live.block_on(
        live.client
            .delete_item()
            .table_name("cruddur-infra-locks")
            .key(
                "lock_id",
                ddb::AttributeValue::S(format!("{}/test", file.stack)),
            )
            .send(),
    );
}

#[test]
fn an_orphan_left_by_a_run_killed_right_after_its_create_is_found() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let table = "  messages:\n    type: dynamodb_table\n    name: killed-messages\n    attributes: { pk: S }\n    key: { hash: pk }\n    stream: NEW_IMAGE\n";
    let file = StackFile::new("killed", &emulator.url, table);
    file.run(&["apply", "--auto-approve"]).expect_code(0);

    // Killed right after CreateRole: the role exists, the run never finished.
    file.write(&format!(
        "{table}  role:\n    type: iam_role\n    name: killed-role\n    trusted_services: [lambda.amazonaws.com]\n"
    ));
    apply_killed_after(&emulator, &live, &file, |op| op == "CreateRole");
    assert!(live.role("killed-role").is_some());
    // Then the role leaves the file: the next plan finds it as an orphan.
    file.write(table);
    let plan = file.run(&["plan", "--no-color"]).expect_code(0);
    assert!(
        plan.stdout
            .contains("iam_role.role (killed-role) will be destroyed"),
        "{}",
        plan.stdout
    );
    file.run(&["apply", "--auto-approve"]).expect_code(0);
    assert!(live.role("killed-role").is_none());

    // Killed right after CreateEventSourceMapping, the same way.
    let package = crate::support::repo_root().join("tests/fixtures/tiny-function");
    let function = format!(
        "  role:\n    type: iam_role\n    name: killed-fn-role\n    trusted_services: [lambda.amazonaws.com]\n  fn:\n    type: lambda_function\n    name: killed-fn\n    code: {}\n    role: ${{role.arn}}\n",
        package.display()
    );
    file.write(&format!("{table}{function}"));
    file.run(&["apply", "--auto-approve"]).expect_code(0);
    file.write(&format!(
        "{table}{function}  trigger:\n    type: event_source_mapping\n    function: ${{fn.name}}\n    source: ${{messages.stream_arn}}\n"
    ));
    apply_killed_after(&emulator, &live, &file, |op| {
        op.starts_with("POST") && op.contains("event-source-mappings")
    });
    assert_eq!(mappings_of(&live, "killed-fn"), 1);
    file.write(&format!("{table}{function}"));
    let plan = file.run(&["plan", "--no-color"]).expect_code(0);
    assert!(
        plan.stdout.contains("event_source_mapping.trigger"),
        "{}",
        plan.stdout
    );
    file.run(&["apply", "--auto-approve"]).expect_code(0);
    assert_eq!(mappings_of(&live, "killed-fn"), 0);
    file.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

/// Resources made before the stack had an index (by an earlier version) are still found:
/// with no index, and something of the stack in the account, a plan looks through the
/// account once; the next apply writes the index, and plans after it read only that.
#[test]
fn an_environment_made_before_the_index_is_scanned_once_then_indexed() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    busy::seed(&live, Crowd { roles: 20, ..CROWD }, "old");
    let two_roles = "  messages:\n    type: dynamodb_table\n    name: old-messages\n    attributes: { pk: S }\n    key: { hash: pk }\n  role:\n    type: iam_role\n    name: old-role\n  spare:\n    type: iam_role\n    name: old-spare-role\n";
    let file = StackFile::new("old", &emulator.url, two_roles);
    file.run(&["apply", "--auto-approve"]).expect_code(0);
    // As an earlier version leaves it: no index.
    live.block_on(
        live.client
            .delete_item()
            .table_name("cruddur-infra-locks")
            .key("lock_id", ddb::AttributeValue::S("old/test#index".into()))
            .send(),
    )
    .unwrap();
    file.write(&two_roles.replace(
        "  spare:\n    type: iam_role\n    name: old-spare-role\n",
        "",
    ));
    emulator.clear_requests();
    let plan = file.run(&["plan", "--no-color"]).expect_code(0);
    assert!(plan.stderr.contains("has no index"), "{}", plan.stderr);
    assert!(
        plan.stdout
            .contains("iam_role.spare (old-spare-role) will be destroyed"),
        "{}",
        plan.stdout
    );
    assert!(
        emulator
            .requests()
            .iter()
            .any(|r| r.operation == "ListRoles")
    );

    file.run(&["apply", "--auto-approve"]).expect_code(0);
    assert!(live.role("old-spare-role").is_none());
    emulator.clear_requests();
    let plan = file.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    assert!(!plan.stderr.contains("has no index"), "{}", plan.stderr);
    let requests = emulator.requests();
    assert!(
        !requests
            .iter()
            .any(|r| r.operation == "ListRoles" || r.operation == "ListRoleTags"),
        "{requests:#?}"
    );
}

/// What a plan cannot see without an index: an orphan role made by an earlier version in
/// an environment where nothing else of the stack is left. `--deep-scan` looks through the
/// whole account and finds it.
#[test]
fn deep_scan_finds_what_no_index_points_to() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let file = StackFile::new(
        "deep",
        &emulator.url,
        "  role:\n    type: iam_role\n    name: deep-role\n",
    );
    file.run(&["apply", "--auto-approve"]).expect_code(0);
    live.block_on(
        live.client
            .delete_item()
            .table_name("cruddur-infra-locks")
            .key("lock_id", ddb::AttributeValue::S("deep/test#index".into()))
            .send(),
    )
    .unwrap();
    file.write("  messages:\n    type: dynamodb_table\n    name: deep-messages\n    attributes: { pk: S }\n    key: { hash: pk }\n");
    let plan = file.run(&["plan"]).expect_code(0);
    assert!(!plan.stdout.contains("deep-role"), "{}", plan.stdout);
    let plan = file.run(&["plan", "--deep-scan"]).expect_code(0);
    assert!(
        plan.stdout
            .contains("iam_role.role (deep-role) will be destroyed"),
        "{}",
        plan.stdout
    );
    file.run(&["apply", "--auto-approve", "--deep-scan"])
        .expect_code(0);
    assert!(live.role("deep-role").is_none());
}
