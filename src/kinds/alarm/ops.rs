//! Reading, putting and deleting an alarm. DescribeAlarms finds it by name; its tags are a
//! second read, by its ARN (unless the tagging API listed them).

use super::{Alarm, AlarmState, LiveAlarm};
use crate::aws::needs::Need;
use crate::aws::{Aws, returned, sdk};
use crate::exec::ExecCtx;
use crate::kinds::kind::{Changes, Made};
use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_cloudwatch::types as cw;
use std::collections::BTreeMap;

/// The IAM actions an alarm's code calls; see `crate::aws::needs`.
pub const NEEDS: &[Need] = &[Need::on(
    "alarm",
    // PutMetricAlarm creates and updates alike (so it carries no tags on an update);
    // TagResource is also what a PutMetricAlarm that carries tags needs.
    "read: cloudwatch:DescribeAlarms cloudwatch:ListTagsForResource; change: cloudwatch:PutMetricAlarm cloudwatch:TagResource cloudwatch:UntagResource; delete: cloudwatch:DeleteAlarms",
)];

/// The metric alarm `name`; `None` when there is none. With `owner`, its tags come from
/// the tagging API's listing when that has it.
pub async fn read_alarm(
    aws: &Aws,
    name: &str,
    owner: Option<&str>,
) -> anyhow::Result<Option<LiveAlarm>> {
    let request = aws
        .cloudwatch
        .describe_alarms()
        .alarm_names(name)
        .alarm_types(cw::AlarmType::MetricAlarm);
    let out = sdk("DescribeAlarms", request.send().await)?;
    let Some(alarm) = out
        .metric_alarms()
        .iter()
        .find(|a| a.alarm_name() == Some(name))
    else {
        return Ok(None);
    };
    let arn = returned(alarm.alarm_arn(), "DescribeAlarms", "alarm ARN")?.to_string();
    let tags = crate::kinds::tagged::tags_or(aws, owner, &arn, || list_tags(aws, &arn)).await?;
    Ok(Some(LiveAlarm {
        state: state_from(alarm, tags),
        name: name.to_string(),
        arn,
    }))
}

fn state_from(alarm: &cw::MetricAlarm, tags: BTreeMap<String, String>) -> AlarmState {
    AlarmState {
        description: alarm.alarm_description().unwrap_or_default().to_string(),
        namespace: alarm.namespace().unwrap_or_default().to_string(),
        metric: alarm.metric_name().unwrap_or_default().to_string(),
        dimensions: alarm
            .dimensions()
            .iter()
            .map(|d| {
                (
                    d.name().unwrap_or_default().to_string(),
                    d.value().unwrap_or_default().to_string(),
                )
            })
            .collect(),
        statistic: alarm
            .statistic()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        period: alarm.period().map_or(0, i64::from),
        evaluation_periods: alarm.evaluation_periods().map_or(0, i64::from),
        threshold: alarm.threshold().unwrap_or_default(),
        comparison: alarm
            .comparison_operator()
            .map(|c| c.as_str().to_string())
            .unwrap_or_default(),
        // CloudWatch leaves it out when it is the default.
        treat_missing_data: alarm.treat_missing_data().unwrap_or("missing").to_string(),
        alarm_actions: alarm.alarm_actions().iter().cloned().collect(),
        ok_actions: alarm.ok_actions().iter().cloned().collect(),
        tags,
    }
}

async fn list_tags(aws: &Aws, arn: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let out = sdk(
        "ListTagsForResource",
        aws.cloudwatch
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await,
    )?;
    Ok(out
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect())
}

fn sdk_tags(tags: &BTreeMap<String, String>) -> Vec<cw::Tag> {
    tags.iter()
        .map(|(k, v)| cw::Tag::builder().key(k).value(v).build())
        .collect()
}

#[async_trait]
impl Changes for Alarm {
    async fn create(&self, cx: &ExecCtx<'_>, desired: &Self::State) -> Made<Self> {
        put(cx, &self.name, desired, None).await
    }

    async fn update(&self, cx: &ExecCtx<'_>, live: &Self::Live, to: &Self::State) -> Made<Self> {
        put(cx, &self.name, to, Some(live)).await
    }
}

/// Creates the alarm (`live` is `None`, and the tags go with it) or replaces its
/// definition (then the tags are changed on their own: PutMetricAlarm ignores them for an
/// alarm that exists).
async fn put(
    cx: &ExecCtx<'_>,
    name: &str,
    desired: &AlarmState,
    live: Option<&LiveAlarm>,
) -> anyhow::Result<LiveAlarm> {
    let definition_changes = live.is_none_or(|live| {
        let mut before = live.state.clone();
        before.tags = desired.tags.clone();
        before != *desired
    });
    if definition_changes {
        let dimensions = desired
            .dimensions
            .iter()
            .map(|(k, v)| cw::Dimension::builder().name(k).value(v).build())
            .collect();
        let mut request = cx
            .aws
            .cloudwatch
            .put_metric_alarm()
            .alarm_name(name)
            .namespace(&desired.namespace)
            .metric_name(&desired.metric)
            .set_dimensions(Some(dimensions))
            .statistic(cw::Statistic::from(desired.statistic.as_str()))
            .period(i32::try_from(desired.period)?)
            .evaluation_periods(i32::try_from(desired.evaluation_periods)?)
            .threshold(desired.threshold)
            .comparison_operator(cw::ComparisonOperator::from(desired.comparison.as_str()))
            .treat_missing_data(&desired.treat_missing_data)
            .set_alarm_actions(Some(desired.alarm_actions.iter().cloned().collect()))
            .set_ok_actions(Some(desired.ok_actions.iter().cloned().collect()));
        if !desired.description.is_empty() {
            request = request.alarm_description(&desired.description);
        }
        if live.is_none() {
            request = request.set_tags(Some(sdk_tags(&desired.tags)));
        }
        let doing = match live {
            None => "creating alarm",
            Some(_) => "updating alarm",
        };
        cx.send(doing, "PutMetricAlarm", request.send()).await?;
    }
    if let Some(live) = live {
        crate::tags::sync(cx, &AlarmTags(&live.arn), &live.state.tags, &desired.tags).await?;
    }
    cx.tracker.status("reading the result");
    read_alarm(cx.aws, name, None)
        .await?
        .with_context(|| format!("alarm {name} disappeared while it was being changed"))
}

pub async fn delete(cx: &ExecCtx<'_>, name: &str) -> anyhow::Result<()> {
    // Deleting an alarm that is not there succeeds.
    let request = cx.aws.cloudwatch.delete_alarms().alarm_names(name);
    cx.send("deleting alarm", "DeleteAlarms", request.send())
        .await
        .map(drop)
}

crate::tag_api!(
    /// CloudWatch's tagging API, by the alarm's ARN.
    AlarmTags,
    |aws, arn, tags| aws.cloudwatch.tag_resource().resource_arn(arn).set_tags(Some(sdk_tags(tags))) => "TagResource",
    |aws, arn, keys| aws.cloudwatch.untag_resource().resource_arn(arn).set_tag_keys(Some(keys.to_vec())) => "UntagResource",
);
