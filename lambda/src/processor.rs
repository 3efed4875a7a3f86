//! The handler: applies each conversation's newest message of a batch, conversations
//! concurrently, and reports every record whose conversation failed so that Lambda
//! delivers it again.

use crate::error::Error;
use crate::moves::{Item, has_row, moves, party_of, users, with_rows_of};
use crate::store::{DynamoDb, Store};
use crate::{
    Config, DynamoDbBatchItemFailure, DynamoDbEventResponse, Event, EventRecord, Message, Step,
    plan,
};
use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt};
use std::collections::BTreeSet;
use std::time::Duration;
use tracing::{Instrument, Span, debug, error, info, info_span, warn};

/// How often a message's summaries are read and moved before a conflict with other
/// invocations counts as a transient failure.
pub const MAX_ATTEMPTS: u32 = 8;

/// Conversations of one batch worked on at once.
pub const CONCURRENT_CONVERSATIONS: usize = 16;

/// The wait after the first conflict; it doubles after each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(20);

/// What applying one message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Users with a summary row in the group.
    pub users: usize,
    /// Rows this call moved (the others were already at or past the message).
    pub moved: usize,
    /// Rounds of read-and-move it took (more than one after losing a race).
    pub attempts: u32,
    /// Rows read from the table because the index did not show them (yet) or showed them
    /// stale.
    pub read_from_table: usize,
}

/// The stream processor for one table and index.
#[derive(Debug, Clone)]
pub struct Processor<S = DynamoDb> {
    store: S,
}

impl Processor<DynamoDb> {
    pub fn new(client: aws_sdk_dynamodb::Client, config: Config) -> Processor {
        Processor {
            store: DynamoDb {
                client,
                table: config.table_name,
                index: config.index_name,
                page_limit: None,
            },
        }
    }

    /// Reads `limit` rows per page instead of DynamoDB's 1 MB pages (tests use it to make a
    /// group's rows span several pages).
    pub fn with_query_limit(mut self, limit: i32) -> Processor {
        self.store.page_limit = Some(limit);
        self
    }
}

impl<S: Store> Processor<S> {
    /// A processor on another store (tests use an in-memory one).
    pub fn with_store(store: S) -> Processor<S> {
        Processor { store }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Handles one batch. Each conversation's newest message is applied, up to
    /// [`CONCURRENT_CONVERSATIONS`] conversations at once. Every applied record whose
    /// conversation failed is a batch item failure: Lambda retries from the lowest of them,
    /// and re-processing what already succeeded moves nothing. An empty
    /// `batch_item_failures` means the batch is done.
    pub async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        let mut work = Vec::new();
        for (i, (record, step)) in event.records.iter().zip(plan(&event.records)).enumerate() {
            let span = record_span(record);
            match step {
                Step::Apply(message) => work.push((i, message, span)),
                skipped => span.in_scope(|| log_skipped(record, &skipped)),
            }
        }
        let conversations = work.len();
        let results: Vec<(usize, Result<Outcome, Error>)> = stream::iter(work)
            .map(|(i, message, span)| async move {
                let result = self.apply(&message).instrument(span.clone()).await;
                span.in_scope(|| log_applied(&message, &result));
                (i, result)
            })
            .buffer_unordered(CONCURRENT_CONVERSATIONS)
            .collect()
            .await;
        let mut failed: Vec<usize> = results
            .into_iter()
            .filter(|(_, result)| result.is_err())
            .map(|(i, _)| i)
            .collect();
        failed.sort_unstable();
        let mut response = DynamoDbEventResponse::default();
        for i in failed {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = event.records[i].change.sequence_number.clone();
            response.batch_item_failures.push(failure);
        }
        info!(
            records = event.records.len(),
            conversations,
            failed = response.batch_item_failures.len(),
            "batch handled"
        );
        response
    }

    /// Moves the summary rows of `message`'s group up to it, each user's in its own
    /// transaction, concurrently. A transaction cancelled by its conditions (another
    /// invocation moved the row meanwhile, or the index showed a row already replaced) is
    /// decided again on that user's rows read from the table.
    pub async fn apply(&self, message: &Message) -> Result<Outcome, Error> {
        let mut moved = 0;
        let mut read_from_table = 0;
        let mut backoff = FIRST_BACKOFF;
        let mut raced: BTreeSet<String> = BTreeSet::new();
        for attempt in 1..=MAX_ATTEMPTS {
            let (rows, read) = self.rows(message, &raced).await?;
            read_from_table += read;
            let pending = moves(message, &rows);
            let results = join_all(pending.iter().map(|m| self.store.move_row(m))).await;
            let mut lost = Vec::new();
            for (pending, result) in pending.iter().zip(results) {
                if result? {
                    moved += 1;
                } else {
                    lost.push(pending.pk.trim_start_matches("GRP#").to_string());
                }
            }
            if lost.is_empty() {
                return Ok(Outcome {
                    users: users(&rows),
                    moved,
                    attempts: attempt,
                    read_from_table,
                });
            }
            raced.extend(lost);
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

    /// The group's rows as the message must see them, and how many were read from the
    /// table. The index is read first (one query). The rows of users in `raced` are read
    /// from the table instead. So are the rows of the sender and of the party the sender's
    /// row names, when the index does not show them: a move's put reaches the index after
    /// its delete, and for that moment the index shows the user with no row at all.
    async fn rows(
        &self,
        message: &Message,
        raced: &BTreeSet<String>,
    ) -> Result<(Vec<Item>, usize), Error> {
        let group = &message.group;
        let mut rows = self.store.group_rows(group).await?;
        let mut read = 0;
        let fresh = join_all(raced.iter().map(|user| self.store.user_rows(user, group))).await;
        for (user, theirs) in raced.iter().zip(fresh) {
            let theirs = theirs?;
            read += theirs.len();
            rows = with_rows_of(rows, user, theirs);
        }
        if let Some(sender) = &message.sender {
            read += self.ensure_rows_of(&mut rows, sender, group).await?;
            if let Some(other) = party_of(&rows, sender) {
                read += self.ensure_rows_of(&mut rows, &other, group).await?;
            }
        }
        Ok((rows, read))
    }

    /// Reads `user`'s rows of `group` from the table when `rows` have none; how many.
    async fn ensure_rows_of(
        &self,
        rows: &mut Vec<Item>,
        user: &str,
        group: &str,
    ) -> Result<usize, Error> {
        if has_row(rows, user) {
            return Ok(0);
        }
        let theirs = self.store.user_rows(user, group).await?;
        if !theirs.is_empty() {
            debug!(
                user,
                "the index does not show the user's row yet: read from the table"
            );
        }
        let read = theirs.len();
        rows.extend(theirs);
        Ok(read)
    }
}

fn record_span(record: &EventRecord) -> Span {
    info_span!(
        "record",
        event_id = %record.event_id,
        sequence_number = record.change.sequence_number.as_deref().unwrap_or("")
    )
}

fn log_skipped(record: &EventRecord, step: &Step) {
    match step {
        Step::Ignore => debug!(event_name = %record.event_name, "not a new message: ignored"),
        Step::Malformed(reason) => {
            error!(%reason, "malformed record skipped: no retry can process it")
        }
        Step::Superseded(m) => debug!(
            group = %m.group,
            sk = %m.sk,
            "superseded by a newer message of the same group in the batch"
        ),
        Step::Apply(_) => {}
    }
}

fn log_applied(message: &Message, result: &Result<Outcome, Error>) {
    match result {
        Ok(outcome) if outcome.users == 0 => warn!(
            group = %message.group,
            sk = %message.sk,
            "the conversation has no summary rows, in the index or the table: nothing to move"
        ),
        Ok(outcome) => info!(
            group = %message.group,
            sk = %message.sk,
            users = outcome.users,
            moved = outcome.moved,
            up_to_date = outcome.users.saturating_sub(outcome.moved),
            attempts = outcome.attempts,
            read_from_table = outcome.read_from_table,
            "conversation summaries updated"
        ),
        Err(error) => error!(
            %error,
            group = %message.group,
            "conversation failed; its record is reported so that Lambda delivers it again"
        ),
    }
}
