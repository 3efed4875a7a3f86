//! The stream processor (the `lambda/` crate) against the emulator: its handler is given
//! stream batches shaped as Lambda delivers them, and each test asserts the table's rows
//! afterwards through the SDK.

use crate::support::{Emulator, Live, ddb};
use cruddur_stream_processor::testing::{self, event};
use cruddur_stream_processor::{Config, DynamoDbEventResponse, Processor};
use serde_json::{Value, json};
use std::collections::HashMap;

const INDEX: &str = "message-group-sk-index";

type Item = HashMap<String, ddb::AttributeValue>;

fn s(value: &str) -> ddb::AttributeValue {
    ddb::AttributeValue::S(value.to_string())
}

/// An ISO-8601 timestamp as the app writes them, `seconds` after 18:00 on one day.
fn at(seconds: u32) -> String {
    format!(
        "2024-03-14T18:{:02}:{:02}.000000+00:00",
        seconds / 60,
        seconds % 60
    )
}

struct Fixture {
    emulator: Emulator,
    live: Live,
    table: String,
    processor: Processor,
    /// Who sends a group's messages: a user of the conversation.
    senders: std::cell::RefCell<HashMap<String, String>>,
}

impl Fixture {
    /// A fresh emulator holding the messages table, and a processor on it.
    fn new(test: &str) -> Fixture {
        let emulator = Emulator::start();
        let live = Live::new(&emulator);
        let table = format!("cruddur-messages-{test}");
        live.create_messages_table(&table, INDEX);
        let config = Config {
            table_name: table.clone(),
            index_name: INDEX.to_string(),
        };
        let processor = Processor::new(live.client.clone(), config);
        Fixture {
            emulator,
            live,
            table,
            processor,
            senders: Default::default(),
        }
    }

    fn put(&self, item: Item) {
        let request = self.live.client.put_item().table_name(&self.table);
        self.live
            .block_on(request.set_item(Some(item)).send())
            .unwrap();
    }

    /// A conversation as the app starts it: one summary row per user at the first message,
    /// each naming the next user as the other party. Its messages come from the first user.
    fn conversation(&self, group: &str, users: &[&str], sk: &str, text: &str) {
        self.senders
            .borrow_mut()
            .insert(group.to_string(), users[0].to_string());
        for (i, user) in users.iter().enumerate() {
            let other = users[(i + 1) % users.len()];
            self.put(Item::from([
                ("pk".into(), s(&format!("GRP#{user}"))),
                ("sk".into(), s(sk)),
                ("message_group_uuid".into(), s(group)),
                ("message".into(), s(text)),
                ("user_uuid".into(), s(other)),
                ("user_display_name".into(), s("Bayko")),
                ("user_handle".into(), s("bayko")),
            ]));
        }
    }

    /// Writes a message row as the app does and returns its stream record, with sequence
    /// number `seq`.
    fn message(&self, seq: u32, group: &str, sk: &str, text: &str) -> Value {
        let image = json!({
            "pk": {"S": format!("MSG#{group}")},
            "sk": {"S": sk},
            "message_uuid": {"S": format!("message-{seq}")},
            "message": {"S": text},
            "user_uuid": {"S": self.senders.borrow().get(group).cloned().unwrap_or_default()},
            "user_display_name": {"S": "Andrew Brown"},
            "user_handle": {"S": "andrewbrown"}
        });
        let item: Item = image
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), s(v["S"].as_str().unwrap())))
            .collect();
        self.put(item);
        record(seq, "INSERT", image)
    }

    fn handle(&self, records: Vec<Value>) -> DynamoDbEventResponse {
        self.live.block_on(self.processor.handle(event(records)))
    }

    /// Every row of the table, by a paged Scan.
    fn rows(&self) -> Vec<Item> {
        let mut rows = Vec::new();
        let mut start = None;
        loop {
            let scan = self
                .live
                .client
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start);
            let page = self.live.block_on(scan.send()).unwrap();
            rows.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return rows,
            }
        }
    }

    /// The summary rows of `group`: (pk, sk, message), sorted.
    fn summaries(&self, group: &str) -> Vec<(String, String, String)> {
        let text = |row: &Item, name: &str| row[name].as_s().unwrap().clone();
        let mut rows: Vec<_> = self
            .rows()
            .into_iter()
            .filter(|row| row.get("message_group_uuid") == Some(&s(group)))
            .map(|row| (text(&row, "pk"), text(&row, "sk"), text(&row, "message")))
            .collect();
        rows.sort();
        rows
    }

    /// How many `operation` requests the emulator received since the last clear.
    fn count(&self, operation: &str) -> usize {
        let all = self.emulator.requests();
        all.iter().filter(|r| r.operation == operation).count()
    }
}

/// A stream record as Lambda delivers it. `seq` makes the sequence number and event id.
fn record(seq: u32, event_name: &str, image: Value) -> Value {
    testing::stream_record(&sequence_number(seq), event_name, image)
}

fn sequence_number(seq: u32) -> String {
    format!("44215845{seq:020}")
}

/// The sequence numbers reported as failed.
fn failures(response: &DynamoDbEventResponse) -> Vec<String> {
    let ids = response.batch_item_failures.iter();
    ids.map(|f| f.item_identifier.clone().unwrap_or_default())
        .collect()
}

fn expected(users: &[&str], sk: &str, text: &str) -> Vec<(String, String, String)> {
    let mut rows: Vec<_> = users
        .iter()
        .map(|u| (format!("GRP#{u}"), sk.to_string(), text.to_string()))
        .collect();
    rows.sort();
    rows
}

#[test]
fn rows_of_both_users_move_to_the_new_message() {
    let f = Fixture::new("move");
    f.conversation("g1", &["andrew", "bayko"], &at(0), "hello");
    f.conversation("g2", &["andrew", "carol"], &at(5), "other conversation");
    let record = f.message(1, "g1", &at(60), "see you on Friday");

    let response = f.handle(vec![record]);

    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(
        f.summaries("g1"),
        expected(&["andrew", "bayko"], &at(60), "see you on Friday")
    );
    assert_eq!(
        f.summaries("g2"),
        expected(&["andrew", "carol"], &at(5), "other conversation")
    );
    // The moved row keeps everything else: the other party's details, the group.
    let moved = f
        .rows()
        .into_iter()
        .find(|r| r["pk"] == s("GRP#bayko"))
        .unwrap();
    assert_eq!(moved["user_uuid"], s("andrew"));
    assert_eq!(moved["user_handle"], s("bayko"));
    assert_eq!(moved["message_group_uuid"], s("g1"));
    // Four summary rows and the one message row: nothing left behind, nothing extra.
    assert_eq!(f.rows().len(), 5);
}

#[test]
fn an_older_message_afterwards_does_not_move_them_back() {
    let f = Fixture::new("older");
    f.conversation("g1", &["andrew", "bayko"], &at(0), "hello");
    let newer = f.message(2, "g1", &at(120), "newer");
    let older = f.message(3, "g1", &at(60), "older, delivered late");

    assert_eq!(failures(&f.handle(vec![newer])), Vec::<String>::new());
    f.emulator.clear_requests();
    assert_eq!(failures(&f.handle(vec![older])), Vec::<String>::new());

    assert_eq!(
        f.summaries("g1"),
        expected(&["andrew", "bayko"], &at(120), "newer")
    );
    assert_eq!(
        f.count("TransactWriteItems"),
        0,
        "nothing to move, so nothing written"
    );
}

#[test]
fn a_replayed_record_changes_and_writes_nothing() {
    let f = Fixture::new("replay");
    f.conversation("g1", &["andrew", "bayko"], &at(0), "hello");
    let record = f.message(1, "g1", &at(60), "once");
    assert_eq!(
        failures(&f.handle(vec![record.clone()])),
        Vec::<String>::new()
    );
    let before = f.summaries("g1");
    assert_eq!(before, expected(&["andrew", "bayko"], &at(60), "once"));

    f.emulator.clear_requests();
    assert_eq!(failures(&f.handle(vec![record])), Vec::<String>::new());

    assert_eq!(f.summaries("g1"), before);
    assert_eq!(f.emulator.mutating_requests(), Vec::<String>::new());
}

#[test]
fn a_batch_of_many_messages_across_groups_leaves_each_at_its_newest() {
    let mut f = Fixture::new("batch");
    // One row per page: every group's query has to follow LastEvaluatedKey.
    f.processor = f.processor.clone().with_query_limit(1);
    let groups = ["g0", "g1", "g2", "g3", "g4"];
    let users = |g: &str| {
        [
            format!("andrew-{g}"),
            format!("bayko-{g}"),
            format!("carol-{g}"),
        ]
    };
    for g in groups {
        let users = users(g);
        let users: Vec<&str> = users.iter().map(String::as_str).collect();
        f.conversation(g, &users, &at(0), "hello");
    }
    // 50 messages, group i % 5; in each run of ten the last five are older than the first
    // five, so every group also gets a message older than one already in the batch.
    let second = |i: u32| if i % 10 < 5 { 100 + i + 5 } else { 100 + i - 5 };
    let records: Vec<Value> = (0..50u32)
        .map(|i| {
            let g = groups[(i % 5) as usize];
            f.message(i + 1, g, &at(second(i)), &format!("message {}", second(i)))
        })
        .collect();
    f.emulator.clear_requests();

    assert_eq!(failures(&f.handle(records)), Vec::<String>::new());

    for (n, g) in groups.iter().enumerate() {
        let newest = (0..50u32).filter(|i| i % 5 == n as u32).map(second).max();
        let newest = newest.unwrap();
        let users = users(g);
        let users: Vec<&str> = users.iter().map(String::as_str).collect();
        let text = format!("message {newest}");
        assert_eq!(f.summaries(g), expected(&users, &at(newest), &text), "{g}");
    }
    // Earlier messages of a group are superseded by its newest one in the same batch, and a
    // late one moves nothing: one transaction per user and group.
    assert_eq!(f.count("TransactWriteItems"), 15);
    // Three rows a group at one row a page: at least three pages each.
    assert!(f.count("Query") >= 3 * 5, "{} queries", f.count("Query"));
    assert_eq!(f.rows().len(), 15 + 50);
}

#[test]
fn concurrent_batches_for_one_group_leave_one_row_per_user_at_the_newest() {
    let f = Fixture::new("concurrent");
    let rounds = 12;
    let mut queries = 0;
    for round in 0..rounds {
        let g = format!("g{round}");
        // Users of their own per round: a user's summary rows of different groups must not
        // share a key.
        let users = [format!("andrew-{round}"), format!("bayko-{round}")];
        let users = [users[0].as_str(), users[1].as_str()];
        f.conversation(&g, &users, &at(0), "hello");
        let (a, b) = (at(60 + round), at(120 + round));
        // Alternate which invocation carries the newer message.
        let (first, second) = if round % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let one = event(vec![f.message(2 * round + 1, &g, first, first)]);
        let two = event(vec![f.message(2 * round + 2, &g, second, second)]);

        f.emulator.clear_requests();
        let (r1, r2) = f
            .live
            .block_on(async { tokio::join!(f.processor.handle(one), f.processor.handle(two)) });

        assert_eq!(failures(&r1), Vec::<String>::new(), "round {round}");
        assert_eq!(failures(&r2), Vec::<String>::new(), "round {round}");
        let newest = at(120 + round);
        assert_eq!(
            f.summaries(&g),
            expected(&users, &newest, &newest),
            "round {round}"
        );
        queries += f.count("Query");
    }
    // Each invocation queries once when it does not lose a race: more queries show the
    // invocations did race, and the losers read again (else this test would prove little).
    assert!(queries > 2 * rounds as usize, "no invocation lost a race");
}

#[test]
fn a_malformed_record_is_skipped_and_the_rest_processed() {
    let f = Fixture::new("malformed");
    f.conversation("g1", &["andrew", "bayko"], &at(0), "hello");
    f.conversation("g2", &["andrew", "carol"], &at(1), "hi");
    // A message whose text is a number, a MODIFY of a message, then two good messages.
    let bad = record(
        1,
        "INSERT",
        json!({"pk": {"S": "MSG#g1"}, "sk": {"S": at(30)}, "message": {"N": "42"}}),
    );
    let edit = record(
        2,
        "MODIFY",
        json!({"pk": {"S": "MSG#g2"}, "sk": {"S": at(90)}, "message": {"S": "edited"}}),
    );
    let good1 = f.message(3, "g1", &at(60), "good one");
    let good2 = f.message(4, "g2", &at(70), "good two");

    let response = f.handle(vec![bad, edit, good1, good2]);

    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(
        f.summaries("g1"),
        expected(&["andrew", "bayko"], &at(60), "good one")
    );
    assert_eq!(
        f.summaries("g2"),
        expected(&["andrew", "carol"], &at(70), "good two")
    );
}

#[test]
fn a_dynamodb_error_reports_its_record_and_the_other_conversations_go_on() {
    let f = Fixture::new("failure");
    f.conversation("g1", &["andrew", "bayko"], &at(0), "hello");
    f.conversation("g3", &["andrew", "dave"], &at(1), "hey");
    // g2's summary row is near DynamoDB's 400 KB item limit: with the new message's text it
    // exceeds it, and the transaction is rejected.
    f.conversation("g2", &["carol"], &at(0), "hi");
    let mut big = f
        .rows()
        .into_iter()
        .find(|r| r["pk"] == s("GRP#carol"))
        .unwrap();
    big.insert("padding".into(), s(&"x".repeat(300_000)));
    f.put(big);
    let records = vec![
        f.message(1, "g1", &at(10), "fine"),
        f.message(2, "g2", &at(20), &"y".repeat(150_000)),
        f.message(3, "g3", &at(30), "done meanwhile"),
    ];

    let response = f.handle(records);

    assert_eq!(failures(&response), [sequence_number(2)]);
    assert_eq!(
        f.summaries("g1"),
        expected(&["andrew", "bayko"], &at(10), "fine"),
        "records before the failure stay done"
    );
    assert_eq!(f.summaries("g2"), expected(&["carol"], &at(0), "hi"));
    assert_eq!(
        f.summaries("g3"),
        expected(&["andrew", "dave"], &at(30), "done meanwhile"),
        "conversations after the failure are done too"
    );
    // Lambda retries from the reported record: g3 again, which now moves nothing.
    f.emulator.clear_requests();
    let retry = vec![
        f.message(2, "g2", &at(20), &"y".repeat(150_000)),
        f.message(3, "g3", &at(30), "done meanwhile"),
    ];
    assert_eq!(failures(&f.handle(retry)), [sequence_number(2)]);
    let writes = f.emulator.requests();
    let writes = writes
        .iter()
        .filter(|r| r.operation == "TransactWriteItems");
    assert_eq!(writes.count(), 1, "only g2's move is tried again");

    // A misconfigured index fails every message that needs it.
    let wrong = Config {
        table_name: f.table.clone(),
        index_name: "no-such-index".into(),
    };
    let processor = Processor::new(f.live.client.clone(), wrong);
    let edit = record(
        4,
        "MODIFY",
        json!({"pk": {"S": "MSG#g3"}, "sk": {"S": at(30)}, "message": {"S": "edited"}}),
    );
    let records = vec![edit, f.message(5, "g3", &at(40), "retried later")];
    let response = f.live.block_on(processor.handle(event(records)));
    assert_eq!(failures(&response), [sequence_number(5)]);
}
