//! Speed benchmark (not a test): no-op plan, full apply and destroy of the default stack
//! against the emulator behind the fault proxy with 50 ms added to every request, so wall
//! time shows how many sequential round trips a command needs. Prints wall time, round
//! trips (wall time / 50 ms) and AWS calls (from --stats).
//!
//!   cargo bench --bench speed            (release build of the tool)
//!   cargo bench --bench speed --profile dev   (faster to build; slower tool)
//!   cargo bench --bench speed -- processor    (only the stream processor's batch)
//!   cargo bench --bench speed -- bundle       (the function's zip and its cold start)
//!   cargo bench --bench speed -- accounts     (a no-op plan in an empty and a busy account,
//!                                              and of the default and a 47-resource stack)
//!   cargo bench --bench speed -- aws          (the lifecycle at AWS's pace, each run next to
//!                                              AWS's own floor: about 2 minutes)
//!
//! The processor's part runs one batch of 100 INSERTs over 10 two-user conversations
//! (timestamps shuffled within the batch) through the processor library's handler, with
//! the same proxy in front of the emulator, and counts the DynamoDB requests it made.

// The tests' harness: the benchmark uses part of it.
#[allow(dead_code)]
#[path = "../tests/it/support/mod.rs"]
mod support;

#[path = "speed/accounts.rs"]
mod accounts;

#[path = "speed/aws_time.rs"]
mod aws_time;

use std::time::{Duration, Instant};
use support::fault_proxy::{FaultProxy, Faults};
use support::{Emulator, cli, default_stack_in, run_default};

const LATENCY: Duration = Duration::from_millis(50);

fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |part: &str| only.is_empty() || only.iter().any(|o| o == part);
    if wanted("processor") {
        processor();
    }
    if wanted("bundle") {
        bundle();
    }
    if wanted("stack") {
        stack();
    }
    if wanted("accounts") {
        accounts::busy_account();
        accounts::bigger_stack();
    }
    if wanted("aws") {
        aws_time::lifecycle();
    }
}

/// The default stack's function bundle: build time (warm: dependencies already built),
/// zip size, and cold start (process start to its first poll of the Runtime API, median
/// of 15 starts).
fn bundle() {
    use support::runtime_api::{Bootstrap, RuntimeApi};
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = default_stack_in(dir.path());
    let started = Instant::now();
    let built = cli(
        &["-f", file.to_str().unwrap(), "--env", "local", "build"],
        dir.path(),
    );
    let build = started.elapsed();
    assert_eq!(built.code, 0, "{}", built.stderr);
    let zip = support::target_dir(&support::repo_root())
        .join("lambda/cruddur-stream-processor-x86_64.zip");
    let size = std::fs::metadata(&zip).unwrap().len();
    let executable = Bootstrap::extract(&zip, dir.path());
    let executable_size = std::fs::metadata(&executable).unwrap().len();
    let mut starts: Vec<Duration> = (0..15)
        .map(|_| {
            let api = RuntimeApi::start();
            let env = [
                ("AWS_LAMBDA_FUNCTION_NAME", "bench"),
                ("TABLE_NAME", "t"),
                ("INDEX_NAME", "i"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ];
            let spawned = Instant::now();
            let _running = Bootstrap::spawn(&executable, &api, &env);
            api.first_poll(Duration::from_secs(10)) - spawned
        })
        .collect();
    starts.sort();
    println!(
        "bundle: zip {size} bytes (executable {executable_size} bytes), build {:.1} s; \
         cold start to the first /next: median {:.1} ms (min {:.1}, max {:.1}) over {}",
        build.as_secs_f64(),
        starts[starts.len() / 2].as_secs_f64() * 1000.0,
        starts[0].as_secs_f64() * 1000.0,
        starts[starts.len() - 1].as_secs_f64() * 1000.0,
        starts.len()
    );
}

/// The processor's batch with no latency added (the emulator's own time) and with
/// [`LATENCY`]: the difference divided by the latency is the sequential round trips.
fn processor() {
    let (base, ..) = processor_batch(Duration::ZERO);
    let (wall, requests, queries, transactions) = processor_batch(LATENCY);
    println!(
        "processor, 100 INSERTs over 10 conversations, {} ms per request:",
        LATENCY.as_millis()
    );
    println!(
        "  {:.2} s wall ({:.2} s without the added latency): {:.1} sequential round trips; \
         {requests} requests ({queries} Query, {transactions} TransactWriteItems)",
        wall.as_secs_f64(),
        base.as_secs_f64(),
        (wall.as_secs_f64() - base.as_secs_f64()) / LATENCY.as_secs_f64(),
    );
}

/// The stream processor's handler on one batch of 100 messages over 10 conversations, on a
/// fresh emulator with `latency` added to every request: wall time, requests, queries and
/// transactions.
fn processor_batch(latency: Duration) -> (Duration, usize, usize, usize) {
    use cruddur_stream_processor::testing::{event, stream_record};
    use cruddur_stream_processor::{Config, Processor};
    use support::{Live, ddb};

    const INDEX: &str = "message-group-sk-index";
    let emulator = Emulator::start();
    let proxy = FaultProxy::start(
        &emulator.url,
        Faults {
            latency,
            ..Faults::default()
        },
    );
    let setup = Live::new(&emulator);
    let table = "cruddur-messages-bench";
    setup.create_messages_table(table, INDEX);
    let s = |v: &str| ddb::AttributeValue::S(v.to_string());
    let at = |second: u32| {
        format!(
            "2024-03-14T18:{:02}:{:02}.000000+00:00",
            second / 60,
            second % 60
        )
    };
    let put = |item: Vec<(&str, ddb::AttributeValue)>| {
        let item = item.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let request = setup
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(item));
        setup.block_on(request.send()).unwrap();
    };
    // Ten conversations of two users; each summary row names the other party.
    let users = |g: usize| [format!("user-{g}-a"), format!("user-{g}-b")];
    for g in 0..10 {
        let [a, b] = users(g);
        for (me, other) in [(&a, &b), (&b, &a)] {
            put(vec![
                ("pk", s(&format!("GRP#{me}"))),
                ("sk", s(&at(0))),
                ("message_group_uuid", s(&format!("group-{g}"))),
                ("message", s("hello")),
                ("user_uuid", s(other)),
            ]);
        }
    }
    // 100 messages, ten per conversation, from either user, timestamps shuffled.
    let mut seconds: Vec<u32> = (1..=100).collect();
    fastrand::Rng::with_seed(7).shuffle(&mut seconds);
    let records: Vec<serde_json::Value> = seconds
        .iter()
        .enumerate()
        .map(|(i, second)| {
            let g = i % 10;
            let sender = &users(g)[i % 2];
            let image = serde_json::json!({
                "pk": {"S": format!("MSG#group-{g}")},
                "sk": {"S": at(*second)},
                "message": {"S": format!("message {second}")},
                "user_uuid": {"S": sender},
            });
            put(vec![
                ("pk", s(&format!("MSG#group-{g}"))),
                ("sk", s(&at(*second))),
                ("message", s(&format!("message {second}"))),
                ("user_uuid", s(sender)),
            ]);
            stream_record(&format!("{:021}", i + 1), "INSERT", image)
        })
        .collect();

    let through_proxy = Live::with_url(&proxy.url);
    let config = Config {
        table_name: table.to_string(),
        index_name: INDEX.to_string(),
    };
    let processor = Processor::new(through_proxy.client.clone(), config);
    emulator.clear_requests();
    let started = Instant::now();
    let response = through_proxy.block_on(processor.handle(event(records)));
    let wall = started.elapsed();
    assert!(response.batch_item_failures.is_empty());
    let requests = emulator.requests();
    let count = |op: &str| requests.iter().filter(|r| r.operation == op).count();
    (
        wall,
        requests.len(),
        count("Query"),
        count("TransactWriteItems"),
    )
}

/// The number of AWS calls a `--stats` run reported.
fn calls_of(run: &support::Run) -> String {
    run.stderr
        .lines()
        .find_map(|l| l.strip_prefix("Stats: "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or("?")
        .to_string()
}

/// No-op plan, full apply and destroy of the default stack.
fn stack() {
    let emulator = Emulator::start();
    let proxy = FaultProxy::start(
        &emulator.url,
        Faults {
            latency: LATENCY,
            ..Faults::default()
        },
    );
    // The same emulator with nothing added: the difference is the waiting on round trips.
    let direct = FaultProxy::start(&emulator.url, Faults::default());
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = default_stack_in(dir.path());
    let run_via = |url: &str, args: &[&str]| {
        let mut all = vec!["--stats"];
        all.extend_from_slice(args);
        let started = Instant::now();
        let out = run_default(dir.path(), &file, url, &all);
        let wall = started.elapsed();
        assert_eq!(out.code, 0, "{}", out.stderr);
        let calls = calls_of(&out);
        let critical = out
            .stderr
            .lines()
            .find(|l| l.starts_with("Critical path: "))
            .map(str::to_string);
        (wall, calls, critical)
    };
    let run = |args: &[&str]| run_via(&proxy.url, args);
    let median_of_5 = |url: &str, args: &[&str]| {
        let mut runs: Vec<_> = (0..5).map(|_| run_via(url, args)).collect();
        runs.sort_by_key(|r| r.0);
        runs.swap_remove(2)
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
    let report = |name: &str, (wall, calls, critical): (Duration, String, Option<String>)| {
        println!(
            "{name:<28} {:>9.2} {:>12.1} {calls:>9}",
            wall.as_secs_f64(),
            wall.as_secs_f64() / LATENCY.as_secs_f64()
        );
        if let Some(line) = critical {
            println!("    {line}");
        }
    };
    let destroy = || run(&["destroy", "--auto-approve", "--allow-data-loss"]);
    // The emulator loads each service on its first request (seconds for EC2): once, before
    // anything is measured, so the figures are the tool's.
    run(&["plan"]);
    report("apply (empty account)", run(&["apply", "--auto-approve"]));
    let plan = median_of_5(&proxy.url, &["plan"]);
    let plan_direct = median_of_5(&direct.url, &["plan"]);
    let waited = plan.0.as_secs_f64() - plan_direct.0.as_secs_f64();
    report("plan, no changes (median/5)", plan);
    proxy.clear_timings();
    run(&["plan"]);
    println!(
        "    without the added latency: {:.2} s (so the latency cost {:.1} round trips); \
         requests sent one after another's answer: {}",
        plan_direct.0.as_secs_f64(),
        waited / LATENCY.as_secs_f64(),
        proxy.sequential_round_trips().join(" → ")
    );
    report("apply, no changes", run(&["apply", "--auto-approve"]));
    report("drift, none", run(&["drift"]));
    report("destroy", destroy());
    // A stale bundle: the function's sources saved again (same content, so the same input
    // hash), so cargo compiles the package and links it again, beside the rest of the graph.
    let main_rs = support::repo_root().join("lambda/src/main.rs");
    std::fs::File::options()
        .append(true)
        .open(&main_rs)
        .and_then(|f| f.set_modified(std::time::SystemTime::now()))
        .unwrap();
    report("apply (empty, rebuild)", run(&["apply", "--auto-approve"]));
    report("destroy", destroy());
}
