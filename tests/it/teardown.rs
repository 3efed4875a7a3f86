//! What CI runs when a pull request closes, and what scripts read after an apply:
//! `destroy --auto-approve` guarded against data loss, and `outputs`.

use crate::support::{Emulator, Live, StackFile};

const TABLE: &str = "  messages:
    type: dynamodb_table
    name: NAME
    attributes: { pk: S, sk: S, message_group_uuid: S }
    key: { hash: pk, range: sk }
    global_secondary_indexes:
      - name: message-group-sk-index
        key: { hash: message_group_uuid, range: sk }
    stream: NEW_IMAGE
";

fn setup(test: &str, extra: &str) -> (Emulator, StackFile, Live, String) {
    let emulator = Emulator::start();
    let name = format!("msgs-{test}");
    let file = StackFile::new(
        test,
        &emulator.url,
        &format!("{}{extra}", TABLE.replace("NAME", &name)),
    );
    let live = Live::new(&emulator);
    file.run(&["apply", "--auto-approve"]).expect_code(0);
    (emulator, file, live, name)
}

#[test]
fn a_table_holding_items_needs_allow_data_loss_and_the_message_counts_them() {
    let (emulator, file, live, table) = setup("teardown-items", "");
    for i in 0..3 {
        live.put(&table, &format!("MSG#{i}"), "2024-01-01");
    }
    emulator.clear_requests();
    let run = file.run(&["destroy", "--auto-approve"]).expect_code(1);
    assert!(
        run.stderr.contains("the table still holds 3 items"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--allow-data-loss"), "{}", run.stderr);
    assert!(run.stderr.contains("Nothing was changed"), "{}", run.stderr);
    assert_eq!(emulator.mutating_requests(), Vec::<String>::new());
    assert_eq!(live.item_count(&table), 3);

    // plan --destroy shows the same block, and what the flag would allow.
    let run = file.run(&["plan", "--destroy"]).expect_code(0);
    assert!(run.stdout.contains("! blocked:"), "{}", run.stdout);
    let run = file
        .run(&["plan", "--destroy", "--allow-data-loss", "--output", "json"])
        .expect_code(0);
    let plan = run.json();
    let change = &plan["resource_changes"][0];
    assert!(change.get("blocked").is_none(), "{plan}");
    assert!(
        change["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("allowed by --allow-data-loss")),
        "{plan}"
    );

    file.run(&["destroy", "--auto-approve", "--allow-data-loss"])
        .expect_code(0);
    assert!(live.table(&table).is_none(), "the table is still there");
    // Idempotent: nothing left to do.
    let run = file.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert!(run.stdout.contains("does not exist"), "{}", run.stdout);
}

#[test]
fn deletion_protection_stops_destroy_until_allow_data_loss_lifts_it() {
    let (emulator, file, live, table) = setup("teardown-protected", "");
    file.write(&TABLE.replace("NAME", &table).replace(
        "    stream: NEW_IMAGE\n",
        "    stream: NEW_IMAGE\n    deletion_protection: true\n",
    ));
    file.run(&["apply", "--auto-approve"]).expect_code(0);
    emulator.clear_requests();
    let run = file.run(&["destroy", "--auto-approve"]).expect_code(1);
    assert!(
        run.stderr.contains("deletion protection is enabled"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("destroy --allow-data-loss deletes it anyway"),
        "{}",
        run.stderr
    );
    assert_eq!(emulator.mutating_requests(), Vec::<String>::new());

    emulator.clear_requests();
    file.run(&["destroy", "--auto-approve", "--allow-data-loss"])
        .expect_code(0);
    assert_eq!(
        emulator.mutating_requests(),
        ["UpdateTable", "DeleteTable"],
        "protection is lifted, then the table deleted"
    );
    assert!(live.table(&table).is_none());
}

#[test]
fn outputs_give_the_resolved_values_as_text_and_json() {
    let (emulator, file, live, table) = setup("outputs", "");
    let run = file.run(&["outputs", "--output", "json"]).expect_code(0);
    let json = run.json();
    let described = live.expect_table(&table);
    let messages = &json["outputs"]["messages"];
    assert_eq!(messages["name"], table.as_str());
    assert_eq!(messages["arn"], described.table_arn().unwrap());
    assert_eq!(
        messages["stream_arn"],
        described.latest_stream_arn().unwrap()
    );
    assert_eq!(messages["index_names"], "message-group-sk-index");
    assert_eq!(json["missing"], serde_json::json!([]));

    let run = file.run(&["outputs"]).expect_code(0);
    assert!(
        run.stdout.contains(&format!("messages.name\t{table}\n")),
        "{}",
        run.stdout
    );

    // Something not deployed: what exists is printed, and the exit code says it is
    // incomplete.
    emulator.clear_requests();
    file.write(&format!(
        "{}  extra:\n    type: dynamodb_table\n    name: {table}-extra\n    attributes: {{ pk: S }}\n    key: {{ hash: pk }}\n",
        TABLE.replace("NAME", &table)
    ));
    let run = file.run(&["outputs", "--output", "json"]).expect_code(1);
    assert_eq!(run.json()["missing"], serde_json::json!(["extra"]));
    assert!(run.stderr.contains("run apply first"), "{}", run.stderr);
    assert_eq!(emulator.mutating_requests(), Vec::<String>::new());
}

#[test]
fn plan_as_markdown_for_the_step_summary() {
    let emulator = Emulator::start();
    let file = StackFile::new(
        "markdown",
        &emulator.url,
        &TABLE.replace("NAME", "msgs-markdown"),
    );
    let run = file
        .run(&["plan", "--output", "markdown", "--detailed-exitcode"])
        .expect_code(2);
    assert!(
        run.stdout
            .starts_with("## Plan (apply): stack `markdown`, environment `test`"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("**Plan: 1 to add, 0 to change"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("<summary><code>+ dynamodb_table.messages</code> (msgs-markdown) will be created</summary>"),
        "{}",
        run.stdout
    );
    file.run(&["apply", "--auto-approve"]).expect_code(0);
    file.write(
        &TABLE
            .replace("NAME", "msgs-markdown")
            .replace("    stream: NEW_IMAGE\n", "    stream: KEYS_ONLY\n"),
    );
    let run = file.run(&["plan", "--output", "markdown"]).expect_code(0);
    assert!(
        run.stdout
            .contains("~ stream = \"NEW_IMAGE\" → \"KEYS_ONLY\""),
        "{}",
        run.stdout
    );
    file.write(&TABLE.replace("NAME", "msgs-markdown"));
    let run = file.run(&["plan", "--output", "markdown"]).expect_code(0);
    assert!(run.stdout.contains("No changes."), "{}", run.stdout);
}
