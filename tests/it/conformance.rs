//! Every request the tool sends is one AWS would accept. The emulator accepts much that AWS
//! refuses (lengths, patterns, enums, ranges, list sizes); tests/check_requests.py checks
//! each request the emulator recorded against the API models botocore publishes, parsed
//! with the emulator's own model-driven parsers. Checked over full lifecycles (apply, a
//! change, plan, drift, destroy) of the default stack and of a stack that sets every field
//! of every kind; and the check itself must catch a planted violation.

use crate::support::{Emulator, Live, StackFile, cli, default_stack_in, run_default};
use std::process::Command;

/// Every kind, every field. PKG is the tiny function's package.
const EVERY_FIELD: &str = "  table:
    type: dynamodb_table
    name: conf-table
    attributes: { pk: S, sk: N, g: S }
    key: { hash: pk, range: sk }
    billing_mode: PROVISIONED
    read_capacity: 2
    write_capacity: 2
    global_secondary_indexes:
      - name: by-g
        key: { hash: g, range: sk }
        projection: INCLUDE
        non_key_attributes: [body]
        read_capacity: 1
        write_capacity: 1
    stream: NEW_AND_OLD_IMAGES
    ttl_attribute: expires
    point_in_time_recovery: true
    deletion_protection: false
    table_class: STANDARD_INFREQUENT_ACCESS
    tags: { team: chat }
  queue:
    type: sqs_queue
    name: conf-queue
    message_retention_seconds: 86400
    visibility_timeout_seconds: 60
    encryption: sqs
  role:
    type: iam_role
    name: conf-role
    path: /conf/
    description: Runs the function that sets every field
    trusted_services: [lambda.amazonaws.com]
    max_session_duration: 7200
    managed_policies: [arn:aws:iam::aws:policy/service-role/AWSLambdaENIManagementAccess]
    permissions_boundary: arn:aws:iam::aws:policy/PowerUserAccess
    policies:
      main:
        - sid: Read
          actions: [dynamodb:Query]
          resources: [\"${table.arn}\", \"${table.arn}/index/*\"]
          conditions:
            StringEquals: { \"aws:RequestedRegion\": \"${aws.region}\" }
        - sid: Deny
          effect: Deny
          actions: [dynamodb:DeleteTable]
          resources: [\"${table.arn}\"]
  endpoint:
    type: vpc_gateway_endpoint
    service: dynamodb
    vpc: default
    policy:
      - sid: TableOnly
        actions: [dynamodb:GetItem, dynamodb:Query]
        resources: [\"${table.arn}\"]
  fn:
    type: lambda_function
    name: conf-fn
    code: PKG
    runtime: provided.al2023
    architecture: x86_64
    memory: 256
    timeout: 20
    role: ${role.arn}
    environment: { TABLE_NAME: \"${table.name}\", MODE: strict }
    vpc: { vpc: default }
    log_retention_days: 7
    reserved_concurrency: 2
    depends_on: [endpoint]
  trigger:
    type: event_source_mapping
    function: ${fn.name}
    source: ${table.stream_arn}
    starting_position: TRIM_HORIZON
    batch_size: 50
    batching_window_seconds: 2
    maximum_retry_attempts: 3
    maximum_record_age_seconds: 600
    bisect_on_error: true
    report_batch_item_failures: true
    enabled: true
    on_failure: ${queue.arn}
    filters:
      - { eventName: [INSERT, MODIFY] }
  alarm:
    type: cloudwatch_alarm
    name: conf-alarm
    description: The function failed.
    namespace: AWS/Lambda
    metric: Errors
    dimensions: { FunctionName: \"${fn.name}\" }
    statistic: Sum
    period: 60
    evaluation_periods: 2
    threshold: 1
    comparison: GreaterThanOrEqualToThreshold
    treat_missing_data: notBreaching
    alarm_actions: [\"arn:aws:sns:us-east-1:123456789012:conf-alerts\"]
";

/// Runs the checker over everything `emulator` recorded: its exit code and output.
fn check(emulator: &Emulator) -> (i32, String) {
    let out = Command::new(crate::support::emulator_python())
        .arg(crate::support::repo_root().join("tests/check_requests.py"))
        .arg(emulator.recording())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn every_request_of_a_lifecycle_is_valid_against_aws_s_models() {
    let emulator = Emulator::start();

    // The default stack: apply, a change, plan, drift, destroy.
    let dir = tempfile::tempdir().unwrap();
    let (file, text) = default_stack_in(dir.path());
    let run = |args: &[&str]| run_default(dir.path(), &file, &emulator.url, args);
    run(&["apply", "--auto-approve"]).expect_code(0);
    std::fs::write(
        &file,
        text.replace("    batch_size: 100\n", "    batch_size: 50\n")
            .replace("    memory: 128\n", "    memory: 256\n")
            .replace("  app: cruddur\n", "  app: cruddur\n  team: messaging\n"),
    )
    .unwrap();
    run(&["plan"]).expect_code(0);
    run(&["apply", "--auto-approve"]).expect_code(0);
    run(&["drift"]).expect_code(0);
    run(&["outputs"]).expect_code(0);
    run(&["destroy", "--auto-approve", "--allow-data-loss"]).expect_code(0);

    // Every field of every kind, the same way.
    let package = crate::support::repo_root().join("tests/fixtures/tiny-function");
    let every = EVERY_FIELD.replace("PKG", package.to_str().unwrap());
    let stack = StackFile::new("conformance", &emulator.url, &every);
    stack.run(&["apply", "--auto-approve"]).expect_code(0);
    stack.write(
        &every
            .replace("    batch_size: 50\n", "    batch_size: 20\n")
            .replace("    memory: 256\n", "    memory: 512\n")
            .replace("    threshold: 1\n", "    threshold: 2\n")
            .replace(
                "visibility_timeout_seconds: 60",
                "visibility_timeout_seconds: 90",
            )
            .replace(
                "    tags: { team: chat }\n",
                "    tags: { team: messaging }\n",
            ),
    );
    stack.run(&["apply", "--auto-approve"]).expect_code(0);
    stack.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    stack.run(&["drift"]).expect_code(0);
    stack
        .run(&["destroy", "--auto-approve", "--allow-data-loss"])
        .expect_code(0);
    let _ = cli(&["--version"], dir.path());

    let (code, report) = check(&emulator);
    assert_eq!(code, 0, "requests AWS would refuse:\n{report}");
    let checked: usize = report
        .lines()
        .last()
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(checked > 200, "only {checked} requests checked:\n{report}");

    // A planted violation of each sort is caught: a length, a pattern, a range.
    let live = Live::new(&emulator);
    let _ = live.block_on(live.iam.get_role().role_name("r".repeat(65)).send());
    let _ = live.block_on(live.iam.get_role().role_name("no spaces allowed").send());
    let _ = live.block_on(live.client.list_tables().limit(1000).send());
    let (code, report) = check(&emulator);
    assert_eq!(code, 1, "{report}");
    for expected in [
        "iam.GetRole RoleName: 65 characters, more than the maximum 64",
        "iam.GetRole RoleName: 'no spaces allowed' does not match",
        "dynamodb.ListTables Limit: 1000 is above the maximum 100",
    ] {
        assert!(
            report.contains(expected),
            "missing `{expected}` in:\n{report}"
        );
    }
    assert_eq!(report.lines().count(), 4, "{report}");
}
