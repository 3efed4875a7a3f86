//! `cloudwatch_alarm` against the emulator: create, no-op, each in-place change, out-of-band
//! changes, adoption, orphans and destroy; live state asserted through the SDK.

use aws_sdk_cloudwatch::types::{ComparisonOperator, MetricAlarm, Statistic};
use std::collections::HashMap;

/// An alarm on a queue of the same stack: its dimension is a reference.
const ALARM: &str = "  failures:
    type: sqs_queue
    name: failures-${env}
  given_up:
    type: cloudwatch_alarm
    name: given-up-${env}
    description: records were given up on
    namespace: AWS/SQS
    metric: ApproximateNumberOfMessagesVisible
    dimensions: { QueueName: '${failures.name}' }
    statistic: Maximum
    threshold: 0
    comparison: GreaterThanThreshold
";

struct Fixture {
    base: crate::support::Fixture,
    name: String,
}

impl std::ops::Deref for Fixture {
    type Target = crate::support::Fixture;
    fn deref(&self) -> &crate::support::Fixture {
        &self.base
    }
}

impl Fixture {
    fn new(test: &str) -> Fixture {
        Fixture {
            base: crate::support::Fixture::new(test, ALARM),
            name: "given-up-test".to_string(),
        }
    }

    fn alarm(&self, name: &str) -> Option<MetricAlarm> {
        let request = self.live.cloudwatch.describe_alarms().alarm_names(name);
        let out = self.live.block_on(request.send()).unwrap();
        out.metric_alarms.unwrap_or_default().into_iter().next()
    }

    fn tags(&self) -> HashMap<String, String> {
        let arn = self.alarm(&self.name).expect("the alarm exists").alarm_arn;
        let request = self
            .live
            .cloudwatch
            .list_tags_for_resource()
            .resource_arn(arn.unwrap());
        let out = self.live.block_on(request.send()).unwrap();
        out.tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
            .collect()
    }
}

#[test]
fn an_alarm_is_created_changed_in_place_and_left_alone() {
    let f = Fixture::new("alarm");
    let run = f.file.run(&["plan"]).expect_code(0);
    assert!(
        run.stdout
            .contains("+ cloudwatch_alarm.given_up (given-up-test) will be created"),
        "{}",
        run.stdout
    );
    f.apply();
    let alarm = f.alarm(&f.name).expect("the alarm was created");
    assert_eq!(alarm.namespace.as_deref(), Some("AWS/SQS"));
    assert_eq!(
        alarm.metric_name.as_deref(),
        Some("ApproximateNumberOfMessagesVisible")
    );
    let dimension = &alarm.dimensions.as_deref().unwrap()[0];
    assert_eq!(dimension.name.as_deref(), Some("QueueName"));
    assert_eq!(dimension.value.as_deref(), Some("failures-test"));
    assert_eq!(alarm.statistic, Some(Statistic::Maximum));
    // The defaults: one period of a minute.
    assert_eq!(alarm.period, Some(60));
    assert_eq!(alarm.evaluation_periods, Some(1));
    assert_eq!(alarm.threshold, Some(0.0));
    assert_eq!(
        alarm.comparison_operator,
        Some(ComparisonOperator::GreaterThanThreshold)
    );
    assert_eq!(
        alarm.alarm_description.as_deref(),
        Some("records were given up on")
    );
    assert_eq!(f.tags()["cruddur-infra:stack"], "alarm/test");
    assert_eq!(f.tags()["cruddur-infra:resource"], "given_up");

    f.emulator.clear_requests();
    f.apply();
    assert_eq!(f.emulator.mutating_requests(), Vec::<String>::new());
    f.assert_converged();

    // Every field of the definition changes in place, in one PutMetricAlarm; the tags on
    // their own.
    let changed = |team: &str| {
        f.edit(&[
            ("statistic: Maximum", "statistic: Average"),
            ("threshold: 0", "threshold: 2.5"),
            (
                "comparison: GreaterThanThreshold",
                &format!("comparison: GreaterThanOrEqualToThreshold\n    period: 300\n    evaluation_periods: 3\n    treat_missing_data: notBreaching\n    alarm_actions: ['arn:aws:sns:us-east-1:123456789012:alerts']\n    ok_actions: ['arn:aws:sns:us-east-1:123456789012:alerts']\n    tags: {{ team: {team} }}"),
            ),
        ])
    };
    changed("chat");
    let run = f.file.run(&["plan"]).expect_code(0);
    for field in [
        "~ statistic",
        "~ threshold",
        "~ comparison",
        "~ period",
        "~ evaluation_periods",
        "~ treat_missing_data",
        "+ alarm_actions",
        "+ ok_actions",
    ] {
        assert!(run.stdout.contains(field), "{field}: {}", run.stdout);
    }
    assert!(
        run.stdout.contains("will be updated in place"),
        "{}",
        run.stdout
    );
    f.emulator.clear_requests();
    f.apply();
    let calls = f.emulator.mutating_requests();
    assert_eq!(calls, ["PutMetricAlarm", "TagResource"], "{calls:?}");
    let alarm = f.alarm(&f.name).unwrap();
    assert_eq!(alarm.statistic, Some(Statistic::Average));
    assert_eq!(alarm.threshold, Some(2.5));
    assert_eq!(alarm.period, Some(300));
    assert_eq!(alarm.evaluation_periods, Some(3));
    assert_eq!(alarm.treat_missing_data.as_deref(), Some("notBreaching"));
    assert_eq!(
        alarm.alarm_actions.unwrap_or_default(),
        ["arn:aws:sns:us-east-1:123456789012:alerts"]
    );
    assert_eq!(
        alarm.ok_actions.unwrap_or_default(),
        ["arn:aws:sns:us-east-1:123456789012:alerts"]
    );
    assert_eq!(f.tags()["team"], "chat");
    f.assert_converged();

    // A tag alone changes without touching the definition.
    changed("infra");
    f.emulator.clear_requests();
    f.apply();
    let calls = f.emulator.mutating_requests();
    assert_eq!(calls, ["TagResource"], "{calls:?}");
    assert_eq!(f.tags()["team"], "infra");
    f.assert_converged();

    f.file.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert!(f.alarm(&f.name).is_none(), "the alarm is still there");
}

#[test]
fn a_change_made_out_of_band_is_drift_and_apply_puts_it_back() {
    let f = Fixture::new("alarm-drift");
    f.apply();
    let request = f
        .live
        .cloudwatch
        .put_metric_alarm()
        .alarm_name(&f.name)
        .namespace("AWS/SQS")
        .metric_name("ApproximateNumberOfMessagesVisible")
        .dimensions(
            aws_sdk_cloudwatch::types::Dimension::builder()
                .name("QueueName")
                .value("failures-test")
                .build(),
        )
        .statistic(Statistic::Maximum)
        .period(60)
        .evaluation_periods(1)
        .threshold(99.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold);
    f.live.block_on(request.send()).unwrap();

    let run = f.file.run(&["drift"]).expect_code(2);
    assert!(run.stdout.contains("threshold"), "{}", run.stdout);
    assert!(run.stdout.contains("99"), "{}", run.stdout);
    f.apply();
    assert_eq!(f.alarm(&f.name).unwrap().threshold, Some(0.0));
    f.file.run(&["drift"]).expect_code(0);
}

#[test]
fn a_hand_made_alarm_is_a_conflict_until_adopted() {
    let f = Fixture::new("alarm-adopt");
    let request = f
        .live
        .cloudwatch
        .put_metric_alarm()
        .alarm_name(&f.name)
        .namespace("AWS/SQS")
        .metric_name("ApproximateNumberOfMessagesVisible")
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(5)
        .threshold(10.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold);
    f.live.block_on(request.send()).unwrap();

    let run = f.file.run(&["apply", "--auto-approve"]).expect_code(1);
    assert!(run.stderr.contains("--adopt"), "{}", run.stderr);
    assert!(!f.tags().contains_key("cruddur-infra:stack"));
    assert_eq!(f.alarm(&f.name).unwrap().evaluation_periods, Some(5));

    f.file
        .run(&["apply", "--auto-approve", "--adopt"])
        .expect_code(0);
    assert_eq!(f.tags()["cruddur-infra:stack"], "alarm-adopt/test");
    let alarm = f.alarm(&f.name).unwrap();
    assert_eq!(alarm.evaluation_periods, Some(1));
    assert_eq!(alarm.statistic, Some(Statistic::Maximum));
    f.assert_converged();
}

#[test]
fn an_alarm_taken_out_of_the_file_is_deleted_as_an_orphan() {
    let f = Fixture::new("alarm-orphan");
    f.apply();
    // Renamed: the new name is created and the old alarm, still tagged as ours, goes.
    f.edit(&[("name: given-up-${env}", "name: records-given-up-${env}")]);
    let run = f.file.run(&["plan"]).expect_code(0);
    assert!(run.stdout.contains("given-up-test"), "{}", run.stdout);
    f.apply();
    assert!(
        f.alarm("given-up-test").is_none(),
        "the orphan is still there"
    );
    assert!(f.alarm("records-given-up-test").is_some());
    f.assert_converged();

    f.file.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert!(f.alarm("records-given-up-test").is_none());
    // The queue went too, and nothing else of ours is left.
    let request = f.live.sqs.get_queue_url().queue_name("failures-test");
    assert!(f.live.block_on(request.send()).is_err());
}
