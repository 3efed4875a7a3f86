//! A `cloudwatch_alarm` as written in the stack file, and its validation against
//! CloudWatch's limits (the PutMetricAlarm API reference).

use super::{Comparison, MissingData, Statistic};
use crate::kinds::kind::Validate;
use crate::spec::diag::{Diagnostic, Diags};
use crate::spec::fields::{IntRule, NameRules, ValidateCtx, physical_name, template_field};
use crate::spec::raw::{Spanned, SpannedMap, raw_resource};
use crate::spec::template::Template;
use std::collections::BTreeMap;

raw_resource! {
    /// A `cloudwatch_alarm` (a metric alarm) as written in the stack file.
    #[schemars(rename = "CloudwatchAlarm")]
    pub struct RawAlarm {
        /// The alarm's name (1-255 characters). Required.
        #[schemars(length(min = 1, max = 255))]
        name: Spanned<String>,
        /// What the alarm means and what to do (up to 1024 characters).
        #[schemars(length(max = 1024))]
        description: Spanned<String>,
        /// The metric's namespace, e.g. `AWS/Lambda`. Required.
        #[schemars(length(min = 1, max = 255))]
        namespace: Spanned<String>,
        /// The metric's name, e.g. `Errors`. Required.
        #[schemars(length(min = 1, max = 255))]
        metric: Spanned<String>,
        /// The metric's dimensions (up to 30), e.g. `FunctionName: ${processor.name}`.
        dimensions: SpannedMap<Spanned<String>>,
        /// How the data points of a period are combined (default `Sum`).
        statistic: Spanned<Statistic>,
        /// Length of a period in seconds: 10, 20, 30 or a multiple of 60 (default 60).
        #[schemars(range(min = 10, max = 604800))]
        period: Spanned<i64>,
        /// How many periods are evaluated (default 1); with `period`, at most one day
        /// (seven days for periods of an hour or more).
        #[schemars(range(min = 1))]
        evaluation_periods: Spanned<i64>,
        /// The value the statistic is compared with. Required.
        threshold: Spanned<f64>,
        /// How the statistic is compared with the threshold. Required.
        comparison: Spanned<Comparison>,
        /// What a period without data counts as (default `missing`).
        treat_missing_data: Spanned<MissingData>,
        /// ARNs to notify when the alarm fires (up to 5): SNS topics and the like, or
        /// references.
        #[schemars(length(max = 5))]
        alarm_actions: Spanned<Vec<Spanned<String>>>,
        /// ARNs to notify when the alarm returns to OK (up to 5), as `alarm_actions`.
        #[schemars(length(max = 5))]
        ok_actions: Spanned<Vec<Spanned<String>>>,
    }
}

/// A validated `cloudwatch_alarm`.
#[derive(Debug)]
pub struct Alarm {
    pub name: String,
    pub description: String,
    pub namespace: String,
    pub metric: String,
    pub dimensions: BTreeMap<String, Template>,
    pub statistic: Statistic,
    pub period: i64,
    pub evaluation_periods: i64,
    pub threshold: f64,
    pub comparison: Comparison,
    pub treat_missing_data: MissingData,
    pub alarm_actions: Vec<Template>,
    pub ok_actions: Vec<Template>,
}

const ALARM_NAMES: NameRules =
    NameRules::printable("alarm", 1..=255).example("cruddur-processor-errors-${env}");

/// CloudWatch's limits.
const PERIOD: IntRule = IntRule::other(
    |p| matches!(p, 10 | 20 | 30) || (p >= 60 && p % 60 == 0),
    "10, 20, 30 or a multiple of 60",
    60,
    "seconds; periods under a minute need high-resolution metrics",
);
const EVALUATION_PERIODS: IntRule = IntRule::other(
    |n| n >= 1,
    "at least 1",
    1,
    "how many periods in a row the alarm looks at",
);
const MAX_DIMENSIONS: usize = 30;
const MAX_ACTIONS: usize = 5;
const ONE_DAY: i64 = 86_400;
const SEVEN_DAYS: i64 = 7 * ONE_DAY;

impl Validate<Alarm> for RawAlarm {
    fn validate(self, cx: &ValidateCtx, diags: &mut Diags) -> Option<Alarm> {
        let raw = self;
        let start = diags.mark();
        let name = physical_name(raw.name(), &ALARM_NAMES, cx, diags);
        let text = |value: Option<&Spanned<String>>,
                    field: &str,
                    min: usize,
                    max: usize,
                    diags: &mut Diags| {
            let v = value?;
            let length = v.value.chars().count();
            if length < min || length > max {
                diags.push(
                    Diagnostic::new(
                        &v.referenced,
                        cx.field(field),
                        format!("`{field}` must be {min}-{max} characters long (it is {length})"),
                    )
                    .hint("CloudWatch's limit for this field"),
                );
            }
            Some(v.value.clone())
        };
        let required = |value: Option<String>, field: &str, hint: &str, diags: &mut Diags| {
            if value.is_none() {
                diags.push(
                    Diagnostic::new(&cx.loc, cx.field(field), format!("missing field `{field}`"))
                        .hint(hint),
                );
            }
            value
        };
        let description =
            text(raw.description(), "description", 0, 1024, diags).unwrap_or_default();
        let namespace = text(raw.namespace(), "namespace", 1, 255, diags);
        let namespace = required(
            namespace,
            "namespace",
            "the metric's namespace, e.g. `AWS/Lambda`",
            diags,
        );
        if let (Some(ns), Some(raw_ns)) = (&namespace, raw.namespace())
            && ns.starts_with(':')
        {
            diags.error(
                &raw_ns.referenced,
                cx.field("namespace"),
                "a namespace cannot start with `:`",
            );
        }
        let metric = text(raw.metric(), "metric", 1, 255, diags);
        let metric = required(metric, "metric", "the metric's name, e.g. `Errors`", diags);

        let mut dimensions = BTreeMap::new();
        if let Some(map) = raw.dimensions() {
            if map.0.len() > MAX_DIMENSIONS {
                diags.push(
                    Diagnostic::new(
                        &cx.loc,
                        cx.field("dimensions"),
                        format!(
                            "{} dimensions; a metric has at most {MAX_DIMENSIONS}",
                            map.0.len()
                        ),
                    )
                    .hint("CloudWatch's limit"),
                );
            }
            for (key, value) in map.iter() {
                let field = cx.field(&format!("dimensions.{}", key.value));
                if !(1..=255).contains(&key.value.chars().count()) {
                    diags.error(
                        &key.referenced,
                        &field,
                        "a dimension's name is 1-255 characters",
                    );
                }
                if !(1..=1024).contains(&value.value.chars().count()) {
                    diags.error(
                        &value.referenced,
                        &field,
                        "a dimension's value is 1-1024 characters",
                    );
                }
                if let Some(t) = template_field(value, cx, field, diags) {
                    dimensions.insert(key.value.clone(), t);
                }
            }
        }

        let period = PERIOD.read(raw.period(), cx.field("period"), diags);
        let evaluation_periods = EVALUATION_PERIODS.read(
            raw.evaluation_periods(),
            cx.field("evaluation_periods"),
            diags,
        );
        let longest = if period >= 3600 { SEVEN_DAYS } else { ONE_DAY };
        let written = raw
            .evaluation_periods()
            .map(|n| (n.referenced, "evaluation_periods"))
            .or(raw.period().map(|p| (p.referenced, "period")));
        if let Some((at, field)) = written
            && period * evaluation_periods > longest
        {
            diags.push(
                Diagnostic::new(
                    &at,
                    cx.field(field),
                    format!(
                        "{evaluation_periods} periods of {period} s is {} s; an alarm evaluates at most {longest} s",
                        period * evaluation_periods
                    ),
                )
                .hint("one day for periods under an hour, seven days otherwise (CloudWatch's limit)"),
            );
        }
        let threshold = match raw.threshold() {
            Some(t) if !t.value.is_finite() => {
                diags.error(
                    &t.referenced,
                    cx.field("threshold"),
                    "the threshold must be a finite number",
                );
                None
            }
            Some(t) => Some(t.value),
            None => {
                diags.push(
                    Diagnostic::new(&cx.loc, cx.field("threshold"), "missing field `threshold`")
                        .hint("the value the statistic is compared with, e.g. `threshold: 0`"),
                );
                None
            }
        };
        let comparison = raw.comparison().map(|c| c.value);
        if comparison.is_none() {
            diags.push(
                Diagnostic::new(
                    &cx.loc,
                    cx.field("comparison"),
                    "missing field `comparison`",
                )
                .hint("e.g. `comparison: GreaterThanThreshold`"),
            );
        }

        let alarm_actions = actions(raw.alarm_actions(), "alarm_actions", cx, diags);
        let ok_actions = actions(raw.ok_actions(), "ok_actions", cx, diags);

        diags.clean_since(start)?;
        Some(Alarm {
            name: name?,
            description,
            namespace: namespace?,
            metric: metric?,
            dimensions,
            statistic: raw.statistic().map_or(Statistic::Sum, |s| s.value),
            period,
            evaluation_periods,
            threshold: threshold?,
            comparison: comparison?,
            treat_missing_data: raw
                .treat_missing_data()
                .map_or(MissingData::Missing, |m| m.value),
            alarm_actions,
            ok_actions,
        })
    }
}

/// A list of actions (`alarm_actions`, `ok_actions`): at most five ARNs, or references.
fn actions(
    list: Option<&Spanned<Vec<Spanned<String>>>>,
    name: &str,
    cx: &ValidateCtx,
    diags: &mut Diags,
) -> Vec<Template> {
    let Some(list) = list else {
        return Vec::new();
    };
    if list.value.len() > MAX_ACTIONS {
        diags.push(
            Diagnostic::new(
                &list.referenced,
                cx.field(name),
                format!(
                    "{} actions; an alarm has at most {MAX_ACTIONS}",
                    list.value.len()
                ),
            )
            .hint("CloudWatch's limit"),
        );
    }
    let mut actions = Vec::new();
    for (i, action) in list.value.iter().enumerate() {
        let field = cx.field(&format!("{name}[{i}]"));
        if action.value.chars().count() > 1024 {
            diags.error(
                &action.referenced,
                &field,
                "an action's ARN is at most 1024 characters",
            );
            continue;
        }
        let Some(t) = template_field(action, cx, field.clone(), diags) else {
            continue;
        };
        if let Some(literal) = t.literal()
            && !literal.starts_with("arn:")
        {
            diags.push(
                Diagnostic::new(&action.referenced, field, format!("`{literal}` is not an ARN"))
                    .hint("an SNS topic's ARN (arn:aws:sns:<region>:<account>:<topic>), or a reference such as ${alerts.arn}"),
            );
            continue;
        }
        actions.push(t);
    }
    actions
}
