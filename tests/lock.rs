//! The deploy lock: applies and destroys of one stack and environment never interleave;
//! a lock left behind expires; plan takes none.

mod support;

use std::process::{Command, Stdio};
use support::{Emulator, Live, StackFile, ddb};

const TABLE: &str = "  messages:\n    type: dynamodb_table\n    name: locked-messages\n    attributes: { pk: S }\n    key: { hash: pk }\n";

fn epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Writes a lock item as another runner would have, expiring in `seconds`.
fn hold(live: &Live, id: &str, seconds: i64) {
    // Make sure the lock table exists: a plan-free apply of nothing would, but the test
    // makes it directly with the same shape the tool uses.
    let _ = live.block_on(
        live.client
            .create_table()
            .table_name("cruddur-infra-locks")
            .attribute_definitions(
                ddb::AttributeDefinition::builder()
                    .attribute_name("lock_id")
                    .attribute_type(ddb::ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                ddb::KeySchemaElement::builder()
                    .attribute_name("lock_id")
                    .key_type(ddb::KeyType::Hash)
                    .build()
                    .unwrap(),
            )
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
    let item = live
        .block_on(
            live.client
                .get_item()
                .table_name("cruddur-infra-locks")
                .key("lock_id", ddb::AttributeValue::S("locked/test".into()))
                .send(),
        )
        .unwrap();
    assert!(item.item.is_none(), "the lock was not released: {item:?}");
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
    let path = file.path();
    let start = || {
        Command::new(env!("CARGO_BIN_EXE_cruddur-infra"))
            .args(["-f", path.to_str().unwrap(), "--env", "test", "--no-color"])
            .args(["apply", "--auto-approve"])
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
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
