//! Under faults: with the fault proxy between the tool and the emulator answering 30% of
//! requests with the service's throttling error and 10% with a 500 or 503, dropping 5% of
//! connections and losing 5% of answers, a full apply of the default stack, an update and a
//! destroy all converge, with no duplicate endpoint or mapping and no row lost. A lost
//! answer (the change made, the answer never received) on every change the tool makes
//! converges in the same run, and AWS's "busy" errors are waited out visibly.

use crate::support::fault_proxy::{Fault, FaultProxy, Faults, Scripted};
use crate::support::{Emulator, Live, default_stack_in, run_default};

#[test]
fn apply_update_and_destroy_converge_under_throttling_server_errors_and_lost_connections() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let proxy = FaultProxy::start(
        &emulator.url,
        Faults {
            // A throttled client is paced down to the rate the service accepts (the
            // SDK's adaptive retries): at 30% the run crawls at its floor of half a
            // request a second, as it should; 10% shows the same convergence.
            throttle: 0.1,
            server_error: 0.1,
            drop: 0.05,
            lost_answer: 0.05,
            // Another seed explores other fault orders: CRUDDUR_FAULT_SEED=N.
            seed: std::env::var("CRUDDUR_FAULT_SEED")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(20261124),
            ..Faults::default()
        },
    );
    // The repository's stack, with the function's package by absolute path.
    let dir = tempfile::tempdir().unwrap();
    let (file, text) = default_stack_in(dir.path());
    let run = |args: &[&str]| run_via(&proxy, dir.path(), &file, args);

    let applied = run(&["apply", "--auto-approve"]).expect_code(0);
    let injected = proxy.injected();
    assert!(
        injected.throttled > 0 && injected.server_errors > 0,
        "{injected:?}"
    );
    assert!(
        !applied.stderr.contains(" 0 SDK retries"),
        "{}",
        applied.stderr
    );
    assert_converged_once(run, &live);

    // An update, with a row in the table that must survive it.
    live.put("cruddur-messages-local", "MSG#g1", "2024-01-01");
    std::fs::write(
        &file,
        text.replace(
            "    read_capacity: 5\n    write_capacity: 5\n    global",
            "    read_capacity: 7\n    write_capacity: 5\n    global",
        ),
    )
    .unwrap();
    run(&["apply", "--auto-approve"]).expect_code(0);
    let table = live.expect_table("cruddur-messages-local");
    assert_eq!(
        table
            .provisioned_throughput()
            .unwrap()
            .read_capacity_units(),
        Some(7)
    );
    assert_eq!(
        live.item_count("cruddur-messages-local"),
        1,
        "a row was lost"
    );
    run(&["plan", "--detailed-exitcode"]).expect_code(0);

    run(&["destroy", "--auto-approve", "--allow-data-loss"]).expect_code(0);
    assert!(live.table("cruddur-messages-local").is_none());
    assert!(live.endpoints().is_empty());
    assert!(live.mappings().is_empty());
    let injected = proxy.injected();
    eprintln!("faults injected over the three runs: {injected:?}");
    assert!(
        injected.dropped > 0 && injected.lost_answers > 0,
        "{injected:?}"
    );
}

/// Runs the tool on the default stack through `proxy`, with counts and the retries logged.
fn run_via(
    proxy: &FaultProxy,
    dir: &std::path::Path,
    file: &std::path::Path,
    args: &[&str],
) -> crate::support::Run {
    let mut all = vec!["--no-color", "--stats", "-v"];
    all.extend_from_slice(args);
    run_default(dir, file, &proxy.url, &all)
}

/// Converged, and nothing made twice: a clean plan, one endpoint and one mapping.
fn assert_converged_once(run: impl Fn(&[&str]) -> crate::support::Run, live: &Live) {
    run(&["plan", "--detailed-exitcode"]).expect_code(0);
    assert_eq!(live.endpoints().len(), 1, "a duplicate endpoint");
    assert_eq!(live.mappings().len(), 1, "a duplicate mapping");
}

/// Every call that changes something loses its first answer: AWS made the change but the
/// tool never heard, and the SDK sends the call again. Creates must recognise what they
/// made rather than fail or make a second; deletes must accept that it is gone.
#[test]
fn lost_answers_on_every_change_converge_in_the_same_run() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    // The deploy lock's calls lose their answers too (its table is made first).
    let lock_table = "cruddur-infra-locks";
    let mut scripted = vec![
        Scripted::new("CreateTable", Fault::LostAnswer, 1).when_body_has(lock_table),
        Scripted::new("PutItem", Fault::LostAnswer, 1).when_body_has(lock_table),
        Scripted::new("DeleteItem", Fault::LostAnswer, 1).when_body_has(lock_table),
        Scripted::new("CreateTable", Fault::LostAnswer, 1).when_body_has("cruddur-messages"),
    ];
    let changes = [
        "UpdateContinuousBackups",
        "UpdateTimeToLive",
        "CreateRole",
        "PutRolePolicy",
        "CreateVpcEndpoint",
        "CreateLogGroup",
        "PutRetentionPolicy",
        "CreateFunction",
        "CreateEventSourceMapping",
        "UpdateTable",
        "UpdateFunctionConfiguration",
        "DeleteEventSourceMapping",
        "DeleteFunction",
        "DeleteLogGroup",
        "DeleteVpcEndpoints",
        "DeleteRolePolicy",
        "DeleteRole",
        "DeleteTable",
    ];
    let proxy = FaultProxy::start(
        &emulator.url,
        Faults {
            scripted: {
                scripted.extend(
                    changes
                        .iter()
                        .map(|op| Scripted::new(op, Fault::LostAnswer, 1)),
                );
                scripted
            },
            ..Faults::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let (file, text) = default_stack_in(dir.path());
    // With backups and TTL, so that their calls lose answers too.
    let text = text.replace(
        "    point_in_time_recovery: false\n",
        "    point_in_time_recovery: true\n    ttl_attribute: expires_at\n",
    );
    std::fs::write(&file, &text).unwrap();
    let run = |args: &[&str]| run_via(&proxy, dir.path(), &file, args);

    let applied = run(&["apply", "--auto-approve"]).expect_code(0);
    // The endpoint and the mapping were found by their tags, not made twice.
    assert_eq!(
        applied
            .stderr
            .matches("found what an unanswered create made")
            .count(),
        2,
        "{}",
        applied.stderr
    );
    // The lock's own PutItem, resent, is recognised as ours: no wait for our own lease.
    assert!(
        !applied.stderr.contains("Waiting for the deploy lock"),
        "{}",
        applied.stderr
    );
    assert!(
        proxy.injected().lost_answers >= 6,
        "{:?}\n{}",
        proxy.injected(),
        applied.stderr
    );
    assert_converged_once(run, &live);

    // An update of the table and of the function's configuration.
    live.put("cruddur-messages-local", "MSG#g1", "2024-01-01");
    std::fs::write(
        &file,
        text.replace(
            "    read_capacity: 5\n    write_capacity: 5\n    global",
            "    read_capacity: 7\n    write_capacity: 5\n    global",
        )
        .replace("    memory: 128\n", "    memory: 256\n"),
    )
    .unwrap();
    run(&["apply", "--auto-approve"]).expect_code(0);
    run(&["plan", "--detailed-exitcode"]).expect_code(0);
    assert_eq!(
        live.item_count("cruddur-messages-local"),
        1,
        "a row was lost"
    );

    let destroyed = run(&["destroy", "--auto-approve", "--allow-data-loss"]).expect_code(0);
    assert!(live.table("cruddur-messages-local").is_none());
    assert!(live.endpoints().is_empty());
    assert!(live.role("cruddur-stream-processor-local").is_none());
    assert!(live.mappings().is_empty());
    // Every change lost its first answer.
    assert_eq!(
        proxy.scripts_left(),
        Vec::<String>::new(),
        "{}",
        destroyed.stderr
    );
}

/// The errors AWS answers while something is still busy are waited out, visibly: a table
/// still updating (ResourceInUseException), too many index builds at once
/// (LimitExceededException), a Lambda update still in progress (ResourceConflictException).
#[test]
fn busy_errors_are_waited_out_logged_and_counted() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let proxy = FaultProxy::start(
        &emulator.url,
        Faults {
            scripted: vec![
                Scripted::new("UpdateTable", Fault::Error("ResourceInUseException"), 2),
                Scripted::new("UpdateTable", Fault::Error("LimitExceededException"), 1),
                Scripted::new(
                    "UpdateFunctionConfiguration",
                    Fault::Error("ResourceConflictException"),
                    2,
                ),
            ],
            ..Faults::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let (file, text) = default_stack_in(dir.path());
    // Deployed straight to the emulator; the update goes through the proxy.
    run_default(
        dir.path(),
        &file,
        &emulator.url,
        &["apply", "--auto-approve"],
    )
    .expect_code(0);
    std::fs::write(
        &file,
        text.replace(
            "    read_capacity: 5\n    write_capacity: 5\n    global",
            "    read_capacity: 7\n    write_capacity: 5\n    global",
        )
        .replace("    memory: 128\n", "    memory: 256\n"),
    )
    .unwrap();
    let applied = run_via(&proxy, dir.path(), &file, &["apply", "--auto-approve"]).expect_code(0);
    assert_eq!(proxy.scripts_left(), Vec::<String>::new());

    // Converged.
    let table = live.expect_table("cruddur-messages-local");
    let capacity = table
        .provisioned_throughput()
        .unwrap()
        .read_capacity_units();
    assert_eq!(capacity, Some(7));
    let function = live
        .block_on(
            live.lambda
                .get_function_configuration()
                .function_name("cruddur-stream-processor-local")
                .send(),
        )
        .unwrap();
    assert_eq!(function.memory_size(), Some(256));

    // Visible with -v: each wait names what it waits for.
    let log = &applied.stderr;
    let waits_for = |state: &str| {
        log.lines()
            .filter(|l| l.contains("not yet") && l.contains(state))
            .count()
    };
    assert_eq!(
        waits_for("the table or an index is still being changed"),
        2,
        "{log}"
    );
    assert_eq!(
        waits_for("Lambda is still applying an earlier change"),
        2,
        "{log}"
    );
    // Counted: four waits by the tool, and the SDK's own retry of LimitExceededException
    // (a throttling error to it).
    let waits = log
        .split(" waits/retries by the tool")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("no stats line: {log}"));
    assert!(waits >= 4, "{waits} waits\n{log}");
    let update_table_line = log
        .lines()
        .find(|l| l.trim_start().starts_with("DynamoDB") && l.contains(" UpdateTable "))
        .unwrap_or_else(|| panic!("no UpdateTable in the stats: {log}"));
    assert!(
        update_table_line.ends_with("(1 retried)"),
        "{update_table_line}"
    );
}
