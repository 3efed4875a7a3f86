//! `sns_topic` against the emulator: create with subscriptions (one to a queue of the
//! stack, by reference), no-op, in-place changes of subscriptions and tags, out-of-band
//! subscriptions, adoption, orphans and bad inputs; live state asserted through the SDK.

use crate::bad_input::{Case, check_cases};
use std::collections::{BTreeMap, BTreeSet};

const TOPIC: &str = "  alerts:
    type: sns_topic
    name: alerts-${env}
    subscriptions:
      - { protocol: email, endpoint: oncall@example.com }
      - { protocol: sqs, endpoint: \"${inbox.arn}\" }
  inbox:
    type: sqs_queue
    name: inbox-${env}
";

struct Fixture {
    base: crate::support::Fixture,
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
            base: crate::support::Fixture::new(test, TOPIC),
        }
    }

    fn arn(&self, name: &str) -> String {
        format!("arn:aws:sns:us-east-1:123456789012:{name}")
    }

    /// The topic's subscriptions as `protocol endpoint`; `None` when there is no topic.
    fn subscriptions(&self, name: &str) -> Option<BTreeSet<String>> {
        let request = self
            .live
            .sns
            .list_subscriptions_by_topic()
            .topic_arn(self.arn(name));
        let out = self.live.block_on(request.send()).ok()?;
        Some(
            out.subscriptions()
                .iter()
                .map(|s| {
                    format!(
                        "{} {}",
                        s.protocol().unwrap_or_default(),
                        s.endpoint().unwrap_or_default()
                    )
                })
                .collect(),
        )
    }

    fn tags(&self, name: &str) -> BTreeMap<String, String> {
        let request = self
            .live
            .sns
            .list_tags_for_resource()
            .resource_arn(self.arn(name));
        let out = self.live.block_on(request.send()).unwrap();
        out.tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect()
    }

    fn subscribe(&self, name: &str, endpoint: &str) {
        let request = self
            .live
            .sns
            .subscribe()
            .topic_arn(self.arn(name))
            .protocol("email")
            .endpoint(endpoint);
        self.live.block_on(request.send()).unwrap();
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

const QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:inbox-test";

#[test]
fn a_topic_is_created_subscribed_changed_in_place_and_destroyed() {
    let f = Fixture::new("topic");
    let run = f.file.run(&["plan"]).expect_code(0);
    assert!(
        run.stdout
            .contains("+ sns_topic.alerts (alerts-test) will be created"),
        "{}",
        run.stdout
    );
    f.apply();
    assert_eq!(
        f.subscriptions("alerts-test"),
        Some(set(&[
            "email oncall@example.com",
            &format!("sqs {QUEUE_ARN}")
        ]))
    );
    assert_eq!(f.tags("alerts-test")["cruddur-infra:stack"], "topic/test");
    assert_eq!(f.tags("alerts-test")["cruddur-infra:resource"], "alerts");

    f.emulator.clear_requests();
    f.apply();
    assert_eq!(f.emulator.mutating_requests(), Vec::<String>::new());
    f.assert_converged();

    // One address for another, and a tag: one Unsubscribe, one Subscribe, one TagResource.
    f.edit(&[
        ("oncall@example.com", "pager@example.com"),
        (
            "name: alerts-${env}\n",
            "name: alerts-${env}\n    tags: { team: chat }\n",
        ),
    ]);
    let run = f.file.run(&["plan"]).expect_code(0);
    assert!(
        run.stdout.contains("will be updated in place"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("SNS mails the address a link"),
        "{}",
        run.stdout
    );
    f.emulator.clear_requests();
    f.apply();
    let mut calls = f.emulator.mutating_requests();
    calls.sort();
    assert_eq!(calls, ["Subscribe", "TagResource", "Unsubscribe"]);
    assert_eq!(
        f.subscriptions("alerts-test"),
        Some(set(&[
            "email pager@example.com",
            &format!("sqs {QUEUE_ARN}")
        ]))
    );
    assert_eq!(f.tags("alerts-test")["team"], "chat");
    f.assert_converged();

    f.file.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert_eq!(
        f.subscriptions("alerts-test"),
        None,
        "the topic is still there"
    );
}

#[test]
fn a_subscription_made_out_of_band_is_drift_and_apply_removes_it() {
    let f = Fixture::new("topic-drift");
    f.apply();
    f.subscribe("alerts-test", "intruder@example.com");

    let run = f.file.run(&["drift"]).expect_code(2);
    assert!(
        run.stdout.contains("intruder@example.com"),
        "{}",
        run.stdout
    );
    f.apply();
    let live = f.subscriptions("alerts-test").unwrap();
    assert!(!live.contains("email intruder@example.com"), "{live:?}");
    assert_eq!(live.len(), 2, "{live:?}");
    f.file.run(&["drift"]).expect_code(0);
}

#[test]
fn a_hand_made_topic_is_a_conflict_until_adopted_and_keeps_its_subscribers() {
    let f = Fixture::new("topic-adopt");
    let request = f.live.sns.create_topic().name("alerts-test");
    f.live.block_on(request.send()).unwrap();
    f.subscribe("alerts-test", "oncall@example.com");

    let run = f.file.run(&["apply", "--auto-approve"]).expect_code(1);
    assert!(run.stderr.contains("--adopt"), "{}", run.stderr);
    assert!(!f.tags("alerts-test").contains_key("cruddur-infra:stack"));

    f.file
        .run(&["apply", "--auto-approve", "--adopt"])
        .expect_code(0);
    assert_eq!(
        f.tags("alerts-test")["cruddur-infra:stack"],
        "topic-adopt/test"
    );
    assert_eq!(
        f.subscriptions("alerts-test"),
        Some(set(&[
            "email oncall@example.com",
            &format!("sqs {QUEUE_ARN}")
        ]))
    );
    f.assert_converged();
}

#[test]
fn a_topic_taken_out_of_the_file_is_an_orphan_and_deleted() {
    let f = Fixture::new("topic-orphan");
    f.file.write(&format!(
        "{TOPIC}  spare:\n    type: sns_topic\n    name: spare-${{env}}\n"
    ));
    f.apply();
    assert_eq!(f.subscriptions("spare-test"), Some(BTreeSet::new()));

    f.file.write(TOPIC);
    let run = f.file.run(&["plan"]).expect_code(0);
    assert!(run.stdout.contains("spare-test"), "{}", run.stdout);
    assert!(
        run.stdout.contains("no longer in the stack file"),
        "{}",
        run.stdout
    );
    f.apply();
    assert_eq!(
        f.subscriptions("spare-test"),
        None,
        "the orphan is still there"
    );
    assert!(
        f.subscriptions("alerts-test").is_some(),
        "the declared topic went too"
    );
}

/// BASE's last line followed by a topic `alerts` (lines 20-24; its first subscription
/// on line 23) whose first subscription is `$subscription`.
macro_rules! with_topic {
    ($subscription:literal) => {
        concat!(
            "    stream: NEW_IMAGE\n  alerts:\n    type: sns_topic\n    name: alerts-${env}\n    subscriptions:\n      - ",
            $subscription,
            "\n"
        )
    };
}

#[test]
fn bad_topics_are_located_explained_and_touch_nothing() {
    const CASES: &[Case] = &[
        Case {
            name: "topic name with a dot",
            edits: &[(
                "    stream: NEW_IMAGE\n",
                "    stream: NEW_IMAGE\n  alerts:\n    type: sns_topic\n    name: alerts.fifo\n",
            )],
            env: "test",
            expect: "22:11: resources.alerts.name: invalid topic name `alerts.fifo`",
        },
        Case {
            name: "an address that is none",
            edits: &[(
                "    stream: NEW_IMAGE\n",
                with_topic!("{ protocol: email, endpoint: oncall }"),
            )],
            env: "test",
            expect: "24:38: resources.alerts.subscriptions[0].endpoint: `oncall` is not an e-mail address",
        },
        Case {
            name: "a queue that is no ARN",
            edits: &[(
                "    stream: NEW_IMAGE\n",
                with_topic!("{ protocol: sqs, endpoint: failures }"),
            )],
            env: "test",
            expect: "24:36: resources.alerts.subscriptions[0].endpoint: `failures` is not an ARN",
        },
        Case {
            name: "a queue's subscription to a table",
            edits: &[(
                "    stream: NEW_IMAGE\n",
                with_topic!("{ protocol: sqs, endpoint: \"${messages.arn}\" }"),
            )],
            env: "test",
            expect: "24:36: resources.alerts.subscriptions[0].endpoint: expects an ARN of type sqs queue; this is of type dynamodb table",
        },
        Case {
            name: "an unknown protocol",
            edits: &[(
                "    stream: NEW_IMAGE\n",
                with_topic!("{ protocol: sms, endpoint: \"+15555550100\" }"),
            )],
            env: "test",
            expect: "24:21: resources.alerts.subscriptions[0].protocol: unknown variant `sms`, expected one of email, sqs, lambda",
        },
        Case {
            name: "the same subscription twice",
            edits: &[(
                "    stream: NEW_IMAGE\n",
                with_topic!(
                    "{ protocol: email, endpoint: a@example.com }\n      - { protocol: email, endpoint: a@example.com }"
                ),
            )],
            env: "test",
            expect: "25:9: resources.alerts.subscriptions[1]: email a@example.com is subscribed twice",
        },
    ];
    check_cases(CASES);
}
