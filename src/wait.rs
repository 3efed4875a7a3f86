//! Waiting for AWS to finish something (a table becoming ACTIVE, an index backfilling, a
//! deletion): poll with exponential backoff, never a fixed sleep; report each state on the
//! resource's progress line; give up after the configured timeout.

use crate::exec::ExecCtx;
use anyhow::bail;
use std::future::Future;
use std::time::{Duration, Instant};

pub enum Check<T> {
    Done(T),
    /// Not there yet; the text is the current state, shown as progress.
    Waiting(String),
}

const FIRST_DELAY: Duration = Duration::from_millis(200);
const MAX_DELAY: Duration = Duration::from_secs(10);

/// Calls `check` until it is done. The first check happens at once, so a resource that is
/// already in the wanted state costs exactly one read.
pub async fn until<T, F, Fut>(cx: &ExecCtx<'_>, what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Check<T>>>,
{
    let started = Instant::now();
    let mut delay = FIRST_DELAY;
    loop {
        match check().await? {
            Check::Done(value) => return Ok(value),
            Check::Waiting(state) => {
                crate::stats::count_wait(what);
                tracing::debug!(
                    what,
                    %state,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "still waiting"
                );
                cx.tracker.status(format!("{what} ({state})"));
                if started.elapsed() + delay > cx.wait_timeout {
                    bail!(
                        "gave up {what} after {}s (still {state}); raise --wait-timeout or check the AWS console",
                        cx.wait_timeout.as_secs()
                    );
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_DELAY);
            }
        }
    }
}
