//! `cloudwatch_alarm`: a CloudWatch metric alarm on one metric (namespace, name,
//! dimensions), with its statistic, period, threshold, comparison, what missing data counts
//! as, the actions it notifies, and tags. PutMetricAlarm replaces an alarm's whole
//! definition, so every change is in place; tags are changed through the tagging calls
//! (PutMetricAlarm sets them only when it creates the alarm).

mod ops;
mod spec;

pub use spec::Alarm;

use crate::aws::Aws;
use crate::aws::needs::Need;
use crate::exec::ExecCtx;
use crate::kinds::kind::{Kind, Live, Needs, Tags};
use crate::spec::arn::ArnField;
use crate::spec::template::{Inputs, Template};
use crate::values::ArnFormat;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// How a period's data points are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Statistic {
    SampleCount,
    Average,
    Sum,
    Minimum,
    Maximum,
}

/// How the statistic is compared with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Comparison {
    GreaterThanThreshold,
    GreaterThanOrEqualToThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

/// What a period without data counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum MissingData {
    /// Counts as exceeding the threshold.
    #[serde(rename = "breaching")]
    Breaching,
    /// Counts as within the threshold.
    #[serde(rename = "notBreaching")]
    NotBreaching,
    /// Keeps the alarm in its current state.
    #[serde(rename = "ignore")]
    Ignore,
    /// The alarm looks further back for data, and goes to INSUFFICIENT_DATA without any.
    #[serde(rename = "missing")]
    Missing,
}

impl MissingData {
    fn name(self) -> &'static str {
        match self {
            MissingData::Breaching => "breaching",
            MissingData::NotBreaching => "notBreaching",
            MissingData::Ignore => "ignore",
            MissingData::Missing => "missing",
        }
    }
}

/// The comparable form of an alarm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmState {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub namespace: String,
    pub metric: String,
    pub dimensions: BTreeMap<String, String>,
    pub statistic: String,
    pub period: i64,
    pub evaluation_periods: i64,
    pub threshold: f64,
    pub comparison: String,
    pub treat_missing_data: String,
    pub alarm_actions: BTreeSet<String>,
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub ok_actions: BTreeSet<String>,
    pub tags: Tags,
}

crate::live_of!(LiveAlarm, Alarm, arn);

#[derive(Debug)]
pub struct LiveAlarm {
    pub state: AlarmState,
    pub name: String,
    pub arn: String,
}

#[async_trait]
impl Kind for Alarm {
    const TYPE: &'static str = "cloudwatch_alarm";
    const ATTRIBUTES: &'static [&'static str] = &["name", "arn"];
    const ARN: ArnFormat = ArnFormat::regional("cloudwatch", "alarm", "alarm:");
    const NEEDS: &'static [&'static [Need]] = &[ops::NEEDS];
    const LISTED_BY_TAG: bool = true;
    /// What it watches and whom it tells: it goes first, so it never alarms on a resource
    /// being torn down.
    const USES: &'static [&'static str] = &[
        "lambda_function",
        "dynamodb_table",
        "sqs_queue",
        "sns_topic",
    ];
    type Raw = spec::RawAlarm;
    type State = AlarmState;
    type Live = LiveAlarm;
    type Resolved = ();

    fn arn_fields(&self) -> Vec<ArnField<'_>> {
        // Alarm actions are SNS topics, Auto Scaling policies, EC2 actions
        // (arn:aws:automate:... and arn:aws:swf:...), Systems Manager items and Lambda
        // functions (PutMetricAlarm's AlarmActions).
        self.alarm_actions
            .iter()
            .chain(&self.ok_actions)
            .map(|template| ArnField {
                template,
                accepts: &[
                    ("sns", "topic"),
                    ("lambda", "function"),
                    ("autoscaling", "scalingPolicy"),
                    ("automate", "action"),
                    ("ssm", "opsitem"),
                    ("ssm-incidents", "response-plan"),
                    ("swf", "action"),
                ],
                hint: "an SNS topic's ARN (arn:aws:sns:<region>:<account>:<topic>) or another action CloudWatch takes",
            })
            .collect()
    }

    fn templates(&self) -> Vec<&Template> {
        self.dimensions
            .values()
            .chain(&self.alarm_actions)
            .chain(&self.ok_actions)
            .collect()
    }

    /// A metric's dimensions are only values (a function's name); what the alarm notifies
    /// must exist.
    fn needs(&self, template: &Template) -> Needs {
        match self.dimensions.values().any(|d| std::ptr::eq(d, template)) {
            true => Needs::Values,
            false => Needs::Made,
        }
    }

    fn known_name(&self) -> Option<String> {
        Some(self.name.clone())
    }

    async fn read_named(aws: &Aws, name: &str, owner: &str) -> anyhow::Result<Option<LiveAlarm>> {
        ops::read_alarm(aws, name, Some(owner)).await
    }

    fn desired(&self, _resolved: &(), inputs: &Inputs, tags: Tags) -> AlarmState {
        AlarmState {
            description: self.description.clone(),
            namespace: self.namespace.clone(),
            metric: self.metric.clone(),
            dimensions: self
                .dimensions
                .iter()
                .map(|(k, v)| (k.clone(), inputs.render(v)))
                .collect(),
            statistic: format!("{:?}", self.statistic),
            period: self.period,
            evaluation_periods: self.evaluation_periods,
            threshold: self.threshold,
            comparison: format!("{:?}", self.comparison),
            treat_missing_data: self.treat_missing_data.name().to_string(),
            alarm_actions: self
                .alarm_actions
                .iter()
                .map(|a| inputs.render(a))
                .collect(),
            ok_actions: self.ok_actions.iter().map(|a| inputs.render(a)).collect(),
            tags,
        }
    }

    #[cfg(test)]
    fn applied(&self, desired: AlarmState, _resolved: &()) -> LiveAlarm {
        LiveAlarm {
            state: desired,
            name: self.name.clone(),
            arn: Self::ARN.of(&crate::values::DeploymentContext::example(), &self.name),
        }
    }
}

#[async_trait]
impl Live for LiveAlarm {
    async fn delete(&self, cx: &ExecCtx<'_>) -> anyhow::Result<()> {
        ops::delete(cx, &self.name).await
    }
}
