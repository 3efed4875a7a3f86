//! An `sns_topic` as written in the stack file, and its validation.

use super::Protocol;
use crate::kinds::kind::Validate;
use crate::spec::diag::{Diagnostic, Diags};
use crate::spec::fields::{NameRules, ValidateCtx, physical_name, template_field};
use crate::spec::raw::{Spanned, raw_resource};
use crate::spec::template::Template;
use serde::Deserialize;
use std::collections::BTreeSet;

raw_resource! {
    /// An `sns_topic` (a standard topic) as written in the stack file.
    #[schemars(rename = "SnsTopic")]
    pub struct RawTopic {
        /// The topic's name (1-256 of letters, digits, `-` and `_`). Required.
        #[schemars(length(min = 1, max = 256))]
        name: Spanned<String>,
        /// Who is told what is published to it: e-mail addresses, SQS queues, Lambda
        /// functions (default: nobody).
        subscriptions: Spanned<Vec<Spanned<RawSubscription>>>,
    }
}

/// One subscription as written in the stack file.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Subscription")]
pub struct RawSubscription {
    /// How SNS delivers: `email`, `sqs` or `lambda`.
    protocol: Spanned<Protocol>,
    /// Where: an e-mail address, a queue's ARN or a function's ARN; references such as
    /// `${failures.arn}` too.
    #[schemars(length(min = 1))]
    endpoint: Spanned<String>,
}

/// A validated `sns_topic`.
#[derive(Debug)]
pub struct Topic {
    pub name: String,
    pub subscriptions: Vec<Subscription>,
}

/// A validated subscription.
#[derive(Debug)]
pub struct Subscription {
    pub protocol: Protocol,
    pub endpoint: Template,
}

const TOPIC_NAMES: NameRules = NameRules::letters_digits_and("topic", 1..=256, "-_")
    .example("cruddur-alerts-${env}")
    .note("FIFO topics, named `.fifo`, are not supported");

impl Validate<Topic> for RawTopic {
    fn validate(self, cx: &ValidateCtx, diags: &mut Diags) -> Option<Topic> {
        let start = diags.mark();
        let name = physical_name(self.name(), &TOPIC_NAMES, cx, diags);
        let mut subscriptions = Vec::new();
        let mut seen = BTreeSet::new();
        let written = self.subscriptions().map(|list| list.value.as_slice());
        for (i, raw) in written.unwrap_or_default().iter().enumerate() {
            let field = cx.field(&format!("subscriptions[{i}]"));
            let (protocol, endpoint) = (raw.value.protocol.value, &raw.value.endpoint);
            let Some(template) = template_field(endpoint, cx, format!("{field}.endpoint"), diags)
            else {
                continue;
            };
            // An address is judged here; a queue's or a function's ARN by the load-time ARN
            // checks (`arn_fields`), which judge references too.
            if let Some(problem) = template.literal().and_then(|l| protocol.refuses(&l)) {
                diags.push(
                    Diagnostic::new(&endpoint.referenced, format!("{field}.endpoint"), problem)
                        .hint("an address such as oncall@example.com"),
                );
                continue;
            }
            if !seen.insert((protocol, endpoint.value.clone())) {
                diags.push(
                    Diagnostic::new(
                        &raw.referenced,
                        field,
                        format!("{} {} is subscribed twice", protocol.name(), endpoint.value),
                    )
                    .hint("SNS keeps one subscription per protocol and endpoint"),
                );
                continue;
            }
            subscriptions.push(Subscription {
                protocol,
                endpoint: template,
            });
        }
        diags.clean_since(start)?;
        Some(Topic {
            name: name?,
            subscriptions,
        })
    }
}

impl Protocol {
    /// Why `endpoint`, written as it is, cannot be this protocol's, if it cannot: an e-mail
    /// address is checked here (loosely, as SNS does: something, `@`, a domain); ARNs are
    /// left to the ARN checks.
    pub(super) fn refuses(self, endpoint: &str) -> Option<String> {
        let address = endpoint
            .split_once('@')
            .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'));
        (self == Protocol::Email && !address)
            .then(|| format!("`{endpoint}` is not an e-mail address"))
    }
}
