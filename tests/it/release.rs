//! Releases of the default stack's processor on the emulator: each change published as a
//! version, checked with the stack's check event (the real processor, run here as Lambda
//! runs it) before the alias `live` the trigger invokes moves to it; a bad build kept out;
//! `rollback`; an alarm during the canary moving the alias back; a stack deployed before
//! releases moving its mapping to the alias in place; and the bad inputs. Each step
//! asserts the live alias, versions and mapping afterwards.

use crate::support::{Emulator, Live, Run, default_stack_in, run_default};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const FUNCTION: &str = "cruddur-stream-processor-local";

struct Stack {
    emulator: Emulator,
    live: Live,
    dir: tempfile::TempDir,
    file: PathBuf,
    text: String,
}

impl Stack {
    /// The default stack, its text changed by `edits`, on an emulator of its own.
    fn new(edits: &[(&str, &str)]) -> Stack {
        let emulator = Emulator::start();
        let live = Live::new(&emulator);
        let dir = tempfile::tempdir().unwrap();
        let (file, text) = default_stack_in(dir.path());
        let stack = Stack {
            emulator,
            live,
            dir,
            file,
            text,
        };
        stack.write(edits);
        stack
    }

    fn write(&self, edits: &[(&str, &str)]) {
        let mut text = self.text.clone();
        for (from, to) in edits {
            assert!(text.contains(from), "`{from}` is not in stack.yaml");
            text = text.replacen(from, to, 1);
        }
        std::fs::write(&self.file, text).unwrap();
    }

    fn run(&self, args: &[&str]) -> Run {
        run_default(self.dir.path(), &self.file, &self.emulator.url, args)
    }

    fn apply(&self) -> Run {
        self.run(&["apply", "--auto-approve", "--no-color"])
    }

    /// An apply by another process, while the test goes on.
    fn apply_meanwhile(&self) -> std::thread::JoinHandle<Run> {
        let (dir, file, url) = (
            self.dir.path().to_path_buf(),
            self.file.clone(),
            self.emulator.url.clone(),
        );
        std::thread::spawn(move || {
            run_default(
                &dir,
                &file,
                &url,
                &["apply", "--auto-approve", "--no-color"],
            )
        })
    }

    /// The alias `live`: its version and canary weights.
    fn alias(&self) -> (String, Vec<(String, f64)>) {
        let request = self
            .live
            .lambda
            .get_alias()
            .function_name(FUNCTION)
            .name("live");
        let alias = self.live.block_on(request.send()).unwrap();
        let weights = alias
            .routing_config()
            .and_then(|r| r.additional_version_weights())
            .map(|w| w.iter().map(|(v, w)| (v.clone(), *w)).collect())
            .unwrap_or_default();
        (alias.function_version().unwrap().to_string(), weights)
    }

    fn versions(&self) -> Vec<String> {
        let request = self
            .live
            .lambda
            .list_versions_by_function()
            .function_name(FUNCTION);
        let out = self.live.block_on(request.send()).unwrap();
        out.versions()
            .iter()
            .filter_map(|v| v.version().map(str::to_string))
            .filter(|v| v != "$LATEST")
            .collect()
    }

    /// The stack's one mapping: its UUID and the function ARN it invokes.
    fn mapping(&self) -> (String, String) {
        let request = self.live.lambda.list_event_source_mappings();
        let out = self.live.block_on(request.send()).unwrap();
        let [m] = out.event_source_mappings() else {
            panic!("expected one mapping: {:?}", out.event_source_mappings());
        };
        (
            m.uuid().unwrap().to_string(),
            m.function_arn().unwrap().to_string(),
        )
    }

    fn plan_shows(&self, text: &str) -> Run {
        let run = self
            .run(&["plan", "--no-color", "--detailed-exitcode"])
            .expect_code(2);
        assert!(run.stdout.contains(text), "{}", run.stdout);
        run
    }

    fn assert_converged(&self) {
        let run = self.run(&["plan", "--detailed-exitcode"]).expect_code(0);
        assert!(run.stdout.contains("No changes."), "{}", run.stdout);
    }
}

const GOOD_INDEX: &str = "INDEX_NAME: message-group-sk-index";
const BAD_INDEX: &str = "INDEX_NAME: no-such-index";

#[test]
fn a_release_is_checked_a_bad_build_is_kept_out_and_rollback_goes_back() {
    // Two versions kept: pruning must still keep the one rollback goes back to.
    let two = [("      keep_versions: 3\n", "      keep_versions: 2\n")];
    let stack = Stack::new(&two);
    stack.apply().expect_code(0);
    assert_eq!(stack.alias(), ("1".to_string(), vec![]));
    let (uuid, function) = stack.mapping();
    assert!(
        function.ends_with(&format!(":function:{FUNCTION}:live")),
        "{function}"
    );
    stack.assert_converged();

    // A build that fails every batch: its check fails, the alias stays, apply says why
    // with the function's own log lines, and the plan still shows the change.
    stack.write(&[two[0], (GOOD_INDEX, BAD_INDEX)]);
    stack.plan_shows("~ version = \"1\" → \"2\"");
    let run = stack.apply().expect_code(1);
    for said in [
        "version 2 failed its check with",
        "alias live stays on version 1",
        "its last log lines:",
        "Invalid index: no-such-index",
    ] {
        assert!(run.stderr.contains(said), "{said}: {}", run.stderr);
    }
    assert_eq!(stack.alias().0, "1");
    assert_eq!(stack.mapping(), (uuid.clone(), function.clone()));
    stack.plan_shows("~ version = \"1\" → \"2\"");

    // Fixed: a new version passes and the alias moves; the mapping is the same one.
    // Version 1, past the two newest, is kept: it is what rollback goes back to.
    stack.write(&two);
    stack.apply().expect_code(0);
    assert_eq!(stack.alias().0, "3");
    assert_eq!(stack.versions(), ["1", "2", "3"]);
    assert_eq!(stack.mapping(), (uuid.clone(), function.clone()));
    stack.assert_converged();

    // Rollback: asked first, then at once, to the version before the last move.
    let run = stack.run(&["rollback"]).expect_code(1);
    assert!(run.stderr.contains("--auto-approve"), "{}", run.stderr);
    let run = stack.run(&["rollback", "--auto-approve"]).expect_code(0);
    assert!(
        run.stdout.contains(
            "alias live of cruddur-stream-processor-local moves from version 3 back to version 1"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(stack.alias().0, "1");
    // Never further back than what was checked and live.
    let run = stack.run(&["rollback", "--auto-approve"]).expect_code(1);
    assert!(
        run.stderr.contains("names no earlier version"),
        "{}",
        run.stderr
    );
    assert_eq!(stack.alias().0, "1");

    // The plan shows the alias behind the code; apply rolls forward to the same version
    // (nothing new is published), through the check.
    stack.plan_shows("~ version = \"1\" → \"3\"");
    let run = stack.apply().expect_code(0);
    assert!(run.stderr.contains("checking version 3"), "{}", run.stderr);
    assert_eq!(stack.alias().0, "3");
    assert_eq!(stack.versions(), ["1", "2", "3"]);
    stack.assert_converged();

    // Pruning keeps the newest two (3, the one before, among them); 1 and 2 go.
    stack.write(&[two[0], ("    memory: 128\n", "    memory: 256\n")]);
    stack.apply().expect_code(0);
    assert_eq!(stack.alias().0, "4");
    assert_eq!(stack.versions(), ["3", "4"]);
    stack.assert_converged();
    stack.run(&["rollback", "--auto-approve"]).expect_code(0);
    assert_eq!(stack.alias().0, "3");
}

/// Sets `alarm` to ALARM, as CloudWatch would on a breach.
fn breach(live: &Live, alarm: &str) {
    let request = live
        .cloudwatch
        .set_alarm_state()
        .alarm_name(alarm)
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("Threshold Crossed: 1 datapoint [3.0] was greater than the threshold (0.0)");
    live.block_on(request.send()).unwrap();
}

#[test]
fn an_alarm_during_the_canary_moves_the_alias_back() {
    let stack = Stack::new(&[]);
    let check = check_line(&stack.text);
    let with_canary = format!("{check}\n      canary: {{ weight: 50%, for: 6s }}\n      bake: 2s");
    stack.write(&[(&check, &with_canary)]);
    stack.apply().expect_code(0);
    assert_eq!(stack.alias().0, "1");

    // A change, applied by another process; the alarm goes off once the canary runs.
    stack.write(&[
        (&check, &with_canary),
        ("    memory: 128\n", "    memory: 256\n"),
    ]);
    let apply = stack.apply_meanwhile();
    let started = Instant::now();
    loop {
        let (version, weights) = stack.alias();
        if weights == [("2".to_string(), 0.5)] {
            assert_eq!(version, "1");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no canary began"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    breach(&stack.live, "cruddur-processor-errors-local");
    let run = apply.join().unwrap().expect_code(1);
    for said in [
        "canary of version 2 at 50%:",
        "left, watching 2 alarm(s)",
        "cruddur-processor-errors-local went to ALARM (Threshold Crossed",
        "during the canary of version 2; alias live moved back to version 1",
    ] {
        assert!(run.stderr.contains(said), "{said}: {}", run.stderr);
    }
    assert_eq!(stack.alias(), ("1".to_string(), vec![]));
    stack.plan_shows("~ version = \"1\" → \"2\"");

    // While the alarm lasts, a canary could not tell what the version does: refused.
    let run = stack.apply().expect_code(1);
    assert!(
        run.stderr
            .contains("cruddur-processor-errors-local is in ALARM (Threshold Crossed")
            && run
                .stderr
                .contains("before the canary and bake of version 2 began")
            && run
                .stderr
                .contains("alias live stays on version 1: run apply again once the alarm is OK"),
        "{}",
        run.stderr
    );
    assert_eq!(stack.alias(), ("1".to_string(), vec![]));
    // A canary an interrupted release left: rollback only ends it.
    let request = stack
        .live
        .lambda
        .update_alias()
        .function_name(FUNCTION)
        .name("live")
        .function_version("1")
        .routing_config(
            aws_sdk_lambda::types::AliasRoutingConfiguration::builder()
                .additional_version_weights("2", 0.5)
                .build(),
        );
    stack.live.block_on(request.send()).unwrap();
    let run = stack.run(&["rollback", "--auto-approve"]).expect_code(0);
    assert!(
        run.stdout
            .contains("stays on version 1; the canary an interrupted release left (2 at 50%) ends"),
        "{}",
        run.stdout
    );
    assert_eq!(stack.alias(), ("1".to_string(), vec![]));

    // To ship a fix while the alarm lasts: the check only.
    let run = stack
        .run(&["apply", "--auto-approve", "--no-color", "--no-bake"])
        .expect_code(0);
    assert!(!run.stderr.contains("canary"), "{}", run.stderr);
    assert!(run.stderr.contains("checking version 2"), "{}", run.stderr);
    assert_eq!(stack.alias(), ("2".to_string(), vec![]));
    stack.assert_converged();
}

#[test]
fn an_alarm_during_the_bake_moves_the_alias_back() {
    let stack = Stack::new(&[]);
    let check = check_line(&stack.text);
    let with_bake = format!("{check}\n      bake: 8s");
    stack.write(&[(&check, &with_bake)]);
    stack.apply().expect_code(0);
    stack.write(&[
        (&check, &with_bake),
        ("    timeout: 30\n", "    timeout: 20\n"),
    ]);
    let apply = stack.apply_meanwhile();
    let started = Instant::now();
    while stack.alias().0 != "2" {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the alias never moved"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    breach(&stack.live, "cruddur-processor-behind-local");
    let run = apply.join().unwrap().expect_code(1);
    for said in [
        "baking version 2:",
        "cruddur-processor-behind-local went to ALARM",
        "during the bake of version 2; alias live moved back to version 1",
    ] {
        assert!(run.stderr.contains(said), "{said}: {}", run.stderr);
    }
    assert_eq!(stack.alias(), ("1".to_string(), vec![]));
}

#[test]
fn a_stack_deployed_before_releases_moves_its_mapping_to_the_alias_in_place() {
    // The default stack as it was: no release, the trigger on the function itself.
    let stack = Stack::new(&[]);
    let release_block = release_block(&stack.text);
    let before = [
        (release_block.as_str(), ""),
        (
            "function: ${processor.live_arn}",
            "function: ${processor.name}",
        ),
    ];
    stack.write(&before);
    stack.apply().expect_code(0);
    let (uuid, function) = stack.mapping();
    assert!(
        function.ends_with(&format!(":function:{FUNCTION}")),
        "{function}"
    );
    stack.assert_converged();

    stack.write(&[]);
    let run = stack.plan_shows("event_source_mapping.trigger");
    assert!(
        run.stdout.contains("will be updated in place"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("replaced"), "{}", run.stdout);
    stack.apply().expect_code(0);
    // The same mapping, so the same position in the stream: no record skipped or lost.
    let (after, function) = stack.mapping();
    assert_eq!(after, uuid);
    assert!(
        function.ends_with(&format!(":function:{FUNCTION}:live")),
        "{function}"
    );
    assert_eq!(stack.alias().0, "1");
    stack.assert_converged();
}

/// The line of the default stack that names the check event (by absolute path).
fn check_line(text: &str) -> String {
    text.lines()
        .find(|l| l.contains("check: ") && l.contains("check-event.json"))
        .unwrap()
        .to_string()
}

/// The processor's `release:` block, its comment included.
fn release_block(text: &str) -> String {
    let start = text
        .find("    # Each change is published as a version")
        .unwrap();
    let end = text[start..]
        .find("    depends_on: [dynamodb_endpoint]")
        .unwrap();
    text[start..start + end].to_string()
}

fn stderr_of(stack: &Stack, args: &[&str]) -> String {
    stack.run(args).expect_code(1).stderr
}

#[test]
fn bad_releases_are_refused_before_any_request() {
    let stack = Stack::new(&[]);
    let check = check_line(&stack.text);
    let not_an_event = stack.dir.path().join("sqs-event.json");
    std::fs::write(
        &not_an_event,
        r#"{"Records": [{"eventSource": "aws:sqs", "body": "hello"}]}"#,
    )
    .unwrap();
    stack.write(&[("      alias: live\n", "      alias: \"7\"\n")]);
    let stderr = stderr_of(&stack, &["plan"]);
    assert!(
        stderr.contains("resources.processor.release.alias: invalid alias name `7`: a name of only digits is a version number, not an alias"),
        "{stderr}"
    );
    let cases: Vec<(String, &str)> = vec![
        (
            format!("{check}\n      canary: {{ weight: 150%, for: 5m }}"),
            "weight `150%` is out of range (1% to 99%)",
        ),
        (
            format!("{check}\n      canary: {{ weight: 10%, for: 0s }}"),
            "0s is out of range (1s to 24h)",
        ),
        (
            format!("{check}\n      bake: 5 minutes"),
            "`5 minutes` is not a duration",
        ),
        (
            format!("      check: {}", not_an_event.display()),
            "is not a DynamoDB stream event: record 1 is not from DynamoDB",
        ),
    ];
    for (line, says) in &cases {
        stack.write(&[(&check, line)]);
        let stderr = stderr_of(&stack, &["plan"]);
        assert!(stderr.contains(says), "{says}: {stderr}");
        assert!(stderr.contains("resources.processor.release"), "{stderr}");
    }
    assert!(stack.emulator.mutating_requests().is_empty());

    // A bake longer than one step may wait.
    stack.write(&[(&check, &format!("{check}\n      bake: 2h"))]);
    let stderr = stderr_of(&stack, &["apply", "--auto-approve"]);
    assert!(
        stderr.contains("processor: its release's canary and bake watch for 7200s, longer than one step may wait (--wait-timeout 1800s)"),
        "{stderr}"
    );
    assert!(stack.emulator.requests().is_empty());
}

#[test]
fn an_alias_the_stack_did_not_make_is_not_taken_over() {
    let stack = Stack::new(&[]);
    stack.apply().expect_code(0);
    // Someone's own alias on the function.
    let request = stack
        .live
        .lambda
        .create_alias()
        .function_name(FUNCTION)
        .name("blue")
        .function_version("1")
        .description("the on-call's pinned version");
    stack.live.block_on(request.send()).unwrap();
    stack.write(&[("      alias: live\n", "      alias: blue\n")]);
    stack.emulator.clear_requests();
    let run = stack
        .run(&["apply", "--auto-approve", "--no-color"])
        .expect_code(1);
    assert!(
        run.stdout.contains("the function already has an alias `blue` that this stack did not make (its description: \"the on-call's pinned version\")"),
        "{}",
        run.stdout
    );
    assert!(stack.emulator.mutating_requests().is_empty());
}

/// A check that crashes or times out keeps the function's first version from the alias,
/// as one that reports a batch item failure does: tests/fixtures/batch-function, failing
/// at the check event's one record (`r3`) in the way its environment says.
#[test]
fn a_check_that_times_out_or_errs_makes_no_alias() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let resources = |failure: &str, fail_at: &str| {
        format!(
            "  role:
    type: iam_role
    name: check-role
  handler:
    type: lambda_function
    name: check-handler
    code: {}
    role: ${{role.arn}}
    timeout: 1
    environment:
      FAIL_AT: {fail_at}
      FAILURE: {failure}
    release:
      check: check-event.json
",
            crate::dev_rules::fixture().display()
        )
    };
    let file = crate::support::StackFile::new("check", &emulator.url, &resources("hang", "r3"));
    let event = serde_json::json!({"Records": [{
        "eventID": "1", "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {"Keys": {"pk": {"S": "r3"}}, "NewImage": {"pk": {"S": "r3"}},
                     "SequenceNumber": "100", "SizeBytes": 10, "StreamViewType": "NEW_IMAGE"},
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000"
    }]});
    let dir = file.path().parent().unwrap().to_path_buf();
    std::fs::write(dir.join("check-event.json"), event.to_string()).unwrap();
    let alias = || {
        let request = live
            .lambda
            .get_alias()
            .function_name("check-handler")
            .name("live");
        live.block_on(request.send())
            .ok()
            .and_then(|a| a.function_version)
    };

    let run = file.run(&["apply", "--auto-approve"]).expect_code(1);
    for said in [
        "version 1 failed its check with check-event.json; alias live was not made: the function timed out",
        "its last log lines:",
        "batch received",
    ] {
        assert!(run.stderr.contains(said), "{said}: {}", run.stderr);
    }
    assert_eq!(alias(), None);

    file.write(&resources("error", "r3"));
    let run = file.run(&["apply", "--auto-approve"]).expect_code(1);
    assert!(
        run.stderr.contains("version 2 failed its check with check-event.json; alias live was not made: function error"),
        "{}",
        run.stderr
    );
    assert_eq!(alias(), None);

    file.write(&resources("error", "none"));
    file.run(&["apply", "--auto-approve"]).expect_code(0);
    assert_eq!(alias().as_deref(), Some("3"));
    let run = file.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    assert!(run.stdout.contains("No changes."), "{}", run.stdout);
}
