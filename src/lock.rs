//! The deploy lock: two applies (or an apply and a destroy) of one stack and environment
//! never interleave. It is a lease kept in AWS, where every runner sees it: an item per
//! `<stack>/<env>` in a small DynamoDB table the tool creates on first use
//! (`cruddur-infra-locks`, on-demand billing, shared by all stacks), written with a
//! conditional PutItem so exactly one runner gets it. The holder renews the lease while it
//! works; a runner killed outright leaves a lease that expires, after which the next one
//! takes over. A holder that loses its lease (taken over after renewals failed for a whole
//! lease, say while the machine was suspended) stops at once rather than go on changing
//! what the new holder is changing. `plan`, `drift` and `outputs` read only and take no
//! lock.
//!
//! Expiry compares the runners' clocks with each other (they are AWS-synchronised in CI);
//! the lease is long enough (60 s) that ordinary skew does not matter.

use crate::aws::needs::{Condition, Need};
use crate::aws::{Aws, answered, sdk};
use crate::wait::{Check, GaveUp, Service, Wait, until};
use anyhow::{Context, bail};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_dynamodb::operation::get_item::GetItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types as ddb;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const TABLE: &str = "cruddur-infra-locks";
/// The table's key attribute.
/// The IAM actions the deploy lock calls, on its table; see `crate::aws::needs`. Its
/// items are granted only under this stack and environment's keys (the lock's, and the
/// stack's index, `crate::index`): the table is shared by every stack of the account.
pub const NEEDS: &[Need] = &[
    // First use in an account and region: the table is made, with a tag.
    Need::on(
        "lock-table",
        "change: dynamodb:DescribeTable dynamodb:CreateTable dynamodb:TagResource",
    ),
    Need::on(
        "lock-item",
        "change: dynamodb:GetItem dynamodb:PutItem dynamodb:UpdateItem dynamodb:DeleteItem",
    )
    .when(LEADING_KEYS),
];

/// The lock table's items a stack and environment use: its lock and its index.
pub const LEADING_KEYS: Condition = (
    "ForAllValues:StringEquals",
    "dynamodb:LeadingKeys",
    &["{owner}", "{owner}#index"],
);

pub const KEY: &str = "lock_id";
const LEASE: Duration = Duration::from_secs(60);
/// How long the lock table may take to become ACTIVE on first use.
const TABLE_TIMEOUT: Duration = Duration::from_secs(120);
/// How soon a failed renewal is tried again.
const RENEW_RETRY: Duration = Duration::from_secs(2);

/// A held lock; release it with [`Lock::release`]. Dropped without release (a panic),
/// the lease simply expires.
pub struct Lock {
    aws: Aws,
    id: String,
    holder: String,
    /// Renews the lease; ends only when the lease is lost, saying how.
    renewer: tokio::task::JoinHandle<String>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn s(v: impl Into<String>) -> ddb::AttributeValue {
    ddb::AttributeValue::S(v.into())
}

fn n(v: u64) -> ddb::AttributeValue {
    ddb::AttributeValue::N(v.to_string())
}

/// Who is asking, for the message another runner sees: host, process, and a random part
/// so two processes never take each other for the holder.
fn holder_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into());
    let nonce = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    format!("{host}:{}:{nonce:08x}", std::process::id())
}

/// Takes the lock of `id` (`<stack>/<env>`) for `command`, waiting up to `timeout` for
/// its holder; says on stderr whom it waits for.
pub async fn acquire(
    aws: &Aws,
    id: &str,
    command: &str,
    timeout: Duration,
) -> anyhow::Result<Lock> {
    let holder = holder_id();
    let announced = AtomicBool::new(false);
    let wait = Wait {
        doing: "waiting for the deploy lock",
        service: Service::DynamoDb,
        timeout,
        tracker: None,
    };
    let taken = until(wait, || async {
        Ok(match try_take(aws, id, &holder, command).await? {
            None => Check::Done(()),
            Some(current) => {
                crate::stats::count_wait("waiting for the deploy lock");
                if !announced.swap(true, Ordering::Relaxed) {
                    eprintln!("Waiting for the deploy lock of {id}: {current}");
                }
                Check::Waiting(current)
            }
        })
    })
    .await;
    match taken {
        Ok(()) => {}
        Err(e) => match e.downcast::<GaveUp>() {
            Ok(gave_up) => bail!(
                "could not get the deploy lock of {id} within {}s: {}. Another apply or destroy of this stack and environment is running; re-run later or raise --lock-timeout (a lock left by a killed run expires {}s after its last renewal)",
                timeout.as_secs(),
                gave_up.state,
                LEASE.as_secs()
            ),
            Err(e) => return Err(e),
        },
    }
    let renewer = tokio::spawn(renew(aws.clone(), id.to_string(), holder.clone()));
    tracing::debug!(lock = id, %holder, "took the deploy lock");
    Ok(Lock {
        aws: aws.clone(),
        id: id.to_string(),
        holder,
        renewer,
    })
}

/// One attempt: `None` when taken, else who holds it.
async fn try_take(
    aws: &Aws,
    id: &str,
    holder: &str,
    command: &str,
) -> anyhow::Result<Option<String>> {
    let request = aws
        .dynamodb
        .put_item()
        .table_name(TABLE)
        .item("lock_id", s(id))
        .item("holder", s(holder))
        .item("command", s(command))
        .item("acquired_at", n(now()))
        .item("expires_at", n(now() + LEASE.as_secs()))
        .condition_expression("attribute_not_exists(lock_id) OR expires_at < :now")
        .expression_attribute_values(":now", n(now()));
    match request.send().await {
        Ok(_) => Ok(None),
        Err(e) if answered(&e, PutItemError::is_conditional_check_failed_exception) => {
            match read_holder(aws, id).await? {
                // Our own PutItem, carried out, its answer lost and sent again by the SDK.
                Some(current) if current.holder == holder => Ok(None),
                Some(current) => Ok(Some(current.describe())),
                None => Ok(Some("just released".into())),
            }
        }
        // No lock table, or (DynamoDB's answer for a table not yet ACTIVE) one still
        // being made: make it, or wait for it.
        Err(e) if answered(&e, PutItemError::is_resource_not_found_exception) => {
            create_table(aws).await?;
            Box::pin(try_take(aws, id, holder, command)).await
        }
        Err(e) => Err(crate::aws::errors::error("PutItem (deploy lock)", &e)),
    }
}

/// The lock's item as read: who holds it, for what, since when, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    /// The lease's id: `<host>:<process>:<nonce>`.
    pub holder: String,
    pub command: String,
    /// Seconds since the Unix epoch.
    acquired_at: u64,
    expires_at: u64,
}

impl Current {
    /// The host and process of the holder, as its id names them.
    pub fn host_and_process(&self) -> (&str, &str) {
        let mut parts = self.holder.rsplitn(3, ':');
        let _nonce = parts.next();
        let process = parts.next().unwrap_or("?");
        (parts.next().unwrap_or("?"), process)
    }

    /// Seconds until the lease expires (0: expired).
    pub fn expires_in(&self) -> u64 {
        self.expires_at.saturating_sub(now())
    }

    /// Seconds since it was taken.
    pub fn held_for(&self) -> u64 {
        now().saturating_sub(self.acquired_at)
    }

    fn describe(&self) -> String {
        format!(
            "held by {} ({}) for {}s, lease expiring in {}s",
            self.holder,
            self.command,
            self.held_for(),
            self.expires_in()
        )
    }
}

/// Removes the lease `holder` of the lock of `id`, and only it: when the lock changed hands
/// since it was read (a new run took it), nothing is removed and the new holder is named.
pub async fn force_release(aws: &Aws, id: &str, holder: &str) -> anyhow::Result<()> {
    match delete_if_held(aws, id, holder).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(not_held_by(
            id,
            holder,
            read_holder(aws, id).await?.as_ref(),
        )),
        Err(e) => Err(crate::aws::errors::error("DeleteItem (deploy lock)", &e)),
    }
}

/// Why a lease cannot be removed: the lock of `id` is now `current`'s, or nobody's.
pub fn not_held_by(id: &str, holder: &str, current: Option<&Current>) -> anyhow::Error {
    let now = current.map_or_else(|| "nobody holds it".into(), Current::describe);
    anyhow::anyhow!(
        "the deploy lock of {id} is no longer lease {holder} ({now}); nothing was removed"
    )
}

/// Deletes the lock of `id` if the lease `holder` still holds it; `Ok(false)` when it does
/// not (it expired and another run took it, or it is gone).
async fn delete_if_held(
    aws: &Aws,
    id: &str,
    holder: &str,
) -> Result<bool, SdkError<DeleteItemError, HttpResponse>> {
    let request = aws
        .dynamodb
        .delete_item()
        .table_name(TABLE)
        .key("lock_id", s(id))
        .condition_expression("holder = :lease")
        .expression_attribute_values(":lease", s(holder));
    match request.send().await {
        Ok(_) => Ok(true),
        Err(e) if answered(&e, DeleteItemError::is_conditional_check_failed_exception) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Who holds the lock of `id` (`<stack>/<env>`), if anyone (an expired lease included:
/// nobody took it over yet). No lock table is no lock.
pub async fn read_holder(aws: &Aws, id: &str) -> anyhow::Result<Option<Current>> {
    let request = aws
        .dynamodb
        .get_item()
        .table_name(TABLE)
        .key("lock_id", s(id));
    let out = match request.consistent_read(true).send().await {
        // No lock table yet: no lock.
        Err(e) if answered(&e, GetItemError::is_resource_not_found_exception) => return Ok(None),
        result => sdk("GetItem", result)?,
    };
    let Some(item) = out.item else {
        return Ok(None);
    };
    let text = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    let number = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(Some(Current {
        holder: text("holder"),
        command: text("command"),
        acquired_at: number("acquired_at"),
        expires_at: number("expires_at"),
    }))
}

/// Makes the lock table (first use in an account and region); another runner making it
/// at the same moment is fine.
pub async fn create_table(aws: &Aws) -> anyhow::Result<()> {
    let request = aws
        .dynamodb
        .create_table()
        .table_name(TABLE)
        .attribute_definitions(
            ddb::AttributeDefinition::builder()
                .attribute_name("lock_id")
                .attribute_type(ddb::ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            ddb::KeySchemaElement::builder()
                .attribute_name("lock_id")
                .key_type(ddb::KeyType::Hash)
                .build()?,
        )
        .billing_mode(ddb::BillingMode::PayPerRequest)
        .tags(
            ddb::Tag::builder()
                .key(crate::tags::MANAGED_BY_TAG)
                .value(crate::tags::MANAGED_BY_VALUE)
                .build()?,
        );
    match request.send().await {
        Ok(_) => eprintln!(
            "Making the deploy lock table {TABLE} (its first use in this account and region)"
        ),
        // Another runner made it (or is making it) at the same moment.
        Err(e) if answered(&e, CreateTableError::is_resource_in_use_exception) => {}
        Err(e) => {
            return Err(crate::aws::errors::error(
                "CreateTable (deploy lock table)",
                &e,
            ));
        }
    }
    let wait = Wait {
        doing: "waiting for the deploy lock table to become ACTIVE",
        service: Service::DynamoDb,
        timeout: TABLE_TIMEOUT,
        tracker: None,
    };
    // Every answer but the table's state is an error, said at once (a deployer without
    // dynamodb:DescribeTable on the table hears so, not a timeout).
    let active = until(wait, || async {
        let sent = aws.dynamodb.describe_table().table_name(TABLE).send().await;
        let gone = DescribeTableError::is_resource_not_found_exception;
        Ok(
            match crate::aws::absent_on(gone, "DescribeTable (deploy lock table)", sent)? {
                // DescribeTable is eventually consistent right after CreateTable (its API
                // reference).
                None => Check::Waiting("not visible yet".into()),
                Some(out) => match out.table.and_then(|t| t.table_status) {
                    Some(ddb::TableStatus::Active) => Check::Done(()),
                    status => Check::Waiting(status.map_or("?".into(), |s| s.as_str().to_string())),
                },
            },
        )
    })
    .await;
    match active {
        Ok(()) => Ok(()),
        Err(e) => match e.downcast::<GaveUp>() {
            Ok(gave_up) => bail!(
                "the deploy lock table {TABLE} did not become ACTIVE in {}s (still {})",
                TABLE_TIMEOUT.as_secs(),
                gave_up.state
            ),
            Err(e) => Err(e),
        },
    }
}

/// Extends the lease every third of it, for as long as the lock is held. Returns only when
/// the lease is no longer ours: another runner holds it, or renewals failed until it ran
/// out (from then on another runner may take it).
async fn renew(aws: Aws, id: String, holder: String) -> String {
    // The lease as last confirmed; the expiry written is computed before the request goes
    // out, so this is never later than what AWS holds.
    let mut held_until = Instant::now() + LEASE;
    let mut pause = LEASE / 3;
    loop {
        tokio::time::sleep(pause).await;
        let sent = Instant::now();
        let request = aws
            .dynamodb
            .update_item()
            .table_name(TABLE)
            .key("lock_id", s(&id))
            .update_expression("SET expires_at = :expires")
            .condition_expression("holder = :me")
            .expression_attribute_values(":expires", n(now() + LEASE.as_secs()))
            .expression_attribute_values(":me", s(&holder));
        match request.send().await {
            Ok(_) => {
                held_until = sent + LEASE;
                pause = LEASE / 3;
                tracing::debug!(lock = %id, "renewed the deploy lock");
            }
            Err(e) if answered(&e, UpdateItemError::is_conditional_check_failed_exception) => {
                return match read_holder(&aws, &id).await {
                    Ok(Some(current)) => format!("was taken over: {}", current.describe()),
                    Ok(None) => "was deleted by someone else".to_string(),
                    Err(_) => "is no longer ours".to_string(),
                };
            }
            Err(e) => {
                let error = crate::aws::describe_error("UpdateItem (deploy lock)", &e);
                if Instant::now() + RENEW_RETRY >= held_until {
                    return format!(
                        "could not be renewed before its lease ran out ({error}); another run may take it now"
                    );
                }
                tracing::warn!(lock = %id, %error, "could not renew the deploy lock; trying again");
                pause = RENEW_RETRY;
            }
        }
    }
}

impl Lock {
    /// Resolves only when the lease is lost, saying how: the holder must stop changing
    /// things, since another run may now be changing them too.
    pub async fn lost(&mut self) -> String {
        match (&mut self.renewer).await {
            Ok(why) => why,
            Err(e) => format!("could not be renewed ({e})"),
        }
    }

    /// Gives the lock back (only if still ours).
    pub async fn release(self) -> anyhow::Result<()> {
        self.renewer.abort();
        match delete_if_held(&self.aws, &self.id, &self.holder).await {
            // `false`: expired and taken by someone else meanwhile, nothing of ours to release.
            Ok(_) => Ok(()),
            Err(e) => Err(anyhow::anyhow!(crate::aws::describe_error(
                "DeleteItem (deploy lock)",
                &e
            )))
            .context("releasing the deploy lock (it expires by itself)"),
        }
    }
}
