//! Whole batches through the handler, against the in-memory table: how many requests and
//! sequential round trips a batch takes, an index that lags behind its table, and partial
//! failures followed by Lambda's retry from the lowest reported sequence number.

use crate::memory::{Lag, Memory};
use crate::testing::{event, stream_record};
use crate::{Item, Processor, Step, plan};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use std::time::Duration;

const LATENCY: Duration = Duration::from_millis(50);

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn at(second: u32) -> String {
    format!(
        "2024-03-14T18:{:02}:{:02}.000000+00:00",
        second / 60,
        second % 60
    )
}

/// `user`'s summary row of `group`, naming `other` as the other party.
fn summary(user: &str, other: &str, group: &str, sk: &str, text: &str) -> Item {
    Item::from([
        ("pk".into(), s(&format!("GRP#{user}"))),
        ("sk".into(), s(sk)),
        ("message_group_uuid".into(), s(group)),
        ("message".into(), s(text)),
        ("user_uuid".into(), s(other)),
    ])
}

fn users(g: usize) -> [String; 2] {
    [format!("u{g}a"), format!("u{g}b")]
}

/// Ten two-user conversations `g0` … `g9`, each at second 0.
fn ten_conversations(store: &Memory) {
    for g in 0..10 {
        let [a, b] = users(g);
        store.put(summary(&a, &b, &format!("g{g}"), &at(0), "hello"));
        store.put(summary(&b, &a, &format!("g{g}"), &at(0), "hello"));
    }
}

fn sequence_number(i: usize) -> String {
    format!("{:021}", i + 1)
}

fn message(i: usize, group: &str, second: u32, sender: &str) -> Value {
    let image = json!({
        "pk": {"S": format!("MSG#{group}")},
        "sk": {"S": at(second)},
        "message": {"S": format!("m{second}")},
        "user_uuid": {"S": sender},
    });
    stream_record(&sequence_number(i), "INSERT", image)
}

/// 100 INSERTs over the ten conversations (record i is for `g{i % 10}`, from either user),
/// with the timestamps 1..=100 shuffled.
fn hundred_messages() -> Vec<Value> {
    (0..100)
        .map(|i| {
            let second = (i as u32 * 37) % 100 + 1;
            let g = i % 10;
            message(i, &format!("g{g}"), second, &users(g)[i % 2])
        })
        .collect()
}

/// Every summary row of the ten conversations at its group's newest message.
fn all_at_newest(records: &[Value]) -> Vec<(String, String, String)> {
    let mut expected = Vec::new();
    for g in 0..10 {
        let newest = (0..records.len())
            .filter(|i| i % 10 == g)
            .map(|i| (i as u32 * 37) % 100 + 1)
            .max()
            .unwrap();
        for user in users(g) {
            expected.push((format!("GRP#{user}"), at(newest), format!("m{newest}")));
        }
    }
    expected.sort();
    expected
}

fn count(calls: &[String], prefix: &str) -> usize {
    calls.iter().filter(|c| c.starts_with(prefix)).count()
}

async fn handle(processor: &Processor<Memory>, records: Vec<Value>) -> Vec<String> {
    let response = processor.handle(event(records)).await;
    let failures = response.batch_item_failures.into_iter();
    failures.map(|f| f.item_identifier.unwrap()).collect()
}

#[tokio::test(start_paused = true)]
async fn a_batch_of_independent_conversations_takes_one_query_each_and_two_round_trips() {
    let processor = Processor::with_store(Memory::with_latency(LATENCY));
    ten_conversations(processor.store());
    let records = hundred_messages();
    let started = tokio::time::Instant::now();

    assert_eq!(
        handle(&processor, records.clone()).await,
        Vec::<String>::new()
    );

    let round_trips = started.elapsed().as_secs_f64() / LATENCY.as_secs_f64();
    let calls = processor.store().take_calls();
    assert_eq!(count(&calls, "Query index"), 10, "{calls:#?}");
    assert_eq!(count(&calls, "Query table"), 0, "{calls:#?}");
    assert_eq!(count(&calls, "TransactWriteItems"), 20, "{calls:#?}");
    // The queries in one wave, then every user's move in another.
    assert!(round_trips <= 4.0, "{round_trips} round trips");
    assert_eq!(round_trips, 2.0);
    assert_eq!(processor.store().dump(), all_at_newest(&records));
}

#[tokio::test(start_paused = true)]
async fn an_index_that_shows_a_move_s_delete_before_its_put_does_not_skip_the_message() {
    let processor = Processor::with_store(Memory::default());
    let store = processor.store();
    store.put(summary("ann", "bob", "g1", &at(0), "hello"));
    store.put(summary("bob", "ann", "g1", &at(0), "hello"));
    store.set_lag(Lag::Puts);
    assert_eq!(
        handle(&processor, vec![message(0, "g1", 10, "ann")]).await,
        Vec::<String>::new()
    );
    store.take_calls();
    // The index now shows neither user's row: the deletes reached it, the puts did not.
    assert_eq!(
        handle(&processor, vec![message(1, "g1", 20, "bob")]).await,
        Vec::<String>::new()
    );
    let calls = store.take_calls();
    assert_eq!(
        calls,
        [
            "Query index g1",
            "Query table bob g1",
            "Query table ann g1",
            "TransactWriteItems GRP#ann",
            "TransactWriteItems GRP#bob"
        ]
    );
    assert_eq!(
        store.dump(),
        [
            ("GRP#ann".into(), at(20), "m20".into()),
            ("GRP#bob".into(), at(20), "m20".into())
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn an_index_still_showing_replaced_rows_is_read_again_from_the_table() {
    let processor = Processor::with_store(Memory::default());
    let store = processor.store();
    store.put(summary("ann", "bob", "g1", &at(0), "hello"));
    store.put(summary("bob", "ann", "g1", &at(0), "hello"));
    store.set_lag(Lag::All);
    let first = vec![message(0, "g1", 10, "ann")];
    assert_eq!(handle(&processor, first).await, Vec::<String>::new());
    store.take_calls();
    // The index shows both rows at 0 still: the moves' deletes find nothing and are
    // cancelled, and the second round decides on the rows read from the table.
    let second = vec![message(1, "g1", 20, "ann")];
    assert_eq!(
        handle(&processor, second.clone()).await,
        Vec::<String>::new()
    );
    let calls = store.take_calls();
    assert_eq!(count(&calls, "Query table"), 2, "{calls:#?}");
    assert_eq!(count(&calls, "TransactWriteItems"), 4, "{calls:#?}");
    let done = vec![
        ("GRP#ann".into(), at(20), "m20".into()),
        ("GRP#bob".into(), at(20), "m20".into()),
    ];
    assert_eq!(store.dump(), done);
    // Once the index has caught up, a replay is one query and nothing else.
    store.propagate();
    assert_eq!(handle(&processor, second).await, Vec::<String>::new());
    assert_eq!(store.take_calls(), ["Query index g1"]);
    assert_eq!(store.dump(), done);
}

#[tokio::test(start_paused = true)]
async fn a_conversation_without_summary_rows_moves_nothing_and_blocks_nothing() {
    let processor = Processor::with_store(Memory::default());
    let records = vec![message(0, "lonely", 10, "ann")];
    assert_eq!(handle(&processor, records).await, Vec::<String>::new());
    let calls = processor.store().take_calls();
    assert_eq!(calls, ["Query index lonely", "Query table ann lonely"]);
    assert_eq!(processor.store().dump(), []);
}

/// Where a conversation fails.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Its index query fails.
    Query,
    /// The second user's transaction fails; the first user's goes through.
    SecondMove,
    /// Every transaction of the first user is cancelled by a conflict, until the
    /// processor gives up.
    Contention,
}

fn inject(store: &Memory, g: usize, fault: Fault) {
    match fault {
        Fault::Query => store.fail_queries_of(&format!("g{g}")),
        Fault::SecondMove => store.fail_moves_of(&users(g)[1]),
        Fault::Contention => store.contend_moves_of(&users(g)[0]),
    }
}

/// The sequence number the batch reports for conversation `g`: its newest message's.
fn applied_record_of(records: &[Value], g: usize) -> String {
    let steps = plan(&event(records.to_vec()).records);
    let i = (0..records.len())
        .find(|i| i % 10 == g && matches!(&steps[*i], Step::Apply(m) if m.group == format!("g{g}")))
        .unwrap();
    sequence_number(i)
}

#[tokio::test(start_paused = true)]
async fn failures_at_different_points_lose_no_message_and_the_retry_redoes_nothing_else() {
    let scenarios: &[&[(usize, Fault)]] = &[
        &[(3, Fault::Query)],
        &[(5, Fault::SecondMove)],
        &[(7, Fault::Contention)],
        &[
            (0, Fault::SecondMove),
            (9, Fault::Query),
            (4, Fault::Contention),
        ],
    ];
    for faults in scenarios {
        let processor = Processor::with_store(Memory::default());
        let store = processor.store();
        ten_conversations(store);
        let records = hundred_messages();
        for (g, fault) in *faults {
            inject(store, *g, *fault);
        }

        let failed = handle(&processor, records.clone()).await;

        // Each failed conversation's record is reported, in sequence order.
        let mut expected: Vec<String> = faults
            .iter()
            .map(|(g, _)| applied_record_of(&records, *g))
            .collect();
        expected.sort();
        assert_eq!(failed, expected, "{faults:?}");
        // The other conversations are done.
        let done = store.dump();
        for row in all_at_newest(&records) {
            let g: usize = row.0[5..6].parse().unwrap();
            if !faults.iter().any(|(f, _)| *f == g) {
                assert!(done.contains(&row), "{faults:?}: {row:?} missing");
            }
        }

        // Lambda delivers the batch again from the lowest reported sequence number.
        store.heal();
        store.take_calls();
        let from = records
            .iter()
            .position(|r| r["dynamodb"]["SequenceNumber"] == failed[0].as_str())
            .unwrap();
        let retried = handle(&processor, records[from..].to_vec()).await;

        assert_eq!(retried, Vec::<String>::new(), "{faults:?}");
        assert_eq!(store.dump(), all_at_newest(&records), "{faults:?}");
        // Only what had failed is written again: a user moved before is left alone.
        let writes = count(&store.take_calls(), "TransactWriteItems");
        let unmoved: usize = faults
            .iter()
            .map(|(_, fault)| match fault {
                Fault::SecondMove => 1,
                Fault::Query | Fault::Contention => 2,
            })
            .sum();
        // A contended conversation's second user moved before the processor gave up.
        let contended = faults
            .iter()
            .filter(|(_, f)| matches!(f, Fault::Contention))
            .count();
        assert_eq!(writes, unmoved - contended, "{faults:?}");
    }
}
