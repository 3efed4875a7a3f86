//! `invoke`: the default stack applied on a private emulator, then one invocation of the
//! processor's bundle on this machine with records read from the table's stream; the
//! conversation rows must have moved in the emulator's table. Refusals touch nothing.

use crate::e2e::{Stream, conversation, inboxes, message};
use crate::support::{Emulator, Live, cli, cli_command, repo_root, run_default};
use std::io::Write;

#[test]
fn invoke_runs_the_bundle_against_the_emulator_with_the_stacks_environment() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let dir = tempfile::tempdir().unwrap();
    let file = repo_root().join("stack.yaml");
    let run = |args: &[&str]| run_default(dir.path(), &file, &emulator.url, args);
    run(&["apply", "--auto-approve"]).expect_code(0);

    conversation(&live, "alice", "g1", "2024-01-01T00:00:00Z", "bob");
    conversation(&live, "bob", "g1", "2024-01-01T00:00:00Z", "alice");
    message(&live, "g1", "2024-02-01T10:00:00Z", "invoked locally");
    let records: Vec<_> = Stream::new(&emulator, &live)
        .records(&live)
        .into_iter()
        .filter(|r| r["dynamodb"]["Keys"]["pk"]["S"] == "MSG#g1")
        .collect();
    assert_eq!(records.len(), 1, "{records:#?}");
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        serde_json::json!({ "Records": records }).to_string(),
    )
    .unwrap();

    let out = run(&["invoke", "processor", "--event", event.to_str().unwrap()]).expect_code(0);
    let response: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(response, serde_json::json!({ "batchItemFailures": [] }));
    // TABLE_NAME came from the stack (a reference to the table) and the calls went to
    // the emulator: both inboxes moved to the message.
    let rows = inboxes(&live);
    for user in ["alice", "bob"] {
        assert_eq!(
            rows[user],
            [(
                "2024-02-01T10:00:00Z".to_string(),
                "g1".to_string(),
                "invoked locally".to_string()
            )],
            "{user}"
        );
    }

    // The event from stdin, as `-`.
    let mut command = cli_command(
        &[
            "-f",
            file.to_str().unwrap(),
            "--env",
            "local",
            "--endpoint-url",
            &emulator.url,
            "invoke",
            "processor",
            "--event",
            "-",
        ],
        dir.path(),
    );
    command.stdin(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"Records\": []}")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let response: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(response["batchItemFailures"], serde_json::json!([]));
}

#[test]
fn invoke_refuses_a_real_environment_an_unknown_function_and_an_event_that_is_not_json() {
    let dir = tempfile::tempdir().unwrap();
    let file = repo_root().join("stack.yaml");
    let file = file.to_str().unwrap();
    let fixture = repo_root().join("lambda/fixtures/stream-event.json");
    let fixture = fixture.to_str().unwrap();
    // No emulator is running for these: each is refused before any request.
    let out = cli(
        &[
            "-f",
            file,
            "--env",
            "dev",
            "invoke",
            "processor",
            "--event",
            fixture,
        ],
        dir.path(),
    )
    .expect_code(1);
    assert!(
        out.stderr
            .contains("environment dev is not an emulator environment"),
        "{}",
        out.stderr
    );
    let out = cli(
        &[
            "-f", file, "--env", "local", "invoke", "messages", "--event", fixture,
        ],
        dir.path(),
    )
    .expect_code(1);
    assert!(
        out.stderr
            .contains("`messages` is not a lambda_function of the stack (it has: processor)"),
        "{}",
        out.stderr
    );
    let not_json = dir.path().join("event.json");
    std::fs::write(&not_json, "Records: []").unwrap();
    let out = cli(
        &[
            "-f",
            file,
            "--env",
            "local",
            "--endpoint-url",
            "http://127.0.0.1:9",
            "invoke",
            "processor",
            "--event",
            not_json.to_str().unwrap(),
        ],
        dir.path(),
    )
    .expect_code(1);
    assert!(out.stderr.contains("is not JSON"), "{}", out.stderr);
}
