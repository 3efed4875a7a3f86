//! Saved plans: `plan --out FILE`, then `apply FILE` carries out exactly that plan, or
//! refuses, changing nothing, when the live state or the stack file moved since.

use crate::support::{Emulator, Live, StackFile, ddb};

const TABLE: &str = "  messages:
    type: dynamodb_table
    name: NAME
    attributes: { pk: S, sk: S }
    key: { hash: pk, range: sk }
    billing_mode: PROVISIONED
    read_capacity: 5
    write_capacity: 5
";

fn setup(test: &str) -> (Emulator, StackFile, Live, String, tempfile::TempDir) {
    let emulator = Emulator::start();
    let name = format!("msgs-{test}");
    let file = StackFile::new(test, &emulator.url, &TABLE.replace("NAME", &name));
    let live = Live::new(&emulator);
    (emulator, file, live, name, tempfile::tempdir().unwrap())
}

fn capacity(live: &Live, table: &str) -> i64 {
    live.expect_table(table)
        .provisioned_throughput()
        .unwrap()
        .read_capacity_units()
        .unwrap()
}

#[test]
fn a_saved_plan_is_applied_exactly_once() {
    let (emulator, file, live, table, dir) = setup("saved");
    let saved = dir.path().join("create.plan.json");
    let saved = saved.to_str().unwrap();
    let run = file
        .run(&["plan", "--out", saved, "--detailed-exitcode"])
        .expect_code(2);
    assert!(run.stderr.contains("Saved the plan"), "{}", run.stderr);
    assert!(live.table(&table).is_none(), "plan created something");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(saved).unwrap()).unwrap();
    assert_eq!(json["format_version"], "2");
    assert_eq!(json["plan"]["summary"]["create"], 1);

    // No question asked: the plan is what was reviewed.
    file.run(&["apply", saved]).expect_code(0);
    assert_eq!(capacity(&live, &table), 5);

    // The same file again: what it was based on (no table) is gone.
    emulator.clear_requests();
    let run = file.run(&["apply", saved]).expect_code(1);
    assert!(
        run.stderr
            .contains("the live resources changed since this plan was made"),
        "{}",
        run.stderr
    );
    assert_eq!(emulator.mutating_requests(), Vec::<String>::new());
}

#[test]
fn a_stale_plan_is_refused_and_changes_nothing() {
    let (emulator, file, live, table, dir) = setup("stale");
    file.run(&["apply", "--auto-approve"]).expect_code(0);
    file.write(
        &TABLE
            .replace("NAME", &table)
            .replace("read_capacity: 5", "read_capacity: 9"),
    );
    let saved = dir.path().join("update.plan.json");
    let saved = saved.to_str().unwrap();
    file.run(&["plan", "--out", saved]).expect_code(0);

    // Someone changes the table out of band after the plan was reviewed.
    let arn = live.expect_table(&table).table_arn().unwrap().to_string();
    live.block_on(
        live.client
            .tag_resource()
            .resource_arn(arn)
            .tags(ddb::Tag::builder().key("k").value("v").build().unwrap())
            .send(),
    )
    .unwrap();
    emulator.clear_requests();
    let run = file.run(&["apply", saved]).expect_code(1);
    assert!(run.stderr.contains("changed since"), "{}", run.stderr);
    assert!(run.stderr.contains("make a new plan"), "{}", run.stderr);
    assert_eq!(emulator.mutating_requests(), Vec::<String>::new());
    assert_eq!(capacity(&live, &table), 5);

    // A fresh plan, applied as saved.
    file.run(&["plan", "--out", saved]).expect_code(0);
    file.run(&["apply", saved]).expect_code(0);
    assert_eq!(capacity(&live, &table), 9);
}

#[test]
fn a_changed_stack_file_or_a_file_that_is_no_plan_is_refused() {
    let (emulator, file, _live, table, dir) = setup("file-changed");
    let saved = dir.path().join("plan.json");
    let saved = saved.to_str().unwrap();
    file.run(&["plan", "--out", saved]).expect_code(0);
    file.write(
        &TABLE
            .replace("NAME", &table)
            .replace("read_capacity: 5", "read_capacity: 6"),
    );
    emulator.clear_requests();
    let run = file.run(&["apply", saved]).expect_code(1);
    assert!(run.stderr.contains("the stack file"), "{}", run.stderr);
    assert!(run.stderr.contains("changed since"), "{}", run.stderr);
    assert_eq!(
        emulator.requests().len(),
        0,
        "a refused saved plan read AWS"
    );

    // Applied with another file than the plan's (the default stack.yaml of another
    // directory): the plan's own file is named, with how to pass it, and nothing read.
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(elsewhere.path().join("stack.yaml"), "stack: other\n").unwrap();
    let run =
        crate::support::cli(&["--env", "test", "apply", saved], elsewhere.path()).expect_code(1);
    let made_from = std::fs::canonicalize(file.path()).unwrap();
    assert!(
        run.stderr.contains(&format!(
            "this plan was made from the stack file {}, not stack.yaml: pass it with -f {0}",
            made_from.display()
        )),
        "{}",
        run.stderr
    );
    assert_eq!(emulator.requests().len(), 0);

    let not_a_plan = dir.path().join("notes.txt");
    std::fs::write(&not_a_plan, "hello").unwrap();
    let run = file
        .run(&["apply", not_a_plan.to_str().unwrap()])
        .expect_code(1);
    assert!(run.stderr.contains("is not a saved plan"), "{}", run.stderr);
}

/// What a plan was made with is part of the saved plan: `apply FILE` takes no --adopt,
/// --replace or --target of its own, and says so before reading anything.
#[test]
fn apply_file_refuses_options_that_belong_to_the_plan() {
    let (emulator, file, _live, _table, dir) = setup("file-options");
    let saved = dir.path().join("plan.json");
    let saved = saved.to_str().unwrap();
    file.run(&["plan", "--out", saved]).expect_code(0);
    emulator.clear_requests();
    for option in [
        &["--adopt"][..],
        &["--replace", "messages"],
        &["--target", "messages"],
    ] {
        let mut args = vec!["apply", saved];
        args.extend_from_slice(option);
        let run = file.run(&args).expect_code(1);
        assert!(
            run.stderr.contains("are part of the saved plan"),
            "{option:?}: {}",
            run.stderr
        );
    }
    assert_eq!(
        emulator.requests().len(),
        0,
        "a refused apply FILE read AWS"
    );
}

#[test]
fn a_saved_destroy_plan_destroys() {
    let (_emulator, file, live, table, dir) = setup("saved-destroy");
    file.run(&["apply", "--auto-approve"]).expect_code(0);
    let saved = dir.path().join("destroy.plan.json");
    let saved = saved.to_str().unwrap();
    file.run(&["plan", "--destroy", "--out", saved])
        .expect_code(0);
    assert!(live.table(&table).is_some());
    file.run(&["apply", saved]).expect_code(0);
    assert!(live.table(&table).is_none());
}
