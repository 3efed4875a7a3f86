//! Speed benchmark (not a test): no-op plan, full apply and destroy of the default stack
//! against the emulator behind the fault proxy with 50 ms added to every request, so wall
//! time shows how many sequential round trips a command needs. Prints wall time, round
//! trips (wall time / 50 ms) and AWS calls (from --stats).
//!
//!   cargo bench --bench speed            (release build of the tool)
//!   cargo bench --bench speed --profile dev   (faster to build; slower tool)

// The tests' harness: the benchmark uses part of it.
#[allow(dead_code)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};
use support::fault_proxy::{FaultProxy, Faults};
use support::{Emulator, cli, default_stack_in, run_default};

const LATENCY: Duration = Duration::from_millis(50);

fn main() {
    let emulator = Emulator::start();
    let proxy = FaultProxy::start(
        &emulator.url,
        Faults {
            latency: LATENCY,
            ..Faults::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = default_stack_in(dir.path());
    let run = |args: &[&str]| {
        let mut all = vec!["--stats"];
        all.extend_from_slice(args);
        let started = Instant::now();
        let out = run_default(dir.path(), &file, &proxy.url, &all);
        let wall = started.elapsed();
        assert_eq!(out.code, 0, "{}", out.stderr);
        let calls = out
            .stderr
            .lines()
            .find_map(|l| l.strip_prefix("Stats: "))
            .and_then(|l| l.split(' ').next())
            .unwrap_or("?")
            .to_string();
        (wall, calls)
    };
    // Build the function's bundle outside the measurements.
    let _ = cli(
        &["-f", file.to_str().unwrap(), "--env", "local", "build"],
        dir.path(),
    );

    println!("latency added per request: {} ms", LATENCY.as_millis());
    println!(
        "{:<28} {:>9} {:>12} {:>9}",
        "command", "wall (s)", "round trips", "calls"
    );
    let report = |name: &str, (wall, calls): (Duration, String)| {
        println!(
            "{name:<28} {:>9.2} {:>12.1} {calls:>9}",
            wall.as_secs_f64(),
            wall.as_secs_f64() / LATENCY.as_secs_f64()
        );
    };
    report("apply (empty account)", run(&["apply", "--auto-approve"]));
    let mut plans: Vec<(Duration, String)> = (0..5).map(|_| run(&["plan"])).collect();
    plans.sort_by_key(|p| p.0);
    report("plan, no changes (median/5)", plans[2].clone());
    report("apply, no changes", run(&["apply", "--auto-approve"]));
    report("drift, none", run(&["drift"]));
    report(
        "destroy",
        run(&["destroy", "--auto-approve", "--allow-data-loss"]),
    );
}
