//! The pure core of `redrive`: an on-failure record read from its queue message, the
//! sequence range it names, whether a replay finished, and what is said about each
//! message. No AWS call here.
//!
//! When Lambda gives up on a batch of a stream it sends an *invocation record* to the
//! mapping's on-failure destination: not the records, only where they are
//! (https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html, "Example
//! invocation record"): `DDBStreamBatchInfo` names the stream, the shard and the first and
//! last sequence numbers of the batch, and how many records it held.

use crate::dev::batch::{Verdict, lowest_failure, sequence_number};
use serde_json::Value;
use std::cmp::Ordering;

/// Where the records given up on are: one shard's sequence range, both ends included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchInfo {
    pub stream_arn: String,
    pub shard_id: String,
    pub start: String,
    pub end: String,
    /// How many records the batch held (`batchSize`).
    pub batch_size: Option<u64>,
    /// Why Lambda gave up (`RetryAttemptsExhausted`, `RecordAgeExceeded`, ...).
    pub condition: Option<String>,
}

impl BatchInfo {
    /// The record in a queue message's body; the error says why the body is not one.
    pub fn parse(body: &str) -> Result<BatchInfo, String> {
        let value: Value = serde_json::from_str(body).map_err(|_| "its body is not JSON")?;
        let info = &value["DDBStreamBatchInfo"];
        if !info.is_object() {
            return Err("its body has no DDBStreamBatchInfo".into());
        }
        let field = |name: &str| -> Result<String, String> {
            match info[name].as_str() {
                Some(text) if !text.is_empty() => Ok(text.to_string()),
                _ => Err(format!("its DDBStreamBatchInfo has no {name}")),
            }
        };
        let number = |name: &str| -> Result<String, String> {
            let text = field(name)?;
            match text.bytes().all(|b| b.is_ascii_digit()) {
                true => Ok(text),
                false => Err(format!("its {name} {text:?} is not a sequence number")),
            }
        };
        let parsed = BatchInfo {
            stream_arn: field("streamArn")?,
            shard_id: field("shardId")?,
            start: number("startSequenceNumber")?,
            end: number("endSequenceNumber")?,
            batch_size: info["batchSize"].as_u64(),
            condition: value["requestContext"]["condition"]
                .as_str()
                .map(str::to_string),
        };
        if compare(&parsed.start, &parsed.end) == Ordering::Greater {
            return Err(format!(
                "its range ends ({}) before it starts ({})",
                parsed.end, parsed.start
            ));
        }
        Ok(parsed)
    }

    /// Whether the record with sequence number `seq` is in the range.
    pub fn holds(&self, seq: &str) -> bool {
        compare(seq, &self.start) != Ordering::Less && compare(seq, &self.end) != Ordering::Greater
    }

    /// Whether `seq` comes after the range's end (reading can stop).
    pub fn ends_before(&self, seq: &str) -> bool {
        compare(seq, &self.end) == Ordering::Greater
    }

    /// "5 records of shard …62ef, 1100…3009 to 1100…3013".
    pub fn describe(&self) -> String {
        let count = match self.batch_size {
            Some(1) => "1 record".to_string(),
            Some(n) => format!("{n} records"),
            None => "the records".to_string(),
        };
        format!(
            "{count} of shard …{}, {} to {}",
            tail(&self.shard_id, 8),
            self.start,
            self.end
        )
    }

    /// "is" or "are", as [`Self::describe`] counts.
    pub fn are(&self) -> &'static str {
        if self.batch_size == Some(1) {
            "is"
        } else {
            "are"
        }
    }

    /// The table the stream belongs to: its ARN, up to `/stream/`.
    pub fn table_arn(&self) -> &str {
        table_of(&self.stream_arn)
    }
}

/// A stream ARN's table ARN (`…:table/NAME/stream/LABEL` → `…:table/NAME`).
pub fn table_of(stream_arn: &str) -> &str {
    stream_arn
        .split_once("/stream/")
        .map_or(stream_arn, |(table, _)| table)
}

/// Two sequence numbers compared as the numbers they are (decimal strings of up to 40
/// digits: longer is larger, then digit by digit).
pub fn compare(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Why an invocation did not finish its records: `None` when it did. As Lambda reads it: an
/// error fails the batch; with `report_batch_item_failures`, a response naming records
/// fails from them (an unreadable list fails the batch); without, any response is done.
pub fn failure(
    verdict: &Verdict,
    report_batch_item_failures: bool,
    records: &[Value],
) -> Option<String> {
    match verdict {
        Verdict::Failed(why) => Some(why.clone()),
        Verdict::Answered(body) if report_batch_item_failures => {
            match lowest_failure(body, records) {
                Ok(None) => None,
                Ok(Some(index)) => Some(format!(
                    "the function reported record {} failed",
                    sequence_number(&records[index])
                )),
                Err(problem) => Some(problem),
            }
        }
        Verdict::Answered(_) => None,
    }
}

/// Why a queue message stays in the queue.
#[derive(Debug, Clone, PartialEq)]
pub enum Stays {
    /// Its body is not an on-failure record of a stream mapping.
    NotARecord(String),
    /// It names a stream no mapping of the stack reads (nor any stream of their tables).
    NoMapping(String),
    /// The stream no longer holds its records (trimmed after 24 hours, or the stream is
    /// gone): `why` says which.
    Gone { info: BatchInfo, why: String },
    /// The stream gave back fewer records than the range holds and then stopped.
    Unreadable { info: BatchInfo, why: String },
    /// The function failed on the replay: its error.
    Failed { info: BatchInfo, error: String },
}

impl Stays {
    /// One line for the message `id`.
    pub fn say(&self, id: &str) -> String {
        let id = tail(id, 8);
        match self {
            Stays::NotARecord(why) => {
                format!(
                    "message …{id} is not an on-failure record of a stream mapping ({why}); it stays in the queue"
                )
            }
            Stays::NoMapping(stream) => format!(
                "message …{id} names stream {stream}, which no event_source_mapping of the stack reads; it stays in the queue"
            ),
            Stays::Gone { info, why } => format!(
                "message …{id}: {} {} no longer in the stream ({why}); it stays in the queue",
                info.describe(),
                info.are()
            ),
            Stays::Unreadable { info, why } => format!(
                "message …{id}: {} could not be read ({why}); it stays in the queue",
                info.describe()
            ),
            Stays::Failed { info, error } => format!(
                "message …{id}: the function failed again on {}: {error}; it stays in the queue",
                info.describe()
            ),
        }
    }

    /// The word for `--output json` (`reason`).
    pub fn reason(&self) -> &'static str {
        match self {
            Stays::NotARecord(_) => "not_a_record",
            Stays::NoMapping(_) => "no_mapping",
            Stays::Gone { .. } => "gone_from_stream",
            Stays::Unreadable { .. } => "unreadable",
            Stays::Failed { .. } => "function_failed",
        }
    }
}

/// The last `n` characters of `text`.
pub fn tail(text: &str, n: usize) -> &str {
    let start = text
        .char_indices()
        .rev()
        .nth(n.saturating_sub(1))
        .map_or(0, |(i, _)| i);
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LAMBDAS: &str = r#"{
        "requestContext": {"requestId": "316aa6d0", "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:processor",
            "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 1},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0", "timestamp": "2019-11-14T00:38:06.021Z",
        "DDBStreamBatchInfo": {"shardId": "shardId-00000001573689847184-864758bb",
            "startSequenceNumber": "800000000003126276362", "endSequenceNumber": "800000000003126276362",
            "approximateArrivalOfFirstRecord": "2019-11-14T00:38:04Z", "approximateArrivalOfLastRecord": "2019-11-14T00:38:05Z",
            "batchSize": 1,
            "streamArn": "arn:aws:dynamodb:us-east-1:123456789012:table/mytable/stream/2019-11-14T00:04:06.388"}}"#;

    #[test]
    fn lambdas_example_record_is_read() {
        // The example of Lambda's developer guide, as it is printed there.
        let info = BatchInfo::parse(LAMBDAS).unwrap();
        assert_eq!(info.shard_id, "shardId-00000001573689847184-864758bb");
        assert_eq!(info.start, "800000000003126276362");
        assert_eq!(info.end, info.start);
        assert_eq!(info.batch_size, Some(1));
        assert_eq!(info.condition.as_deref(), Some("RetryAttemptsExhausted"));
        assert_eq!(
            info.table_arn(),
            "arn:aws:dynamodb:us-east-1:123456789012:table/mytable"
        );
        assert_eq!(
            info.describe(),
            "1 record of shard …864758bb, 800000000003126276362 to 800000000003126276362"
        );
    }

    #[test]
    fn a_body_that_is_not_a_record_says_why() {
        let said = |body: &str| BatchInfo::parse(body).unwrap_err();
        assert_eq!(said("hello"), "its body is not JSON");
        assert_eq!(
            said(r#"{"Records": []}"#),
            "its body has no DDBStreamBatchInfo"
        );
        let without_end = LAMBDAS.replace("\"endSequenceNumber\"", "\"end\"");
        assert_eq!(
            said(&without_end),
            "its DDBStreamBatchInfo has no endSequenceNumber"
        );
        let bad = LAMBDAS.replace(
            "\"800000000003126276362\", \"endSequenceNumber\"",
            "\"8x\", \"endSequenceNumber\"",
        );
        assert_eq!(
            said(&bad),
            "its startSequenceNumber \"8x\" is not a sequence number"
        );
        let backwards = LAMBDAS.replacen("800000000003126276362", "900000000003126276362", 1);
        assert_eq!(
            said(&backwards),
            "its range ends (800000000003126276362) before it starts (900000000003126276362)"
        );
    }

    #[test]
    fn sequence_numbers_compare_as_numbers_not_as_text() {
        assert_eq!(compare("9", "10"), Ordering::Less);
        assert_eq!(compare("0010", "10"), Ordering::Equal);
        assert_eq!(
            compare("800000000003126276363", "800000000003126276362"),
            Ordering::Greater
        );
        let info = BatchInfo {
            start: "98".into(),
            end: "102".into(),
            ..BatchInfo::parse(LAMBDAS).unwrap()
        };
        assert!(!info.holds("97"));
        assert!(info.holds("98") && info.holds("99") && info.holds("100") && info.holds("102"));
        assert!(!info.holds("103"));
        assert!(info.ends_before("103") && !info.ends_before("102"));
    }

    #[test]
    fn a_replay_is_done_only_without_failures() {
        let records = vec![
            json!({"dynamodb": {"SequenceNumber": "1"}}),
            json!({"dynamodb": {"SequenceNumber": "2"}}),
        ];
        let ok = Verdict::Answered(json!({}));
        assert_eq!(failure(&ok, true, &records), None);
        let named = Verdict::Answered(json!({"batchItemFailures": [{"itemIdentifier": "2"}]}));
        assert_eq!(
            failure(&named, true, &records).as_deref(),
            Some("the function reported record 2 failed")
        );
        // Without report_batch_item_failures Lambda does not read the list.
        assert_eq!(failure(&named, false, &records), None);
        let error = Verdict::Failed("function error: refused".into());
        assert_eq!(
            failure(&error, false, &records).as_deref(),
            Some("function error: refused")
        );
        let stranger = Verdict::Answered(json!({"batchItemFailures": [{"itemIdentifier": "7"}]}));
        assert!(failure(&stranger, true, &records).unwrap().contains("`7`"));
    }

    #[test]
    fn each_reason_to_stay_is_one_line_naming_the_message() {
        let info = BatchInfo::parse(LAMBDAS).unwrap();
        let said = Stays::Gone {
            info,
            why: "trimmed: DynamoDB keeps stream records for 24 hours".into(),
        }
        .say("f3a1c2d4-0000-4000-8000-00000000abcd");
        assert_eq!(
            said,
            "message …0000abcd: 1 record of shard …864758bb, 800000000003126276362 to 800000000003126276362 is no longer in the stream (trimmed: DynamoDB keeps stream records for 24 hours); it stays in the queue"
        );
        assert!(!said.contains('\n'));
        assert_eq!(tail("ab", 8), "ab");
    }
}
