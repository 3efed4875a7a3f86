//! `--stats`: every AWS call by service and operation, the SDK's retries of them, the
//! tool's own waits (polls of a state that is not there yet, retries of an eventual-
//! consistency error), and wall time. Calls are counted by an SDK interceptor on every
//! client, so nothing escapes the count; retries are also logged at debug level (`-v`).

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Operations started (what the code asked for).
    pub calls: u64,
    /// Attempts after the first of a call: the SDK's retries.
    pub retries: u64,
}

static CALLS: Mutex<BTreeMap<(String, String), Counts>> = Mutex::new(BTreeMap::new());
static WAITS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

fn operation(cfg: &ConfigBag) -> (String, String) {
    match cfg.load::<Metadata>() {
        Some(m) => (m.service().to_string(), m.name().to_string()),
        None => ("?".into(), "?".into()),
    }
}

/// Counts calls and retries on every client it is added to.
#[derive(Debug)]
pub struct CallCounter;

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "cruddur-infra call counter"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // The operation's metadata is in the config bag by now (not yet when an execution
        // starts): the first attempt counts the call, later ones its retries.
        let attempt = cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts());
        let (service, op) = operation(cfg);
        if attempt > 1 {
            tracing::debug!(%service, operation = %op, attempt, "the SDK retries the call");
        }
        let mut calls = CALLS.lock().unwrap();
        let counts = calls.entry((service, op)).or_default();
        if attempt > 1 {
            counts.retries += 1;
        } else {
            counts.calls += 1;
        }
        Ok(())
    }
}

/// One more poll or retry of `what` by the tool itself (see `wait::until`).
pub fn count_wait(what: &str) {
    *WAITS.lock().unwrap().entry(what.to_string()).or_default() += 1;
}

pub fn calls() -> BTreeMap<(String, String), Counts> {
    CALLS.lock().unwrap().clone()
}

/// The report `--stats` prints on stderr.
pub fn report(wall: Duration) -> String {
    let calls = calls();
    let waits = WAITS.lock().unwrap().clone();
    let total: u64 = calls.values().map(|c| c.calls).sum();
    let retries: u64 = calls.values().map(|c| c.retries).sum();
    let waited: u64 = waits.values().sum();
    let mut out = format!(
        "Stats: {total} AWS calls, {retries} SDK retries, {waited} waits/retries by the tool, {:.3} s wall time\n",
        wall.as_secs_f64()
    );
    for ((service, op), c) in &calls {
        out.push_str(&format!("  {service:<28} {op:<36} {:>4}", c.calls));
        if c.retries > 0 {
            out.push_str(&format!("  ({} retried)", c.retries));
        }
        out.push('\n');
    }
    for (what, n) in &waits {
        out.push_str(&format!("  waited: {what} ({n}x)\n"));
    }
    out
}
