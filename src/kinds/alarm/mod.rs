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
use crate::kinds::kind::{Discovery, Identity, Kind, Live, Observation, Tags};
use crate::kinds::tagged;
use crate::spec::arn::ArnField;
use crate::spec::diag::Diags;
use crate::spec::fields::ValidateCtx;
use crate::spec::template::{Inputs, Template};
use crate::values::{Attributes, DeploymentContext};
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
    pub tags: Tags,
}

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
    const ARN_SAMPLES: &'static [(&'static str, &'static str)] = &[(
        "arn",
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:sample",
    )];
    type Raw = spec::RawAlarm;
    type State = AlarmState;
    type Live = LiveAlarm;
    type Resolved = ();

    fn validate(raw: spec::RawAlarm, cx: &ValidateCtx, diags: &mut Diags) -> Option<Alarm> {
        Alarm::validate_raw(raw, cx, diags)
    }

    fn arn_fields(&self) -> Vec<ArnField<'_>> {
        // Alarm actions are SNS topics, Auto Scaling policies, EC2 actions
        // (arn:aws:automate:... and arn:aws:swf:...), Systems Manager items and Lambda
        // functions (PutMetricAlarm's AlarmActions).
        self.alarm_actions
            .iter()
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
            .collect()
    }

    fn known_name(&self) -> Option<String> {
        Some(self.name.clone())
    }

    async fn read(&self, aws: &Aws, me: &Identity<'_>) -> anyhow::Result<Observation<Self>> {
        Ok(Observation {
            live: ops::read_alarm(aws, &self.name, Some(me.owner)).await?,
            resolved: (),
        })
    }

    async fn discover(aws: &Aws, find: &Discovery<'_>) -> anyhow::Result<Vec<LiveAlarm>> {
        let owner = find.owner;
        tagged::read_each(
            aws,
            "cloudwatch:alarm",
            owner,
            find.skip,
            name_of,
            |name| async move { ops::read_alarm(aws, &name, Some(owner)).await },
        )
        .await
    }

    fn planned_id(&self, _resolved: &()) -> String {
        self.name.clone()
    }

    fn planned_attributes(
        &self,
        _resolved: &(),
        context: Option<&DeploymentContext>,
    ) -> Attributes {
        BTreeMap::from([
            ("name", Some(self.name.clone())),
            ("arn", context.map(|c| alarm_arn(c, &self.name))),
        ])
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
            tags,
        }
    }

    fn replacement_reasons(&self, _desired: &AlarmState, _live: &LiveAlarm) -> Vec<String> {
        Vec::new()
    }

    fn needs() -> Vec<Need> {
        ops::NEEDS.to_vec()
    }

    fn arns(&self, at: &DeploymentContext) -> Vec<(&'static str, String)> {
        vec![("alarm", alarm_arn(at, &self.name))]
    }

    fn any_arns(at: &DeploymentContext) -> Vec<(&'static str, String)> {
        vec![("alarm", alarm_arn(at, "*"))]
    }

    async fn create(&self, cx: &ExecCtx<'_>, desired: &AlarmState) -> anyhow::Result<LiveAlarm> {
        ops::put(cx, &self.name, desired, None).await
    }

    async fn update(
        &self,
        cx: &ExecCtx<'_>,
        live: &LiveAlarm,
        desired: &AlarmState,
    ) -> anyhow::Result<LiveAlarm> {
        ops::put(cx, &self.name, desired, Some(live)).await
    }

    #[cfg(test)]
    fn applied(&self, desired: AlarmState, _resolved: &()) -> LiveAlarm {
        LiveAlarm {
            state: desired,
            name: self.name.clone(),
            arn: format!(
                "arn:aws:cloudwatch:us-east-1:123456789012:alarm:{}",
                self.name
            ),
        }
    }

    #[cfg(test)]
    fn resolved_for_tests(&self) {}
}

/// The alarm's name from its ARN (`arn:aws:cloudwatch:<region>:<account>:alarm:<name>`;
/// a name may hold `:` itself).
fn name_of(arn: &str) -> String {
    arn.splitn(7, ':').nth(6).unwrap_or_default().to_string()
}

#[async_trait]
impl Live for LiveAlarm {
    fn kind(&self) -> &'static str {
        Alarm::TYPE
    }

    fn physical_id(&self) -> String {
        self.name.clone()
    }

    fn tags(&self) -> &Tags {
        &self.state.tags
    }

    fn attributes(&self) -> Attributes {
        BTreeMap::from([
            ("name", Some(self.name.clone())),
            ("arn", Some(self.arn.clone())),
        ])
    }

    fn state_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).unwrap_or_default()
    }

    /// Before what it watches, so it never alarms on a resource being torn down.
    fn delete_order(&self) -> u8 {
        5
    }

    async fn delete(&self, cx: &ExecCtx<'_>) -> anyhow::Result<()> {
        ops::delete(cx, &self.name).await
    }

    #[cfg(test)]
    fn tags_mut(&mut self) -> &mut Tags {
        &mut self.state.tags
    }
}

/// The ARN of alarm `name` (`*`: every alarm).
fn alarm_arn(at: &DeploymentContext, name: &str) -> String {
    at.arn("cloudwatch", true, &format!("alarm:{name}"))
}
