//! Changing a table: create, the in-place updates in the order DynamoDB accepts them, and
//! deletion, each waited for.

use super::Table;
use super::read::{describe, list_tags, read_table, read_ttl, ready_state, status_text};
use super::state::{
    BillingMode, IndexState, LiveTable, StreamView, TableState, sdk_billing, sdk_class,
    sdk_definitions, sdk_index, sdk_key, sdk_projection, sdk_stream, sdk_tags, sdk_throughput,
};
use crate::aws::codes::VALIDATION;
use crate::aws::needs::Need;
use crate::aws::{answered, describe_error, sdk};
use crate::exec::ExecCtx;
use crate::kinds::kind::{Changes, Made};
use crate::tags::same_owner;
use crate::wait::{Check, Service::DynamoDb, until};
use anyhow::{Context, bail};
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::delete_table::DeleteTableError;
use aws_sdk_dynamodb::operation::update_continuous_backups::UpdateContinuousBackupsError;
use aws_sdk_dynamodb::operation::update_table::UpdateTableError;
use aws_sdk_dynamodb::operation::update_time_to_live::UpdateTimeToLiveError;
use aws_sdk_dynamodb::types as ddb;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The IAM actions a table's code calls (`read.rs` and this file); see `crate::aws::needs`.
pub const NEEDS: &[Need] = &[Need::on(
    "table",
    // Scan counts the items a replacement or a deletion would lose (Select=COUNT);
    // TagResource is also what a CreateTable that carries tags needs.
    "read: dynamodb:DescribeTable dynamodb:DescribeTimeToLive dynamodb:DescribeContinuousBackups dynamodb:ListTagsOfResource dynamodb:Scan; create: dynamodb:CreateTable; change: dynamodb:UpdateTable dynamodb:UpdateTimeToLive dynamodb:UpdateContinuousBackups dynamodb:TagResource dynamodb:UntagResource; delete: dynamodb:DeleteTable",
)];

/// Waits until no table `name` exists any more.
async fn wait_deleted(cx: &ExecCtx<'_>, name: &str) -> anyhow::Result<()> {
    let aws = cx.aws;
    let started = Instant::now();
    until(cx.wait("waiting for the table to be deleted", DynamoDb), move || async move {
        Ok(match describe(aws, name).await? {
            None => Check::Done(()),
            Some(desc) if desc.table_status() == Some(&ddb::TableStatus::Deleting) => {
                Check::Waiting("DELETING".into())
            }
            Some(desc) if started.elapsed() < CONSISTENCY_GRACE => {
                Check::Waiting(status_text(desc.table_status()))
            }
            Some(desc) => bail!(
                "a table named {name} exists ({}); someone created it meanwhile: run plan again",
                status_text(desc.table_status())
            ),
        })
    })
    .await
}

/// Deletes the table (lifting deletion protection first: the plan blocks a protected
/// table's deletion unless destroy --allow-data-loss allowed it) and waits until it is gone.
pub async fn delete_table(cx: &ExecCtx<'_>, name: &str, live: &LiveTable) -> anyhow::Result<()> {
    if !live.active {
        wait_ready(cx, name, "waiting for an earlier change to finish").await?;
    }
    if live.state.deletion_protection {
        cx.tracker.status("turning deletion protection off");
        let request = update_of(cx, name).deletion_protection_enabled(false);
        update_table(cx, &request)
            .await
            .context("turning deletion protection off")?;
        wait_ready(cx, name, "waiting for the table to become ACTIVE").await?;
    }
    // What the table holds is kept first (unless --no-backup), then it goes.
    super::backup::before_delete(cx, name, &live.state.tags).await?;
    cx.tracker.status("deleting table");
    let request = cx.aws.dynamodb.delete_table().table_name(name);
    // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DeleteTable.html:
    // "If a table is in CREATING or UPDATING states, then DynamoDB returns a
    // ResourceInUseException" (so does a table whose index is being built); "if table is
    // already in the DELETING state, no error is returned".
    until(cx.wait("deleting the table", DynamoDb), || async {
        match request.clone().send().await {
            Ok(_) => Ok(Check::Done(())),
            Err(e) if answered(&e, DeleteTableError::is_resource_not_found_exception) => {
                Ok(Check::Done(()))
            }
            Err(e) if answered(&e, DeleteTableError::is_resource_in_use_exception) => {
                Ok(match describe(cx.aws, name).await? {
                    None => Check::Done(()),
                    Some(desc) => match ready_state(&desc) {
                        Check::Waiting(state) => Check::Waiting(format!(
                            "{state}: DynamoDB deletes a table only once it is ACTIVE"
                        )),
                        Check::Done(()) => Check::Waiting("the table is still in use".into()),
                    },
                })
            }
            Err(e) => Err(crate::aws::errors::error("DeleteTable", &e)),
        }
    })
    .await?;
    wait_deleted(cx, name).await
}

/// Indexes and capacity, in the order DynamoDB accepts them: one index deletion or
/// creation per UpdateTable call, each waited for; deletions before the billing change (so
/// switching to PROVISIONED names throughput only for indexes that stay) and creations after.
async fn update_indexes_and_capacity(
    cx: &ExecCtx<'_>,
    name: &str,
    before: &TableState,
    desired: &TableState,
) -> anyhow::Result<()> {
    // An index whose key, projection or key attribute types change is deleted and made anew.
    let rebuilt = |old: &IndexState, new: &IndexState| {
        !old.same_shape(new)
            || old
                .key
                .names()
                .any(|a| before.attributes.get(a) != desired.attributes.get(a))
    };
    let mut present: BTreeMap<&String, &IndexState> = BTreeMap::new();
    for (index, old) in &before.global_secondary_indexes {
        match desired.global_secondary_indexes.get(index) {
            Some(new) if !rebuilt(old, new) => {
                present.insert(index, old);
            }
            _ => delete_index(cx, name, index).await?,
        }
    }

    let billing_changes = before.billing_mode != desired.billing_mode;
    let provisioned = desired.billing_mode == BillingMode::Provisioned;
    let table_capacity =
        provisioned && (billing_changes || before.capacity() != desired.capacity());
    let index_capacity: Vec<(&String, &IndexState)> = present
        .keys()
        .filter_map(|index| {
            let new = &desired.global_secondary_indexes[*index];
            let changed = billing_changes
                || before.global_secondary_indexes[*index].capacity() != new.capacity();
            (provisioned && changed).then_some((*index, new))
        })
        .collect();
    if billing_changes || table_capacity || !index_capacity.is_empty() {
        cx.tracker.status("updating billing mode and capacity");
        let mut request = update_of(cx, name);
        if billing_changes {
            request = request.billing_mode(sdk_billing(desired.billing_mode));
        }
        if table_capacity {
            request = request
                .set_provisioned_throughput(desired.capacity().map(sdk_throughput).transpose()?);
        }
        for (index, new) in index_capacity {
            let throughput = new.capacity().map(sdk_throughput).transpose()?;
            let update = ddb::UpdateGlobalSecondaryIndexAction::builder()
                .index_name(index.as_str())
                .set_provisioned_throughput(throughput)
                .build()?;
            request = request.global_secondary_index_updates(index_update(|u| u.update(update)));
        }
        update_table(cx, &request).await?;
        wait_ready(cx, name, "waiting for the capacity change").await?;
    }

    for (index, new) in &desired.global_secondary_indexes {
        if present.contains_key(index) {
            continue;
        }
        cx.tracker.status(format!("creating index {index}"));
        let definitions = desired.definitions_for(present.values().copied().chain([new]));
        let create = ddb::CreateGlobalSecondaryIndexAction::builder()
            .index_name(index.as_str())
            .set_key_schema(Some(sdk_key(&new.key)?))
            .projection(sdk_projection(new))
            .set_provisioned_throughput(new.capacity().map(sdk_throughput).transpose()?)
            .build()?;
        let request = update_of(cx, name)
            .set_attribute_definitions(Some(sdk_definitions(&definitions)?))
            .global_secondary_index_updates(index_update(|u| u.create(create)));
        update_table(cx, &request).await?;
        wait_ready(cx, name, &format!("waiting for index {index} to backfill")).await?;
        present.insert(index, new);
    }
    Ok(())
}

async fn delete_index(cx: &ExecCtx<'_>, name: &str, index: &str) -> anyhow::Result<()> {
    cx.tracker.status(format!("deleting index {index}"));
    let delete = ddb::DeleteGlobalSecondaryIndexAction::builder()
        .index_name(index)
        .build()?;
    let request =
        update_of(cx, name).global_secondary_index_updates(index_update(|u| u.delete(delete)));
    update_table(cx, &request).await?;
    let aws = cx.aws;
    let doing = format!("waiting for index {index} to be deleted");
    until(cx.wait(&doing, DynamoDb), move || async move {
        let desc = describe(aws, name)
            .await?
            .context("the table disappeared")?;
        if let Some(gsi) = desc
            .global_secondary_indexes()
            .iter()
            .find(|g| g.index_name() == Some(index))
        {
            return Ok(Check::Waiting(format!(
                "index {}",
                status_text(gsi.index_status())
            )));
        }
        Ok(ready_state(&desc))
    })
    .await
}

/// A stream's view type cannot change in place: the old stream is disabled, then a new one
/// enabled (with a new ARN, returned).
async fn update_stream(
    cx: &ExecCtx<'_>,
    name: &str,
    before: StreamView,
    after: StreamView,
) -> anyhow::Result<Option<String>> {
    if before != StreamView::Disabled {
        cx.tracker.status("disabling the stream");
        let spec = ddb::StreamSpecification::builder()
            .stream_enabled(false)
            .build()?;
        let request = update_of(cx, name).stream_specification(spec);
        update_table(cx, &request)
            .await
            .context("disabling the stream")?;
        wait_ready(cx, name, "waiting for the stream to be disabled").await?;
    }
    if after == StreamView::Disabled {
        return Ok(None);
    }
    cx.tracker.status("enabling the stream");
    let request = update_of(cx, name).stream_specification(sdk_stream(after)?);
    // If this fails after the old stream was disabled, the table has no stream until
    // the next apply enables it: say so rather than leave the reader guessing.
    let enabled = update_table(cx, &request).await.with_context(|| {
        "enabling the new stream (the table has no stream now; apply again to enable it)"
            .to_string()
    })?;
    let stream_arn = enabled
        .table_description
        .and_then(|t| t.latest_stream_arn)
        .context("UpdateTable returned no stream ARN for the new stream")?;
    Ok(Some(stream_arn))
}

async fn set_pitr(cx: &ExecCtx<'_>, name: &str, enabled: bool) -> anyhow::Result<()> {
    cx.tracker.status(if enabled {
        "enabling point-in-time recovery"
    } else {
        "disabling point-in-time recovery"
    });
    let spec = ddb::PointInTimeRecoverySpecification::builder()
        .point_in_time_recovery_enabled(enabled)
        .build()?;
    let request = cx
        .aws
        .dynamodb
        .update_continuous_backups()
        .table_name(name)
        .point_in_time_recovery_specification(spec);
    // Right after a table is created its backups are not set up yet: DynamoDB answers
    // ContinuousBackupsUnavailableException ("Backups have not yet been enabled for this
    // table", UpdateContinuousBackups' API reference) until they are.
    until(
        cx.wait("setting point-in-time recovery", DynamoDb),
        || async {
            match request.clone().send().await {
                Ok(_) => Ok(Check::Done(())),
                Err(e)
                    if answered(
                        &e,
                        UpdateContinuousBackupsError::is_continuous_backups_unavailable_exception,
                    ) =>
                {
                    Ok(Check::Waiting(
                        "DynamoDB is still enabling the new table's backups".into(),
                    ))
                }
                Err(e) => Err(crate::aws::errors::error("UpdateContinuousBackups", &e)),
            }
        },
    )
    .await
}

async fn set_ttl(
    cx: &ExecCtx<'_>,
    name: &str,
    attribute: &str,
    enabled: bool,
) -> anyhow::Result<()> {
    cx.tracker.status(format!(
        "{} TTL on {attribute}",
        if enabled { "enabling" } else { "disabling" }
    ));
    let spec = ddb::TimeToLiveSpecification::builder()
        .enabled(enabled)
        .attribute_name(attribute)
        .build()?;
    let request = cx
        .aws
        .dynamodb
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(spec);
    until(cx.wait("setting TTL", DynamoDb), || async {
        match request.clone().send().await {
            Ok(_) => Ok(Check::Done(())),
            // UpdateTimeToLive's API reference lists ResourceInUseException for a table
            // that is still being changed.
            Err(e) if answered(&e, UpdateTimeToLiveError::is_resource_in_use_exception) => {
                Ok(Check::Waiting("the table is still being changed".into()))
            }
            // DynamoDB refuses to set what is already set, which is what a resend after a
            // lost answer (or a change made meanwhile) finds: done if the table is as
            // wanted.
            Err(e) if VALIDATION.is(&e) => {
                let (in_effect, _) = read_ttl(cx.aws, name).await?.unwrap_or_default();
                if (in_effect.as_deref() == Some(attribute)) == enabled {
                    Ok(Check::Done(()))
                } else {
                    Err(crate::aws::errors::error("UpdateTimeToLive", &e))
                }
            }
            Err(e) => Err(crate::aws::errors::error("UpdateTimeToLive", &e)),
        }
    })
    .await
}

crate::tag_api!(
    /// DynamoDB's tagging API, by the table's ARN.
    TableTags,
    |aws, arn, tags| aws.dynamodb.tag_resource().resource_arn(arn).set_tags(Some(sdk_tags(tags)?)) => "TagResource",
    |aws, arn, keys| aws.dynamodb.untag_resource().resource_arn(arn).set_tag_keys(Some(keys.to_vec())) => "UntagResource",
);

/// An UpdateTable of the table `name`, to which the caller adds one change.
fn update_of(
    cx: &ExecCtx<'_>,
    name: &str,
) -> aws_sdk_dynamodb::operation::update_table::builders::UpdateTableFluentBuilder {
    cx.aws.dynamodb.update_table().table_name(name)
}

/// One change of an index, for UpdateTable.
fn index_update(
    change: impl FnOnce(
        ddb::builders::GlobalSecondaryIndexUpdateBuilder,
    ) -> ddb::builders::GlobalSecondaryIndexUpdateBuilder,
) -> ddb::GlobalSecondaryIndexUpdate {
    change(ddb::GlobalSecondaryIndexUpdate::builder()).build()
}

/// Sends an UpdateTable, waiting out what DynamoDB says is only "not now": the table or an
/// index still being changed (ResourceInUseException: by an earlier step, an interrupted
/// run, or someone else; UpdateTable's API reference: "While it's UPDATING, you can't issue
/// another UpdateTable request"), or an index being built ("Only 1 online index can be
/// created or deleted simultaneously per table", LimitExceededException; GSI.OnlineOps.html).
/// Each retry shows with -v and counts in --stats.
async fn update_table(
    cx: &ExecCtx<'_>,
    request: &aws_sdk_dynamodb::operation::update_table::builders::UpdateTableFluentBuilder,
) -> anyhow::Result<aws_sdk_dynamodb::operation::update_table::UpdateTableOutput> {
    until(
        cx.wait("waiting for DynamoDB to accept the change", DynamoDb),
        || async {
            match request.clone().send().await {
                Ok(out) => Ok(Check::Done(out)),
                Err(e) if answered(&e, UpdateTableError::is_resource_in_use_exception) => Ok(
                    Check::Waiting("the table or an index is still being changed".into()),
                ),
                Err(e) if answered(&e, UpdateTableError::is_limit_exceeded_exception) => Ok(
                    Check::Waiting("DynamoDB builds one index of a table at a time".into()),
                ),
                Err(e) => Err(crate::aws::errors::error("UpdateTable", &e)),
            }
        },
    )
    .await
}

/// How long DescribeTable may still show the past right after a change: its reads are
/// eventually consistent, so a table just created can be "not found", and one just
/// deleted can still look ACTIVE, for a moment.
const CONSISTENCY_GRACE: Duration = Duration::from_secs(30);

/// Waits until the table and its indexes are ACTIVE (after an earlier change).
pub async fn settle(cx: &ExecCtx<'_>, name: &str) -> anyhow::Result<()> {
    wait_ready(cx, name, "waiting for an earlier change to finish").await
}

async fn wait_ready(cx: &ExecCtx<'_>, name: &str, what: &str) -> anyhow::Result<()> {
    let aws = cx.aws;
    let started = Instant::now();
    until(cx.wait(what, DynamoDb), move || async move {
        match describe(aws, name).await? {
            Some(desc) => Ok(ready_state(&desc)),
            None if started.elapsed() < CONSISTENCY_GRACE => {
                Ok(Check::Waiting("not visible yet".into()))
            }
            None => bail!("the table disappeared"),
        }
    })
    .await
}

#[async_trait]
impl Changes for Table {
    /// Creates the table (tagged as ours from the start) with its indexes and stream, then
    /// point-in-time recovery and TTL, and reads back what DynamoDB made.
    async fn create(&self, cx: &ExecCtx<'_>, desired: &Self::State) -> Made<Self> {
        let name = &self.name;
        cx.tracker.status("creating table");
        let definitions = desired.definitions_for(desired.global_secondary_indexes.values());
        let indexes = desired
            .global_secondary_indexes
            .iter()
            .map(|(name, index)| sdk_index(name, index))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut request = cx
            .aws
            .dynamodb
            .create_table()
            .table_name(name)
            .set_attribute_definitions(Some(sdk_definitions(&definitions)?))
            .set_key_schema(Some(sdk_key(&desired.key)?))
            .billing_mode(sdk_billing(desired.billing_mode))
            .set_provisioned_throughput(desired.capacity().map(sdk_throughput).transpose()?)
            .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
            .table_class(sdk_class(desired.table_class))
            .deletion_protection_enabled(desired.deletion_protection)
            // Tags go on with the create, so there is never a moment when a table we made
            // is not recognisably ours.
            .set_tags(Some(sdk_tags(&desired.tags)?));
        if desired.stream != StreamView::Disabled {
            request = request.stream_specification(sdk_stream(desired.stream)?);
        }
        let made = match request.clone().send().await {
            Ok(out) => out.table_description,
            // A table of this name is still being deleted (an earlier destroy or
            // replacement): wait for it to go, then create. Or this create was carried
            // out and its answer lost (the SDK sent it again): carry on with that table.
            Err(e) if answered(&e, CreateTableError::is_resource_in_use_exception) => {
                match describe(cx.aws, name).await? {
                    Some(desc) if desc.table_status() != Some(&ddb::TableStatus::Deleting) => {
                        // A table's tags cannot be read while it is CREATING.
                        wait_ready(cx, name, "waiting for the table to become ACTIVE").await?;
                        let arn = desc.table_arn().unwrap_or_default();
                        if !same_owner(&desired.tags, &list_tags(cx.aws, arn).await?) {
                            bail!(
                                "{}; it is not this stack's: someone created it since plan ran (run plan again)",
                                describe_error("CreateTable", &e)
                            );
                        }
                        Some(desc)
                    }
                    _ => {
                        wait_deleted(cx, name).await?;
                        sdk("CreateTable", request.send().await)?.table_description
                    }
                }
            }
            Err(e) => return Err(crate::aws::errors::error("CreateTable", &e)),
        };
        // Its name and ARNs are known now: what needs only those (a role's policy) need not
        // wait for the table to be ACTIVE.
        if let Some(made) = made {
            cx.publish(super::attributes_of(
                name,
                made.table_arn().unwrap_or_default(),
                made.latest_stream_arn(),
                desired,
            ));
        }
        wait_ready(cx, name, "waiting for the table to become ACTIVE").await?;
        if desired.point_in_time_recovery {
            set_pitr(cx, name, true).await?;
        }
        if let Some(attribute) = &desired.ttl_attribute {
            set_ttl(cx, name, attribute, true).await?;
        }
        read_back(cx, name).await
    }

    /// Changes the table in place, one step at a time, each waited for: tags first (adopting a
    /// table makes it ours before anything else about it changes), then deletion protection,
    /// indexes and capacity, stream, table class, point-in-time recovery and TTL.
    async fn update(&self, cx: &ExecCtx<'_>, live: &Self::Live, to: &Self::State) -> Made<Self> {
        let name = &self.name;
        let before = &live.state;
        if !live.active {
            wait_ready(cx, name, "waiting for an earlier change to finish").await?;
        }
        crate::tags::sync(cx, &TableTags(&live.arn), &before.tags, &to.tags)
            .await
            .context("updating the table's tags")?;
        if before.deletion_protection != to.deletion_protection {
            cx.tracker.status("setting deletion protection");
            let request = update_of(cx, name).deletion_protection_enabled(to.deletion_protection);
            update_table(cx, &request)
                .await
                .context("setting deletion protection")?;
            wait_ready(cx, name, "waiting for the table to become ACTIVE").await?;
        }
        update_indexes_and_capacity(cx, name, before, to)
            .await
            .context("updating indexes, billing mode or capacity")?;
        if before.stream != to.stream {
            let stream_arn = update_stream(cx, name, before.stream, to.stream).await?;
            // The new stream's ARN is known: what needs it (a role's policy) may go on
            // while the table finishes.
            cx.publish(super::attributes_of(
                name,
                &live.arn,
                stream_arn.as_deref(),
                to,
            ));
            wait_ready(cx, name, "waiting for the stream to be enabled").await?;
        }
        if before.table_class != to.table_class {
            cx.tracker.status("changing the table class");
            let request = update_of(cx, name).table_class(sdk_class(to.table_class));
            update_table(cx, &request)
                .await
                .context("changing the table class")?;
            wait_ready(cx, name, "waiting for the table class change").await?;
        }
        if before.point_in_time_recovery != to.point_in_time_recovery {
            set_pitr(cx, name, to.point_in_time_recovery)
                .await
                .context("changing point-in-time recovery")?;
        }
        // At most one TTL change per apply (see `update_blocker`).
        match (&before.ttl_attribute, &to.ttl_attribute) {
            (None, Some(new)) => set_ttl(cx, name, new, true).await.context("enabling TTL")?,
            (Some(old), None) => set_ttl(cx, name, old, false)
                .await
                .context("disabling TTL")?,
            (Some(old), Some(new)) if old != new => {
                bail!("TTL cannot move from `{old}` to `{new}` in one apply; run plan again")
            }
            _ => {}
        }
        read_back(cx, name).await
    }
}

async fn read_back(cx: &ExecCtx<'_>, name: &str) -> anyhow::Result<LiveTable> {
    cx.tracker.status("reading the result");
    read_table(cx.aws, name, None)
        .await?
        .with_context(|| format!("table {name} disappeared while it was being changed"))
}
