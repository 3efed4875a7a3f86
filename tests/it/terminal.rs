//! On a terminal, apply asks before changing anything, shows colour and progress spinners.
//! The terminal is a pseudo-terminal from util-linux's `script`, our input typed into it.

use crate::support::{Emulator, Live, StackFile};
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs the tool on a pseudo-terminal, typing `input`; returns its exit code and everything
/// it showed (stdout and stderr both go to the terminal).
fn on_terminal(file: &StackFile, args: &str, input: &str) -> (i32, String) {
    let command = format!(
        "{} -f {} --env test {args}",
        env!("CARGO_BIN_EXE_cruddur-infra"),
        file.path().display()
    );
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` is needed to test terminal behaviour");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

const TABLE: &str = "  t:\n    type: dynamodb_table\n    name: tty-table\n    attributes: { pk: S }\n    key: { hash: pk }\n";

#[test]
fn apply_asks_and_only_yes_applies() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let file = StackFile::new("terminal", &emulator.url, TABLE);

    let (code, shown) = on_terminal(&file, "apply", "no\n");
    assert_eq!(code, 1, "{shown}");
    assert!(
        shown.contains("Do you want to perform these actions?"),
        "{shown}"
    );
    assert!(shown.contains("Apply cancelled."), "{shown}");
    assert!(
        shown.contains("\u{1b}["),
        "no colour on a terminal: {shown}"
    );
    assert_eq!(emulator.mutating_requests(), Vec::<String>::new());
    assert!(live.table("tty-table").is_none());

    let (code, shown) = on_terminal(&file, "apply", "yes\n");
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("✓ created"), "no progress line: {shown}");
    assert!(live.table("tty-table").is_some());

    let (code, shown) = on_terminal(&file, "--no-color destroy", "yes\n");
    assert_eq!(code, 0, "{shown}");
    assert!(
        !shown.contains("\u{1b}[1m") && !shown.contains("\u{1b}[3"),
        "colour despite --no-color: {shown}"
    );
    assert!(live.table("tty-table").is_none());
}
