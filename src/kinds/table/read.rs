//! Reading a table: DescribeTable and the reads that complete the picture (tags, TTL,
//! point-in-time recovery), and counting what a deletion would lose.

use super::state::{
    BillingMode, IndexState, LiveTable, ProjectionType, StreamView, TableClass, TableState,
    attr_type, key_from,
};
use crate::aws::{Aws, absent_on, returned};
use crate::wait::Check;
use anyhow::Context;
use aws_sdk_dynamodb::operation::describe_continuous_backups::DescribeContinuousBackupsError;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_dynamodb::operation::describe_time_to_live::DescribeTimeToLiveError;
use aws_sdk_dynamodb::types as ddb;
use std::collections::{BTreeMap, BTreeSet};

/// Everything about the table `name`; `None` when it does not exist (or is being deleted).
/// With `owner`, its tags come from the tagging API's listing when that has it.
pub async fn read_table(
    aws: &Aws,
    name: &str,
    owner: Option<&str>,
) -> anyhow::Result<Option<LiveTable>> {
    // TTL and point-in-time recovery need only the name the file gives, so they go out
    // with DescribeTable instead of waiting for it: one round trip fewer. Only the tags
    // need the ARN DescribeTable returns (and only when the tagging API has not listed it).
    let (desc, ttl, pitr) = tokio::try_join!(
        describe(aws, name),
        read_ttl(aws, name),
        read_pitr(aws, name)
    )?;
    let Some(desc) = desc else {
        return Ok(None);
    };
    // A table being deleted is as good as gone; `create` waits for it to finish.
    if desc.table_status() == Some(&ddb::TableStatus::Deleting) {
        return Ok(None);
    }
    let arn = returned(desc.table_arn(), "DescribeTable", "table ARN")?.to_string();
    let tags = crate::kinds::tagged::tags_or(aws, owner, &arn, || list_tags(aws, &arn)).await?;
    // Created just after the TTL or backup read was answered: ask again. Not found then
    // either means it was deleted meanwhile.
    let ttl = match ttl {
        Some(ttl) => Some(ttl),
        None => read_ttl(aws, name).await?,
    };
    let pitr = match pitr {
        Some(pitr) => Some(pitr),
        None => read_pitr(aws, name).await?,
    };
    let (Some((ttl, ttl_in_progress)), Some(pitr)) = (ttl, pitr) else {
        return Ok(None);
    };
    Ok(Some(LiveTable {
        state: state_from(&desc, tags, ttl, pitr)?,
        arn,
        stream_arn: desc.latest_stream_arn().map(str::to_string),
        item_count: desc.item_count().unwrap_or(0),
        ttl_in_progress,
        active: matches!(ready_state(&desc), Check::Done(())),
    }))
}

/// The items a deletion would lose, counted for real: DescribeTable's ItemCount lags by
/// hours, and a teardown is rare and deliberate (a count reads keys only).
pub async fn items_at_risk(aws: &Aws, name: &str) -> anyhow::Result<Option<String>> {
    Ok(match count_items(aws, name).await? {
        ItemCount::Exactly(0) => None,
        ItemCount::Exactly(n) => Some(format!(
            "the table still holds {n} item{}, which would be lost but for the backup kept first (none with --no-backup)",
            if n == 1 { "" } else { "s" }
        )),
        ItemCount::AtLeast(n) => Some(format!(
            "the table still holds more than {n} items, which would be lost but for the backup kept first (none with --no-backup)"
        )),
    })
}

enum ItemCount {
    Exactly(i64),
    AtLeast(i64),
}

/// Pages a table's Scan with Select=COUNT; stops after a bounded number of pages (each
/// reads up to 1 MB) and then says "more than".
async fn count_items(aws: &Aws, name: &str) -> anyhow::Result<ItemCount> {
    const MAX_PAGES: usize = 20;
    let mut count = 0;
    let mut start = None;
    for _ in 0..MAX_PAGES {
        let request = aws
            .dynamodb
            .scan()
            .table_name(name)
            .select(ddb::Select::Count)
            .set_exclusive_start_key(start);
        let out = crate::aws::sdk("Scan", request.send().await)?;
        count += i64::from(out.count);
        match out.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return Ok(ItemCount::Exactly(count)),
        }
    }
    Ok(ItemCount::AtLeast(count))
}

/// DescribeTable; `None` when the table does not exist.
pub async fn describe(aws: &Aws, name: &str) -> anyhow::Result<Option<ddb::TableDescription>> {
    let sent = aws.dynamodb.describe_table().table_name(name).send().await;
    let gone = DescribeTableError::is_resource_not_found_exception;
    Ok(absent_on(gone, "DescribeTable", sent)?.and_then(|out| out.table))
}

pub async fn list_tags(aws: &Aws, arn: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let mut tags = BTreeMap::new();
    let mut next = None;
    loop {
        let request = aws
            .dynamodb
            .list_tags_of_resource()
            .resource_arn(arn)
            .set_next_token(next);
        let out = crate::aws::sdk("ListTagsOfResource", request.send().await)?;
        tags.extend(
            out.tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string())),
        );
        match out.next_token {
            Some(token) => next = Some(token),
            None => return Ok(tags),
        }
    }
}

/// The TTL attribute in effect (or being enabled), and whether a TTL change is under way;
/// `None` when the table does not exist.
pub async fn read_ttl(
    aws: &Aws,
    name: &str,
) -> anyhow::Result<Option<(Option<String>, Option<String>)>> {
    let request = aws.dynamodb.describe_time_to_live().table_name(name);
    let gone = DescribeTimeToLiveError::is_resource_not_found_exception;
    let Some(out) = absent_on(gone, "DescribeTimeToLive", request.send().await)? else {
        return Ok(None);
    };
    let Some(ttl) = out.time_to_live_description else {
        return Ok(Some((None, None)));
    };
    Ok(Some(match ttl.time_to_live_status {
        Some(ddb::TimeToLiveStatus::Enabled) => (ttl.attribute_name, None),
        Some(ddb::TimeToLiveStatus::Enabling) => (ttl.attribute_name, Some("ENABLING".into())),
        // Being disabled counts as off: that is where it is going.
        Some(ddb::TimeToLiveStatus::Disabling) => (None, Some("DISABLING".into())),
        _ => (None, None),
    }))
}

/// Whether point-in-time recovery is on; `None` when the table does not exist.
async fn read_pitr(aws: &Aws, name: &str) -> anyhow::Result<Option<bool>> {
    let request = aws.dynamodb.describe_continuous_backups().table_name(name);
    // This call says TableNotFoundException where the others say ResourceNotFoundException.
    let gone = DescribeContinuousBackupsError::is_table_not_found_exception;
    let Some(out) = absent_on(gone, "DescribeContinuousBackups", request.send().await)? else {
        return Ok(None);
    };
    Ok(Some(
        out.continuous_backups_description
            .and_then(|c| c.point_in_time_recovery_description)
            .and_then(|p| p.point_in_time_recovery_status)
            == Some(ddb::PointInTimeRecoveryStatus::Enabled),
    ))
}

fn state_from(
    desc: &ddb::TableDescription,
    tags: BTreeMap<String, String>,
    ttl_attribute: Option<String>,
    point_in_time_recovery: bool,
) -> anyhow::Result<TableState> {
    let billing_mode = match desc.billing_mode_summary().and_then(|b| b.billing_mode()) {
        Some(ddb::BillingMode::PayPerRequest) => BillingMode::PayPerRequest,
        // Tables that were always provisioned carry no billing mode summary.
        _ => BillingMode::Provisioned,
    };
    let provisioned = billing_mode == BillingMode::Provisioned;
    // On-demand tables still report a throughput block (zeros); it means nothing there.
    let table_capacity = desc
        .provisioned_throughput()
        .filter(|_| provisioned)
        .map(|p| (p.read_capacity_units(), p.write_capacity_units()));
    // Only the definitions the table's key and its global indexes use: local secondary
    // indexes are not managed here, and their attributes must not show up as a difference
    // on a table that has them (an adopted one).
    let managed_keys: BTreeSet<&str> = desc
        .key_schema()
        .iter()
        .chain(
            desc.global_secondary_indexes()
                .iter()
                .flat_map(|g| g.key_schema()),
        )
        .map(|k| k.attribute_name())
        .collect();
    let mut attributes = BTreeMap::new();
    for definition in desc.attribute_definitions() {
        if managed_keys.contains(definition.attribute_name()) {
            attributes.insert(
                definition.attribute_name().to_string(),
                attr_type(definition.attribute_type())?,
            );
        }
    }
    let mut indexes = BTreeMap::new();
    for gsi in desc.global_secondary_indexes() {
        let name = gsi
            .index_name()
            .context("index without a name")?
            .to_string();
        let projection = gsi.projection();
        let mut non_key_attributes = projection
            .map(|p| p.non_key_attributes().to_vec())
            .unwrap_or_default();
        non_key_attributes.sort();
        let capacity = gsi
            .provisioned_throughput()
            .filter(|_| provisioned)
            .map(|p| (p.read_capacity_units(), p.write_capacity_units()));
        indexes.insert(
            name,
            IndexState {
                key: key_from(gsi.key_schema())?,
                projection: match projection.and_then(|p| p.projection_type()) {
                    Some(ddb::ProjectionType::KeysOnly) => ProjectionType::KeysOnly,
                    Some(ddb::ProjectionType::Include) => ProjectionType::Include,
                    _ => ProjectionType::All,
                },
                non_key_attributes,
                read_capacity: capacity.and_then(|c| c.0),
                write_capacity: capacity.and_then(|c| c.1),
            },
        );
    }
    let stream = match desc.stream_specification() {
        Some(spec) if spec.stream_enabled() => match spec.stream_view_type() {
            Some(ddb::StreamViewType::NewImage) => StreamView::NewImage,
            Some(ddb::StreamViewType::OldImage) => StreamView::OldImage,
            Some(ddb::StreamViewType::KeysOnly) => StreamView::KeysOnly,
            _ => StreamView::NewAndOldImages,
        },
        _ => StreamView::Disabled,
    };
    let table_class = match desc.table_class_summary().and_then(|c| c.table_class()) {
        Some(ddb::TableClass::StandardInfrequentAccess) => TableClass::StandardInfrequentAccess,
        _ => TableClass::Standard,
    };
    Ok(TableState {
        key: key_from(desc.key_schema())?,
        attributes,
        billing_mode,
        read_capacity: table_capacity.and_then(|c| c.0),
        write_capacity: table_capacity.and_then(|c| c.1),
        global_secondary_indexes: indexes,
        stream,
        point_in_time_recovery,
        deletion_protection: desc.deletion_protection_enabled().unwrap_or(false),
        ttl_attribute,
        table_class,
        tags,
    })
}

/// Done when the table and every index are ACTIVE.
pub fn ready_state(desc: &ddb::TableDescription) -> Check<()> {
    if desc.table_status() != Some(&ddb::TableStatus::Active) {
        return Check::Waiting(format!("table {}", status_text(desc.table_status())));
    }
    for gsi in desc.global_secondary_indexes() {
        if gsi.index_status() != Some(&ddb::IndexStatus::Active) {
            return Check::Waiting(format!(
                "index {} {}",
                gsi.index_name().unwrap_or("?"),
                status_text(gsi.index_status())
            ));
        }
    }
    Check::Done(())
}

pub fn status_text<S: AsRef<str>>(status: Option<S>) -> String {
    status.map_or_else(
        || "in an unknown state".to_string(),
        |s| s.as_ref().to_string(),
    )
}
