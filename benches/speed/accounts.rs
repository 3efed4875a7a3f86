//! The work of a no-op plan follows the stack, not the account: the default stack planned
//! in an empty account and in a busy one (other teams' roles, tables, queues, functions
//! with mappings and endpoints: `support::busy`), and the default stack against one of 47
//! resources (20 tables and 20 queues more), each side by side with 50 ms added to every
//! request. Calls come from `--stats`; "one after another" is the longest chain of
//! requests each sent after the answer to the one before (the fault proxy's timings);
//! "without the latency" is the same plan straight to the emulator, whose own time (one
//! request after another, about 1.7 ms each) is the rest of the wall time. The rounds the
//! plan really waits for are counted once more with 1 s per request, where the emulator's
//! queue cannot pass for a round.

use crate::support::busy::{self, Crowd};
use crate::support::fault_proxy::{FaultProxy, Faults};
use crate::support::{Emulator, Live, cli, default_stack_in, run_default};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const LATENCY: Duration = Duration::from_millis(50);

/// The busy account as first measured: 300 roles, 40 tables, 40 queues, 30 functions with
/// a mapping each, 10 endpoints.
const BUSY: Crowd = Crowd {
    roles: 300,
    tables: 40,
    queues: 40,
    functions: 30,
    endpoints: 10,
};
const RUNS: usize = 5;

/// One no-op plan's figures, the median of [`RUNS`].
struct Measured {
    calls: String,
    wall: Duration,
    sequential: usize,
    direct: Duration,
    /// The chain at 1 s per request.
    rounds: usize,
}

/// An emulator holding an applied stack, with a latency proxy in front of it.
struct Account {
    emulator: Emulator,
    proxy: FaultProxy,
    slow: FaultProxy,
    dir: tempfile::TempDir,
    file: PathBuf,
}

impl Account {
    /// A fresh emulator, `seed` run on it, then `resources` (added to the default stack's)
    /// applied.
    fn new(seed: impl FnOnce(&Live), extra_resources: &str) -> Account {
        let emulator = Emulator::start();
        seed(&Live::new(&emulator));
        let proxy = FaultProxy::start(
            &emulator.url,
            Faults {
                latency: LATENCY,
                ..Faults::default()
            },
        );
        let slow = FaultProxy::start(
            &emulator.url,
            Faults {
                latency: Duration::from_secs(1),
                ..Faults::default()
            },
        );
        let dir = tempfile::tempdir().unwrap();
        let (file, text) = default_stack_in(dir.path());
        std::fs::write(&file, text + extra_resources).unwrap();
        let built = cli(
            &["-f", file.to_str().unwrap(), "--env", "local", "build"],
            dir.path(),
        );
        assert_eq!(built.code, 0, "{}", built.stderr);
        let applied = run_default(
            dir.path(),
            &file,
            &emulator.url,
            &["apply", "--auto-approve"],
        );
        assert_eq!(applied.code, 0, "{}", applied.stderr);
        Account {
            emulator,
            proxy,
            slow,
            dir,
            file,
        }
    }

    fn plan(&self, url: &str) -> (Duration, String) {
        let started = Instant::now();
        let out = run_default(self.dir.path(), &self.file, url, &["plan", "--stats"]);
        let wall = started.elapsed();
        assert_eq!(out.code, 0, "{}", out.stderr);
        (wall, crate::calls_of(&out))
    }

    fn measure(&self) -> Measured {
        let median = |mut runs: Vec<Duration>| {
            runs.sort();
            runs[runs.len() / 2]
        };
        // One plan first: the emulator loads each service on its first request.
        self.plan(&self.emulator.url);
        let mut walls = Vec::new();
        let mut calls = String::new();
        let mut chains = Vec::new();
        for _ in 0..RUNS {
            self.proxy.clear_timings();
            let (wall, c) = self.plan(&self.proxy.url);
            walls.push(wall);
            chains.push(self.proxy.sequential_round_trips().len());
            calls = c;
        }
        let direct = (0..RUNS).map(|_| self.plan(&self.emulator.url).0).collect();
        chains.sort();
        self.slow.clear_timings();
        self.plan(&self.slow.url);
        Measured {
            calls,
            wall: median(walls),
            sequential: chains[chains.len() / 2],
            direct: median(direct),
            rounds: self.slow.sequential_round_trips().len(),
        }
    }
}

fn report(title: &str, columns: [&str; 2], figures: [Measured; 2]) {
    println!(
        "{title}, {} ms per request (median of {RUNS}):",
        LATENCY.as_millis()
    );
    println!("  {:<44} {:>14} {:>14}", "", columns[0], columns[1]);
    let row = |name: &str, f: &dyn Fn(&Measured) -> String| {
        println!("  {name:<44} {:>14} {:>14}", f(&figures[0]), f(&figures[1]));
    };
    row("AWS calls", &|m| m.calls.clone());
    row("wall time", &|m| format!("{:.3} s", m.wall.as_secs_f64()));
    row("requests sent one after another's answer", &|m| {
        m.sequential.to_string()
    });
    row("wall time without the added latency", &|m| {
        format!("{:.3} s", m.direct.as_secs_f64())
    });
    row("rounds waited for, at 1 s per request", &|m| {
        m.rounds.to_string()
    });
    row("latency cost, in round trips", &|m| {
        format!(
            "{:.1}",
            (m.wall.as_secs_f64() - m.direct.as_secs_f64()) / LATENCY.as_secs_f64()
        )
    });
    let ratio = |f: &dyn Fn(&Measured) -> f64| f(&figures[1]) / f(&figures[0]);
    println!(
        "  {} / {}: {:.2}x the calls, {:.2}x the wall time",
        columns[1],
        columns[0],
        ratio(&|m| m.calls.parse().unwrap_or(f64::NAN)),
        ratio(&|m| m.wall.as_secs_f64()),
    );
}

/// The default stack's no-op plan in an empty account and in [`BUSY`].
pub fn busy_account() {
    let empty = Account::new(|_| {}, "");
    let crowded = Account::new(|live| busy::seed(live, BUSY, "cruddur"), "");
    report(
        "no-op plan of the default stack",
        ["empty account", "busy account"],
        [empty.measure(), crowded.measure()],
    );
    println!(
        "  (the busy account: {} roles, {} tables with streams, {} queues, {} functions with a mapping each, {} endpoints; none of them ours)",
        BUSY.roles, BUSY.tables, BUSY.queues, BUSY.functions, BUSY.endpoints
    );
}

/// The default stack against the default stack and 20 tables and 20 queues more.
pub fn bigger_stack() {
    let default = Account::new(|_| {}, "");
    let big = Account::new(|_| {}, &more_resources(20));
    report(
        "no-op plan",
        ["default stack", "47 resources"],
        [default.measure(), big.measure()],
    );
}

/// `n` tables and `n` queues, as stack-file text under `resources:`.
fn more_resources(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "\n  extra_table_{i}:\n    type: dynamodb_table\n    name: extra-{i}-${{env}}\n    attributes: {{ pk: S }}\n    key: {{ hash: pk }}\n  extra_queue_{i}:\n    type: sqs_queue\n    name: extra-queue-{i}-${{env}}\n"
            )
        })
        .collect()
}
