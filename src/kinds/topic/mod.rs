//! `sns_topic`: a standard SNS topic with its tags and subscriptions (e-mail addresses,
//! SQS queues, Lambda functions); in the default stack, where the alarms send what they
//! see. Everything changes in place: subscriptions are added and removed one by one.
//!
//! Two things SNS decides that the file cannot: an e-mail subscription delivers nothing
//! until its recipient follows the link SNS mails (until then SNS lists it as pending and
//! refuses to remove it; it lapses after 48 hours), and a queue or function receives
//! messages only if its own policy lets `sns.amazonaws.com` in, which cruddur-infra does
//! not write. Plan says both where they apply.

mod ops;
mod spec;

pub use spec::Topic;

use crate::aws::Aws;
use crate::aws::needs::Need;
use crate::exec::ExecCtx;
use crate::kinds::kind::{Kind, Live, Tags};
use crate::plan::FieldChange;
use crate::spec::arn::ArnField;
use crate::spec::template::{Inputs, Template};
use crate::values::ArnFormat;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// How SNS delivers to a subscription.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// An e-mail to the address (after its recipient confirms).
    Email,
    /// A message into the queue.
    Sqs,
    /// An invocation of the function.
    Lambda,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Email => "email",
            Protocol::Sqs => "sqs",
            Protocol::Lambda => "lambda",
        }
    }
}

/// One subscription, compared by protocol and endpoint (SNS keeps one per pair).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Subscribed {
    pub protocol: String,
    pub endpoint: String,
}

/// The comparable form of a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicState {
    pub subscriptions: BTreeSet<Subscribed>,
    pub tags: Tags,
}

#[derive(Debug)]
pub struct LiveTopic {
    pub state: TopicState,
    pub arn: String,
    /// The ARN of each confirmed subscription; those pending confirmation have none yet.
    pub confirmed: BTreeMap<Subscribed, String>,
}

crate::live_of!(LiveTopic, Topic, arn);

impl LiveTopic {
    fn pending(&self) -> impl Iterator<Item = &Subscribed> {
        let confirmed = &self.confirmed;
        self.state
            .subscriptions
            .iter()
            .filter(move |s| !confirmed.contains_key(*s))
    }
}

#[async_trait]
impl Kind for Topic {
    const TYPE: &'static str = "sns_topic";
    const ATTRIBUTES: &'static [&'static str] = &["name", "arn"];
    const ARN: ArnFormat = ArnFormat::regional("sns", "topic", "");
    const NEEDS: &'static [&'static [Need]] = &[ops::NEEDS];
    const LISTED_BY_TAG: bool = true;
    /// Where it delivers.
    const USES: &'static [&'static str] = &["sqs_queue", "lambda_function"];
    type Raw = spec::RawTopic;
    type State = TopicState;
    type Live = LiveTopic;
    type Resolved = ();

    fn templates(&self) -> Vec<&Template> {
        self.subscriptions.iter().map(|s| &s.endpoint).collect()
    }

    fn arn_fields(&self) -> Vec<ArnField<'_>> {
        fn field(s: &spec::Subscription) -> Option<ArnField<'_>> {
            let (accepts, hint): (&'static [(&str, &str)], _) = match s.protocol {
                Protocol::Email => return None,
                Protocol::Sqs => (&[("sqs", "queue")], "a queue's ARN, e.g. ${failures.arn}"),
                Protocol::Lambda => (
                    &[("lambda", "function")],
                    "a function's ARN, e.g. ${processor.arn}",
                ),
            };
            Some(ArnField {
                template: &s.endpoint,
                accepts,
                hint,
            })
        }
        self.subscriptions.iter().filter_map(field).collect()
    }

    fn known_name(&self) -> Option<String> {
        Some(self.name.clone())
    }

    async fn read_named(aws: &Aws, name: &str, owner: &str) -> anyhow::Result<Option<LiveTopic>> {
        ops::read_topic(aws, name, Some(owner)).await
    }

    fn desired(&self, _resolved: &(), inputs: &Inputs, tags: Tags) -> TopicState {
        let subscribed = |s: &spec::Subscription| Subscribed {
            protocol: s.protocol.name().to_string(),
            endpoint: inputs.render(&s.endpoint),
        };
        TopicState {
            subscriptions: self.subscriptions.iter().map(subscribed).collect(),
            tags,
        }
    }

    /// On a subscription's fields as plan shows them: an added one's `protocol` says what
    /// delivery waits for; a removed one's `endpoint`, if it is still pending.
    fn note(&self, change: &FieldChange, live: &LiveTopic) -> Option<String> {
        let field = match (change.path.key(0), change.path.key(2)) {
            (Some("subscriptions"), Some(field)) => field,
            _ => return None,
        };
        let note = match (field, change.after.as_str()) {
            ("protocol", Some("email")) if change.added() => {
                "SNS mails the address a link; nothing is delivered until it is followed"
            }
            ("protocol", Some("sqs")) if change.added() => {
                "SNS delivers only if the queue's policy lets sns.amazonaws.com send to it (cruddur-infra does not write it)"
            }
            ("protocol", Some("lambda")) if change.added() => {
                "SNS invokes it only if the function's policy lets sns.amazonaws.com in (cruddur-infra does not write it)"
            }
            ("endpoint", None)
                if change.removed()
                    && live
                        .pending()
                        .any(|p| change.before.as_str() == Some(&p.endpoint)) =>
            {
                "still pending confirmation: SNS refuses to remove it, and drops it after 48 hours unconfirmed"
            }
            _ => return None,
        };
        Some(note.into())
    }

    #[cfg(test)]
    fn applied(&self, desired: TopicState, _resolved: &()) -> LiveTopic {
        let arn = Self::ARN.of(&crate::values::DeploymentContext::example(), &self.name);
        LiveTopic {
            confirmed: desired
                .subscriptions
                .iter()
                .enumerate()
                .map(|(i, s)| (s.clone(), format!("{arn}:{i}")))
                .collect(),
            state: desired,
            arn,
        }
    }
}

#[async_trait]
impl Live for LiveTopic {
    fn warnings(&self) -> Vec<String> {
        self.pending()
            .map(|s| {
                format!(
                    "the subscription of {} is pending: nothing is delivered to it until the mail SNS sent is confirmed",
                    s.endpoint
                )
            })
            .collect()
    }

    fn deletion_warning(&self) -> Option<String> {
        let n = self.state.subscriptions.len();
        (n > 0).then(|| format!("its {n} subscription(s) are deleted with it"))
    }

    async fn delete(&self, cx: &ExecCtx<'_>) -> anyhow::Result<()> {
        ops::delete(cx, &self.arn).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Path, Segment};
    use serde_json::json;

    fn subscribed(protocol: &str, endpoint: &str) -> Subscribed {
        Subscribed {
            protocol: protocol.into(),
            endpoint: endpoint.into(),
        }
    }

    /// A topic with a confirmed queue and an address that has not confirmed yet (moto
    /// confirms every subscription at once, so only here is one pending).
    fn live() -> LiveTopic {
        let queue = subscribed("sqs", "arn:aws:sqs:us-east-1:123456789012:inbox");
        LiveTopic {
            state: TopicState {
                subscriptions: [queue.clone(), subscribed("email", "oncall@example.com")].into(),
                tags: Tags::new(),
            },
            arn: "arn:aws:sns:us-east-1:123456789012:alerts".into(),
            confirmed: [(queue, "arn:aws:sns:us-east-1:123456789012:alerts:1".into())].into(),
        }
    }

    fn change(field: &str, before: serde_json::Value, after: serde_json::Value) -> FieldChange {
        FieldChange {
            path: Path(vec![
                Segment::Key("subscriptions".into()),
                Segment::Index(1),
                Segment::Key(field.into()),
            ]),
            before,
            after,
            forces_replacement: false,
            note: None,
        }
    }

    fn topic() -> Topic {
        Topic {
            name: "alerts".into(),
            subscriptions: Vec::new(),
        }
    }

    #[test]
    fn a_pending_subscription_is_said_and_its_removal_explained() {
        let live = live();
        assert_eq!(
            live.warnings(),
            [
                "the subscription of oncall@example.com is pending: nothing is delivered to it until the mail SNS sent is confirmed"
            ]
        );
        let removed = change("endpoint", json!("oncall@example.com"), json!(null));
        assert!(
            topic()
                .note(&removed, &live)
                .unwrap()
                .contains("refuses to remove it")
        );
        // A confirmed one goes without a word.
        let removed = change(
            "endpoint",
            json!("arn:aws:sqs:us-east-1:123456789012:inbox"),
            json!(null),
        );
        assert_eq!(topic().note(&removed, &live), None);
    }

    #[test]
    fn an_added_subscription_says_what_delivery_waits_for() {
        let live = live();
        let note =
            |protocol: &str| topic().note(&change("protocol", json!(null), json!(protocol)), &live);
        assert!(note("email").unwrap().contains("mails the address a link"));
        assert!(note("sqs").unwrap().contains("queue's policy"));
        assert!(note("lambda").unwrap().contains("function's policy"));
    }

    #[test]
    fn endpoints_written_as_they_are_are_judged_by_protocol() {
        assert_eq!(Protocol::Email.refuses("oncall@example.com"), None);
        assert!(Protocol::Email.refuses("oncall").is_some());
        assert!(Protocol::Email.refuses("@example.com").is_some());
        assert_eq!(Protocol::Sqs.refuses("arn:aws:sqs:us-east-1:1:q"), None);
    }
}
