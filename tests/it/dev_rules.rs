//! Lambda's rules after a failed invocation, watched under `dev`: the function is
//! tests/fixtures/batch-function, which fails at the records named in its environment and
//! writes down every batch it is given. From outside, the tests see which records were
//! delivered to each invocation, the batch line, and the on-failure record in the queue.
//! No timed assertions: the waits only bound a hung run.

use crate::support::dev::Dev;
use crate::support::{Emulator, Live, StackFile, ddb, repo_root};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A table with a stream, the fixture function, a queue for what is given up on, and the
/// trigger between them. The `{…}` are replaced per test.
pub(crate) const STACK: &str = "  events:
    type: dynamodb_table
    name: {test}-events
    attributes: { pk: S }
    key: { hash: pk }
    stream: NEW_IMAGE
  role:
    type: iam_role
    name: {test}-role
  handler:
    type: lambda_function
    name: {test}-handler
    code: {package}
    role: ${role.arn}
    timeout: 10
    environment:
      DELIVERIES: {deliveries}
      FAIL_AT: r3
      FAILURE: {mode}
  failures:
    type: sqs_queue
    name: {test}-failures
  trigger:
    type: event_source_mapping
    function: ${handler.name}
    source: ${events.stream_arn}
    starting_position: LATEST
    batch_size: 10
    # The test writes its records in one request; the window keeps them in one batch.
    batching_window_seconds: 3
    on_failure: ${failures.arn}
{rules}";

/// One test's emulator, stack and `dev`.
pub(crate) struct Pipeline {
    _emulator: Emulator,
    pub live: Live,
    pub file: StackFile,
    pub dev: Dev,
    /// The YAML under `resources:`, as started.
    pub resources: String,
    /// Where the function writes down what it was given.
    pub deliveries: PathBuf,
    table: String,
    queue: String,
    _scratch: tempfile::TempDir,
}

impl Pipeline {
    /// `dev` on the stack above, running the function in `package`.
    pub(crate) fn start(test: &str, package: &Path, mode: &str, rules: &str) -> Pipeline {
        let emulator = Emulator::start();
        let live = Live::new(&emulator);
        let scratch = tempfile::tempdir().unwrap();
        let deliveries = scratch.path().join("deliveries");
        let resources = STACK
            .replace("{test}", test)
            .replace("{package}", package.to_str().unwrap())
            .replace("{deliveries}", deliveries.to_str().unwrap())
            .replace("{mode}", mode)
            .replace("{rules}", rules);
        let file = StackFile::new(test, &emulator.url, &resources);
        let path = file.path();
        let args = ["-f", path.to_str().unwrap(), "--env", "test", "--no-color"];
        let dev = Dev::start(&args, &[], path.parent().unwrap());
        Pipeline {
            _emulator: emulator,
            live,
            file,
            dev,
            resources,
            deliveries,
            table: format!("{test}-events"),
            queue: format!("{test}-failures"),
            _scratch: scratch,
        }
    }

    /// Writes one item per key, in one request (so in this order on the stream).
    pub(crate) fn write(&self, keys: &[&str]) {
        let requests = keys.iter().map(|k| {
            let put = ddb::PutRequest::builder()
                .item("pk", ddb::AttributeValue::S((*k).to_string()))
                .build()
                .unwrap();
            ddb::WriteRequest::builder().put_request(put).build()
        });
        let request = self
            .live
            .client
            .batch_write_item()
            .request_items(&self.table, requests.collect());
        self.live.block_on(request.send()).unwrap();
    }

    /// What each invocation was given: (version, [(key, sequence number)]).
    pub(crate) fn deliveries(&self) -> Vec<(String, Vec<(String, String)>)> {
        let text = std::fs::read_to_string(&self.deliveries).unwrap_or_default();
        text.lines()
            .map(|line| {
                let (version, records) = line.split_once(' ').unwrap_or((line, ""));
                let records = records
                    .split(',')
                    .filter(|r| !r.is_empty())
                    .map(|r| {
                        let (key, seq) = r.split_once('@').unwrap();
                        (key.to_string(), seq.to_string())
                    })
                    .collect();
                (version.to_string(), records)
            })
            .collect()
    }

    /// The keys each invocation was given.
    pub(crate) fn delivered_keys(&self) -> Vec<Vec<String>> {
        self.deliveries()
            .into_iter()
            .map(|(_, records)| records.into_iter().map(|(k, _)| k).collect())
            .collect()
    }

    /// The on-failure records in the queue.
    fn on_failure_records(&self) -> Vec<Value> {
        let sqs = &self.live.sqs;
        let url = self
            .live
            .block_on(sqs.get_queue_url().queue_name(&self.queue).send())
            .unwrap()
            .queue_url
            .unwrap();
        let request = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10);
        let out = self.live.block_on(request.send()).unwrap();
        out.messages()
            .iter()
            .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
            .collect()
    }
}

pub(crate) fn fixture() -> PathBuf {
    repo_root().join("tests/fixtures/batch-function")
}

fn keys(list: &[&str]) -> Vec<String> {
    list.iter().map(|k| k.to_string()).collect()
}

/// With `report_batch_item_failures`, a function that reports r3 failed has the records
/// from r3 on retried, and never those before it; once retries run out, the rest is given
/// up on and its sequence range is in the queue.
/// A function stuck past its timeout is stopped, as Lambda stops it, and the next batch
/// gets a bootstrap of its own: a hung process never holds the mapping.
#[test]
fn an_invocation_past_its_timeout_restarts_the_bootstrap_and_the_next_batch_runs() {
    let mut p = Pipeline::start(
        "dev-hang",
        &fixture(),
        "hang",
        "    maximum_retry_attempts: 0\n",
    );
    p.write(&["r1", "r2", "r3"]);
    let restarted = p
        .dev
        .wait_longer_for(std::time::Duration::from_secs(60), |l| {
            l.contains("an invocation timed out; restarting the bootstrap")
        });
    assert!(restarted.starts_with("dev-hang-handler: "), "{restarted}");
    let line = p.dev.wait_for(|l| l.contains(" invoked in "));
    assert!(
        line.contains(": 3 in, 0 filtered out, 3 invoked in 1 invocation, 1 failed, 3 given up"),
        "{line}"
    );
    p.write(&["r4"]);
    let line = p.dev.wait_for(|l| l.contains(" invoked in "));
    assert!(
        line.contains(" 1 invoked in 1 invocation, 0 failed"),
        "{line}"
    );
    assert_eq!(
        p.delivered_keys(),
        [keys(&["r1", "r2", "r3"]), keys(&["r4"])]
    );
}

#[test]
fn a_partial_failure_is_retried_from_the_failed_record_and_then_given_up_to_the_queue() {
    let mut p = Pipeline::start(
        "dev-partial",
        &fixture(),
        "item",
        "    report_batch_item_failures: true\n    maximum_retry_attempts: 1\n",
    );
    p.write(&["r1", "r2", "r3", "r4", "r5"]);
    let line = p.dev.wait_for(|l| l.contains(" invoked in "));
    assert!(
        line.contains(": 5 in, 0 filtered out, 5 invoked in 2 invocations, 2 failed, 3 given up"),
        "{line}"
    );
    assert_eq!(
        p.delivered_keys(),
        [
            keys(&["r1", "r2", "r3", "r4", "r5"]),
            keys(&["r3", "r4", "r5"])
        ],
        "r1 and r2 succeeded the first time and are not delivered again"
    );
    let sequence: Vec<String> = p.deliveries()[0].1.iter().map(|(_, s)| s.clone()).collect();
    let records = p.on_failure_records();
    assert_eq!(records.len(), 1, "{records:?}");
    let info = &records[0]["DDBStreamBatchInfo"];
    assert_eq!(info["startSequenceNumber"], sequence[2].as_str(), "{info}");
    assert_eq!(info["endSequenceNumber"], sequence[4].as_str(), "{info}");
    assert_eq!(info["batchSize"], 3, "{info}");
    assert!(
        info["streamArn"]
            .as_str()
            .unwrap()
            .contains("dev-partial-events")
    );
    assert_eq!(
        records[0]["requestContext"]["condition"], "RetryAttemptsExhausted",
        "{records:?}"
    );
    assert!(
        p.dev
            .seen
            .iter()
            .any(|l| l.contains("gave up on 3 record(s)")),
        "{:?}",
        p.dev.seen
    );
    p.dev.stop();
}

/// With `bisect_on_error`, a batch whose invocation fails is split in halves until the
/// failing record is alone; it is retried `maximum_retry_attempts` times, given up on to
/// the queue, and the records after it still succeed.
#[test]
fn a_failing_batch_is_bisected_down_to_the_bad_record_which_is_given_up_to_the_queue() {
    let mut p = Pipeline::start(
        "dev-bisect",
        &fixture(),
        "error",
        "    bisect_on_error: true\n    maximum_retry_attempts: 1\n",
    );
    p.write(&["r1", "r2", "r3", "r4"]);
    let line = p.dev.wait_for(|l| l.contains(" invoked in "));
    assert!(
        line.contains(": 4 in, 0 filtered out, 4 invoked in 6 invocations, 4 failed, 1 given up"),
        "{line}"
    );
    assert_eq!(
        p.delivered_keys(),
        [
            keys(&["r1", "r2", "r3", "r4"]),
            keys(&["r1", "r2"]),
            keys(&["r3", "r4"]),
            keys(&["r3"]),
            keys(&["r3"]),
            keys(&["r4"]),
        ]
    );
    let r3 = p.deliveries()[0].1[2].1.clone();
    let records = p.on_failure_records();
    assert_eq!(records.len(), 1, "{records:?}");
    let info = &records[0]["DDBStreamBatchInfo"];
    assert_eq!(info["startSequenceNumber"], r3.as_str(), "{info}");
    assert_eq!(info["endSequenceNumber"], r3.as_str(), "{info}");
    assert_eq!(info["batchSize"], 1, "{info}");
    assert_eq!(records[0]["requestContext"]["approximateInvokeCount"], 5);
    p.dev.stop();
}

/// `dev` watches the function's code: a saved change is built and run by the next batch,
/// and deployed to the emulator so that `plan` stays clean; a change that does not build
/// shows the compiler's errors and the last good build keeps running. The function's JSON
/// log lines are printed readably.
#[test]
fn a_saved_change_runs_in_the_next_batch_and_a_broken_one_keeps_the_last_good_build() {
    let package = tempfile::tempdir().unwrap();
    crate::support::copy_dir(&fixture(), package.path());
    // A name of its own, so that its build never shares a binary with the fixture's
    // when the tests share one CARGO_TARGET_DIR.
    for file in ["Cargo.toml", "Cargo.lock"] {
        let path = package.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let renamed = text.replace(
            "name = \"batch-function\"",
            "name = \"batch-function-live\"",
        );
        std::fs::write(&path, renamed).unwrap();
    }
    let source = package.path().join("src/main.rs");
    let set_version = |from: &str, to: &str| {
        let text = std::fs::read_to_string(&source).unwrap();
        assert!(text.contains(from), "{from} not in the source");
        std::fs::write(&source, text.replace(from, to)).unwrap();
    };
    let mut p = Pipeline::start("dev-live", package.path(), "item", "");
    let ran = |p: &mut Pipeline, key: &str| {
        p.write(&[key]);
        p.dev.wait_for(|l| l.contains(" invoked in "));
        let (version, records) = p.deliveries().pop().unwrap();
        assert_eq!(records[0].0, key);
        version
    };
    assert_eq!(ran(&mut p, "a1"), "v1");
    p.dev
        .saw_or_wait_for(|l| l == "dev-live-handler: INFO batch received records=1 version=v1");

    set_version("\"v1\"", "\"v2\"");
    p.dev
        .wait_for(|l| l == "dev: src/main.rs changed; rebuilding handler");
    p.dev
        .wait_for(|l| l == "dev: dev-live-handler restarted with the new build");
    assert_eq!(ran(&mut p, "a2"), "v2");

    set_version("const VERSION", "const VERSION = ;\nconst BROKEN");
    p.dev
        .wait_for(|l| l.contains("keeps running its last good build"));
    // The compiler's errors are shown.
    p.dev.saw_or_wait_for(|l| l.starts_with("error"));
    assert_eq!(ran(&mut p, "a3"), "v2");

    set_version("const VERSION = ;\nconst BROKEN", "const VERSION");
    set_version("\"v2\"", "\"v3\"");
    p.dev
        .wait_for(|l| l == "dev: dev-live-handler restarted with the new build");
    assert_eq!(ran(&mut p, "a4"), "v3");

    // Ctrl-C during a rebuild lets its apply finish (no deploy lock left held), then stops.
    set_version("\"v3\"", "\"v4\"");
    p.dev
        .wait_for(|l| l == "dev: src/main.rs changed; rebuilding handler");
    p.dev.interrupt();
    p.dev
        .wait_for(|l| l == "dev: stopping once the apply under way is done");
    p.dev.ended();
    p.file.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}
