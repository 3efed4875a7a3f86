//! Waiting for AWS, one way for every wait: a resource's state (a table becoming ACTIVE, a
//! function leaving Pending), a call AWS refuses only for now (an UpdateTable while the
//! table is UPDATING, a CreateFunction while the new role propagates), the deploy lock.
//!
//! A wait is declared like the SDK's waiters (smithy.io/2.0/additional-specs/waiters.html):
//! its check says what means done ([`Check::Done`]), which documented answers mean "not yet"
//! ([`Check::Waiting`], with the state and the reason, as progress shows them), and every
//! other answer is an error, returned at once: a wait never waits on an error (an access
//! denial is said in its usual one line, naming the action).
//!
//! Looks are paced to end close to the state's real end: the pause before the next look is
//! a tenth of the time waited so far, so the state is seen over at most 10% after it ended
//! (or [`SHORTEST`] after it, for short states), never less often than AWS's own waiters
//! look for that service ([`Service::longest_pause`]). A doubling backoff would overshoot by
//! up to half of the time waited.

use crate::progress::Tracker;
use std::future::Future;
use std::time::Duration;
// Tokio's clock, which tests can pause and advance.
use tokio::time::Instant;

pub enum Check<T> {
    Done(T),
    /// Not there yet; the text is the current state and why, shown as progress.
    Waiting(String),
}

/// The shortest pause between two looks.
pub const SHORTEST: Duration = Duration::from_millis(200);

/// How long the tool waits for a change in IAM to reach another service (a new role to
/// become usable by Lambda) before it takes the refusal as final: AWS gives no figure
/// (IAM is "eventually consistent"); Terraform's AWS provider waits two minutes (its
/// `propagationTimeout`). A role that does not exist, or does not trust the service, is
/// refused the same way, for ever.
pub const PROPAGATION: Duration = Duration::from_secs(120);

/// Tells a refusal that lasts while IAM propagates a change from one that is final: `Ok`
/// while it has lasted less than [`PROPAGATION`] since it was first met (`first`, kept by
/// the caller across looks), else the refusal, as an error.
pub fn propagating(
    first: &std::sync::Mutex<Option<Instant>>,
    refusal: impl FnOnce() -> anyhow::Error,
) -> anyhow::Result<()> {
    let mut first = first.lock().unwrap_or_else(|e| e.into_inner());
    let since = *first.get_or_insert_with(Instant::now);
    match since.elapsed() < PROPAGATION {
        true => Ok(()),
        false => Err(refusal().context(format!(
            "still refused {}s later; IAM propagates a change in seconds, so it is not coming",
            PROPAGATION.as_secs()
        ))),
    }
}

/// The service a wait asks, for its pace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    DynamoDb,
    Lambda,
    Ec2,
    Iam,
    Sqs,
}

impl Service {
    /// The longest pause between two looks: the delay of AWS's own waiters for the service
    /// (botocore's waiters-2.json: DynamoDB's TableExists 20 s, Lambda's FunctionActiveV2
    /// and FunctionUpdatedV2 1 s, EC2's 15 s, IAM's RoleExists 1 s). SQS has no waiter;
    /// what it is waited for (a deleted queue's name) lasts 60 s.
    pub fn longest_pause(self) -> Duration {
        Duration::from_secs(match self {
            Service::DynamoDb => 20,
            Service::Lambda | Service::Iam => 1,
            Service::Ec2 => 15,
            Service::Sqs => 5,
        })
    }
}

/// The pause before the next look, when `waited` has passed since the first.
pub fn pause(waited: Duration, service: Service) -> Duration {
    (waited / 10).clamp(SHORTEST, service.longest_pause())
}

/// One wait: what it waits for, where it is shown, and for how long at most.
pub struct Wait<'a> {
    /// What is being waited for, as progress and errors say it ("waiting for the table to
    /// become ACTIVE").
    pub doing: &'a str,
    pub service: Service,
    /// Longest wait: `--wait-timeout` (`--lock-timeout` for the lock).
    pub timeout: Duration,
    /// Where each state is shown, if anywhere.
    pub tracker: Option<&'a Tracker>,
}

/// A wait that ran out of time: what it waited for, how long, and the state it was still in.
#[derive(Debug, thiserror::Error)]
#[error(
    "gave up {doing} after {}s (still {state}); raise --wait-timeout or check the AWS console",
    waited.as_secs()
)]
pub struct GaveUp {
    pub doing: String,
    pub waited: Duration,
    pub state: String,
}

/// Calls `check` until it is done or fails. The first check happens at once, so a resource
/// that is already in the wanted state costs exactly one call.
pub async fn until<T, F, Fut>(wait: Wait<'_>, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Check<T>>>,
{
    let started = Instant::now();
    loop {
        let state = match check().await? {
            Check::Done(value) => return Ok(value),
            Check::Waiting(state) => state,
        };
        let waited = started.elapsed();
        crate::stats::count_wait(wait.doing);
        tracing::debug!(
            doing = wait.doing,
            %state,
            waited_ms = waited.as_millis() as u64,
            "not yet"
        );
        if let Some(tracker) = wait.tracker {
            tracker.status(format!("{} ({state})", wait.doing));
        }
        let pause = pause(waited, wait.service);
        if waited + pause > wait.timeout {
            return Err(GaveUp {
                doing: wait.doing.to_string(),
                waited,
                state,
            }
            .into());
        }
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Waits for a state that ends `lasts` after the wait began; returns when the wait saw
    /// it over, and how many looks it took.
    async fn seen_over(lasts: Duration, service: Service) -> (Duration, u32) {
        let started = tokio::time::Instant::now();
        let looks = AtomicU32::new(0);
        let wait = Wait {
            doing: "waiting",
            service,
            timeout: Duration::from_secs(3600),
            tracker: None,
        };
        until(wait, || async {
            looks.fetch_add(1, Ordering::Relaxed);
            Ok(match started.elapsed() >= lasts {
                true => Check::Done(()),
                false => Check::Waiting("CREATING".into()),
            })
        })
        .await
        .unwrap();
        (started.elapsed(), looks.load(Ordering::Relaxed))
    }

    #[tokio::test(start_paused = true)]
    async fn a_state_is_seen_over_within_a_tenth_of_its_length_or_the_shortest_pause() {
        for service in [Service::DynamoDb, Service::Lambda, Service::Ec2] {
            for seconds in [0.3, 1.0, 3.0, 8.0, 60.0, 600.0] {
                let lasts = Duration::from_secs_f64(seconds);
                let (seen, looks) = seen_over(lasts, service).await;
                let late = seen - lasts;
                let allowed = (lasts / 10).max(SHORTEST);
                assert!(
                    late <= allowed,
                    "{service:?}: a state of {seconds} s was seen over {late:?} late (allowed {allowed:?})"
                );
                // Looks grow with the logarithm of the length, up to the service's own
                // waiters' pace.
                let paced = (lasts.as_secs_f64() / service.longest_pause().as_secs_f64()) as u32;
                assert!(
                    looks <= 60 + paced,
                    "{service:?}, {seconds} s: {looks} looks"
                );
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_lasting_longer_than_iam_takes_to_propagate_is_final() {
        let first = std::sync::Mutex::new(None);
        let refusal = || anyhow::anyhow!("The role defined for the function cannot be assumed");
        assert!(propagating(&first, refusal).is_ok());
        tokio::time::advance(PROPAGATION - Duration::from_secs(1)).await;
        assert!(propagating(&first, refusal).is_ok());
        tokio::time::advance(Duration::from_secs(2)).await;
        let e = propagating(&first, refusal).unwrap_err();
        assert!(
            format!("{e:#}").contains("still refused 120s later"),
            "{e:#}"
        );
        assert!(format!("{e:#}").contains("cannot be assumed"), "{e:#}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_state_already_reached_costs_one_look() {
        assert_eq!(seen_over(Duration::ZERO, Service::DynamoDb).await.1, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_error_ends_the_wait_at_once_and_a_timeout_names_the_state() {
        let looks = AtomicU32::new(0);
        let wait = || Wait {
            doing: "waiting for the table",
            service: Service::DynamoDb,
            timeout: Duration::from_secs(5),
            tracker: None,
        };
        let failed = until(wait(), || async {
            looks.fetch_add(1, Ordering::Relaxed);
            anyhow::Ok(match looks.load(Ordering::Relaxed) {
                1 => Check::<()>::Waiting("UPDATING".into()),
                _ => anyhow::bail!("AWS denied dynamodb:DescribeTable"),
            })
        })
        .await
        .unwrap_err();
        assert_eq!(looks.load(Ordering::Relaxed), 2);
        assert_eq!(failed.to_string(), "AWS denied dynamodb:DescribeTable");
        let gave_up = until(wait(), || async {
            anyhow::Ok(Check::<()>::Waiting("UPDATING".into()))
        })
        .await
        .unwrap_err();
        let gave_up = gave_up.downcast::<GaveUp>().unwrap();
        assert_eq!(gave_up.state, "UPDATING");
        assert!(gave_up.waited <= Duration::from_secs(5));
    }
}
