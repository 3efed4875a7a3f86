//! A stream change with messages arriving all the while: the default stack under `dev`
//! (the real processor, run as Lambda runs it), messages written without a pause, and in
//! the middle an apply from another process that changes the table's stream view type
//! (the stream disabled and enabled anew: a new stream ARN). The apply replays the closed
//! stream through the function before the new mapping is made, the new mapping reads its
//! stream from the start, and dev follows the mappings as Lambda would. Every message
//! DynamoDB put on a stream is the newest of a conversation of its own, and every such
//! conversation must end at it. No timed assertion: the waits only bound a hung run.

use crate::dev::start_dev_on;
use crate::e2e::{conversation, inboxes};
use crate::support::{Emulator, Live, default_stack_in, run_default};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The users of conversation `g`.
fn users(g: usize) -> [String; 2] {
    [format!("u{g}a"), format!("u{g}b")]
}

/// Conversation `g` begun (its two `GRP#` rows), then its one message, at `sk`: so every
/// message is the newest of its conversation, and one lost is a conversation behind.
fn converse(live: &Live, g: usize, sk: &str) {
    let [a, b] = users(g);
    let group = format!("g{g}");
    conversation(live, &a, &group, "2026-01-01T00:00:00Z", &b);
    conversation(live, &b, &group, "2026-01-01T00:00:00Z", &a);
    let s = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.to_string());
    let request = live
        .client
        .put_item()
        .table_name("cruddur-messages-local")
        .item("pk", s(&format!("MSG#{group}")))
        .item("sk", s(sk))
        .item("message_group_uuid", s(&group))
        .item("message", s(&format!("message {g}")))
        .item("user_uuid", s(&a))
        .item("user_handle", s(&a));
    live.block_on(request.send()).unwrap();
}

/// The table's stream while it is enabled: its ARN.
fn stream_now(live: &Live) -> Option<String> {
    let table = live.expect_table("cruddur-messages-local");
    let enabled = table
        .stream_specification
        .as_ref()
        .is_some_and(|s| s.stream_enabled);
    table.latest_stream_arn.filter(|_| enabled)
}

#[test]
fn messages_written_while_the_stream_changes_all_reach_their_conversations() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let dir = tempfile::tempdir().unwrap();
    // A batching window of 3 s: when the old mapping goes, it holds records it has read
    // and not yet handed to the function (Lambda's own mapping may too).
    let (file, text) = default_stack_in(dir.path());
    assert!(text.contains("    batching_window_seconds: 1\n"));
    let text = text.replace(
        "    batching_window_seconds: 1\n",
        "    batching_window_seconds: 3\n",
    );
    std::fs::write(&file, &text).unwrap();
    let mut dev = start_dev_on(&emulator, dir.path(), &file);
    dev.saw_or_wait_for(|l| l.contains(" running against the emulator"));
    let old_stream = live
        .expect_table("cruddur-messages-local")
        .latest_stream_arn
        .unwrap();

    // The same stack, its stream keeping both images.
    let changed = dir.path().join("changed.yaml");
    assert!(text.contains("    stream: NEW_IMAGE\n"));
    std::fs::write(
        &changed,
        text.replace(
            "    stream: NEW_IMAGE\n",
            "    stream: NEW_AND_OLD_IMAGES\n",
        ),
    )
    .unwrap();

    let writing = AtomicBool::new(true);
    let (newest, applied) = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let live = Live::new(&emulator);
            let mut newest: BTreeMap<usize, String> = BTreeMap::new();
            let mut n: usize = 0;
            // Messages written while the table had no stream: DynamoDB put them on none.
            let mut uncaptured = Vec::new();
            // Until the apply is done, and a few more after it.
            let mut after = 0;
            while after < 8 {
                if !writing.load(Ordering::SeqCst) {
                    after += 1;
                }
                let sk = format!(
                    "2026-02-01T{:02}:{:02}:{:02}Z",
                    n / 3600,
                    n / 60 % 60,
                    n % 60
                );
                let before = stream_now(&live);
                converse(&live, n, &sk);
                match before.is_some() && stream_now(&live) == before {
                    true => newest.insert(n, sk),
                    false => {
                        uncaptured.push(n);
                        None
                    }
                };
                n += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            (newest, n, uncaptured)
        });
        // Some messages on the old stream first.
        std::thread::sleep(Duration::from_secs(2));
        let applied = run_default(
            dir.path(),
            &changed,
            &emulator.url,
            &["--no-color", "apply", "--auto-approve"],
        );
        writing.store(false, Ordering::SeqCst);
        let (newest, written, uncaptured) = writer.join().unwrap();
        assert!(written > 20, "only {written} messages were written");
        // The view type changes by two UpdateTable calls (Streams.html: "you must disable
        // the current stream and create a new one"): what is written between them is on
        // no stream, whatever reads it. Few, if any.
        assert!(uncaptured.len() <= 2, "{uncaptured:?} of {written}");
        (newest, applied)
    });
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    // The trigger moved to the new stream, after the old one was replayed.
    let new_stream = live
        .expect_table("cruddur-messages-local")
        .latest_stream_arn
        .unwrap();
    assert_ne!(new_stream, old_stream);
    assert!(
        applied.stderr.contains("replayed the closed stream's"),
        "{}",
        applied.stderr
    );
    let mappings = live.mappings();
    assert_eq!(mappings.len(), 1, "{mappings:?}");
    assert_eq!(mappings[0].event_source_arn(), Some(new_stream.as_str()));
    let label = new_stream.rsplit('/').next().unwrap();
    dev.saw_or_wait_for(|l| l.contains("reads stream") && l.contains(label));

    // Every conversation ends at its newest message, for both of its users.
    let bound = Instant::now() + Duration::from_secs(120);
    loop {
        let rows = inboxes(&live);
        let behind: Vec<String> = newest
            .keys()
            .copied()
            .flat_map(|g| users(g).map(|u| (g, u)))
            .filter(|(g, u)| {
                rows.get(u)
                    .is_none_or(|r| r.len() != 1 || r[0].0 != newest[g])
            })
            .map(|(g, u)| format!("{u}: {:?} (newest {})", rows.get(&u), newest[&g]))
            .collect();
        if behind.is_empty() {
            break;
        }
        assert!(
            Instant::now() < bound,
            "conversations behind their newest message: {behind:#?}\ndev said:\n{}",
            dev.seen.join("\n")
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // And the plan is clean.
    let plan = run_default(
        dir.path(),
        &changed,
        &emulator.url,
        &["--no-color", "plan", "--detailed-exitcode"],
    );
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    if std::env::var("CUTOVER_SHOW").is_ok() {
        eprintln!("{}\n---\n{}", applied.stderr, dev.seen.join("\n"));
    }
    dev.stop();
}

/// What the old mapping had not processed (here nothing ran it, as when Lambda lags behind)
/// is replayed by the apply that moves the trigger, before the new mapping is made; while
/// the function fails on it, that apply fails, makes no new mapping and keeps the old one,
/// and the plan still shows the move.
#[test]
fn what_the_closed_stream_holds_is_replayed_before_its_mapping_goes() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let dir = tempfile::tempdir().unwrap();
    let (file, text) = default_stack_in(dir.path());
    let run = |file: &std::path::Path, args: &[&str]| {
        let mut all = vec!["--no-color"];
        all.extend_from_slice(args);
        run_default(dir.path(), file, &emulator.url, &all)
    };
    let applied = run(&file, &["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    for g in 0..3 {
        converse(&live, g, &format!("2026-02-01T00:00:0{g}Z"));
    }
    let old = live.mappings().remove(0);
    let changed = dir.path().join("changed.yaml");
    let view_changed = text.replace(
        "    stream: NEW_IMAGE\n",
        "    stream: NEW_AND_OLD_IMAGES\n",
    );

    // A function that fails (its index misnamed), released with no check (which would
    // keep it out before the hand-over): the move stops before the new mapping.
    let check = view_changed
        .lines()
        .find(|l| l.contains("check: ") && l.contains("check-event.json"))
        .unwrap();
    std::fs::write(
        &changed,
        view_changed.replacen(&format!("{check}\n"), "", 1).replace(
            "INDEX_NAME: message-group-sk-index",
            "INDEX_NAME: no-such-index",
        ),
    )
    .unwrap();
    let failed = run(&changed, &["apply", "--auto-approve"]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed.stderr.contains(
            "\n  trigger: replaying the closed stream arn:aws:dynamodb:us-east-1:123456789012:table/cruddur-messages-local/stream/"
        ) && failed.stderr.contains(
            "(that mapping stays and reads on; no new one was made: run apply again once the function handles the records): the function reported record "
        ),
        "{}",
        failed.stderr
    );
    let mappings = live.mappings();
    assert_eq!(mappings.len(), 1, "{mappings:?}");
    assert_eq!(mappings[0].uuid(), old.uuid());
    assert_eq!(inboxes(&live)["u0a"][0].0, "2026-01-01T00:00:00Z");
    let plan = run(&changed, &["plan"]);
    assert!(
        plan.stdout.contains("event_source_mapping.trigger (")
            && plan.stdout.contains("must be replaced"),
        "{}",
        plan.stdout
    );

    // Fixed: the closed stream's messages go through the function, then the move.
    std::fs::write(&changed, &view_changed).unwrap();
    let moved = run(&changed, &["apply", "--auto-approve"]);
    assert_eq!(moved.code, 0, "{}", moved.stderr);
    assert!(
        moved
            .stderr
            .contains("replayed the closed stream's 3 record(s) in 1 invocation(s)"),
        "{}",
        moved.stderr
    );
    let rows = inboxes(&live);
    for g in 0..3 {
        for user in users(g) {
            assert_eq!(rows[&user].len(), 1, "{user}: {rows:?}");
            assert_eq!(
                rows[&user][0].0,
                format!("2026-02-01T00:00:0{g}Z"),
                "{user}"
            );
        }
    }
    let new_stream = live
        .expect_table("cruddur-messages-local")
        .latest_stream_arn
        .unwrap();
    let mappings = live.mappings();
    assert_eq!(mappings.len(), 1, "{mappings:?}");
    assert_eq!(mappings[0].event_source_arn(), Some(new_stream.as_str()));
    assert_eq!(run(&changed, &["plan", "--detailed-exitcode"]).code, 0);
}

/// The emulator's fix 4: a cancelled transaction leaves the table as it was, in place. moto
/// put a copy of the table in its place, so a shard iterator taken before it read a stream
/// nobody wrote to any more, and a write made meanwhile was undone: the stream cutover test
/// lost messages that way.
#[test]
fn after_a_cancelled_transaction_the_stream_read_before_it_goes_on() {
    use aws_sdk_dynamodb::types::{
        AttributeValue, KeySchemaElement, KeyType, Put, StreamSpecification, StreamViewType,
        TransactWriteItem,
    };
    use aws_sdk_dynamodbstreams::types::ShardIteratorType;
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let create = live
        .client
        .create_table()
        .table_name("rollback")
        .attribute_definitions(crate::support::string_attribute("pk"))
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .unwrap(),
        );
    live.block_on(create.send()).unwrap();
    let arn = live.expect_table("rollback").latest_stream_arn.unwrap();
    let shard = live
        .block_on(live.streams.describe_stream().stream_arn(&arn).send())
        .unwrap()
        .stream_description
        .unwrap()
        .shards
        .unwrap()
        .remove(0)
        .shard_id
        .unwrap();
    let iterator = live
        .block_on(
            live.streams
                .get_shard_iterator()
                .stream_arn(&arn)
                .shard_id(&shard)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send(),
        )
        .unwrap()
        .shard_iterator
        .unwrap();
    // A put, then a put whose condition fails: the transaction is cancelled, both undone.
    let put = |key: &str, condition: Option<&str>| {
        let put = Put::builder()
            .table_name("rollback")
            .item("pk", AttributeValue::S(key.into()))
            .set_condition_expression(condition.map(str::to_string))
            .build()
            .unwrap();
        TransactWriteItem::builder().put(put).build()
    };
    let cancelled = live.block_on(
        live.client
            .transact_write_items()
            .transact_items(put("first", None))
            .transact_items(put("cancelled", Some("attribute_exists(pk)")))
            .send(),
    );
    assert!(cancelled.is_err());
    let scan = live.block_on(live.client.scan().table_name("rollback").send());
    assert_eq!(scan.unwrap().count, 0);
    let written = live
        .client
        .put_item()
        .table_name("rollback")
        .item("pk", AttributeValue::S("after".into()));
    live.block_on(written.send()).unwrap();
    let records = live
        .block_on(live.streams.get_records().shard_iterator(iterator).send())
        .unwrap()
        .records
        .unwrap_or_default();
    let keys: Vec<String> = records
        .iter()
        .map(|r| {
            r.dynamodb().unwrap().keys().unwrap()["pk"]
                .as_s()
                .unwrap()
                .clone()
        })
        .collect();
    assert_eq!(keys, ["after"]);
}
