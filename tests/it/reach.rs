//! When AWS cannot be reached (the emulator not started, say), a command says so once, in
//! a line and a hint, not once per resource with the SDK's whole chain; `-v` still logs
//! the chain.

use crate::support::{repo_root, run_default};
use std::net::TcpListener;

/// A loopback URL where nothing listens.
fn closed_url() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

fn run(args: &[&str], url: &str) -> crate::support::Run {
    let mut all = vec!["--no-color"];
    all.extend_from_slice(args);
    let file = repo_root().join("stack.yaml");
    run_default(&repo_root(), &file, url, &all)
}

#[test]
fn an_unreachable_endpoint_is_one_line_and_a_hint() {
    let url = closed_url();
    for args in [&["plan"][..], &["apply", "--auto-approve"], &["outputs"]] {
        let out = run(args, &url).expect_code(1);
        // The harness points AWS_CONFIG_FILE at a file that does not exist, which the SDK
        // warns about; a user's shell does not.
        let lines: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| !l.contains("config file overridden via environment variable"))
            .collect();
        assert!(lines.len() <= 3, "{args:?}: {}", out.stderr);
        assert_eq!(
            lines[0],
            format!("error: could not reach the local emulator at {url}: connection refused"),
            "{args:?}"
        );
        assert!(
            lines[1].contains("hint: start it (`scripts/emulator start`"),
            "{}",
            out.stderr
        );
    }
    let drift = run(&["drift"], &url).expect_code(1);
    assert!(
        drift.stdout.contains(&format!(
            "error: could not reach the local emulator at {url}"
        )),
        "{}",
        drift.stdout
    );
}

#[test]
fn verbose_output_keeps_the_whole_chain() {
    let url = closed_url();
    let out = run(&["-v", "plan"], &url).expect_code(1);
    assert!(out.stderr.contains("tcp connect error"), "{}", out.stderr);
    assert!(
        out.stderr.trim_end().ends_with("one running"),
        "{}",
        out.stderr
    );
}
