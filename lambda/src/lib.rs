//! The Cruddur stream processor: keeps each conversation's `GRP#` summary rows current as
//! `MSG#` rows arrive on the messages table's stream.
//!
//! # The table
//!
//! One DynamoDB table (`TABLE_NAME`) keyed `pk` + `sk`, both strings:
//!
//! - `MSG#<group>` / `<ISO-8601 timestamp>`: one message, with its text in `message`.
//! - `GRP#<user>` / `<timestamp of the last message>`: one conversation in a user's inbox,
//!   with `message_group_uuid`, the last message text and the other party's details.
//!   The index `INDEX_NAME` (`message_group_uuid` + `sk`, projection ALL) finds a group's
//!   summary rows.
//!
//! The stream (view type NEW_IMAGE) invokes the function with batches of records. For each
//! new message, every summary row of its group moves to the message's `sk` and takes its
//! text, so inboxes, which list `GRP#<user>` newest first, put that conversation on top.
//!
//! # What a batch does
//!
//! - **Each conversation's newest message is applied, and only it.** Of a group's INSERTs
//!   in a batch, the one with the furthest `sk` (the last of equal ones) is applied; the
//!   others are superseded: applying the newest moves the rows at least as far. A burst of
//!   messages costs one query, wherever the older ones stand in the batch.
//! - **Applying a message** (non-empty group): the group's summary rows are queried
//!   through the index (every page). A user's row strictly older than the message (plain
//!   string comparison of the timestamps, which orders ISO-8601 instants written in one
//!   format and offset, as the app writes them) moves: one TransactWriteItems deletes the
//!   old key, on condition it still exists, and puts the copy at the new `sk`, on condition
//!   nothing is there yet. A row already at or past the message's `sk` stays, so a replayed
//!   record, or one older than a message already applied, never moves a conversation
//!   backwards. The users' transactions are independent and run concurrently.
//! - **Conversations run concurrently**, up to [`CONCURRENT_CONVERSATIONS`] at once. A batch
//!   of independent conversations takes two sequential round trips: the queries, then the
//!   transactions.
//! - **The index lags.** A transaction's writes reach the index asynchronously: for a
//!   moment the index can show a moved row's delete without its put (the user seems to
//!   have no row), or still show the row at its old place. The rows a message must move
//!   are known: the message row names its sender (`user_uuid`), and the sender's summary
//!   row names the other party (its `user_uuid`). When the index shows no row for one of
//!   them, that user's rows of the group are read from the table with a strongly
//!   consistent Query (`pk = GRP#<user>`, filtered on the group). When a move's conditions
//!   fail (a row the index showed is already gone), the user's rows are read from the
//!   table the same way and the move decided again. So no message is skipped because the
//!   index is behind, and none waits for it.
//! - **A conversation that truly has no summary rows** (neither the index nor the table
//!   has a row for the sender) moves nothing and is logged as a warning. It never blocks
//!   its shard: the consistent read is the bound, no retry is needed to be sure. A message
//!   row without `user_uuid` can only rely on the index.
//! - **Concurrent invocations** (two shards, or a retry overlapping a late invocation) can
//!   race for the same row: the conditions make exactly one transaction win; the loser's
//!   is cancelled, and it reads that user's rows again and decides again, up to
//!   [`MAX_ATTEMPTS`] times with exponential backoff. A user never ends up with two rows for
//!   one group.
//! - **MODIFY and REMOVE records, and any row that is not a message** (including the
//!   `GRP#` rows this function writes, which come back on the stream) are ignored, logged
//!   at debug level. Editing or deleting a message does not reorder the inbox: the inbox
//!   is ordered by when a conversation last had a new message, and a deleted message's
//!   predecessor cannot be known from a NEW_IMAGE record anyway.
//! - **A malformed record** (INSERT without a NewImage, e.g. a stream switched to
//!   KEYS_ONLY; `pk`, `sk` or `message` missing or not strings; `MSG#` with no group) can
//!   never succeed on a retry: it is logged at error level with its event id and sequence
//!   number, and skipped. Reporting it as failed would block the shard until the mapping's
//!   retries run out.
//!
//! # Failures: the rule that loses no message
//!
//! A DynamoDB error (throttling after the SDK's own retries, a 5xx, a transaction still
//! contended after [`MAX_ATTEMPTS`]) fails the conversation it happened in; the other
//! conversations of the batch go on. The response lists, as batch item failures, the
//! sequence number of the applied record of **every** failed conversation (the event
//! source mapping needs `ReportBatchItemFailures`). Lambda retries from the lowest of them
//! and takes everything before it as done. That is safe because:
//!
//! 1. every record before the lowest reported one belongs to a conversation that
//!    succeeded, or was superseded by a newer message of its conversation that succeeded
//!    (or that is itself reported, hence at or after the retry point);
//! 2. a failed conversation's applied record is its newest, and it is re-delivered, so the
//!    retry brings the conversation at least as far as any of its records would;
//! 3. re-processing what succeeded moves nothing: its rows are already at or past it.
//!
//! A conversation may fail part-way (one user's row moved, the other's not): the retry
//! moves the other and leaves the first. A record without a sequence number is reported
//! with none, which Lambda takes as a failure of the whole batch: the safe side.
//!
//! Logs are structured `tracing` events (group, message `sk`, rows moved and up to date);
//! message text is never logged.
//!
//! # Use
//!
//! `main.rs` is the function: it reads `TABLE_NAME` and `INDEX_NAME` ([`Config::from_env`]),
//! builds a DynamoDB client from the environment and serves [`Processor::handle`] through
//! the Lambda runtime. The input, [`Event`], is aws_lambda_events' DynamoDB stream event:
//! deserialize it from the JSON Lambda delivers (`{"Records": [{"eventID", "eventName",
//! "dynamodb": {"Keys", "NewImage", "SequenceNumber", ...}, ...}]}`, the records of
//! DynamoDB Streams' GetRecords plus `eventSourceARN`), e.g. with `serde_json::from_value`.
//!
//! ```no_run
//! # async fn run(client: aws_sdk_dynamodb::Client, event: cruddur_stream_processor::Event) {
//! use cruddur_stream_processor::{Config, Processor};
//! let config = Config::from_env().expect("TABLE_NAME and INDEX_NAME");
//! let processor = Processor::new(client, config);
//! let response = processor.handle(event).await;
//! assert!(response.batch_item_failures.is_empty());
//! # }
//! ```

mod config;
mod error;
mod moves;
mod processor;
mod record;
mod store;

#[cfg(test)]
mod batch_tests;
#[cfg(test)]
mod memory;

pub use aws_lambda_events::event::dynamodb::{Event, EventRecord};
pub use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
pub use config::{Config, ConfigError};
pub use error::Error;
pub use moves::{Item, Move, has_row, moves, party_of, with_rows_of};
pub use processor::{CONCURRENT_CONVERSATIONS, MAX_ATTEMPTS, Outcome, Processor};
pub use record::{Malformed, Message, Step, message_from, message_group, plan};
pub use store::{DynamoDb, Store};

/// Stream records and events shaped as Lambda delivers them, for tests (this crate's and
/// the deployer's, through the `testing` feature).
#[cfg(any(test, feature = "testing"))]
pub mod testing;
