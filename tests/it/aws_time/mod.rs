//! AWS takes its time, and so does the emulator here (`Emulator::keeping_aws_time`,
//! scripts/aws_time/): tables CREATING, functions Pending, mappings Creating, roles
//! propagating, a deleted queue's name held. `emulator.rs` checks that the emulator answers
//! as AWS does, in the shape the SDK reads into its typed errors; here, the default stack's
//! whole lifecycle under it, each case on its own emulator (they run side by side): every
//! step succeeds and leaves a clean plan.

mod emulator;

use crate::support::{Emulator, Live, Run, cli, cli_command, ddb, default_stack_in, run_default};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TABLE: &str = "cruddur-messages-local";
const FUNCTION: &str = "cruddur-stream-processor-local";
const ROLE: &str = "cruddur-stream-processor-local";

/// Polls `done` until it holds (the state it waits for ends within the emulator's window).
pub(crate) fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what} never happened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The default stack on its own emulator keeping AWS's time at `scale`.
struct Timed {
    emulator: Emulator,
    live: Live,
    dir: tempfile::TempDir,
    file: PathBuf,
    text: String,
}

impl Timed {
    fn new(scale: f64) -> Timed {
        let dir = tempfile::tempdir().unwrap();
        let (file, text) = default_stack_in(dir.path());
        let emulator = Emulator::keeping_aws_time(scale);
        Timed {
            live: Live::new(&emulator),
            emulator,
            dir,
            file,
            text,
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        let mut all = vec!["--no-color"];
        all.extend_from_slice(args);
        run_default(self.dir.path(), &self.file, &self.emulator.url, &all)
    }

    fn apply(&self) -> Run {
        self.run(&["apply", "--auto-approve"]).expect_code(0)
    }

    fn assert_converged(&self) {
        let plan = self.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(
            plan.code, 0,
            "not converged:\n{}{}",
            plan.stdout, plan.stderr
        );
    }

    /// Rewrites the stack file with `edits` (text → replacement, each of which must be
    /// there) made to the default stack.
    fn edit(&self, edits: &[(&str, &str)]) {
        let mut text = self.text.clone();
        for (from, to) in edits {
            assert!(text.contains(from), "`{from}` is not in the stack");
            text = text.replacen(from, to, 1);
        }
        std::fs::write(&self.file, text).unwrap();
    }

    /// The windows of `name` (e.g. "function InProgress").
    fn windows(&self, name: &str) -> Vec<serde_json::Value> {
        self.emulator.windows()["windows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["name"] == name)
            .cloned()
            .collect()
    }

    fn function(
        &self,
    ) -> aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput {
        self.live
            .block_on(
                self.live
                    .lambda
                    .get_function_configuration()
                    .function_name(FUNCTION)
                    .send(),
            )
            .unwrap()
    }

    fn assert_deployed(&self) {
        let table = self.live.expect_table(TABLE);
        assert_eq!(table.table_status, Some(ddb::TableStatus::Active));
        let function = self.function();
        assert_eq!(function.state, Some(aws_sdk_lambda::types::State::Active));
        let mappings = self.live.mappings();
        assert_eq!(mappings.len(), 1, "{mappings:?}");
        assert_eq!(mappings[0].state(), Some("Enabled"));
        assert_eq!(
            mappings[0].event_source_arn(),
            table.latest_stream_arn.as_deref()
        );
        assert_eq!(self.live.endpoints().len(), 1);
    }
}

fn f64_of(w: &serde_json::Value, key: &str) -> f64 {
    w[key].as_f64().unwrap_or(f64::MAX)
}

#[test]
fn a_first_apply_waits_out_every_state_and_converges() {
    let t = Timed::new(0.1);
    let run = t.apply();
    t.assert_deployed();
    t.assert_converged();
    // The role did not wait for the table: its CREATING window was still open when the
    // role was made (the role's propagation began before the table was ACTIVE).
    let table = &t.windows("table CREATING")[1..]; // [0] is the deploy lock's table
    let role = &t.windows("role propagating")[0];
    assert!(
        f64_of(role, "start") < f64_of(&table[0], "end"),
        "the role waited for the table: {role} {table:?}\n{}",
        run.stderr
    );
    // Each wait was seen over soon after it ended (a tenth of its length, or 0.2 s).
    for w in t.emulator.windows()["windows"].as_array().unwrap() {
        if w["asked"].as_u64() == Some(0) || w["seen"].is_null() {
            continue;
        }
        let late = f64_of(w, "seen") - f64_of(w, "end");
        let allowed = (f64_of(w, "seconds") / 10.0).max(0.2) + 0.25;
        assert!(late <= allowed, "{w} was seen {late:.2} s after it ended");
    }
}

#[test]
fn changes_of_every_kind_converge_and_a_function_change_does_not_wait_for_the_table() {
    let t = Timed::new(0.1);
    t.apply();
    t.edit(&[
        // In place: capacity.
        ("    read_capacity: 5\n    write_capacity: 5\n", "    read_capacity: 6\n    write_capacity: 5\n"),
        // An index rebuilt (its projection changes), and a second index.
        (
            "      - name: message-group-sk-index\n        key: { hash: message_group_uuid, range: sk }\n        projection: ALL\n        read_capacity: 5\n        write_capacity: 5\n",
            "      - name: message-group-sk-index\n        key: { hash: message_group_uuid, range: sk }\n        projection: KEYS_ONLY\n        read_capacity: 5\n        write_capacity: 5\n      - name: by-user\n        key: { hash: user_uuid, range: sk }\n        projection: KEYS_ONLY\n        read_capacity: 5\n        write_capacity: 5\n",
        ),
        ("      message_group_uuid: S\n", "      message_group_uuid: S\n      user_uuid: S\n"),
        ("    point_in_time_recovery: false\n", "    point_in_time_recovery: true\n"),
        ("    memory: 128\n", "    memory: 256\n"),
        ("      AWS_LAMBDA_LOG_FORMAT: JSON\n", "      AWS_LAMBDA_LOG_FORMAT: JSON\n      RUST_LOG: debug\n"),
    ]);
    // The new version's check runs while the index the processor queries is rebuilt: it
    // fails, so the alias stays (as the live version would fail too until the index is
    // back). The table's change goes on to its end; the next apply finds the index ACTIVE
    // and the check passing, and releases the same version.
    let run = t.run(&["apply", "--auto-approve"]).expect_code(1);
    assert!(
        run.stderr.contains("version 2 failed its check")
            && run.stderr.contains("Invalid index: message-group-sk-index"),
        "{}",
        run.stderr
    );
    let again = t.apply();
    assert!(
        again.stderr.contains("checking version 2"),
        "{}",
        again.stderr
    );
    t.assert_converged();
    let table = t.live.expect_table(TABLE);
    let mut indexes: Vec<(String, Option<ddb::ProjectionType>)> = table
        .global_secondary_indexes()
        .iter()
        .map(|i| {
            assert_eq!(i.index_status, Some(ddb::IndexStatus::Active));
            (
                i.index_name().unwrap().to_string(),
                i.projection().and_then(|p| p.projection_type().cloned()),
            )
        })
        .collect();
    indexes.sort();
    assert_eq!(
        indexes,
        [
            ("by-user".to_string(), Some(ddb::ProjectionType::KeysOnly)),
            (
                "message-group-sk-index".to_string(),
                Some(ddb::ProjectionType::KeysOnly)
            )
        ]
    );
    assert!(t.live.pitr(TABLE));
    let function = t.function();
    assert_eq!(function.memory_size, Some(256));
    let variables = function.environment.unwrap().variables.unwrap();
    assert_eq!(variables["RUST_LOG"], "debug");
    // The function's update began while the table's indexes were still being built.
    let function = &t.windows("function InProgress")[0];
    let backfills = t.windows("index backfilling");
    assert_eq!(backfills.len(), 2, "{backfills:?}");
    let last = backfills
        .iter()
        .map(|w| f64_of(w, "end"))
        .fold(0.0, f64::max);
    assert!(
        f64_of(function, "start") < last,
        "the function waited for the table: {function}\n{}",
        run.stderr
    );
}

#[test]
fn an_update_made_out_of_band_is_waited_for_and_then_ours_goes_through() {
    // A scale at which Lambda's update outlasts the tool's start and plan.
    let t = Timed::new(1.0);
    t.apply();
    t.live
        .block_on(
            t.live
                .lambda
                .update_function_configuration()
                .function_name(FUNCTION)
                .memory_size(192)
                .send(),
        )
        .unwrap();
    let run = t.apply();
    assert_eq!(t.function().memory_size, Some(128), "{}", run.stderr);
    t.assert_converged();
    // It met Lambda's update in progress (and waited it out).
    let theirs = &t.windows("function InProgress")[0];
    assert!(
        theirs["asked"].as_u64().unwrap() > 0,
        "{theirs}\n{}",
        run.stderr
    );
}

#[test]
fn a_stream_view_type_change_keeps_a_trigger_on_the_stream_throughout() {
    let t = Timed::new(0.1);
    t.apply();
    let old = t.live.mappings()[0].uuid().unwrap().to_string();
    t.edit(&[(
        "    stream: NEW_IMAGE\n",
        "    stream: NEW_AND_OLD_IMAGES\n",
    )]);
    let run = t.apply();
    t.assert_deployed();
    t.assert_converged();
    assert_ne!(t.live.mappings()[0].uuid(), Some(old.as_str()));
    // The new mapping was made (waiting out the role's new policy) before the old one went.
    let made = &t.windows("mapping Creating")[1];
    let deleted = &t.windows("mapping Deleting")[0];
    assert!(
        f64_of(made, "start") < f64_of(deleted, "start"),
        "the old mapping went first: {made} {deleted}\n{}",
        run.stderr
    );
}

#[test]
fn destroy_then_apply_at_once_then_destroy() {
    let t = Timed::new(0.1);
    t.apply();
    t.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert!(t.live.table(TABLE).is_none());
    let run = t.apply();
    assert!(
        run.stderr
            .contains("SQS keeps a deleted queue's name for 60 s"),
        "{}",
        run.stderr
    );
    t.assert_deployed();
    t.assert_converged();
    t.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert!(t.live.table(TABLE).is_none());
    assert!(t.live.role(ROLE).is_none());
    assert!(t.live.mappings().is_empty());
}

#[test]
fn an_apply_killed_while_aws_is_busy_is_finished_by_the_next() {
    // Killed with the table CREATING, the function Pending, the mapping Creating (the
    // first table is the deploy lock's).
    for (killed_in, count) in [
        ("table CREATING", 2),
        ("function Pending", 1),
        ("mapping Creating", 1),
    ] {
        // Long enough that the next apply meets the states the killed one left.
        let t = Timed::new(0.5);
        cli(
            &["-f", t.file.to_str().unwrap(), "--env", "local", "build"],
            t.dir.path(),
        )
        .expect_code(0);
        let mut child = cli_command(
            &[
                "-f",
                t.file.to_str().unwrap(),
                "--env",
                "local",
                "--endpoint-url",
                &t.emulator.url,
                "apply",
                "--auto-approve",
            ],
            Path::new(t.dir.path()),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
        eventually(&format!("the apply meeting {killed_in}"), || {
            t.windows(killed_in).len() >= count
        });
        child.kill().unwrap();
        child.wait().unwrap();
        // The killed run's lock would expire after its lease; lift it as an operator would.
        t.live
            .block_on(
                t.live
                    .client
                    .delete_item()
                    .table_name("cruddur-infra-locks")
                    .key("lock_id", ddb::AttributeValue::S("cruddur/local".into()))
                    .send(),
            )
            .unwrap();
        let run = t.run(&["apply", "--auto-approve"]);
        assert_eq!(
            run.code, 0,
            "killed in {killed_in}:\n{}{}",
            run.stdout, run.stderr
        );
        t.assert_deployed();
        t.assert_converged();
    }
}
