//! Orphans: resources tagged as this stack's and environment's that the file no longer
//! declares. Plan shows them as deletions, apply removes them, destroy removes everything
//! tagged even after the file changed. Found by their tags in AWS, never from local state.

use crate::support::{Emulator, Live, StackFile};

fn table(logical: &str, name: &str) -> String {
    format!(
        "  {logical}:\n    type: dynamodb_table\n    name: {name}\n    attributes: {{ pk: S }}\n    key: {{ hash: pk }}\n"
    )
}

#[test]
fn a_removed_or_renamed_table_is_an_orphan_that_apply_deletes() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let file = StackFile::new(
        "orphans",
        &emulator.url,
        &(table("messages", "orph-messages") + &table("archive", "orph-archive")),
    );
    file.run(&["apply", "--auto-approve"]).expect_code(0);

    // `archive` leaves the file; `messages` gets a new physical name.
    file.write(&table("messages", "orph-messages-v2"));
    let run = file.run(&["plan", "--detailed-exitcode"]).expect_code(2);
    assert!(
        run.stdout
            .contains("- dynamodb_table.archive (orph-archive) will be destroyed"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("- dynamodb_table.messages (orph-messages) will be destroyed"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("no longer in the stack file"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("+ dynamodb_table.messages (orph-messages-v2) will be created"),
        "{}",
        run.stdout
    );
    let json = file
        .run(&["plan", "--output", "json"])
        .expect_code(0)
        .json();
    let orphans: Vec<&serde_json::Value> = json["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["orphan"] == true)
        .collect();
    assert_eq!(orphans.len(), 2, "{json:#}");

    // An orphan that still holds items is not deleted without --allow-data-loss.
    live.put("orph-archive", "GRP#1", "x");
    let run = file.run(&["apply", "--auto-approve"]).expect_code(1);
    assert!(run.stderr.contains("holds 1 item"), "{}", run.stderr);
    assert!(
        run.stderr.contains("apply --allow-data-loss"),
        "{}",
        run.stderr
    );
    assert!(live.table("orph-archive").is_some());

    file.run(&["apply", "--auto-approve", "--allow-data-loss"])
        .expect_code(0);
    assert!(
        live.table("orph-archive").is_none(),
        "the removed table is still there"
    );
    assert!(
        live.table("orph-messages").is_none(),
        "the renamed table's old one is still there"
    );
    assert!(live.table("orph-messages-v2").is_some());
    let run = file.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    assert!(run.stdout.contains("No changes."), "{}", run.stdout);
}

#[test]
fn another_environment_s_resources_are_never_orphans() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let file = StackFile::new("orph-env", &emulator.url, "");
    file.write_raw(&format!(
        "stack: orph-env\nenvironments:\n  a:\n    emulator: {url}\n  b:\n    emulator: {url}\nresources:\n{}",
        table("messages", "orph-env-${env}"),
        url = emulator.url
    ));
    let path = file.path();
    let run = |args: &[&str]| {
        let mut all = vec!["-f", path.to_str().unwrap(), "--no-color"];
        all.extend_from_slice(args);
        crate::support::cli(&all, std::path::Path::new("/"))
    };
    run(&["--env", "a", "apply", "--auto-approve"]).expect_code(0);
    run(&["--env", "b", "apply", "--auto-approve"]).expect_code(0);
    run(&["--env", "a", "plan", "--detailed-exitcode"]).expect_code(0);
    run(&["--env", "a", "destroy", "--auto-approve"]).expect_code(0);
    assert!(live.table("orph-env-a").is_none());
    assert!(live.table("orph-env-b").is_some(), "destroying a touched b");
}

#[test]
fn destroy_removes_everything_tagged_even_after_the_file_changed() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let package = crate::support::repo_root().join("tests/fixtures/tiny-function");
    let full = format!(
        "{}    stream: NEW_IMAGE
  role:
    type: iam_role
    name: orph-role
  endpoint:
    type: vpc_gateway_endpoint
    service: dynamodb
  fn:
    type: lambda_function
    name: orph-fn
    code: {}
    role: ${{role.arn}}
  trigger:
    type: event_source_mapping
    function: ${{fn.name}}
    source: ${{messages.stream_arn}}
",
        table("messages", "orph-all"),
        package.display()
    );
    let file = StackFile::new("orph-teardown", &emulator.url, &full);
    file.run(&["apply", "--auto-approve"]).expect_code(0);

    // The file now declares something else entirely.
    file.write(&table("other", "orph-other"));
    let run = file.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert!(
        run.stdout.contains("no longer in the stack file"),
        "{}",
        run.stdout
    );
    assert!(live.table("orph-all").is_none(), "table left behind");
    assert!(
        live.block_on(live.iam.get_role().role_name("orph-role").send())
            .is_err(),
        "role left behind"
    );
    assert!(
        live.block_on(live.lambda.get_function().function_name("orph-fn").send())
            .is_err(),
        "function left behind"
    );
    let mappings = live
        .block_on(live.lambda.list_event_source_mappings().send())
        .unwrap();
    assert!(
        mappings.event_source_mappings().is_empty(),
        "mapping left behind"
    );
    assert!(live.endpoints().is_empty(), "endpoint left behind");
    let groups = live
        .block_on(live.logs.describe_log_groups().send())
        .unwrap();
    assert!(groups.log_groups().is_empty(), "log group left behind");
    // And again: nothing left to do.
    file.run(&["destroy", "--auto-approve"]).expect_code(0);
}
