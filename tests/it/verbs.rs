//! Terraform's everyday verbs on the default stack against the emulator: `--replace`
//! re-creates the one resource named (with a new id) and nothing else; a replacement
//! that loses data still needs --allow-replace; `--target` limits apply to a resource and
//! what it needs, and destroy to a resource and what depends on it, orphans left alone;
//! an unknown name is refused before any request.

use crate::support::{Emulator, Live, cli, default_stack_in, run_default};
use std::path::Path;

const FUNCTION: &str = "cruddur-stream-processor-local";

/// The UUIDs of the mappings on the function's alias `live` (what the trigger invokes).
fn mappings(live: &Live) -> Vec<String> {
    let request = live
        .lambda
        .list_event_source_mappings()
        .function_name(format!("{FUNCTION}:live"));
    let out = live.block_on(request.send()).unwrap();
    out.event_source_mappings()
        .iter()
        .filter_map(|m| m.uuid.clone())
        .collect()
}

fn table_created(live: &Live) -> aws_smithy_types::DateTime {
    let request = live
        .client
        .describe_table()
        .table_name("cruddur-messages-local");
    let out = live.block_on(request.send()).unwrap();
    *out.table.unwrap().creation_date_time.as_ref().unwrap()
}

fn deployed(dir: &Path) -> (Emulator, Live, std::path::PathBuf) {
    let (file, _) = default_stack_in(dir);
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    run_default(dir, &file, &emulator.url, &["apply", "--auto-approve"]).expect_code(0);
    (emulator, live, file)
}

#[test]
fn replace_makes_anew_only_the_resource_named() {
    let dir = tempfile::tempdir().unwrap();
    let (emulator, live, file) = deployed(dir.path());
    let before = mappings(&live);
    assert_eq!(before.len(), 1, "{before:?}");
    let created = table_created(&live);

    let plan = run_default(
        dir.path(),
        &file,
        &emulator.url,
        &["plan", "--replace", "trigger"],
    );
    let plan = plan.expect_code(0).stdout;
    assert!(plan.contains("event_source_mapping.trigger"), "{plan}");
    assert!(plan.contains("--replace names it"), "{plan}");
    assert!(
        plan.contains("0 to add, 0 to change, 1 to replace, 0 to destroy"),
        "{plan}"
    );

    emulator.clear_requests();
    let args = ["apply", "--auto-approve", "--replace", "trigger"];
    run_default(dir.path(), &file, &emulator.url, &args).expect_code(0);
    let mut calls = emulator.mutating_requests();
    calls.retain(|c| !matches!(c.as_str(), "PutItem" | "UpdateItem" | "DeleteItem"));
    // Lambda's REST paths, as the emulator records them: the mapping deleted, then made.
    let only_the_mapping = calls.len() == 2
        && calls[0].starts_with("DELETE /2015-03-31/event-source-mappings/")
        && calls[1] == "POST /2015-03-31/event-source-mappings";
    assert!(only_the_mapping, "{calls:?}");
    let after = mappings(&live);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after, before, "the mapping kept its UUID");
    assert_eq!(table_created(&live), created, "the table was touched");
    run_default(
        dir.path(),
        &file,
        &emulator.url,
        &["plan", "--detailed-exitcode"],
    )
    .expect_code(0);
}

#[test]
fn replacing_a_table_on_request_still_needs_allow_replace() {
    let dir = tempfile::tempdir().unwrap();
    let (emulator, live, file) = deployed(dir.path());
    let created = table_created(&live);
    let args = ["apply", "--auto-approve", "--replace", "messages"];
    let run = run_default(dir.path(), &file, &emulator.url, &args).expect_code(1);
    assert!(
        run.stderr
            .contains("refusing to replace cruddur-messages-local"),
        "{}",
        run.stderr
    );
    assert_eq!(table_created(&live), created, "the table was replaced");
}

#[test]
fn an_unknown_name_to_replace_is_refused_before_any_request() {
    let commands = [&["plan"][..], &["apply", "--auto-approve"]];
    unknown_name_is_refused_before_any_request("--replace", "trigger", "triggr", &commands);
}

#[test]
fn an_unknown_name_to_target_is_refused_before_any_request() {
    let commands = [
        &["plan"][..],
        &["apply", "--auto-approve"],
        &["destroy", "--auto-approve"],
    ];
    unknown_name_is_refused_before_any_request("--target", "processor", "procesor", &commands);
}

/// Runs each of `commands` naming a declared resource and a misspelt one with `flag`,
/// against an endpoint nothing listens on: the misspelt name must be refused before any
/// request is attempted.
fn unknown_name_is_refused_before_any_request(
    flag: &str,
    known: &str,
    typo: &str,
    commands: &[&[&str]],
) {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = default_stack_in(dir.path());
    let file = file.to_str().unwrap();
    for command in commands {
        let mut args = vec![
            "-f",
            file,
            "--env",
            "local",
            "--endpoint-url",
            "http://127.0.0.1:9",
        ];
        args.extend_from_slice(command);
        args.extend_from_slice(&[flag, known, flag, typo]);
        let run = cli(&args, dir.path()).expect_code(1);
        let refusal = format!("{flag} {typo}: the stack file declares no resource `{typo}`");
        assert!(run.stderr.contains(&refusal), "{command:?}: {}", run.stderr);
        let hint = format!("hint: did you mean `{known}`?");
        assert!(run.stderr.contains(&hint), "{command:?}: {}", run.stderr);
        assert!(!run.stderr.contains("reach"), "{}", run.stderr);
    }
}

fn memory(live: &Live) -> i32 {
    let request = live
        .lambda
        .get_function_configuration()
        .function_name(FUNCTION);
    live.block_on(request.send()).unwrap().memory_size.unwrap()
}

fn alarm_exists(live: &Live, name: &str) -> bool {
    let request = live.cloudwatch.describe_alarms().alarm_names(name);
    !live
        .block_on(request.send())
        .unwrap()
        .metric_alarms()
        .is_empty()
}

#[test]
fn apply_target_changes_that_resource_and_what_it_needs_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let (emulator, live, file) = deployed(dir.path());
    // Three changes in the file: the function's memory, the threshold of an alarm the
    // function does not need (it watches the queue), and an alarm taken out (an orphan
    // now). What the function needs (its role, the queue the role names) comes along.
    let text = std::fs::read_to_string(&file).unwrap();
    let watched = "    dimensions: { QueueName: \"${processor_failures.name}\" }\n    statistic: Maximum\n    threshold: ";
    let text = text
        .replace("    memory: 128\n", "    memory: 256\n")
        .replace(&format!("{watched}0\n"), &format!("{watched}5\n"));
    let cut = text.find("  processor_behind:\n").unwrap();
    let end = text[cut..].find("\n\n").map_or(text.len(), |e| cut + e + 2);
    std::fs::write(&file, format!("{}{}", &text[..cut], &text[end..])).unwrap();

    let args = ["apply", "--auto-approve", "--target", "processor"];
    let run = run_default(dir.path(), &file, &emulator.url, &args).expect_code(0);
    assert!(
        run.stdout
            .contains("Warning: --target limits this plan to processor and what they depend on"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("records_given_up"), "{}", run.stdout);
    assert!(
        run.stdout.contains("iam_role.processor_role"),
        "{}",
        run.stdout
    );
    assert_eq!(memory(&live), 256);
    assert!(
        alarm_exists(&live, "cruddur-processor-behind-local"),
        "the orphan went under --target"
    );
    // The rest is still to do.
    let plan = run_default(dir.path(), &file, &emulator.url, &["plan"]).expect_code(0);
    assert!(plan.stdout.contains("~ threshold"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("no longer in the stack file"),
        "{}",
        plan.stdout
    );
    assert!(
        !plan
            .stdout
            .contains("lambda_function.processor (cruddur-stream-processor-local) will be updated"),
        "{}",
        plan.stdout
    );
}

#[test]
fn destroy_target_deletes_that_resource_and_what_depends_on_it_only() {
    let dir = tempfile::tempdir().unwrap();
    let (emulator, live, file) = deployed(dir.path());
    let args = ["destroy", "--auto-approve", "--target", "trigger"];
    let run = run_default(dir.path(), &file, &emulator.url, &args).expect_code(0);
    assert!(
        run.stdout.contains("what depends on them"),
        "{}",
        run.stdout
    );
    assert!(mappings(&live).is_empty(), "the mapping is still there");
    assert_eq!(memory(&live), 128, "the function went too");
    assert!(
        live.lock_item("cruddur/local#index").is_some(),
        "the stack's index went"
    );
    // Only the mapping is missing now.
    let plan = run_default(dir.path(), &file, &emulator.url, &["plan"]).expect_code(0);
    assert!(
        plan.stdout
            .contains("1 to add, 0 to change, 0 to replace, 0 to destroy"),
        "{}",
        plan.stdout
    );

    // Targeting the function takes the mapping on it too.
    run_default(
        dir.path(),
        &file,
        &emulator.url,
        &["apply", "--auto-approve"],
    )
    .expect_code(0);
    let args = ["plan", "--destroy", "--target", "processor"];
    let plan = run_default(dir.path(), &file, &emulator.url, &args).expect_code(0);
    for shown in [
        "- event_source_mapping.trigger",
        "- lambda_function.processor",
        "- cloudwatch_alarm.processor_errors",
    ] {
        assert!(plan.stdout.contains(shown), "{shown}: {}", plan.stdout);
    }
    assert!(
        !plan.stdout.contains("dynamodb_table.messages"),
        "{}",
        plan.stdout
    );
}

/// Every line of `stdout` as JSON, each checked against `schema/progress.schema.json`.
fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    json_lines_of("progress", stdout)
}

/// Every line of `stdout` as JSON, each checked against `schema/<schema>.schema.json`.
pub(crate) fn json_lines_of(schema: &str, stdout: &str) -> Vec<serde_json::Value> {
    let path = format!("{}/schema/{schema}.schema.json", env!("CARGO_MANIFEST_DIR"));
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    stdout
        .lines()
        .map(|line| {
            let event: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            let errors: Vec<String> = validator
                .iter_errors(&event)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{line}: {errors:?}");
            event
        })
        .collect()
}

#[test]
fn apply_and_destroy_stream_events_as_json_lines() {
    let f = crate::support::Fixture::new(
        "json-events",
        "  failures:\n    type: sqs_queue\n    name: failures-${env}\n",
    );
    let refused = f.file.run(&["apply", "--output", "json"]).expect_code(1);
    assert!(
        refused.stderr.contains("--auto-approve"),
        "{}",
        refused.stderr
    );
    let refused = f.file.run(&["destroy", "--output", "json"]).expect_code(1);
    assert!(
        refused
            .stderr
            .contains("--output json needs --auto-approve: a question would break"),
        "{}",
        refused.stderr
    );

    let run = f
        .file
        .run(&["apply", "--auto-approve", "--output", "json"])
        .expect_code(0);
    let events = json_lines(&run.stdout);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"plan"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"summary"), "{kinds:?}");
    assert_eq!(events[0]["plan"]["summary"]["create"], 1);
    let queue = |e: &&serde_json::Value| e["resource"] == "sqs_queue.failures";
    let steps: Vec<&serde_json::Value> = events.iter().filter(queue).collect();
    assert_eq!(steps[0]["event"], "started");
    assert_eq!(steps[0]["action"], "creating");
    assert_eq!(steps.last().unwrap()["event"], "done");
    assert!(steps.last().unwrap()["elapsed_ms"].is_u64());
    assert_eq!(events.last().unwrap()["added"], 1);
    assert!(
        f.live
            .block_on(
                f.live
                    .sqs
                    .get_queue_url()
                    .queue_name("failures-test")
                    .send()
            )
            .is_ok()
    );

    let run = f
        .file
        .run(&["destroy", "--auto-approve", "--output", "json"])
        .expect_code(0);
    let events = json_lines(&run.stdout);
    assert_eq!(events.last().unwrap()["event"], "summary");
    assert_eq!(events.last().unwrap()["operation"], "destroy");
    assert_eq!(events.last().unwrap()["destroyed"], 1);
}
