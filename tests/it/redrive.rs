//! `redrive`: what Lambda gave up on, read again from the stream by the ranges in the
//! mapping's on-failure queue and replayed through the function; the message deleted only
//! once its records are done. On the emulator (which keeps streams as DynamoDB does: its
//! fix 8), with tests/fixtures/batch-function, which fails at the records its environment
//! names and writes down every batch it is given. The tests look at what the function was
//! given and at the queue afterwards, not only at exit codes.

use crate::dev_rules::{Pipeline, STACK, fixture};
use crate::support::{Emulator, Live, StackFile, ddb};
use serde_json::{Value, json};

/// (messages waiting, messages held) in queue `name`.
fn queue_counts(live: &Live, name: &str) -> (u64, u64) {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let url = queue_url(live, name);
    let request = live
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible);
    let attributes = live.block_on(request.send()).unwrap().attributes.unwrap();
    let number = |a: A| attributes[&a].parse().unwrap();
    (
        number(A::ApproximateNumberOfMessages),
        number(A::ApproximateNumberOfMessagesNotVisible),
    )
}

fn queue_url(live: &Live, name: &str) -> String {
    let request = live.sqs.get_queue_url().queue_name(name);
    live.block_on(request.send()).unwrap().queue_url.unwrap()
}

fn send(live: &Live, queue: &str, body: &str) {
    let request = live
        .sqs
        .send_message()
        .queue_url(queue_url(live, queue))
        .message_body(body);
    live.block_on(request.send()).unwrap();
}

fn keys_and_sequences(delivered: &[(String, String)]) -> Vec<(&str, &str)> {
    delivered
        .iter()
        .map(|(k, s)| (k.as_str(), s.as_str()))
        .collect()
}

fn last_line(text: &str) -> &str {
    text.trim_end().lines().last().unwrap_or_default()
}

/// A batch that a broken function could not process is given up to the queue by the
/// mapping (here `dev`, as Lambda does). redrive shows it and changes nothing with
/// --dry-run; while the function still fails, the message stays, with the function's error;
/// once the function is fixed, the very same records are replayed, in batches of the
/// mapping's size as it is deployed now, and the message is gone.
#[test]
fn a_given_up_batch_stays_while_the_function_fails_and_is_replayed_once_it_is_fixed() {
    let mut p = Pipeline::start(
        "redrive-fix",
        &fixture(),
        "error",
        "    maximum_retry_attempts: 0\n",
    );
    p.write(&["r1", "r2", "r3", "r4", "r5"]);
    let line = p.dev.wait_for(|l| l.contains(" invoked in "));
    assert!(line.contains("5 given up"), "{line}");
    // The mapping's work is done; the stack stays deployed.
    p.dev.stop_in_place();
    let given_up = p.deliveries()[0].1.clone();
    let (first, last) = (&given_up[0].1, &given_up[4].1);
    assert_eq!(queue_counts(&p.live, "redrive-fix-failures"), (1, 0));

    let dry = p.file.run(&["redrive", "--dry-run"]).expect_code(0);
    let found = dry
        .stdout
        .lines()
        .find(|l| l.starts_with("message …"))
        .unwrap_or_else(|| panic!("{}", dry.stdout));
    assert!(
        found.contains(": 5 record(s) of shard …")
            && found.ends_with(&format!(
                ", {first} to {last}, to replay through redrive-fix-handler (trigger, batches of up to 10)"
            )),
        "{found}"
    );
    assert!(
        dry.stdout
            .contains("Dry run: 1 message(s) would be replayed; nothing was invoked"),
        "{}",
        dry.stdout
    );
    assert_eq!(p.deliveries().len(), 1, "a dry run invokes nothing");
    assert_eq!(queue_counts(&p.live, "redrive-fix-failures"), (1, 0));

    // The function still refuses r3: the message stays, visible again at once.
    let failed = p.file.run(&["redrive", "--auto-approve"]).expect_code(1);
    let said: Vec<&str> = failed
        .stderr
        .lines()
        .filter(|l| l.starts_with("message …"))
        .collect();
    assert_eq!(said.len(), 1, "{}", failed.stderr);
    assert!(
        said[0].contains(": the function failed again on 5 records of shard …")
            && said[0].contains(&format!("{first} to {last}: function error: "))
            && said[0].contains("refused r3")
            && said[0].ends_with("; it stays in the queue"),
        "{}",
        said[0]
    );
    assert_eq!(
        last_line(&failed.stderr),
        "error: 1 message(s) stay in the queue (said above); nothing was lost"
    );
    assert_eq!(queue_counts(&p.live, "redrive-fix-failures"), (1, 0));
    assert_eq!(
        keys_and_sequences(&p.deliveries()[1].1),
        keys_and_sequences(&given_up),
        "the replay hands over the records given up on, in order"
    );

    // Fixed, and the mapping now takes 2 records a batch.
    let fixed = p
        .resources
        .replace("FAIL_AT: r3", "FAIL_AT: none")
        .replace("batch_size: 10", "batch_size: 2");
    p.file.write(&fixed);
    p.file.run(&["apply", "--auto-approve"]).expect_code(0);
    let done = p.file.run(&["redrive", "--auto-approve"]).expect_code(0);
    assert!(
        done.stdout
            .contains("replayed 5 record(s) in 3 invocation(s)"),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout.contains(
            "Redrive done: 1 message(s) replayed (5 record(s) in 3 invocation(s)) and deleted from the queue."
        ),
        "{}",
        done.stdout
    );
    let deliveries = p.deliveries();
    let batches: Vec<Vec<(&str, &str)>> = deliveries[2..]
        .iter()
        .map(|(_, records)| keys_and_sequences(records))
        .collect();
    let all = keys_and_sequences(&given_up);
    assert_eq!(
        batches,
        [all[0..2].to_vec(), all[2..4].to_vec(), all[4..5].to_vec()]
    );
    assert_eq!(queue_counts(&p.live, "redrive-fix-failures"), (0, 0));

    let again = p.file.run(&["redrive", "--auto-approve"]).expect_code(0);
    assert_eq!(
        again.stdout.trim(),
        "Queue redrive-fix-failures is empty: nothing to redrive."
    );
}

fn on_failure_record(stream_arn: &str, shard: &str, start: &str, end: &str, size: u64) -> String {
    json!({
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 1},
        "version": "1.0",
        "DDBStreamBatchInfo": {
            "shardId": shard,
            "startSequenceNumber": start,
            "endSequenceNumber": end,
            "batchSize": size,
            "streamArn": stream_arn,
        },
    })
    .to_string()
}

/// (stream ARN, shard id) of `table`'s stream.
fn stream_of(live: &Live, table: &str) -> (String, String) {
    let arn = live
        .expect_table(table)
        .latest_stream_arn
        .expect("a stream");
    let described = live
        .block_on(live.streams.describe_stream().stream_arn(&arn).send())
        .unwrap()
        .stream_description
        .unwrap();
    let shard = described.shards()[0].shard_id().unwrap().to_string();
    (arn, shard)
}

/// The sequence numbers of every record in `table`'s stream, by key.
fn sequences(live: &Live, table: &str) -> Vec<(String, String)> {
    use aws_sdk_dynamodbstreams::types::ShardIteratorType;
    let (arn, shard) = stream_of(live, table);
    let request = live
        .streams
        .get_shard_iterator()
        .stream_arn(arn)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon);
    let iterator = live
        .block_on(request.send())
        .unwrap()
        .shard_iterator
        .unwrap();
    let out = live
        .block_on(live.streams.get_records().shard_iterator(iterator).send())
        .unwrap();
    out.records()
        .iter()
        .map(|r| {
            let d = r.dynamodb().unwrap();
            let key = match &d.keys().unwrap()["pk"] {
                aws_sdk_dynamodbstreams::types::AttributeValue::S(s) => s.clone(),
                other => panic!("{other:?}"),
            };
            (key, d.sequence_number().unwrap().to_string())
        })
        .collect()
}

fn put(live: &Live, table: &str, key: &str) {
    let request = live
        .client
        .put_item()
        .table_name(table)
        .item("pk", ddb::AttributeValue::S(key.into()));
    live.block_on(request.send()).unwrap();
}

/// What redrive cannot replay stays in the queue, each said in one line: a body that is not
/// an on-failure record, records older than the stream keeps (the emulator keeps them 4
/// seconds here, where DynamoDB keeps them 24 hours), a stream that is gone. The one it can
/// replay is replayed and deleted. A stack without an on-failure queue is one error.
#[test]
fn what_cannot_be_replayed_stays_in_the_queue_each_said_in_one_line() {
    let emulator = Emulator::start_with(&[("CRUDDUR_EMULATOR_STREAM_RETENTION", "4")]);
    let live = Live::new(&emulator);
    let scratch = tempfile::tempdir().unwrap();
    let deliveries = scratch.path().join("deliveries");
    let resources = STACK
        .replace("{test}", "redrive-bad")
        .replace("{package}", fixture().to_str().unwrap())
        .replace("{deliveries}", deliveries.to_str().unwrap())
        .replace("{mode}", "error")
        .replace("{rules}", "");
    let file = StackFile::new("redrive-bad", &emulator.url, &resources);
    file.run(&["apply", "--auto-approve"]).expect_code(0);
    let (table, queue) = ("redrive-bad-events", "redrive-bad-failures");

    let refused = file.run(&["redrive"]).expect_code(1);
    assert!(
        refused.stderr.contains("redrive asks for confirmation, but stdin is not a terminal; re-run with --auto-approve (or --dry-run)"),
        "{}",
        refused.stderr
    );
    let empty = file.run(&["redrive", "--auto-approve"]).expect_code(0);
    assert_eq!(
        empty.stdout.trim(),
        "Queue redrive-bad-failures is empty: nothing to redrive."
    );

    // A record older than the stream keeps, then one it still holds.
    put(&live, table, "old");
    let old = sequences(&live, table)[0].1.clone();
    wait_until_trimmed(&live, table, &old);
    put(&live, table, "new");
    let new = sequences(&live, table)
        .into_iter()
        .find(|(k, _)| k == "new")
        .unwrap()
        .1;
    let (stream, shard) = stream_of(&live, table);
    let gone_stream = format!(
        "{}/stream/2020-01-01T00:00:00.000",
        stream.split("/stream/").next().unwrap()
    );
    send(&live, queue, "hello");
    send(
        &live,
        queue,
        &on_failure_record(&stream, &shard, &old, &old, 1),
    );
    send(
        &live,
        queue,
        &on_failure_record(&gone_stream, &shard, &old, &old, 1),
    );
    send(
        &live,
        queue,
        &on_failure_record(&stream, &shard, &new, &new, 1),
    );

    let run = file.run(&["redrive", "--auto-approve"]).expect_code(1);
    let stays: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.ends_with("it stays in the queue"))
        .collect();
    assert_eq!(stays.len(), 3, "{}", run.stderr);
    let one = |text: &str| {
        let hits: Vec<&&str> = stays.iter().filter(|l| l.contains(text)).collect();
        assert_eq!(hits.len(), 1, "{text}: {}", run.stderr);
    };
    one("is not an on-failure record of a stream mapping (its body is not JSON)");
    one(&format!(
        "1 record of shard …{}, {old} to {old} is no longer in the stream (trimmed: DynamoDB keeps stream records for 24 hours)",
        &shard[shard.len() - 8..]
    ));
    one(
        "is no longer in the stream (the stream is gone: DynamoDB keeps a disabled stream, or a deleted table's, for 24 hours)",
    );
    assert!(
        run.stdout
            .contains("Redrive done: 1 message(s) replayed (1 record(s) in 1 invocation(s))"),
        "{}",
        run.stdout
    );
    assert_eq!(
        last_line(&run.stderr),
        "error: 3 message(s) stay in the queue (said above); nothing was lost"
    );
    let delivered = std::fs::read_to_string(&deliveries).unwrap();
    assert_eq!(delivered.trim(), format!("v1 new@{new}"));
    assert_eq!(
        queue_counts(&live, queue),
        (3, 0),
        "nothing left the queue unprocessed"
    );

    // The same as JSON events, checked against their schema; a dry run invokes nothing.
    let json = file
        .run(&["redrive", "--dry-run", "--output", "json"])
        .expect_code(0);
    let events = json_lines(&json.stdout);
    let reasons: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "stays")
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 3, "{}", json.stdout);
    for reason in ["not_a_record", "gone_from_stream"] {
        assert!(reasons.contains(&reason), "{reasons:?}");
    }
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["dry_run"], true);
    assert_eq!(summary["stayed"].as_array().unwrap().len(), 3);
    assert_eq!(queue_counts(&live, queue), (3, 0));
    assert_eq!(
        std::fs::read_to_string(&deliveries)
            .unwrap()
            .lines()
            .count(),
        1
    );

    // Without an on-failure queue, there is nothing to redrive from.
    file.write(&resources.replace("    on_failure: ${failures.arn}\n", ""));
    file.run(&["apply", "--auto-approve"]).expect_code(0);
    let none = file.run(&["redrive", "--auto-approve"]).expect_code(1);
    assert_eq!(
        last_line(&none.stderr),
        "error: no event_source_mapping of stack redrive-bad sends what it gives up on to an SQS queue (on_failure), so there is nothing to redrive: Lambda keeps no other record of it"
    );
    assert_eq!(queue_counts(&live, queue), (3, 0));
}

/// Waits until the stream has trimmed the record `seq` of `table` (bounded: the emulator
/// keeps records 4 seconds here).
fn wait_until_trimmed(live: &Live, table: &str, seq: &str) {
    use aws_sdk_dynamodbstreams::types::ShardIteratorType;
    let (arn, shard) = stream_of(live, table);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let request = live
            .streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(&shard)
            .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
            .sequence_number(seq);
        match live.block_on(request.send()) {
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_trimmed_data_access_exception()) =>
            {
                return;
            }
            _ if std::time::Instant::now() > deadline => panic!("{seq} was never trimmed"),
            _ => std::thread::sleep(std::time::Duration::from_millis(250)),
        }
    }
}

/// Every line of `stdout` as JSON, each checked against `schema/redrive.schema.json`.
fn json_lines(stdout: &str) -> Vec<Value> {
    crate::verbs::json_lines_of("redrive", stdout)
}
