//! End to end on the emulator: apply the repository's own stack.yaml (environment `local`,
//! on a private emulator), write conversation and message rows, read the records from the
//! table's stream, and feed them to the bundled `bootstrap` executable itself through a
//! Lambda Runtime API served by the test (moto cannot run functions here). Asserts that
//! the conversation rows move to the newest message and never backwards, then destroys
//! the stack and asserts that nothing is left.

use crate::support::runtime_api::{Bootstrap, Outcome, RuntimeApi};
use crate::support::{Emulator, Live, ddb, repo_root, run_default};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

const TABLE: &str = "cruddur-messages-local";
const INDEX: &str = "message-group-sk-index";
const FUNCTION: &str = "cruddur-stream-processor-local";
const QUEUE: &str = "cruddur-processor-failures-local";
const ALARMS: [&str; 3] = [
    "cruddur-processor-behind-local",
    "cruddur-processor-errors-local",
    "cruddur-records-given-up-local",
];

fn run(emulator: &Emulator, dir: &Path, args: &[&str]) -> crate::support::Run {
    let mut all = vec!["--no-color"];
    all.extend_from_slice(args);
    run_default(dir, &repo_root().join("stack.yaml"), &emulator.url, &all)
}

fn s(v: &str) -> ddb::AttributeValue {
    ddb::AttributeValue::S(v.to_string())
}

/// A conversation row in `user`'s inbox.
pub(crate) fn conversation(live: &Live, user: &str, group: &str, sk: &str, other: &str) {
    let request = live
        .client
        .put_item()
        .table_name(TABLE)
        .item("pk", s(&format!("GRP#{user}")))
        .item("sk", s(sk))
        .item("message_group_uuid", s(group))
        .item("message", s("hello"))
        .item("user_uuid", s(other))
        .item("user_handle", s(other))
        .item("user_display_name", s(&other.to_uppercase()));
    live.block_on(request.send()).unwrap();
}

pub(crate) fn message(live: &Live, group: &str, sk: &str, text: &str) {
    let request = live
        .client
        .put_item()
        .table_name(TABLE)
        .item("pk", s(&format!("MSG#{group}")))
        .item("sk", s(sk))
        .item("message", s(text))
        .item("user_uuid", s("alice"))
        .item("user_handle", s("alice"));
    live.block_on(request.send()).unwrap();
}

/// Every GRP# row: user → [(sk, group, message)].
pub(crate) fn inboxes(live: &Live) -> BTreeMap<String, Vec<(String, String, String)>> {
    let out = live
        .block_on(live.client.scan().table_name(TABLE).send())
        .unwrap();
    let text = |item: &std::collections::HashMap<String, ddb::AttributeValue>, k: &str| {
        item.get(k)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    let mut rows: BTreeMap<String, Vec<(String, String, String)>> = BTreeMap::new();
    for item in out.items() {
        let pk = text(item, "pk");
        if let Some(user) = pk.strip_prefix("GRP#") {
            rows.entry(user.to_string()).or_default().push((
                text(item, "sk"),
                text(item, "message_group_uuid"),
                text(item, "message"),
            ));
        }
    }
    rows
}

/// Reads the table's stream from the start, as Lambda would, and shapes the records as the
/// event Lambda sends (the Records of a DynamoDB stream event).
pub(crate) struct Stream {
    client: aws_sdk_dynamodbstreams::Client,
    arn: String,
}

impl Stream {
    pub(crate) fn new(emulator: &Emulator, live: &Live) -> Stream {
        let config = aws_sdk_dynamodbstreams::Config::builder()
            .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodbstreams::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodbstreams::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .endpoint_url(&emulator.url)
            .build();
        let arn = live
            .expect_table(TABLE)
            .latest_stream_arn()
            .unwrap()
            .to_string();
        Stream {
            client: aws_sdk_dynamodbstreams::Client::from_conf(config),
            arn,
        }
    }

    pub(crate) fn records(&self, live: &Live) -> Vec<serde_json::Value> {
        let stream = live
            .block_on(self.client.describe_stream().stream_arn(&self.arn).send())
            .unwrap()
            .stream_description
            .unwrap();
        let mut events = Vec::new();
        for shard in stream.shards() {
            let iterator = live
                .block_on(
                    self.client
                        .get_shard_iterator()
                        .stream_arn(&self.arn)
                        .shard_id(shard.shard_id().unwrap())
                        .shard_iterator_type(
                            aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon,
                        )
                        .send(),
                )
                .unwrap()
                .shard_iterator
                .unwrap();
            let out = live
                .block_on(self.client.get_records().shard_iterator(iterator).send())
                .unwrap();
            events.extend(out.records().iter().map(|r| self.event_record(r)));
        }
        events
    }

    /// As Lambda's event holds it: the product's own shaping, which `dev` uses.
    fn event_record(&self, r: &aws_sdk_dynamodbstreams::types::Record) -> serde_json::Value {
        cruddur_infra::dev::stream::lambda_record(r, &self.arn, "us-east-1")
    }
}

fn invoke(api: &RuntimeApi, records: Vec<serde_json::Value>) -> serde_json::Value {
    match api.invoke(
        serde_json::json!({ "Records": records }),
        Duration::from_secs(60),
    ) {
        Outcome::Response(body) => body,
        other => panic!("the function failed: {other:?}"),
    }
}

#[test]
fn messages_move_conversations_forward_through_the_deployed_stack() {
    let started = Instant::now();
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let dir = tempfile::tempdir().unwrap();

    let applied = run(&emulator, dir.path(), &["apply", "--auto-approve"]).expect_code(0);
    assert!(
        applied.stdout.contains("Plan: 10 to add"),
        "{}",
        applied.stdout
    );
    run(&emulator, dir.path(), &["plan", "--detailed-exitcode"]).expect_code(0);
    run(&emulator, dir.path(), &["drift"]).expect_code(0);
    let zip =
        crate::support::target_dir(&repo_root()).join("lambda/cruddur-stream-processor-x86_64.zip");
    let deployed = live
        .block_on(live.lambda.get_function().function_name(FUNCTION).send())
        .unwrap();
    let config = deployed.configuration().unwrap();
    assert_eq!(
        config.code_sha256(),
        Some(cruddur_infra::bundle::code_sha256(&std::fs::read(&zip).unwrap()).as_str()),
        "the deployed code is the bundle the test runs"
    );
    // The size the function's build profile was tuned to (docs/measured.md).
    let size = std::fs::metadata(&zip).unwrap().len();
    assert!(
        size <= 2_500_000,
        "the processor's zip grew to {size} bytes, over the 2.5 MB it was brought down to"
    );
    let mappings = live
        .block_on(
            live.lambda
                .list_event_source_mappings()
                // The trigger invokes the alias that passed its check: listed by it.
                .function_name(format!("{FUNCTION}:live"))
                .send(),
        )
        .unwrap()
        .event_source_mappings
        .unwrap_or_default();
    assert_eq!(mappings.len(), 1);
    // What the mapping gives up on goes to the queue, which the role may send to, and
    // three alarms watch the function and the queue.
    let queue_url = live
        .block_on(live.sqs.get_queue_url().queue_name(QUEUE).send())
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = live
        .block_on(
            live.sqs
                .get_queue_attributes()
                .queue_url(&queue_url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .send(),
        )
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    let destination = mappings[0]
        .destination_config()
        .and_then(|d| d.on_failure())
        .and_then(|f| f.destination());
    assert_eq!(destination, Some(queue_arn.as_str()));
    let policy = live
        .block_on(
            live.iam
                .get_role_policy()
                .role_name(FUNCTION)
                .policy_name("stream-processor")
                .send(),
        )
        .unwrap();
    let statements = cruddur_infra::policy::parse_document(policy.policy_document()).unwrap();
    let document = format!("{statements:?}");
    assert!(
        document.contains("sqs:SendMessage") && document.contains(&queue_arn),
        "{document}"
    );
    let alarms = live
        .block_on(live.cloudwatch.describe_alarms().send())
        .unwrap();
    let mut alarm_names: Vec<&str> = alarms
        .metric_alarms()
        .iter()
        .filter_map(|a| a.alarm_name())
        .collect();
    alarm_names.sort_unstable();
    assert_eq!(alarm_names, ALARMS);

    // Two conversations: alice <-> bob (g1), carol <-> dave (g2).
    conversation(&live, "alice", "g1", "2024-01-01T00:00:00Z", "bob");
    conversation(&live, "bob", "g1", "2024-01-01T00:00:00Z", "alice");
    conversation(&live, "carol", "g2", "2024-01-01T00:00:00Z", "dave");
    // Messages, one of them written late with an older timestamp.
    message(&live, "g1", "2024-02-01T10:00:00Z", "see you at ten");
    message(
        &live,
        "g1",
        "2024-02-01T09:00:00Z",
        "an older message, delivered late",
    );
    message(&live, "g2", "2024-02-02T00:00:00Z", "for carol");

    let stream = Stream::new(&emulator, &live);
    let api = RuntimeApi::start();
    let _bootstrap = Bootstrap::start(
        &zip,
        dir.path(),
        &api,
        &[
            ("AWS_LAMBDA_FUNCTION_NAME", FUNCTION),
            ("TABLE_NAME", TABLE),
            ("INDEX_NAME", INDEX),
            ("AWS_ENDPOINT_URL", &emulator.url),
        ],
    );
    // Built with panic = "abort" and stripped, it still starts and asks for work.
    api.first_poll(Duration::from_secs(30));

    let records = stream.records(&live);
    assert_eq!(records.len(), 6, "{records:#?}");
    let answer = invoke(&api, records.clone());
    assert_eq!(
        answer["batchItemFailures"],
        serde_json::json!([]),
        "{answer}"
    );
    let expected = |sk: &str, group: &str, text: &str| vec![(sk.into(), group.into(), text.into())];
    let after_first = inboxes(&live);
    assert_eq!(
        after_first["alice"],
        expected("2024-02-01T10:00:00Z", "g1", "see you at ten")
    );
    assert_eq!(
        after_first["bob"],
        expected("2024-02-01T10:00:00Z", "g1", "see you at ten")
    );
    assert_eq!(
        after_first["carol"],
        expected("2024-02-02T00:00:00Z", "g2", "for carol")
    );

    // The same batch again (Lambda retries): nothing moves.
    let answer = invoke(&api, records);
    assert_eq!(
        answer["batchItemFailures"],
        serde_json::json!([]),
        "{answer}"
    );
    assert_eq!(inboxes(&live), after_first, "a replay changed the inbox");

    // A newer message moves g1 forward; the stream now also holds the function's own
    // writes (GRP# removes and inserts), which it ignores.
    message(&live, "g1", "2024-03-01T08:00:00Z", "newest");
    let answer = invoke(&api, stream.records(&live));
    assert_eq!(
        answer["batchItemFailures"],
        serde_json::json!([]),
        "{answer}"
    );
    let last = inboxes(&live);
    assert_eq!(
        last["alice"],
        expected("2024-03-01T08:00:00Z", "g1", "newest")
    );
    assert_eq!(
        last["bob"],
        expected("2024-03-01T08:00:00Z", "g1", "newest")
    );
    assert_eq!(last["carol"], after_first["carol"]);
    drop(_bootstrap);

    // The table holds the conversation: a plain teardown refuses and changes nothing.
    let refused = run(&emulator, dir.path(), &["destroy", "--auto-approve"]).expect_code(1);
    assert!(
        refused.stderr.contains("--allow-data-loss"),
        "{}",
        refused.stderr
    );
    assert!(live.table(TABLE).is_some());
    run(
        &emulator,
        dir.path(),
        &["destroy", "--auto-approve", "--allow-data-loss"],
    )
    .expect_code(0);
    assert!(live.table(TABLE).is_none(), "the table is still there");
    let function = live.block_on(live.lambda.get_function().function_name(FUNCTION).send());
    assert!(function.is_err(), "the function is still there");
    let all_mappings = live
        .block_on(live.lambda.list_event_source_mappings().send())
        .unwrap();
    assert!(all_mappings.event_source_mappings().is_empty());
    let role = live.block_on(live.iam.get_role().role_name(FUNCTION).send());
    assert!(role.is_err(), "the role is still there");
    assert!(live.endpoints().is_empty(), "an endpoint is still there");
    let groups = live
        .block_on(live.logs.describe_log_groups().send())
        .unwrap();
    assert!(groups.log_groups().is_empty(), "a log group is still there");
    let queue = live.block_on(live.sqs.get_queue_url().queue_name(QUEUE).send());
    assert!(queue.is_err(), "the queue is still there");
    let alarms = live
        .block_on(live.cloudwatch.describe_alarms().send())
        .unwrap();
    assert!(alarms.metric_alarms().is_empty(), "an alarm is still there");
    run(&emulator, dir.path(), &["destroy", "--auto-approve"]).expect_code(0);
    eprintln!(
        "end-to-end test took {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
