//! Reading, creating, changing and deleting a topic. SNS addresses a topic by its ARN,
//! made from its name and the account; listing its subscriptions is also how a read finds
//! out whether it exists.

use super::{LiveTopic, Subscribed, Topic, TopicState};
use crate::aws::needs::Need;
use crate::aws::{Aws, absent_on, returned, sdk};
use crate::exec::ExecCtx;
use crate::kinds::kind::{Changes, Kind, Made};
use async_trait::async_trait;
use aws_sdk_sns::operation::list_subscriptions_by_topic::ListSubscriptionsByTopicError;
use aws_sdk_sns::types as sns;
use std::collections::BTreeMap;

/// The IAM actions a topic's code calls; see `crate::aws::needs`. Unsubscribe names a
/// subscription, which has no resource type: it can only be granted on `"*"` (the code
/// only ever removes its own topic's).
pub const NEEDS: &[Need] = &[
    // TagResource is also what a CreateTopic that carries tags needs.
    Need::on(
        "topic",
        "read: sns:ListSubscriptionsByTopic sns:ListTagsForResource; create: sns:CreateTopic; change: sns:TagResource sns:UntagResource sns:Subscribe; delete: sns:DeleteTopic",
    ),
    Need::anywhere("change: sns:Unsubscribe"),
];

/// What SNS lists for a subscription still waiting for its recipient.
const PENDING: &str = "PendingConfirmation";

/// The topic `name`; `None` when there is none. With `owner`, its tags come from the
/// tagging API's listing when that has it.
pub async fn read_topic(
    aws: &Aws,
    name: &str,
    owner: Option<&str>,
) -> anyhow::Result<Option<LiveTopic>> {
    let arn = Topic::ARN.of(&aws.deployment_context().await?, name);
    let Some(listed) = subscriptions(aws, &arn).await? else {
        return Ok(None);
    };
    let tags = crate::kinds::tagged::tags_or(aws, owner, &arn, || list_tags(aws, &arn)).await?;
    let mut state = TopicState {
        subscriptions: Default::default(),
        tags,
    };
    let mut confirmed = BTreeMap::new();
    for s in listed {
        let subscribed = Subscribed {
            protocol: s.protocol().unwrap_or_default().to_string(),
            endpoint: s.endpoint().unwrap_or_default().to_string(),
        };
        match s.subscription_arn() {
            Some(arn) if arn != PENDING => confirmed.insert(subscribed.clone(), arn.to_string()),
            _ => None,
        };
        state.subscriptions.insert(subscribed);
    }
    Ok(Some(LiveTopic {
        state,
        arn,
        confirmed,
    }))
}

/// The topic's subscriptions, every page; `None` when there is no topic.
async fn subscriptions(aws: &Aws, arn: &str) -> anyhow::Result<Option<Vec<sns::Subscription>>> {
    let request = aws.sns.list_subscriptions_by_topic().topic_arn(arn);
    let all = request.into_paginator().items().send().collect().await;
    let gone = ListSubscriptionsByTopicError::is_not_found_exception;
    absent_on(gone, "ListSubscriptionsByTopic", all)
}

async fn list_tags(aws: &Aws, arn: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let request = aws.sns.list_tags_for_resource().resource_arn(arn);
    let out = sdk("ListTagsForResource", request.send().await)?;
    let tags = out.tags().iter();
    Ok(tags
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect())
}

fn sdk_tags(tags: &BTreeMap<String, String>) -> anyhow::Result<Vec<sns::Tag>> {
    tags.iter()
        .map(|(k, v)| Ok(sns::Tag::builder().key(k).value(v).build()?))
        .collect()
}

crate::tag_api!(
    /// SNS's tagging API, by the topic's ARN.
    TopicTags,
    |aws, arn, tags| aws.sns.tag_resource().resource_arn(arn).set_tags(Some(sdk_tags(tags)?)) => "TagResource",
    |aws, arn, keys| aws.sns.untag_resource().resource_arn(arn).set_tag_keys(Some(keys.to_vec())) => "UntagResource",
);

#[async_trait]
impl Changes for Topic {
    /// Creates the topic, tagged as ours (CreateTopic answers with the same topic when it
    /// exists with the same tags: a retried create makes no second one), then subscribes.
    async fn create(&self, cx: &ExecCtx<'_>, desired: &Self::State) -> Made<Self> {
        let name = &self.name;
        let request = cx
            .aws
            .sns
            .create_topic()
            .name(name)
            .set_tags(Some(sdk_tags(&desired.tags)?));
        let out = cx
            .send("creating topic", "CreateTopic", request.send())
            .await?;
        let arn = returned(out.topic_arn, "CreateTopic", "topic ARN")?;
        let mut live = LiveTopic {
            state: TopicState {
                subscriptions: Default::default(),
                tags: desired.tags.clone(),
            },
            arn,
            confirmed: BTreeMap::new(),
        };
        subscribe_all(cx, &mut live, desired).await?;
        Ok(live)
    }

    /// Changes the topic in place: tags first (adopting a topic makes it ours before anything
    /// else about it changes), then subscriptions: the new ones added, the ones no longer in
    /// the file removed (one still pending confirmation cannot be: it is left to lapse).
    async fn update(&self, cx: &ExecCtx<'_>, live: &Self::Live, to: &Self::State) -> Made<Self> {
        crate::tags::sync(cx, &TopicTags(&live.arn), &live.state.tags, &to.tags).await?;
        let mut after = LiveTopic {
            state: TopicState {
                subscriptions: live.state.subscriptions.clone(),
                tags: to.tags.clone(),
            },
            arn: live.arn.clone(),
            confirmed: live.confirmed.clone(),
        };
        for gone in live.state.subscriptions.difference(&to.subscriptions) {
            let Some(arn) = live.confirmed.get(gone) else {
                continue;
            };
            let request = cx.aws.sns.unsubscribe().subscription_arn(arn);
            let doing = format!("unsubscribing {} {}", gone.protocol, gone.endpoint);
            cx.send(doing, "Unsubscribe", request.send()).await?;
            after.state.subscriptions.remove(gone);
            after.confirmed.remove(gone);
        }
        subscribe_all(cx, &mut after, to).await?;
        Ok(after)
    }
}

/// Subscribes what `desired` has and `live` does not, recording each in `live`.
async fn subscribe_all(
    cx: &ExecCtx<'_>,
    live: &mut LiveTopic,
    desired: &TopicState,
) -> anyhow::Result<()> {
    let missing: Vec<Subscribed> = desired
        .subscriptions
        .difference(&live.state.subscriptions)
        .cloned()
        .collect();
    for wanted in missing {
        let request = cx
            .aws
            .sns
            .subscribe()
            .topic_arn(&live.arn)
            .protocol(&wanted.protocol)
            .endpoint(&wanted.endpoint)
            .return_subscription_arn(true);
        let doing = format!("subscribing {} {}", wanted.protocol, wanted.endpoint);
        let out = cx.send(doing, "Subscribe", request.send()).await?;
        // With ReturnSubscriptionArn SNS gives the ARN even while confirmation is
        // pending; what is pending is read back as such by the next plan.
        if let Some(arn) = out.subscription_arn.filter(|a| a != PENDING) {
            live.confirmed.insert(wanted.clone(), arn);
        }
        live.state.subscriptions.insert(wanted);
    }
    Ok(())
}

/// Deletes the topic, and with it its subscriptions (DeleteTopic of a topic already gone
/// succeeds).
pub async fn delete(cx: &ExecCtx<'_>, arn: &str) -> anyhow::Result<()> {
    let request = cx.aws.sns.delete_topic().topic_arn(arn);
    cx.send("deleting topic", "DeleteTopic", request.send())
        .await
        .map(drop)
}
