//! `sqs_queue` against the emulator: create, no-op, every in-place change, out-of-band
//! changes, adoption, orphans, and the guard on deleting a queue that holds messages; live
//! state asserted through the SDK.

use aws_sdk_sqs::types::QueueAttributeName as Attr;
use std::collections::HashMap;

const QUEUE: &str = "  failures:
    type: sqs_queue
    name: failures-${env}
";

struct Fixture {
    base: crate::support::Fixture,
    name: String,
}

impl std::ops::Deref for Fixture {
    type Target = crate::support::Fixture;
    fn deref(&self) -> &crate::support::Fixture {
        &self.base
    }
}

impl Fixture {
    fn new(test: &str) -> Fixture {
        Fixture {
            base: crate::support::Fixture::new(test, QUEUE),
            name: "failures-test".to_string(),
        }
    }

    fn url(&self, name: &str) -> Option<String> {
        let out = self
            .live
            .block_on(self.live.sqs.get_queue_url().queue_name(name).send());
        out.ok().and_then(|o| o.queue_url)
    }

    fn attributes(&self) -> HashMap<Attr, String> {
        let url = self.url(&self.name).expect("the queue exists");
        let request = self
            .live
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(Attr::All);
        let out = self.live.block_on(request.send()).unwrap();
        out.attributes.unwrap_or_default()
    }

    fn tags(&self) -> HashMap<String, String> {
        let url = self.url(&self.name).expect("the queue exists");
        let out = self
            .live
            .block_on(self.live.sqs.list_queue_tags().queue_url(url).send())
            .unwrap();
        out.tags.unwrap_or_default()
    }

    fn send_message(&self, name: &str) {
        let url = self.url(name).expect("the queue exists");
        let request = self
            .live
            .sqs
            .send_message()
            .queue_url(url)
            .message_body("a record given up on");
        self.live.block_on(request.send()).unwrap();
    }
}

#[test]
fn a_queue_is_created_changed_in_place_and_left_alone() {
    let f = Fixture::new("queue");
    let run = f.file.run(&["plan"]).expect_code(0);
    assert!(
        run.stdout
            .contains("+ sqs_queue.failures (failures-test) will be created"),
        "{}",
        run.stdout
    );
    f.apply();
    let attributes = f.attributes();
    // The defaults: the longest retention SQS allows, and SSE-SQS.
    assert_eq!(attributes[&Attr::MessageRetentionPeriod], "1209600");
    assert_eq!(attributes[&Attr::VisibilityTimeout], "30");
    assert_eq!(attributes[&Attr::SqsManagedSseEnabled], "true");
    assert_eq!(f.tags()["cruddur-infra:stack"], "queue/test");
    assert_eq!(f.tags()["cruddur-infra:resource"], "failures");

    f.emulator.clear_requests();
    f.apply();
    assert_eq!(f.emulator.mutating_requests(), Vec::<String>::new());
    f.assert_converged();

    // Every setting changes in place: one SetQueueAttributes, then the tags.
    f.edit(&[(
        "name: failures-${env}\n",
        "name: failures-${env}\n    message_retention_seconds: 3600\n    visibility_timeout_seconds: 120\n    encryption: none\n    tags: { team: chat }\n",
    )]);
    let run = f.file.run(&["plan"]).expect_code(0);
    for field in [
        "~ message_retention_seconds",
        "~ visibility_timeout_seconds",
        "~ encryption",
    ] {
        assert!(run.stdout.contains(field), "{field}: {}", run.stdout);
    }
    assert!(
        run.stdout.contains("will be updated in place"),
        "{}",
        run.stdout
    );
    f.emulator.clear_requests();
    f.apply();
    let calls = f.emulator.mutating_requests();
    assert_eq!(calls, ["SetQueueAttributes", "TagQueue"], "{calls:?}");
    let attributes = f.attributes();
    assert_eq!(attributes[&Attr::MessageRetentionPeriod], "3600");
    assert_eq!(attributes[&Attr::VisibilityTimeout], "120");
    assert_eq!(attributes[&Attr::SqsManagedSseEnabled], "false");
    assert_eq!(f.tags()["team"], "chat");
    f.assert_converged();

    // The tag off again.
    f.edit(&[(
        "name: failures-${env}\n",
        "name: failures-${env}\n    message_retention_seconds: 3600\n    visibility_timeout_seconds: 120\n    encryption: none\n",
    )]);
    f.apply();
    assert!(!f.tags().contains_key("team"), "{:?}", f.tags());
    f.assert_converged();

    f.file.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert_eq!(f.url(&f.name), None, "the queue is still there");
}

#[test]
fn a_change_made_out_of_band_is_drift_and_apply_puts_it_back() {
    let f = Fixture::new("queue-drift");
    f.apply();
    let url = f.url(&f.name).unwrap();
    let request = f
        .live
        .sqs
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(Attr::VisibilityTimeout, "99");
    f.live.block_on(request.send()).unwrap();

    let run = f.file.run(&["drift"]).expect_code(2);
    assert!(
        run.stdout.contains("visibility_timeout_seconds"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("99"), "{}", run.stdout);
    f.apply();
    assert_eq!(f.attributes()[&Attr::VisibilityTimeout], "30");
    f.file.run(&["drift"]).expect_code(0);
}

#[test]
fn a_hand_made_queue_is_a_conflict_until_adopted() {
    let f = Fixture::new("queue-adopt");
    let request = f
        .live
        .sqs
        .create_queue()
        .queue_name(&f.name)
        .attributes(Attr::VisibilityTimeout, "45");
    f.live.block_on(request.send()).unwrap();
    f.send_message(&f.name);

    let run = f.file.run(&["apply", "--auto-approve"]).expect_code(1);
    assert!(run.stderr.contains("--adopt"), "{}", run.stderr);
    assert!(!f.tags().contains_key("cruddur-infra:stack"));

    f.file
        .run(&["apply", "--auto-approve", "--adopt"])
        .expect_code(0);
    assert_eq!(f.tags()["cruddur-infra:stack"], "queue-adopt/test");
    assert_eq!(f.attributes()[&Attr::VisibilityTimeout], "30");
    assert_eq!(
        f.attributes()[&Attr::ApproximateNumberOfMessages],
        "1",
        "adopting lost the message"
    );
    f.assert_converged();
}

#[test]
fn a_queue_holding_messages_is_deleted_only_with_allow_data_loss() {
    let f = Fixture::new("queue-guard");
    f.file.write(&format!(
        "{QUEUE}  spare:\n    type: sqs_queue\n    name: spare-${{env}}\n"
    ));
    f.apply();
    f.send_message("spare-test");

    // Taken out of the file, it is an orphan; it holds a message, so it stays.
    f.file.write(QUEUE);
    let run = f.file.run(&["plan"]).expect_code(0);
    assert!(run.stdout.contains("spare-test"), "{}", run.stdout);
    assert!(run.stdout.contains("1 message"), "{}", run.stdout);
    let run = f.file.run(&["apply", "--auto-approve"]).expect_code(1);
    assert!(run.stderr.contains("--allow-data-loss"), "{}", run.stderr);
    assert!(f.url("spare-test").is_some(), "deleted without consent");
    f.file
        .run(&["apply", "--auto-approve", "--allow-data-loss"])
        .expect_code(0);
    assert_eq!(f.url("spare-test"), None);

    // The same guard on destroy.
    f.send_message(&f.name);
    let run = f.file.run(&["destroy", "--auto-approve"]).expect_code(1);
    assert!(run.stderr.contains("--allow-data-loss"), "{}", run.stderr);
    assert!(f.url(&f.name).is_some(), "deleted without consent");
    f.file
        .run(&["destroy", "--auto-approve", "--allow-data-loss"])
        .expect_code(0);
    assert_eq!(f.url(&f.name), None);
}
