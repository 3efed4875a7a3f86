//! Terraform's everyday verbs on the default stack against the emulator: `--replace`
//! re-creates the one resource named (with a new id) and nothing else; a replacement
//! that loses data still needs --allow-replace; an unknown name is refused before any
//! request.

use crate::support::{Emulator, Live, cli, default_stack_in, run_default};
use std::path::Path;

const FUNCTION: &str = "cruddur-stream-processor-local";

/// The UUIDs of the function's mappings.
fn mappings(live: &Live) -> Vec<String> {
    let request = live
        .lambda
        .list_event_source_mappings()
        .function_name(FUNCTION);
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
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = default_stack_in(dir.path());
    let file = file.to_str().unwrap();
    for command in [&["plan"][..], &["apply", "--auto-approve"]] {
        let mut args = vec![
            "-f",
            file,
            "--env",
            "local",
            "--endpoint-url",
            "http://127.0.0.1:9",
        ];
        args.extend_from_slice(command);
        args.extend_from_slice(&["--replace", "trigger", "--replace", "triggr"]);
        let run = cli(&args, dir.path()).expect_code(1);
        assert!(
            run.stderr
                .contains("--replace triggr: the stack file declares no resource `triggr`"),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("reach"), "{}", run.stderr);
    }
}
