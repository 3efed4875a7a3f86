//! An `sqs_queue` as written in the stack file, and its validation.

use super::Encryption;
use crate::kinds::kind::Validate;
use crate::spec::diag::Diags;
use crate::spec::fields::{IntRule, NameRules, ValidateCtx, physical_name};
use crate::spec::raw::Spanned;
use crate::spec::raw::raw_resource;

raw_resource! {
    /// An `sqs_queue` (a standard queue) as written in the stack file.
    #[schemars(rename = "SqsQueue")]
    pub struct RawQueue {
        /// The queue's name (1-80 of letters, digits, `-` and `_`). Required.
        #[schemars(length(min = 1, max = 80))]
        name: Spanned<String>,
        /// How long a message is kept, in seconds: 60 (one minute) to 1209600 (14 days,
        /// the default).
        #[schemars(range(min = 60, max = 1209600))]
        message_retention_seconds: Spanned<i64>,
        /// How long a received message stays hidden from other consumers, in seconds:
        /// 0 to 43200 (12 hours); default 30.
        #[schemars(range(min = 0, max = 43200))]
        visibility_timeout_seconds: Spanned<i64>,
        /// Server-side encryption: `sqs` (SSE-SQS, keys owned by SQS; the default) or
        /// `none`.
        encryption: Spanned<Encryption>,
    }
}

/// A validated `sqs_queue`.
#[derive(Debug)]
pub struct Queue {
    pub name: String,
    pub message_retention_seconds: i64,
    pub visibility_timeout_seconds: i64,
    pub encryption: Encryption,
}

/// SQS's limits (the CreateQueue API reference). Records given up on are worth keeping
/// as long as possible, so the retention's default is its most.
const RETENTION: IntRule = IntRule::range(
    60..=1_209_600,
    1_209_600,
    "seconds from one minute to 14 days; records given up on are worth keeping as long as possible",
);
const VISIBILITY: IntRule = IntRule::range(0..=43_200, 30, "seconds from 0 to 12 hours");

const QUEUE_NAMES: NameRules = NameRules::letters_digits_and("queue", 1..=80, "-_")
    .example("cruddur-processor-failures-${env}")
    .note("FIFO queues, named `.fifo`, are not supported");

impl Validate<Queue> for RawQueue {
    fn validate(self, cx: &ValidateCtx, diags: &mut Diags) -> Option<Queue> {
        let raw = self;
        let start = diags.mark();
        let name = physical_name(raw.name(), &QUEUE_NAMES, cx, diags);
        let message_retention_seconds = RETENTION.read(
            raw.message_retention_seconds(),
            cx.field("message_retention_seconds"),
            diags,
        );
        let visibility_timeout_seconds = VISIBILITY.read(
            raw.visibility_timeout_seconds(),
            cx.field("visibility_timeout_seconds"),
            diags,
        );
        let encryption = raw.encryption().map_or(Encryption::Sqs, |e| e.value);
        diags.clean_since(start)?;
        Some(Queue {
            name: name?,
            message_retention_seconds,
            visibility_timeout_seconds,
            encryption,
        })
    }
}
