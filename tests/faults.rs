//! Under faults: with the fault proxy between the tool and the emulator answering 30% of
//! requests with the service's throttling error and 10% with a 500 or 503, a full apply of
//! the default stack, an update and a destroy all converge, with no duplicate endpoint or
//! mapping and no row lost.

mod support;

use support::fault_proxy::{FaultProxy, Faults};
use support::{Emulator, Live, cli, default_stack_in};

#[test]
fn apply_update_and_destroy_converge_under_throttling_and_server_errors() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let proxy = FaultProxy::start(
        &emulator.url,
        Faults {
            throttle: 0.3,
            server_error: 0.1,
            seed: 20261124,
            ..Faults::default()
        },
    );
    // The repository's stack, with the function's package by absolute path.
    let dir = tempfile::tempdir().unwrap();
    let (file, text) = default_stack_in(dir.path());
    let run = |args: &[&str]| {
        let mut all = vec![
            "-f",
            file.to_str().unwrap(),
            "--env",
            "local",
            "--endpoint-url",
            proxy.url.as_str(),
            "--no-color",
            "--stats",
        ];
        all.extend_from_slice(args);
        cli(&all, dir.path())
    };

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
    run(&["plan", "--detailed-exitcode"]).expect_code(0);
    assert_eq!(live.endpoints().len(), 1, "a duplicate endpoint");
    let mappings = live
        .block_on(live.lambda.list_event_source_mappings().send())
        .unwrap();
    assert_eq!(
        mappings.event_source_mappings().len(),
        1,
        "a duplicate mapping"
    );

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
    let mappings = live
        .block_on(live.lambda.list_event_source_mappings().send())
        .unwrap();
    assert!(mappings.event_source_mappings().is_empty());
    eprintln!(
        "faults injected over the three runs: {:?}",
        proxy.injected()
    );
}
