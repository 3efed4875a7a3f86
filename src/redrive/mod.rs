//! `redrive`'s calls to AWS (the command's flow is `commands::redrive`): the on-failure
//! queue's messages, held while they are replayed and deleted once done; a record range
//! read again from its stream shard; the function invoked as a mapping invokes it.
//! `record` is the pure core.
//!
//! A message is *held* by its visibility timeout: received, nobody else sees it until the
//! timeout ends (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html).
//! A message that stays is made visible again at once (ChangeMessageVisibility 0); one
//! held by a run that died comes back by itself when its timeout ends.

pub mod record;

use crate::aws::codes::STREAM_VALIDATION;
use crate::aws::errors::error;
use crate::aws::needs::Need;
use crate::aws::{Aws, absent_on, answered, sdk};
use crate::dev::batch::Verdict;
use crate::dev::stream::lambda_record;
use anyhow::Context;
use aws_sdk_dynamodbstreams::operation::get_records::GetRecordsError;
use aws_sdk_dynamodbstreams::operation::get_shard_iterator::GetShardIteratorError;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use aws_sdk_sqs::operation::get_queue_url::GetQueueUrlError;
use aws_sdk_sqs::types::QueueAttributeName;
use record::BatchInfo;
use serde_json::Value;

/// The IAM actions `redrive` calls; see `crate::aws::needs`. Granted on the stack's queues,
/// its tables' streams and its functions.
pub const NEEDS: &[Need] = &[
    Need::on(
        "queue",
        "change: sqs:GetQueueUrl sqs:GetQueueAttributes sqs:ReceiveMessage sqs:ChangeMessageVisibility sqs:DeleteMessage",
    ),
    Need::on(
        "stream",
        "change: dynamodb:DescribeStream dynamodb:GetShardIterator dynamodb:GetRecords",
    ),
    // The SDK's Invoke is IAM's InvokeFunction.
    Need::on("function", "change: lambda:InvokeFunction"),
];

/// How long a received message stays hidden from others while it is replayed, in seconds;
/// renewed before each message is replayed. A run that dies gives them back after it.
pub const HOLD_SECONDS: i32 = 900;

/// Most messages one ReceiveMessage returns (SQS's limit).
const RECEIVE_MAX: i32 = 10;

/// Most records one GetRecords returns (DynamoDB Streams' limit).
const RECORDS_MAX: i32 = 1000;

/// Empty pages in a row, on a shard still open, before the range is said to be unreadable
/// (GetRecords may return none while records follow: "the shard iterator ... can return an
/// empty list"; a few more reads reach them).
const EMPTY_PAGES_MAX: u32 = 10;

/// An SQS queue found by its ARN.
#[derive(Debug, Clone)]
pub struct Queue {
    pub arn: String,
    pub url: String,
}

/// A message received and held.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    pub receipt: String,
    pub body: String,
}

impl Queue {
    /// The queue `arn` names (`arn:aws:sqs:REGION:ACCOUNT:NAME`); `None` when there is none.
    pub async fn find(aws: &Aws, arn: &str) -> anyhow::Result<Option<Queue>> {
        let parts: Vec<&str> = arn.split(':').collect();
        let [_, _, "sqs", _, account, name] = parts[..] else {
            anyhow::bail!("{arn} is not an SQS queue's ARN");
        };
        let request = aws
            .sqs
            .get_queue_url()
            .queue_name(name)
            .queue_owner_aws_account_id(account);
        let gone = GetQueueUrlError::is_queue_does_not_exist;
        let Some(out) = absent_on(gone, "GetQueueUrl", request.send().await)? else {
            return Ok(None);
        };
        Ok(Some(Queue {
            arn: arn.to_string(),
            url: out.queue_url.context("GetQueueUrl returned no URL")?,
        }))
    }

    /// (messages waiting, messages held by someone), as SQS approximates them.
    pub async fn count(&self, aws: &Aws) -> anyhow::Result<(u64, u64)> {
        let request = aws
            .sqs
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible);
        let out = sdk("GetQueueAttributes", request.send().await)?;
        let attributes = out.attributes.unwrap_or_default();
        let number = |name: QueueAttributeName| {
            attributes
                .get(&name)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        Ok((
            number(QueueAttributeName::ApproximateNumberOfMessages),
            number(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        ))
    }

    /// Every message there is, each held for [`HOLD_SECONDS`]: received until an answer
    /// is empty or `expected` have come (SQS's count is approximate; a receive that finds
    /// none waits a second, long polling, which asks every SQS server, not a sample).
    pub async fn receive_all(&self, aws: &Aws, expected: u64) -> anyhow::Result<Vec<Message>> {
        let mut all = Vec::new();
        loop {
            let request = aws
                .sqs
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(RECEIVE_MAX)
                .visibility_timeout(HOLD_SECONDS)
                .wait_time_seconds(1);
            let out = sdk("ReceiveMessage", request.send().await)?;
            let got = out.messages.unwrap_or_default();
            if got.is_empty() {
                return Ok(all);
            }
            all.extend(got.into_iter().map(|m| Message {
                id: m.message_id.unwrap_or_default(),
                receipt: m.receipt_handle.unwrap_or_default(),
                body: m.body.unwrap_or_default(),
            }));
            if all.len() as u64 >= expected {
                return Ok(all);
            }
        }
    }

    /// Hides `message` from others for `seconds` more (0: gives it back to the queue now).
    pub async fn hold(&self, aws: &Aws, message: &Message, seconds: i32) -> anyhow::Result<()> {
        let request = aws
            .sqs
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(&message.receipt)
            .visibility_timeout(seconds);
        sdk("ChangeMessageVisibility", request.send().await)?;
        Ok(())
    }

    /// Deletes `message`: its records are done.
    pub async fn delete(&self, aws: &Aws, message: &Message) -> anyhow::Result<()> {
        let request = aws
            .sqs
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(&message.receipt);
        sdk("DeleteMessage", request.send().await)?;
        Ok(())
    }
}

/// A range read again from its stream.
#[derive(Debug)]
pub enum Range {
    /// Its records, in order, shaped as Lambda's event holds them.
    Read(Vec<Value>),
    /// The stream no longer holds them: why.
    Gone(String),
    /// The stream would not give them: why.
    Unreadable(String),
}

/// What DynamoDB Streams says when a stream, or its shard, is gone. Streams.html:
/// "If you disable a stream on a table, the data in the stream continues to be readable for
/// 24 hours"; API_DeleteTable.html: a deleted table's stream "is automatically deleted
/// after 24 hours".
const STREAM_GONE: &str =
    "the stream is gone: DynamoDB keeps a disabled stream, or a deleted table's, for 24 hours";
/// What it says when the records are older than its 24 hours (TrimmedDataAccessException,
/// API_streams_GetShardIterator.html: "read past the oldest stream record in a shard").
const TRIMMED: &str = "trimmed: DynamoDB keeps stream records for 24 hours";

/// The records of `info`'s range, from its first sequence number to its last, across
/// GetRecords pages, in the event's shape (`region`: the event's `awsRegion`).
pub async fn read_range(aws: &Aws, info: &BatchInfo) -> anyhow::Result<Range> {
    let request = aws
        .streams
        .get_shard_iterator()
        .stream_arn(&info.stream_arn)
        .shard_id(&info.shard_id)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .sequence_number(&info.start);
    let iterator = match request.send().await {
        Ok(out) => out.shard_iterator,
        Err(e) if answered(&e, GetShardIteratorError::is_resource_not_found_exception) => {
            return Ok(Range::Gone(STREAM_GONE.into()));
        }
        Err(e) if answered(&e, GetShardIteratorError::is_trimmed_data_access_exception) => {
            return Ok(Range::Gone(TRIMMED.into()));
        }
        // A sequence number the shard does not hold.
        Err(e) if STREAM_VALIDATION.is(&e) => {
            let said = e.as_service_error().and_then(|s| s.meta().message());
            return Ok(Range::Unreadable(
                said.unwrap_or("ValidationException").to_string(),
            ));
        }
        Err(e) => return Err(error("GetShardIterator", &e)),
    };
    read_pages(aws, info, iterator, Some(EMPTY_PAGES_MAX)).await
}

/// The records of `info`'s range from `iterator` on, page after page, until its end, or
/// the shard's (`empty_pages_max`: empty pages in a row after which a shard still open is
/// said to be unreadable; none for a closed shard, which ends).
async fn read_pages(
    aws: &Aws,
    info: &BatchInfo,
    mut iterator: Option<String>,
    empty_pages_max: Option<u32>,
) -> anyhow::Result<Range> {
    let mut records = Vec::new();
    let mut empty_pages = 0;
    while let Some(at) = iterator.take() {
        let request = aws
            .streams
            .get_records()
            .shard_iterator(at)
            .limit(RECORDS_MAX);
        let out = match request.send().await {
            Ok(out) => out,
            Err(e) if answered(&e, GetRecordsError::is_trimmed_data_access_exception) => {
                return Ok(Range::Gone(TRIMMED.into()));
            }
            Err(e) if answered(&e, GetRecordsError::is_resource_not_found_exception) => {
                return Ok(Range::Gone(STREAM_GONE.into()));
            }
            Err(e) => return Err(error("GetRecords", &e)),
        };
        let page = out.records.unwrap_or_default();
        empty_pages = if page.is_empty() { empty_pages + 1 } else { 0 };
        for r in &page {
            let seq = r
                .dynamodb()
                .and_then(|d| d.sequence_number())
                .unwrap_or_default();
            if info.ends_before(seq) {
                return Ok(Range::Read(records));
            }
            if info.holds(seq) {
                records.push(lambda_record(r, &info.stream_arn, &aws.region));
            }
            if seq == info.end {
                return Ok(Range::Read(records));
            }
        }
        if let Some(max) = empty_pages_max
            && empty_pages >= max
        {
            return Ok(Range::Unreadable(format!(
                "the shard gave no record up to {} in {max} reads",
                info.end
            )));
        }
        // None: the shard is closed and read to its end.
        iterator = out.next_shard_iterator;
    }
    Ok(Range::Read(records))
}

/// A stream as a hand-over finds it.
#[derive(Debug)]
pub enum StreamNow {
    /// ENABLING or ENABLED: written to still.
    Open,
    /// DISABLING: being closed.
    Closing,
    /// DISABLED: its shards, each closed at its last record ("If both StartingSequenceNumber
    /// and EndingSequenceNumber are present, then that shard is closed and can no longer
    /// receive more data", API_streams_DescribeStream.html).
    Closed(Vec<BatchInfo>),
    /// No longer kept (ResourceNotFoundException): 24 hours after it was closed.
    Gone,
}

/// What stream `arn` is now, with every shard of a closed one (DescribeStream, every page).
pub async fn stream_now(aws: &Aws, arn: &str) -> anyhow::Result<StreamNow> {
    use aws_sdk_dynamodbstreams::operation::describe_stream::DescribeStreamError;
    use aws_sdk_dynamodbstreams::types::StreamStatus;
    let mut shards = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let request = aws
            .streams
            .describe_stream()
            .stream_arn(arn)
            .set_exclusive_start_shard_id(start.take());
        let gone = DescribeStreamError::is_resource_not_found_exception;
        let Some(out) = absent_on(gone, "DescribeStream", request.send().await)? else {
            return Ok(StreamNow::Gone);
        };
        let d = out
            .stream_description
            .context("DescribeStream returned no description")?;
        match d.stream_status() {
            Some(StreamStatus::Disabled) => {}
            Some(StreamStatus::Disabling) => return Ok(StreamNow::Closing),
            _ => return Ok(StreamNow::Open),
        }
        for shard in d.shards() {
            let range = shard.sequence_number_range();
            shards.push(BatchInfo {
                stream_arn: arn.to_string(),
                shard_id: shard.shard_id().unwrap_or_default().to_string(),
                start: range
                    .and_then(|r| r.starting_sequence_number())
                    .unwrap_or("0")
                    .to_string(),
                end: range
                    .and_then(|r| r.ending_sequence_number())
                    .unwrap_or_default()
                    .to_string(),
                batch_size: None,
                condition: None,
            });
        }
        match d.last_evaluated_shard_id {
            Some(last) => start = Some(last),
            None => return Ok(StreamNow::Closed(shards)),
        }
    }
}

/// Every record closed shard `shard` still holds, from its oldest (TRIM_HORIZON) to its
/// end: the records older than the stream's 24 hours are gone for every reader alike.
pub async fn read_closed_shard(aws: &Aws, shard: &BatchInfo) -> anyhow::Result<Range> {
    let request = aws
        .streams
        .get_shard_iterator()
        .stream_arn(&shard.stream_arn)
        .shard_id(&shard.shard_id)
        .shard_iterator_type(ShardIteratorType::TrimHorizon);
    let iterator = match request.send().await {
        Ok(out) => out.shard_iterator,
        Err(e) if answered(&e, GetShardIteratorError::is_resource_not_found_exception) => {
            return Ok(Range::Gone(STREAM_GONE.into()));
        }
        Err(e) => return Err(error("GetShardIterator", &e)),
    };
    // Everything up to the shard's end (a shard with no record has none to compare with).
    let all = BatchInfo {
        start: "0".into(),
        end: match shard.end.is_empty() {
            true => "9".repeat(40),
            false => shard.end.clone(),
        },
        ..shard.clone()
    };
    read_pages(aws, &all, iterator, None).await
}

/// Invokes `function` (a name, an ARN, or either with a version or alias) with `event` and
/// waits for its answer, as a mapping does (RequestResponse). An error of the function
/// itself (`FunctionError` set) is a failed verdict with its payload; an error of the call
/// is an error.
pub async fn invoke(
    aws: &Aws,
    function: &str,
    event: &Value,
) -> anyhow::Result<(Verdict, Vec<String>)> {
    let request = aws
        .lambda
        .invoke()
        .function_name(function)
        // The last 4 KB of the invocation's log, base64 in LogResult.
        .log_type(aws_sdk_lambda::types::LogType::Tail)
        .payload(aws_sdk_lambda::primitives::Blob::new(event.to_string()));
    let out = sdk("Invoke", request.send().await)?;
    let logs = out
        .log_result()
        .and_then(|tail| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.decode(tail).ok()
        })
        .map(|bytes| {
            String::from_utf8_lossy(&bytes)
                .lines()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let payload = out.payload.map(|b| b.into_inner()).unwrap_or_default();
    let verdict = match out.function_error {
        Some(kind) => Verdict::Failed(format!(
            "function error ({kind}): {}",
            String::from_utf8_lossy(&payload)
        )),
        None => Verdict::Answered(serde_json::from_slice(&payload).unwrap_or(Value::Null)),
    };
    Ok((verdict, logs))
}
