//! A backup before a table goes: destroying or replacing a table that holds items keeps an
//! on-demand backup first (named as the stack's, AVAILABLE before the table is deleted),
//! says its ARN (text and JSON events), and the backup restores the items; `--no-backup`
//! opts out; an empty table needs none; the tool never takes a backup for an orphan.

use crate::support::{Emulator, Live, StackFile, ddb};

const TABLE: &str = "  messages:
    type: dynamodb_table
    name: NAME
    attributes: { pk: S, sk: S }
    key: { hash: pk, range: sk }
";

fn backups(live: &Live, table: &str) -> Vec<ddb::BackupSummary> {
    let out = live
        .block_on(live.client.list_backups().table_name(table).send())
        .unwrap();
    out.backup_summaries.unwrap_or_default()
}

/// A stack of one table on `emulator`, applied, holding `items` items.
fn table_with_items(test: &str, emulator: &Emulator, items: usize) -> (StackFile, Live, String) {
    let name = format!("msgs-{test}");
    let file = StackFile::new(test, &emulator.url, &TABLE.replace("NAME", &name));
    file.run(&["apply", "--auto-approve"]).expect_code(0);
    let live = Live::new(emulator);
    for i in 0..items {
        live.put(&name, &format!("MSG#{i}"), "2026-12-07T10:00:00Z");
    }
    (file, live, name)
}

#[test]
fn a_table_that_holds_items_is_kept_in_a_backup_before_destroy_and_restores() {
    let emulator = Emulator::start();
    let (file, live, table) = table_with_items("kept", &emulator, 3);
    let run = file
        .run(&["destroy", "--auto-approve", "--allow-data-loss"])
        .expect_code(0);
    assert!(live.table(&table).is_none());
    let kept = backups(&live, &table);
    assert_eq!(kept.len(), 1, "{kept:?}");
    let backup = &kept[0];
    assert_eq!(backup.backup_status, Some(ddb::BackupStatus::Available));
    let name = backup.backup_name.as_deref().unwrap();
    assert!(
        name.starts_with(&format!("{table}.kept-test.before-delete.")),
        "{name}"
    );
    let arn = backup.backup_arn.clone().unwrap();
    assert!(run.stdout.contains("Backups kept"), "{}", run.stdout);
    assert!(run.stdout.contains(&arn), "{}", run.stdout);
    assert!(
        run.stderr.contains(&format!("kept a backup: {arn}")),
        "{}",
        run.stderr
    );

    // Restored as the docs say, it holds the items.
    live.block_on(
        live.client
            .restore_table_from_backup()
            .target_table_name("restored")
            .backup_arn(&arn)
            .send(),
    )
    .unwrap();
    assert_eq!(live.item_count("restored"), 3);

    // The backup is no orphan: the next plan only makes the table again.
    let plan = file.run(&["plan"]).expect_code(0);
    assert!(
        plan.stdout
            .contains("Plan: 1 to add, 0 to change, 0 to replace, 0 to destroy."),
        "{}",
        plan.stdout
    );
}

#[test]
fn the_backup_is_in_the_json_events_and_no_backup_opts_out() {
    let emulator = Emulator::start();
    let (file, live, table) = table_with_items("json", &emulator, 2);
    let run = file
        .run(&[
            "destroy",
            "--auto-approve",
            "--allow-data-loss",
            "--output",
            "json",
        ])
        .expect_code(0);
    let events: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let arn = backups(&live, &table)[0].backup_arn.clone().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "kept" && e["backup_arn"] == arn.as_str()),
        "{events:?}"
    );
    let summary = events.last().unwrap();
    assert_eq!(summary["backups_kept"][0], arn.as_str(), "{summary}");

    // --no-backup: the table goes with nothing kept.
    let (file, live, table) = table_with_items("none", &emulator, 2);
    file.run(&[
        "destroy",
        "--auto-approve",
        "--allow-data-loss",
        "--no-backup",
    ])
    .expect_code(0);
    assert!(live.table(&table).is_none());
    assert!(backups(&live, &table).is_empty());
}

#[test]
fn an_empty_table_needs_no_backup_and_a_replaced_one_is_kept() {
    let emulator = Emulator::start();
    let (file, live, table) = table_with_items("empty", &emulator, 0);
    file.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert!(backups(&live, &table).is_empty());

    // A table replaced (its key changes) with items in it.
    let (file, live, table) = table_with_items("replaced", &emulator, 1);
    file.write(
        &TABLE
            .replace("NAME", &table)
            .replace("range: sk", "range: pk2")
            .replace("{ pk: S, sk: S }", "{ pk: S, pk2: S }"),
    );
    file.run(&["apply", "--auto-approve", "--allow-replace"])
        .expect_code(0);
    assert_eq!(backups(&live, &table).len(), 1);
    assert_eq!(live.item_count(&table), 0, "the new table starts empty");
}

#[test]
fn at_aws_s_pace_the_backup_is_waited_for_until_available() {
    let emulator = Emulator::keeping_aws_time(0.2);
    let (file, live, table) = table_with_items("pace", &emulator, 1);
    let run = file
        .run(&["destroy", "--auto-approve", "--allow-data-loss"])
        .expect_code(0);
    assert!(run.stderr.contains("backup CREATING"), "{}", run.stderr);
    assert_eq!(
        backups(&live, &table)[0].backup_status,
        Some(ddb::BackupStatus::Available)
    );
}
