//! A half-finished run never leaves the account in a state the next run cannot fix: the
//! tool is killed (SIGKILL) right after its k-th change of an apply of the default stack,
//! for every k, and a second apply must converge to the same end state, with no duplicate
//! endpoint or mapping, and a clean plan afterwards.

use crate::support::{Emulator, Live, Run, cli, cli_command, ddb, default_stack_in};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn args<'a>(file: &'a str, url: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec![
        "-f",
        file,
        "--env",
        "local",
        "--endpoint-url",
        url,
        "--no-color",
    ];
    all.extend_from_slice(rest);
    all
}

/// Applies, killing the process as soon as the emulator has seen `k` changes; returns
/// whether it was killed (false: the apply finished first).
fn apply_killed_after(emulator: &Emulator, file: &str, k: usize) -> bool {
    emulator.clear_requests();
    let mut child = cli_command(
        &args(file, &emulator.url, &["apply", "--auto-approve"]),
        std::path::Path::new(file).parent().unwrap(),
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let started = Instant::now();
    loop {
        if emulator.mutating_requests().len() >= k {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "apply hung");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn killed_at_each_step_of_an_apply_the_next_apply_converges() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = default_stack_in(dir.path());
    let file = file.to_str().unwrap();
    // Build the bundle once, outside the killed runs.
    cli(&["-f", file, "--env", "local", "build"], dir.path()).expect_code(0);

    let mut k = 1;
    loop {
        let emulator = Emulator::start();
        let live = Live::new(&emulator);
        let killed = apply_killed_after(&emulator, file, k);
        // The killed run's lock would expire after its 60 s lease; the test lifts it at
        // once instead, as an operator who saw the holder die would.
        let _ = live.block_on(
            live.client
                .delete_item()
                .table_name("cruddur-infra-locks")
                .key("lock_id", ddb::AttributeValue::S("cruddur/local".into()))
                .send(),
        );
        let run = cli(
            &args(file, &emulator.url, &["apply", "--auto-approve"]),
            dir.path(),
        );
        assert_eq!(
            run.code, 0,
            "after a kill at change {k}:\n{}\n{}",
            run.stdout, run.stderr
        );
        let plan = cli(
            &args(file, &emulator.url, &["plan", "--detailed-exitcode"]),
            dir.path(),
        );
        assert_eq!(
            plan.code, 0,
            "not converged after a kill at change {k}:\n{}",
            plan.stdout
        );
        assert_eq!(
            live.endpoints().len(),
            1,
            "duplicate endpoint after a kill at change {k}"
        );
        assert_eq!(
            live.mappings().len(),
            1,
            "duplicate mapping after a kill at change {k}"
        );
        if !killed {
            eprintln!("an apply makes {} changes; each was a kill point", k - 1);
            break;
        }
        k += 1;
    }
    assert!(k > 5, "too few kill points: {k}");
}

/// The default stack, built once in its own directory, with an emulator and a client of
/// it: what each lock test starts from.
struct Setup {
    dir: tempfile::TempDir,
    file: String,
    emulator: Emulator,
    live: Live,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let (file, _) = default_stack_in(dir.path());
        let file = file.to_str().unwrap().to_string();
        cli(&["-f", &file, "--env", "local", "build"], dir.path()).expect_code(0);
        let emulator = Emulator::start();
        let live = Live::new(&emulator);
        Setup {
            dir,
            file,
            emulator,
            live,
        }
    }

    /// The tool, run against the emulator with `rest` after the common flags.
    fn run(&self, rest: &[&str]) -> Run {
        cli(&args(&self.file, &self.emulator.url, rest), self.dir.path())
    }

    /// Kills an apply after its first change, so that its lease is left behind.
    fn kill_an_apply(&self) {
        assert!(
            apply_killed_after(&self.emulator, &self.file, 1),
            "apply finished first"
        );
    }
}

/// A killed run's lock is left behind, and expires: the next apply says whom it waits for,
/// waits out the lease (60 s after the last renewal), takes the lock and converges.
#[test]
fn a_killed_runs_lock_expires_and_the_next_apply_takes_it() {
    let s = Setup::new();
    s.kill_an_apply();
    // The lock is still there, held by the killed process.
    assert!(
        s.live.lock_item("cruddur/local").is_some(),
        "the killed run left no lock"
    );

    let next = s
        .run(&["--lock-timeout", "180", "apply", "--auto-approve"])
        .expect_code(0);
    assert!(
        next.stderr
            .contains("Waiting for the deploy lock of cruddur/local: held by"),
        "{}",
        next.stderr
    );
    s.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    // Released at the end.
    let after = s.live.lock_item("cruddur/local");
    assert!(after.is_none(), "lock not released: {after:?}");
}

/// The lock item's holder (its lease id).
fn lease(live: &Live) -> String {
    let item = live.lock_item("cruddur/local").expect("a lock is held");
    item["holder"].as_s().unwrap().clone()
}

/// A runner killed holding the lock: force-unlock shows who holds it (host, process,
/// command, since when), removes that lease only, and the next apply starts at once.
#[test]
fn force_unlock_removes_a_killed_runs_lease_and_the_next_apply_starts_at_once() {
    let s = Setup::new();
    // No lock, nobody to ask and no --yes: it says so (it looks before it would ask).
    let nothing = s.run(&["force-unlock"]).expect_code(0);
    assert!(
        nothing
            .stdout
            .contains("No deploy lock is held for cruddur/local"),
        "{}",
        nothing.stdout
    );
    s.kill_an_apply();
    let killed = lease(&s.live);

    // A lock, nobody to ask, and no --yes: it shows the holder, and removes nothing.
    let refused = s.run(&["force-unlock"]).expect_code(1);
    assert!(
        refused.stderr.contains("re-run with --yes"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stdout.contains(&format!("lease {killed}")),
        "{}",
        refused.stdout
    );
    assert_eq!(lease(&s.live), killed);

    let run = s.run(&["force-unlock", "--yes"]).expect_code(0);
    let process = killed.split(':').nth(1).unwrap();
    for shown in [
        format!("lease {killed}"),
        format!("process {process}"),
        "held by `apply`".to_string(),
        "s ago".to_string(),
        format!("Removed lease {killed}"),
    ] {
        assert!(run.stdout.contains(&shown), "{shown}: {}", run.stdout);
    }
    assert!(
        s.live.lock_item("cruddur/local").is_none(),
        "the lease is still there"
    );

    let next = s.run(&["apply", "--auto-approve"]).expect_code(0);
    assert!(
        !next.stderr.contains("Waiting for the deploy lock"),
        "{}",
        next.stderr
    );
}

/// A lease named on the command line is removed only if it still holds the lock: one that
/// changed hands meanwhile (another run took the lock) is left with its new holder.
#[test]
fn force_unlock_refuses_a_lease_that_changed_hands() {
    let s = Setup::new();
    s.kill_an_apply();
    let killed = lease(&s.live);
    // Meanwhile another run takes the lock over (as it would once the lease expired).
    let request = s
        .live
        .client
        .put_item()
        .table_name("cruddur-infra-locks")
        .item("lock_id", ddb::AttributeValue::S("cruddur/local".into()))
        .item(
            "holder",
            ddb::AttributeValue::S("runner-2:77:00c0ffee".into()),
        )
        .item("command", ddb::AttributeValue::S("destroy".into()))
        .item("acquired_at", ddb::AttributeValue::N("1".into()))
        .item("expires_at", ddb::AttributeValue::N("99999999999".into()));
    s.live.block_on(request.send()).unwrap();

    let run = s.run(&["force-unlock", &killed]).expect_code(1);
    assert!(
        run.stderr.contains(&format!("is no longer lease {killed}"))
            && run.stderr.contains("runner-2:77:00c0ffee")
            && run.stderr.contains("nothing was removed"),
        "{}",
        run.stderr
    );
    assert_eq!(
        lease(&s.live),
        "runner-2:77:00c0ffee",
        "the new holder's lease went"
    );
}
