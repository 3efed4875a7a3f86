//! A release's canary and bake: the stack's alarms on the function, read every few
//! seconds while the new version takes traffic, with the time left on the progress line.

use crate::aws::needs::Need;
use crate::aws::sdk;
use crate::exec::ExecCtx;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The IAM actions of the watch (this file): see `crate::aws::needs`.
pub const NEEDS: &[Need] = &[Need::on("alarm", "read: cloudwatch:DescribeAlarms")];

/// How long is left, as people read it: `4m 10s`.
fn left(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        _ => format!("{}m {:02}s", s / 60, s % 60),
    }
}

/// How often a bake reads its alarms (CloudWatch evaluates them each period, a minute at
/// most often for Lambda's metrics).
const POLL: Duration = Duration::from_secs(5);

/// By name: the state and its reason.
type AlarmStates = BTreeMap<String, (String, String)>;

async fn alarm_states(aws: &crate::aws::Aws, names: &[String]) -> anyhow::Result<AlarmStates> {
    let mut states = BTreeMap::new();
    // DescribeAlarms takes at most 100 names.
    for chunk in names.chunks(100) {
        let request = aws
            .cloudwatch
            .describe_alarms()
            .set_alarm_names(Some(chunk.to_vec()));
        let out = sdk("DescribeAlarms", request.send().await)?;
        for alarm in out.metric_alarms() {
            states.insert(
                alarm.alarm_name().unwrap_or_default().to_string(),
                (
                    alarm
                        .state_value()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    alarm.state_reason().unwrap_or_default().to_string(),
                ),
            );
        }
    }
    Ok(states)
}

/// The first of `alarms` in ALARM now, with its reason.
pub(super) async fn in_alarm(
    aws: &crate::aws::Aws,
    alarms: &[String],
) -> anyhow::Result<Option<String>> {
    let now = alarm_states(aws, alarms).await?;
    Ok(now
        .into_iter()
        .find(|(_, (state, _))| state == "ALARM")
        .map(|(name, (_, reason))| format!("{name} went to ALARM ({reason})")))
}

/// Watches `alarms` for `length`, saying `what` with the time left: the alarm that went to
/// ALARM meanwhile, or `None`. (None was in ALARM when the release began: see `roll_out`.)
pub(super) async fn watch(
    cx: &ExecCtx<'_>,
    alarms: &[String],
    length: Duration,
    what: &str,
) -> anyhow::Result<Option<String>> {
    if length.is_zero() {
        return Ok(None);
    }
    if alarms.is_empty() {
        cx.tracker.status(format!(
            "{what}: no alarm of the stack is on the function, so there is nothing to watch"
        ));
        return Ok(None);
    }
    let started = Instant::now();
    loop {
        let remaining = length.saturating_sub(started.elapsed());
        cx.tracker.status(format!(
            "{what}: {} left, watching {} alarm(s)",
            left(remaining),
            alarms.len()
        ));
        if let Some(fired) = in_alarm(cx.aws, alarms).await? {
            return Ok(Some(fired));
        }
        if remaining.is_zero() {
            return Ok(None);
        }
        tokio::time::sleep(POLL.min(remaining)).await;
    }
}
