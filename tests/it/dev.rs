//! `dev` on a private emulator: the default stack applied, the mapping run on this
//! machine. A conversation written with the SDK moves through the real bootstrap; the
//! function's own writes are filtered out before invocation; a restart resumes after the
//! last finished record. No timed assertions: the waits only bound a hung run.

use crate::e2e::{conversation, inboxes, message};
use crate::support::dev::Dev;
use crate::support::{Emulator, Live, cli, repo_root};

/// `dev` on the default stack (`stack.yaml`, environment `local`) against `emulator`,
/// checkpoints under `dir`.
fn start_dev(emulator: &Emulator, dir: &std::path::Path) -> Dev {
    start_dev_on(emulator, dir, &repo_root().join("stack.yaml"))
}

/// `dev` on `file` (the default stack, or a copy of it), environment `local`, against
/// `emulator`, checkpoints under `dir`.
pub(crate) fn start_dev_on(
    emulator: &Emulator,
    dir: &std::path::Path,
    file: &std::path::Path,
) -> Dev {
    let checkpoints = dir.join("checkpoints");
    let args = [
        "-f",
        file.to_str().unwrap(),
        "--env",
        "local",
        "--endpoint-url",
        &emulator.url,
        "--no-color",
    ];
    Dev::start(
        &args,
        &["--checkpoints", checkpoints.to_str().unwrap()],
        dir,
    )
}

#[test]
fn dev_moves_conversations_through_the_local_pipeline_and_resumes_after_a_restart() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let dir = tempfile::tempdir().unwrap();
    let mut dev = start_dev(&emulator, dir.path());

    conversation(&live, "alice", "g1", "2024-01-01T00:00:00Z", "bob");
    conversation(&live, "bob", "g1", "2024-01-01T00:00:00Z", "alice");
    message(&live, "g1", "2024-02-01T10:00:00Z", "through dev");
    // The GRP# rows are INSERTs the filter drops; the message is invoked alone (the three
    // may come in one read or several).
    let batch = dev.wait_for(|l| l.contains(" invoked in "));
    // The mapping's name, then the shard's (said to be one: not a UUID).
    assert!(
        batch.starts_with("trigger shard …")
            && batch.contains(" 1 invoked in 1 invocation, 0 failed, 0 given up"),
        "{batch}"
    );
    assert_eq!(total(&dev.seen, " in, "), 3, "{:?}", dev.seen);
    assert_eq!(total(&dev.seen, " filtered out"), 2, "{:?}", dev.seen);
    let rows = inboxes(&live);
    for user in ["alice", "bob"] {
        assert_eq!(rows[user][0].0, "2024-02-01T10:00:00Z", "{user}: {rows:?}");
        assert_eq!(rows[user][0].2, "through dev");
    }
    // The function's own writes (a delete and a put per user) come back on the stream and
    // are filtered out before any invocation.
    while total(&dev.seen, " filtered out") < 6 {
        dev.wait_for(|l| l.ends_with(" 0 invoked"));
    }
    assert_eq!(total(&dev.seen, " in, "), 7, "{:?}", dev.seen);
    dev.stop();

    // Written while dev is stopped: delivered after the restart, and nothing before it
    // again.
    message(&live, "g1", "2024-03-01T08:00:00Z", "while stopped");
    let mut dev = start_dev(&emulator, dir.path());
    dev.seen.clear();
    let batch = dev.wait_for(|l| l.contains(" invoked in "));
    assert!(batch.contains(" 1 invoked in 1 invocation"), "{batch}");
    assert_eq!(
        total(&dev.seen, " in, "),
        1,
        "only the new message is read after the restart: {:?}",
        dev.seen
    );
    let rows = inboxes(&live);
    assert_eq!(rows["alice"][0].2, "while stopped");
    dev.stop();
}

/// The sum over batch lines of the number just before `marker`
/// (`… 2 filtered out …` → 2).
fn total(lines: &[String], marker: &str) -> usize {
    lines
        .iter()
        .filter(|l| l.starts_with("trigger "))
        .filter_map(|l| {
            let before = &l[..l.find(marker)?];
            before.rsplit(' ').next()?.parse::<usize>().ok()
        })
        .sum()
}

#[test]
fn dev_refuses_an_environment_that_is_not_an_emulator_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let file = repo_root().join("stack.yaml");
    let out = cli(
        &["-f", file.to_str().unwrap(), "--env", "prod", "dev"],
        dir.path(),
    )
    .expect_code(1);
    assert!(
        out.stderr
            .contains("environment prod is not an emulator environment"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}
