//! Where the summary rows live: the three reads and writes the processor makes, behind a
//! trait so the batch logic can be tested against an in-memory table whose index lags.

use crate::error::Error;
use crate::moves::{Item, Move};
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use std::future::Future;
use tracing::debug;

/// The summary rows' storage.
pub trait Store: Sync {
    /// Every row of `group` in the index on `message_group_uuid` + `sk`, all pages. The
    /// index is eventually consistent: it may still show a deleted row, or not yet show a
    /// new one.
    fn group_rows(&self, group: &str) -> impl Future<Output = Result<Vec<Item>, Error>> + Send;

    /// The summary rows of `group` in `user`'s inbox (`pk = GRP#<user>`), read from the
    /// table itself with a strongly consistent read: what the index should show.
    fn user_rows(
        &self,
        user: &str,
        group: &str,
    ) -> impl Future<Output = Result<Vec<Item>, Error>> + Send;

    /// Carries out `pending` as one transaction: every `from` row deleted on condition it
    /// exists, the `to` row put on condition nothing is at its key. `Ok(false)` when a
    /// condition failed or another transaction held the rows: another writer got there
    /// first.
    fn move_row(&self, pending: &Move) -> impl Future<Output = Result<bool, Error>> + Send;
}

/// The table and index in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoDb {
    pub(crate) client: aws_sdk_dynamodb::Client,
    pub(crate) table: String,
    pub(crate) index: String,
    /// Rows per page of a query; `None` for DynamoDB's 1 MB pages.
    pub(crate) page_limit: Option<i32>,
}

impl DynamoDb {
    /// Runs `query` (with everything but the start key set) over all its pages.
    async fn all_pages(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<Vec<Item>, Error> {
        let mut rows = Vec::new();
        let mut start = None;
        loop {
            let page = query
                .clone()
                .set_limit(self.page_limit)
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
}

impl Store for DynamoDb {
    async fn group_rows(&self, group: &str) -> Result<Vec<Item>, Error> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(&self.index)
            .key_condition_expression("message_group_uuid = :group")
            .expression_attribute_values(":group", AttributeValue::S(group.to_string()));
        self.all_pages(query).await
    }

    async fn user_rows(&self, user: &str, group: &str) -> Result<Vec<Item>, Error> {
        // The user's whole inbox is read (filtered server-side): the table has no key on
        // the group. Only done when the index does not show a row it must have.
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("pk = :pk")
            .filter_expression("message_group_uuid = :group")
            .expression_attribute_values(":pk", AttributeValue::S(format!("GRP#{user}")))
            .expression_attribute_values(":group", AttributeValue::S(group.to_string()));
        self.all_pages(query).await
    }

    async fn move_row(&self, pending: &Move) -> Result<bool, Error> {
        let mut request = self.client.transact_write_items();
        for sk in &pending.from {
            let delete = Delete::builder()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(pending.pk.clone()))
                .key("sk", AttributeValue::S(sk.clone()))
                .condition_expression("attribute_exists(pk)")
                .build()?;
            request = request.transact_items(TransactWriteItem::builder().delete(delete).build());
        }
        let put = Put::builder()
            .table_name(&self.table)
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
