//! The deploy lock: applies and destroys of one stack and environment never interleave;
//! a lock left behind expires; plan takes none.

use crate::support::fault_proxy::{Fault, FaultProxy, Faults, Scripted};
use crate::support::{Emulator, Live, StackFile, cli_command, ddb};
use std::process::Child;

const TABLE: &str = "  messages:\n    type: dynamodb_table\n    name: locked-messages\n    attributes: { pk: S }\n    key: { hash: pk }\n";

fn epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Starts the tool on `file` (environment `test`) in the background.
fn start(file: &StackFile, args: &[&str]) -> Child {
    let path = file.path();
    let mut all = vec!["-f", path.to_str().unwrap(), "--env", "test", "--no-color"];
    all.extend_from_slice(args);
    cli_command(&all, path.parent().unwrap()).spawn().unwrap()
}

/// Writes a lock item as another runner would have, expiring in `seconds`.
fn hold(live: &Live, id: &str, seconds: i64) {
    // Make sure the lock table exists: a plan-free apply of nothing would, but the test
    // makes it directly with the same shape the tool uses.
    let _ = live.block_on(
        live.client
            .create_table()
            .table_name("cruddur-infra-locks")
            .attribute_definitions(crate::support::string_attribute("lock_id"))
            .key_schema(crate::support::key_element("lock_id", ddb::KeyType::Hash))
            .billing_mode(ddb::BillingMode::PayPerRequest)
            .send(),
    );
    let expires = (epoch() as i64 + seconds).to_string();
    live.block_on(
        live.client
            .put_item()
            .table_name("cruddur-infra-locks")
            .item("lock_id", ddb::AttributeValue::S(id.into()))
            .item(
                "holder",
                ddb::AttributeValue::S("ci-runner-7:4242:00000000".into()),
            )
            .item("command", ddb::AttributeValue::S("apply".into()))
            .item("acquired_at", ddb::AttributeValue::N(epoch().to_string()))
            .item("expires_at", ddb::AttributeValue::N(expires))
            .send(),
    )
    .unwrap();
}

#[test]
fn a_held_lock_makes_apply_wait_then_fail_and_an_expired_one_is_taken_over() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let file = StackFile::new("locked", &emulator.url, TABLE);
    hold(&live, "locked/test", 300);

    // plan reads only: no lock, no wait.
    file.run(&["plan"]).expect_code(0);

    emulator.clear_requests();
    let run = file
        .run(&["apply", "--auto-approve", "--lock-timeout", "1"])
        .expect_code(1);
    assert!(
        run.stderr
            .contains("could not get the deploy lock of locked/test"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("held by ci-runner-7:4242"),
        "{}",
        run.stderr
    );
    assert_eq!(emulator.mutating_requests(), Vec::<String>::new());
    assert!(live.table("locked-messages").is_none());

    // A lock whose holder was killed expires; the next run takes it over.
    hold(&live, "locked/test", -1);
    file.run(&["apply", "--auto-approve"]).expect_code(0);
    assert!(live.table("locked-messages").is_some());
    // And gives it back.
    let item = live.lock_item("locked/test");
    assert!(item.is_none(), "the lock was not released: {item:?}");
}

#[test]
fn two_applies_started_together_do_not_interleave() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let file = StackFile::new(
        "together",
        &emulator.url,
        &TABLE.replace("locked-", "together-"),
    );
    // Both start while a third runner holds the lock for two more seconds, so both
    // really contend for it when it frees.
    hold(&live, "together/test", 2);
    let start = || start(&file, &["apply", "--auto-approve"]);
    let (a, b) = (start(), start());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let outputs: Vec<String> = [&a, &b]
        .iter()
        .map(|o| {
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8_lossy(&o.stdout).into_owned()
        })
        .collect();
    for o in [&a, &b] {
        assert!(
            String::from_utf8_lossy(&o.stderr)
                .contains("Waiting for the deploy lock of together/test"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // One planned and made the table; the other planned after it had finished.
    let created = outputs.iter().filter(|o| o.contains("1 to add")).count();
    let clean = outputs.iter().filter(|o| o.contains("No changes.")).count();
    assert_eq!((created, clean), (1, 1), "{outputs:#?}");
    assert!(live.table("together-messages").is_some());
}

#[test]
fn an_apply_and_a_destroy_started_together_run_one_after_the_other() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let file = StackFile::new(
        "apply-destroy",
        &emulator.url,
        &TABLE.replace("locked-", "apply-destroy-"),
    );
    file.run(&["apply", "--auto-approve"]).expect_code(0);
    hold(&live, "apply-destroy/test", 2);
    let apply = start(&file, &["apply", "--auto-approve"]);
    let destroy = start(&file, &["destroy", "--auto-approve"]);
    let (apply, destroy) = (
        apply.wait_with_output().unwrap(),
        destroy.wait_with_output().unwrap(),
    );
    for o in [&apply, &destroy] {
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{stderr}");
        assert!(
            stderr.contains("Waiting for the deploy lock of apply-destroy/test"),
            "{stderr}"
        );
    }
    // Whichever went first, the second planned against what the first left: either the
    // apply found nothing to do and the destroy then deleted the table, or the destroy
    // went first and the apply made the table again.
    let applied = String::from_utf8_lossy(&apply.stdout);
    let destroyed = String::from_utf8_lossy(&destroy.stdout);
    let exists = live.table("apply-destroy-messages").is_some();
    if applied.contains("No changes.") {
        assert!(!exists, "apply went first, then destroy: {destroyed}");
    } else {
        assert!(applied.contains("1 to add"), "{applied}");
        assert!(exists, "destroy went first, then apply: {applied}");
    }
    assert!(live.lock_item("apply-destroy/test").is_none());
}

/// A run whose lease is taken over (its renewals failed for a whole lease, or someone broke
/// the lock by hand) stops instead of going on beside the new holder, and leaves the new
/// holder's lock alone.
#[test]
fn a_run_that_loses_its_lock_stops() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let provisioned = |capacity: u32| {
        TABLE.replace("locked-", "lost-")
            + &format!(
                "    billing_mode: PROVISIONED\n    read_capacity: {capacity}\n    write_capacity: 1\n"
            )
    };
    let file = StackFile::new("lost", &emulator.url, &provisioned(1));
    file.run(&["apply", "--auto-approve"]).expect_code(0);
    // The update is refused as "table busy" for as long as the run goes on (the wait
    // timeout bounds the test should the run not stop).
    let proxy = FaultProxy::start(
        &emulator.url,
        Faults {
            scripted: vec![Scripted::new(
                "UpdateTable",
                Fault::Error("ResourceInUseException"),
                100_000,
            )],
            ..Faults::default()
        },
    );
    file.write(&provisioned(2));
    let run = start(
        &file,
        &[
            "--endpoint-url",
            &proxy.url,
            "--wait-timeout",
            "120",
            "apply",
            "--auto-approve",
        ],
    );
    // Once the run is waiting on the table, another runner takes the lock over.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while proxy.injected().errors == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the update never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        live.lock_item("lost/test").is_some(),
        "the run holds no lock"
    );
    hold(&live, "lost/test", 300);

    let out = run.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "stopped: the deploy lock of lost/test was taken over: held by ci-runner-7:4242"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("gave up"),
        "stopped by the wait timeout: {stderr}"
    );
    // The new holder's lock is untouched, and the table was not changed.
    let lock = live.lock_item("lost/test").expect("the new holder's lock");
    assert_eq!(
        lock["holder"],
        ddb::AttributeValue::S("ci-runner-7:4242:00000000".into())
    );
    let table = live.expect_table("lost-messages");
    assert_eq!(
        table
            .provisioned_throughput()
            .unwrap()
            .read_capacity_units(),
        Some(1)
    );
}
