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
//! # What each record does
//!
//! - **INSERT of a `MSG#<group>` row** (non-empty group): the group's summary rows are
//!   queried through the index (every page). A user's row strictly older than the message
//!   (plain string comparison of the timestamps, which orders ISO-8601 instants written in
//!   one format and offset, as the app writes them) moves: one TransactWriteItems deletes
//!   the old key, on condition it still exists, and puts the copy at the new `sk`, on
//!   condition nothing is there yet. A row already at or past the message's `sk` stays, so
//!   a replayed record, or one older than a message already applied, never moves a
//!   conversation backwards.
//! - **Concurrent invocations** (two shards, or a retry overlapping a late invocation) can
//!   race for the same row: the conditions make exactly one transaction win; the loser's
//!   is cancelled, and it queries again and decides again, up to [`MAX_ATTEMPTS`] times
//!   with exponential backoff. A user never ends up with two rows for one group.
//! - **A superseded message** (a later record of the same batch is for the same group with
//!   an `sk` at or past it) is skipped: the later one moves the rows further anyway, and a
//!   burst of messages costs one query instead of one per message. This stays correct
//!   under partial failure because a failure is reported at the failing record and Lambda
//!   retries from there, so the superseding record is always retried too.
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
//! - **A DynamoDB error** (throttling after the SDK's own retries, a 5xx, a transaction
//!   still contended after [`MAX_ATTEMPTS`]) is transient: processing stops and the
//!   record's `SequenceNumber` is returned as the batch item failure (the event source
//!   mapping needs `ReportBatchItemFailures`). Lambda then retries from that record; the
//!   records before it are done. A record without a sequence number is reported with
//!   none, which Lambda takes as a failure of the whole batch: the safe side.
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
mod moves;
mod processor;
mod record;

pub use aws_lambda_events::event::dynamodb::{Event, EventRecord};
pub use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
pub use config::{Config, ConfigError};
pub use moves::{Item, Move, moves};
pub use processor::{Error, MAX_ATTEMPTS, Outcome, Processor};
pub use record::{Malformed, Message, Step, message_from, message_group, plan};

/// Stream records and events shaped as Lambda delivers them, for tests (this crate's and
/// the deployer's, through the `testing` feature).
#[cfg(any(test, feature = "testing"))]
pub mod testing;
