//! Reading, creating, changing and deleting a queue. SQS addresses a queue by its URL, which
//! GetQueueUrl gives from the name; its settings are attributes, all read in one call.

use super::{LiveQueue, Queue, QueueState};
use crate::aws::needs::Need;
use crate::aws::{Aws, absent_on, answered, returned};
use crate::exec::ExecCtx;
use crate::kinds::kind::{Changes, Made};
use crate::tags::same_owner;
use crate::wait::{Check, Service::Sqs, until};
use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_sqs::operation::create_queue::CreateQueueError;
use aws_sdk_sqs::operation::delete_queue::DeleteQueueError;
use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesError;
use aws_sdk_sqs::operation::get_queue_url::GetQueueUrlError;
use aws_sdk_sqs::operation::list_queue_tags::ListQueueTagsError;
use aws_sdk_sqs::types::QueueAttributeName as Attr;
use std::collections::{BTreeMap, HashMap};

/// The IAM actions a queue's code calls; see `crate::aws::needs`.
pub const NEEDS: &[Need] = &[Need::on(
    "queue",
    // TagQueue is also what a CreateQueue that carries tags needs.
    "read: sqs:GetQueueUrl sqs:GetQueueAttributes sqs:ListQueueTags; create: sqs:CreateQueue; change: sqs:SetQueueAttributes sqs:TagQueue sqs:UntagQueue; delete: sqs:DeleteQueue",
)];

/// The queue's URL; `None` when there is no queue of that name.
async fn queue_url(aws: &Aws, name: &str) -> anyhow::Result<Option<String>> {
    let sent = aws.sqs.get_queue_url().queue_name(name).send().await;
    let gone = GetQueueUrlError::is_queue_does_not_exist;
    Ok(absent_on(gone, "GetQueueUrl", sent)?.and_then(|out| out.queue_url))
}

/// Everything about the queue `name`; `None` when it does not exist. With `owner`, its tags
/// come from the tagging API's listing when that has it.
pub async fn read_queue(
    aws: &Aws,
    name: &str,
    owner: Option<&str>,
) -> anyhow::Result<Option<LiveQueue>> {
    let Some(url) = queue_url(aws, name).await? else {
        return Ok(None);
    };
    read_at(aws, &url, owner).await
}

/// The queue at `url`: its attributes, then its tags (from the tagging API's listing of
/// `owner`'s resources when it has the queue, else read).
async fn read_at(aws: &Aws, url: &str, owner: Option<&str>) -> anyhow::Result<Option<LiveQueue>> {
    let attributes = async {
        let request = aws.sqs.get_queue_attributes().queue_url(url);
        let sent = request.attribute_names(Attr::All).send().await;
        // `None`: deleted between the two reads.
        let gone = GetQueueAttributesError::is_queue_does_not_exist;
        let out = absent_on(gone, "GetQueueAttributes", sent)?;
        anyhow::Ok(out.map(|out| out.attributes.unwrap_or_default()))
    };
    let direct = || async {
        match aws.sqs.list_queue_tags().queue_url(url).send().await {
            Ok(out) => Ok(out.tags.unwrap_or_default().into_iter().collect()),
            Err(e) if answered(&e, ListQueueTagsError::is_queue_does_not_exist) => {
                Ok(BTreeMap::new())
            }
            Err(e) => Err(crate::aws::errors::error("ListQueueTags", &e)),
        }
    };
    let tags = async {
        match owner {
            // The listing is keyed by ARN, which the attributes give: wait for them.
            Some(_) => Ok(None),
            None => direct().await.map(Some),
        }
    };
    let (attributes, tags) = tokio::try_join!(attributes, tags)?;
    let Some(attributes) = attributes else {
        return Ok(None);
    };
    let tags = match tags {
        Some(tags) => tags,
        None => {
            let arn = attributes.get(&Attr::QueueArn).cloned().unwrap_or_default();
            crate::kinds::tagged::tags_or(aws, owner, &arn, direct).await?
        }
    };
    Ok(Some(live_from(url, &attributes, tags)?))
}

fn live_from(
    url: &str,
    attributes: &HashMap<Attr, String>,
    tags: BTreeMap<String, String>,
) -> anyhow::Result<LiveQueue> {
    let get = |name: Attr| attributes.get(&name).map(String::as_str);
    let number = |name: Attr| -> anyhow::Result<i64> {
        let text = get(name.clone()).unwrap_or("0");
        text.parse()
            .with_context(|| format!("SQS returned {name:?} = {text:?}, not a number"))
    };
    let encryption = match (get(Attr::KmsMasterKeyId), get(Attr::SqsManagedSseEnabled)) {
        (Some(key), _) if !key.is_empty() => format!("kms ({key})"),
        (_, Some("true")) => "sqs".to_string(),
        _ => "none".to_string(),
    };
    Ok(LiveQueue {
        state: QueueState {
            message_retention_seconds: number(Attr::MessageRetentionPeriod)?,
            visibility_timeout_seconds: number(Attr::VisibilityTimeout)?,
            encryption,
            tags,
        },
        url: url.to_string(),
        arn: returned(get(Attr::QueueArn), "GetQueueAttributes", "QueueArn")?.to_string(),
        messages: number(Attr::ApproximateNumberOfMessages)?
            + number(Attr::ApproximateNumberOfMessagesNotVisible)?
            + number(Attr::ApproximateNumberOfMessagesDelayed)?,
    })
}

/// The attributes that carry `state`'s settings, as SQS takes them.
fn sdk_attributes(state: &QueueState) -> HashMap<Attr, String> {
    HashMap::from([
        (
            Attr::MessageRetentionPeriod,
            state.message_retention_seconds.to_string(),
        ),
        (
            Attr::VisibilityTimeout,
            state.visibility_timeout_seconds.to_string(),
        ),
        (
            Attr::SqsManagedSseEnabled,
            (state.encryption == "sqs").to_string(),
        ),
    ])
}

#[async_trait]
impl Changes for Queue {
    async fn create(&self, cx: &ExecCtx<'_>, desired: &Self::State) -> Made<Self> {
        let name = &self.name;
        let request = cx
            .aws
            .sqs
            .create_queue()
            .queue_name(name)
            .set_attributes(Some(sdk_attributes(desired)))
            .set_tags(Some(desired.tags.clone().into_iter().collect()));
        cx.tracker.status("creating queue");
        // The SDK reports SQS's errors by their query-compatible codes (the
        // x-amzn-query-error header: AWS.SimpleQueueService.QueueDeletedRecently,
        // QueueAlreadyExists), which its typed variants match.
        let made = until(cx.wait("creating the queue", Sqs), || async {
            match request.clone().send().await {
                Ok(out) => Ok(Check::Done(out.queue_url)),
                // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteQueue.html:
                // "When you delete a queue, you must wait at least 60 seconds before
                // creating a queue with the same name."
                Err(e) if answered(&e, CreateQueueError::is_queue_deleted_recently) => Ok(
                    Check::Waiting("SQS keeps a deleted queue's name for 60 s".into()),
                ),
                // Created by an earlier attempt whose answer was lost (CreateQueue answers
                // with the existing queue when the attributes are the same; these differ
                // only if someone else made it).
                Err(e) if answered(&e, CreateQueueError::is_queue_name_exists) => {
                    let live = read_queue(cx.aws, name, None).await?;
                    match live {
                        Some(live) if same_owner(&desired.tags, &live.state.tags) => {
                            Ok(Check::Done(Some(live.url)))
                        }
                        _ => Err(crate::aws::errors::error("CreateQueue", &e)),
                    }
                }
                Err(e) => Err(crate::aws::errors::error("CreateQueue", &e)),
            }
        })
        .await?;
        let url = returned(made, "CreateQueue", "queue URL")?;
        read_back(cx, &url).await
    }

    async fn update(&self, cx: &ExecCtx<'_>, live: &Self::Live, to: &Self::State) -> Made<Self> {
        let before = &live.state;
        let current = sdk_attributes(before);
        let mut changed: HashMap<Attr, String> = sdk_attributes(to)
            .into_iter()
            .filter(|(k, v)| current.get(k) != Some(v))
            .collect();
        // A KMS key set out of band is taken off: the file asks for SSE-SQS or none.
        if before.encryption.starts_with("kms") {
            changed.insert(Attr::KmsMasterKeyId, String::new());
        }
        if !changed.is_empty() {
            let request = cx
                .aws
                .sqs
                .set_queue_attributes()
                .queue_url(&live.url)
                .set_attributes(Some(changed));
            let doing = "updating the attributes";
            cx.send(doing, "SetQueueAttributes", request.send()).await?;
        }
        crate::tags::sync(cx, &QueueTags(&live.url), &before.tags, &to.tags).await?;
        read_back(cx, &live.url).await
    }
}

async fn read_back(cx: &ExecCtx<'_>, url: &str) -> anyhow::Result<LiveQueue> {
    cx.tracker.status("reading the result");
    read_at(cx.aws, url, None)
        .await?
        .with_context(|| format!("queue {url} disappeared while it was being changed"))
}

pub async fn delete(cx: &ExecCtx<'_>, live: &LiveQueue) -> anyhow::Result<()> {
    cx.tracker.status("deleting queue");
    match cx.aws.sqs.delete_queue().queue_url(&live.url).send().await {
        Ok(_) => Ok(()),
        Err(e) if answered(&e, DeleteQueueError::is_queue_does_not_exist) => Ok(()),
        Err(e) => Err(crate::aws::errors::error("DeleteQueue", &e)),
    }
}

/// The messages a deletion would lose, read now (SQS's counts are approximate: they lag
/// by up to a minute).
pub async fn messages_at_risk(aws: &Aws, live: &LiveQueue) -> anyhow::Result<Option<String>> {
    let messages = match read_at(aws, &live.url, None).await? {
        Some(now) => now.messages,
        None => 0,
    };
    Ok((messages > 0).then(|| {
        format!(
            "the queue still holds about {messages} message{}, which would be lost",
            if messages == 1 { "" } else { "s" }
        )
    }))
}

crate::tag_api!(
    /// SQS's tagging API, by the queue's URL.
    QueueTags,
    |aws, url, tags| aws.sqs.tag_queue().queue_url(url).set_tags(Some(tags.clone().into_iter().collect())) => "TagQueue",
    |aws, url, keys| aws.sqs.untag_queue().queue_url(url).set_tag_keys(Some(keys.to_vec())) => "UntagQueue",
);
