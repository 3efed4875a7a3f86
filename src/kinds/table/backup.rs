//! A backup before a table goes. Destroying or replacing a table that holds items (which
//! the plan refuses without --allow-data-loss or --allow-replace) first keeps an
//! on-demand backup of it (CreateBackup), waits until it is AVAILABLE, and marks it as the
//! stack's: its name says so (`<table>.<stack>-<env>.before-delete.<unix time>`), and so
//! does its tag `cruddur-infra:backup-of` where DynamoDB keeps tags on a backup (its API
//! reference does not say that it does; where it refuses them, the name is enough).
//! `--no-backup` opts out. The tool never deletes a backup, and never takes one for an
//! orphan: orphans are found by the stack tag, which a backup does not carry.
//!
//! https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateBackup.html:
//! "the backup is guaranteed to contain all data committed to the table up to" a minute
//! before the request, and "Backup requests are processed instantaneously and become
//! available for restore within minutes" (BackupStatus CREATING, then AVAILABLE).

use super::read::items_at_risk;
use crate::aws::answered;
use crate::aws::codes::VALIDATION;
use crate::aws::needs::Need;
use crate::exec::ExecCtx;
use crate::tags::{MANAGED_BY_TAG, MANAGED_BY_VALUE, RESOURCE_TAG, STACK_TAG, Tags};
use crate::wait::{Check, Service::DynamoDb, until};
use anyhow::{Context, bail};
use aws_sdk_dynamodb::operation::create_backup::CreateBackupError;
use aws_sdk_dynamodb::operation::tag_resource::TagResourceError;
use aws_sdk_dynamodb::types as ddb;

/// The IAM actions of a backup before deletion; see `crate::aws::needs`.
pub const NEEDS: &[Need] = &[
    Need::on("table", "delete: dynamodb:CreateBackup"),
    Need::on(
        "backup",
        "delete: dynamodb:DescribeBackup dynamodb:TagResource",
    ),
];

/// The tag that says whose backup it is: `<stack>/<env>`.
pub const BACKUP_OF_TAG: &str = "cruddur-infra:backup-of";

/// Keeps a backup of the table `name` before it is deleted, if it holds items and the run
/// keeps backups: made, waited for until AVAILABLE, tagged with `table_tags`' owner. Says
/// its ARN on the resource's progress line (and in the run's summary); returns it.
pub async fn before_delete(
    cx: &ExecCtx<'_>,
    name: &str,
    table_tags: &Tags,
) -> anyhow::Result<Option<String>> {
    if !cx.backups {
        return Ok(None);
    }
    cx.tracker
        .status("counting the items a deletion would lose");
    if items_at_risk(cx.aws, name).await?.is_none() {
        return Ok(None);
    }
    let owner = table_tags.get(STACK_TAG).map_or("", String::as_str);
    let arn = create(cx, name, owner).await?;
    wait_available(cx, &arn).await?;
    tag(cx, &arn, name, table_tags).await?;
    cx.tracker.kept(&arn);
    Ok(Some(arn))
}

/// The backup's name: the table's, whose it is, why and when. Names take [a-zA-Z0-9_.-]
/// (table names, stack and environment names are of those), 3 to 255 of them.
pub fn name_of(table: &str, owner: &str, seconds: u64) -> String {
    let whose = owner.replace('/', "-");
    let rest = format!(".{whose}.before-delete.{seconds}");
    let table: String = table.chars().take(255 - rest.len().min(200)).collect();
    format!("{table}{rest}")
}

async fn create(cx: &ExecCtx<'_>, name: &str, owner: &str) -> anyhow::Result<String> {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let backup = name_of(name, owner, seconds);
    let request = cx
        .aws
        .dynamodb
        .create_backup()
        .table_name(name)
        .backup_name(&backup);
    cx.tracker.status(format!("keeping a backup, {backup}"));
    // CreateBackup's API reference lists what is refused only for now: the table's backups
    // not yet enabled (a new table), the table being changed, another backup of it under
    // way, too many at once.
    let made = until(
        cx.wait("keeping a backup of the table", DynamoDb),
        || async {
            match request.clone().send().await {
                Ok(out) => Ok(Check::Done(out)),
                Err(e)
                    if answered(
                        &e,
                        CreateBackupError::is_continuous_backups_unavailable_exception,
                    ) =>
                {
                    Ok(Check::Waiting(
                        "DynamoDB is still enabling the table's backups".into(),
                    ))
                }
                Err(e) if answered(&e, CreateBackupError::is_table_in_use_exception) => {
                    Ok(Check::Waiting("the table is being changed".into()))
                }
                Err(e) if answered(&e, CreateBackupError::is_backup_in_use_exception) => Ok(
                    Check::Waiting("another backup of the table is under way".into()),
                ),
                Err(e) if answered(&e, CreateBackupError::is_limit_exceeded_exception) => Ok(
                    Check::Waiting("too many table operations in the account".into()),
                ),
                Err(e) => Err(crate::aws::errors::error("CreateBackup", &e)),
            }
        },
    )
    .await?;
    let details = made
        .backup_details
        .context("CreateBackup returned no backup details")?;
    Ok(details.backup_arn)
}

async fn wait_available(cx: &ExecCtx<'_>, arn: &str) -> anyhow::Result<()> {
    let aws = cx.aws;
    until(
        cx.wait("waiting for the backup to be AVAILABLE", DynamoDb),
        move || async move {
            let request = aws.dynamodb.describe_backup().backup_arn(arn);
            let out = crate::aws::sdk("DescribeBackup", request.send().await)?;
            let status = out
                .backup_description
                .and_then(|d| d.backup_details)
                .map(|d| d.backup_status);
            Ok(match status {
                Some(ddb::BackupStatus::Available) => Check::Done(()),
                Some(ddb::BackupStatus::Creating) => Check::Waiting("backup CREATING".into()),
                other => bail!("the backup {arn} is {other:?}; the table was not deleted"),
            })
        },
    )
    .await
}

async fn tag(cx: &ExecCtx<'_>, arn: &str, name: &str, table_tags: &Tags) -> anyhow::Result<()> {
    let owner = table_tags.get(STACK_TAG).cloned().unwrap_or_default();
    let mut tags = vec![
        (MANAGED_BY_TAG.to_string(), MANAGED_BY_VALUE.to_string()),
        (BACKUP_OF_TAG.to_string(), owner),
        ("cruddur-infra:table".to_string(), name.to_string()),
    ];
    tags.extend(
        table_tags
            .get(RESOURCE_TAG)
            .map(|r| (RESOURCE_TAG.to_string(), r.clone())),
    );
    let tags = tags
        .into_iter()
        .map(|(k, v)| ddb::Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()?;
    let request = cx
        .aws
        .dynamodb
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(tags));
    cx.tracker.status("tagging the backup as the stack's");
    match request.send().await {
        Ok(_) => Ok(()),
        // Not a taggable resource to DynamoDB: the backup's name says whose it is.
        Err(e)
            if VALIDATION.is(&e)
                || answered(&e, TagResourceError::is_resource_not_found_exception) =>
        {
            tracing::debug!(error = %crate::aws::describe_error("TagResource", &e), "the backup keeps no tags");
            Ok(())
        }
        Err(e) => Err(crate::aws::errors::error("TagResource", &e)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_backup_s_name_says_whose_and_fits() {
        assert_eq!(
            super::name_of("cruddur-messages-dev", "cruddur/dev", 1796640000),
            "cruddur-messages-dev.cruddur-dev.before-delete.1796640000"
        );
        let long = "t".repeat(255);
        let name = super::name_of(&long, "cruddur/pr-42", 1796640000);
        assert!(name.len() <= 255, "{}", name.len());
        assert!(name.ends_with(".cruddur-pr-42.before-delete.1796640000"));
    }
}
