//! The handler: runs each record's step against DynamoDB and reports the first transient
//! failure to Lambda.

use crate::moves::{Item, Move, moves, users};
use crate::{
    Config, DynamoDbBatchItemFailure, DynamoDbEventResponse, Event, EventRecord, Message, Step,
    plan,
};
use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use std::time::Duration;
use tracing::{Instrument, debug, error, info, info_span};

/// How often a message's summaries are queried and moved before a conflict with other
/// invocations counts as a transient failure.
pub const MAX_ATTEMPTS: u32 = 8;

/// The wait after the first conflict; it doubles after each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(20);

/// A failure that a later retry of the record may not have: the record is reported to
/// Lambda as failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("DynamoDB {operation} failed: {message}")]
    DynamoDb {
        operation: &'static str,
        /// The error code (e.g. ProvisionedThroughputExceededException), when AWS sent one.
        code: Option<String>,
        message: String,
    },
    #[error(
        "the group's summary rows kept changing under concurrent invocations: gave up after \
         {0} attempts"
    )]
    Contended(u32),
    #[error("building the request: {0}")]
    Request(#[from] BuildError),
}

impl Error {
    fn dynamodb<E>(operation: &'static str, error: aws_sdk_dynamodb::error::SdkError<E>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        Error::DynamoDb {
            operation,
            code: error.code().map(str::to_string),
            message: DisplayErrorContext(&error).to_string(),
        }
    }
}

/// What applying one message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Users with a summary row in the group.
    pub users: usize,
    /// Rows this call moved (the others were already at or past the message).
    pub moved: usize,
    /// Rounds of query-and-move it took (more than one after losing a race).
    pub attempts: u32,
}

/// The stream processor for one table and index.
#[derive(Debug, Clone)]
pub struct Processor {
    client: aws_sdk_dynamodb::Client,
    config: Config,
    query_limit: Option<i32>,
}

impl Processor {
    pub fn new(client: aws_sdk_dynamodb::Client, config: Config) -> Processor {
        Processor {
            client,
            config,
            query_limit: None,
        }
    }

    /// Reads the index `limit` rows per page instead of DynamoDB's 1 MB pages (tests use it
    /// to make a group's rows span several pages).
    pub fn with_query_limit(mut self, limit: i32) -> Processor {
        self.query_limit = Some(limit);
        self
    }

    /// Handles one batch. Records are processed in order; at the first transient failure
    /// processing stops and that record's sequence number is the one batch item failure, so
    /// Lambda retries from it. An empty `batch_item_failures` means the batch is done.
    pub async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        let steps = plan(&event.records);
        let mut response = DynamoDbEventResponse::default();
        for (record, step) in event.records.iter().zip(steps) {
            let span = info_span!(
                "record",
                event_id = %record.event_id,
                sequence_number = record.change.sequence_number.as_deref().unwrap_or("")
            );
            if let Err(error) = self.run(record, step).instrument(span.clone()).await {
                span.in_scope(
                    || error!(%error, "record failed; Lambda retries the batch from this record"),
                );
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = record.change.sequence_number.clone();
                response.batch_item_failures.push(failure);
                break;
            }
        }
        info!(
            records = event.records.len(),
            failed = response.batch_item_failures.len(),
            "batch handled"
        );
        response
    }

    async fn run(&self, record: &EventRecord, step: Step) -> Result<(), Error> {
        match step {
            Step::Ignore => debug!(event_name = %record.event_name, "not a new message: ignored"),
            Step::Malformed(reason) => error!(
                %reason,
                "malformed record skipped: no retry can process it"
            ),
            Step::Superseded(m) => debug!(
                group = %m.group,
                sk = %m.sk,
                "superseded by a newer message of the same group later in the batch"
            ),
            Step::Apply(m) => {
                let outcome = self.apply(&m).await?;
                info!(
                    group = %m.group,
                    sk = %m.sk,
                    users = outcome.users,
                    moved = outcome.moved,
                    up_to_date = outcome.users.saturating_sub(outcome.moved),
                    attempts = outcome.attempts,
                    "conversation summaries updated"
                );
            }
        }
        Ok(())
    }

    /// Moves the summary rows of `message`'s group up to it. When another invocation moves
    /// a row between the query and the transaction, the transaction is cancelled by its
    /// conditions; the rows are then read again and the decision made again.
    pub async fn apply(&self, message: &Message) -> Result<Outcome, Error> {
        let mut moved = 0;
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=MAX_ATTEMPTS {
            let rows = self.summaries(&message.group).await?;
            let mut lost_a_race = false;
            for pending in moves(message, &rows) {
                if self.move_row(&pending).await? {
                    moved += 1;
                } else {
                    lost_a_race = true;
                }
            }
            if !lost_a_race {
                return Ok(Outcome {
                    users: users(&rows),
                    moved,
                    attempts: attempt,
                });
            }
            if attempt < MAX_ATTEMPTS {
                debug!(
                    attempt,
                    ?backoff,
                    "a summary row changed meanwhile; reading again"
                );
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        Err(Error::Contended(MAX_ATTEMPTS))
    }

    /// Every row of `group` in the index, following all pages. The index is eventually
    /// consistent: a stale row only makes the transaction's condition fail, and the next
    /// round reads again.
    async fn summaries(&self, group: &str) -> Result<Vec<Item>, Error> {
        let mut rows = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.config.table_name)
                .index_name(&self.config.index_name)
                .key_condition_expression("message_group_uuid = :group")
                .expression_attribute_values(":group", AttributeValue::S(group.to_string()))
                .set_limit(self.query_limit)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| Error::dynamodb("Query", e))?;
            rows.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(rows),
            }
        }
    }

    /// Deletes the old row(s) and puts the new one in one transaction. `Ok(false)` when a
    /// condition failed: someone else moved or created the row first.
    async fn move_row(&self, pending: &Move) -> Result<bool, Error> {
        let mut request = self.client.transact_write_items();
        for sk in &pending.from {
            let delete = Delete::builder()
                .table_name(&self.config.table_name)
                .key("pk", AttributeValue::S(pending.pk.clone()))
                .key("sk", AttributeValue::S(sk.clone()))
                .condition_expression("attribute_exists(pk)")
                .build()?;
            request = request.transact_items(TransactWriteItem::builder().delete(delete).build());
        }
        let put = Put::builder()
            .table_name(&self.config.table_name)
            .set_item(Some(pending.to.clone()))
            .condition_expression("attribute_not_exists(pk)")
            .build()?;
        request = request.transact_items(TransactWriteItem::builder().put(put).build());
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(lost_race) => {
                debug!(pk = %pending.pk, error = %DisplayErrorContext(&e), "move lost a race");
                Ok(false)
            }
            Err(e) => Err(Error::dynamodb("TransactWriteItems", e)),
        }
    }
}

/// A transaction cancelled only because its conditions failed, or because another
/// transaction held the same rows: both mean another writer got there first.
fn lost_race(error: &TransactWriteItemsError) -> bool {
    let TransactWriteItemsError::TransactionCanceledException(cancelled) = error else {
        return false;
    };
    cancelled.cancellation_reasons().iter().all(|reason| {
        matches!(
            reason.code(),
            None | Some("None" | "ConditionalCheckFailed" | "TransactionConflict")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::CancellationReason;
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;

    fn cancelled(codes: &[&str]) -> TransactWriteItemsError {
        let mut exception = TransactionCanceledException::builder();
        for code in codes {
            exception =
                exception.cancellation_reasons(CancellationReason::builder().code(*code).build());
        }
        TransactWriteItemsError::TransactionCanceledException(exception.build())
    }

    #[test]
    fn a_failed_condition_or_a_conflict_is_a_lost_race() {
        assert!(lost_race(&cancelled(&["ConditionalCheckFailed", "None"])));
        assert!(lost_race(&cancelled(&["None", "TransactionConflict"])));
        assert!(lost_race(&cancelled(&[])));
    }

    #[test]
    fn throttling_or_validation_is_not_a_lost_race() {
        assert!(!lost_race(&cancelled(&["None", "ThrottlingError"])));
        assert!(!lost_race(&cancelled(&[
            "ConditionalCheckFailed",
            "ValidationError"
        ])));
        let throttled =
            aws_sdk_dynamodb::types::error::ProvisionedThroughputExceededException::builder()
                .message("slow down")
                .build();
        assert!(!lost_race(
            &TransactWriteItemsError::ProvisionedThroughputExceededException(throttled)
        ));
    }
}
