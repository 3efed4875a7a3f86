//! `--stats`: every AWS call by service and operation, the SDK's retries of them, the
//! tool's own waits (polls of a state that is not there yet, retries of an eventual-
//! consistency error), wall time, and the critical path of a change: the longest chain of
//! steps that waited for each other (see [`critical_path`]). Calls are counted by an SDK
//! interceptor on every client, so nothing escapes the count; retries are also logged at
//! debug level (`-v`).

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Operations started (what the code asked for).
    pub calls: u64,
    /// Attempts after the first of a call: the SDK's retries.
    pub retries: u64,
}

static CALLS: Mutex<BTreeMap<(String, String), Counts>> = Mutex::new(BTreeMap::new());
static WAITS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());
static STEPS: Mutex<Vec<Step>> = Mutex::new(Vec::new());

/// One step of a change (making the plan, a build, one resource) and the steps it had to
/// wait for.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub after: Vec<String>,
    pub start: Instant,
    pub end: Instant,
}

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

/// Step `name` ran from `start` to `end`, once the steps `after` were done.
pub fn step(name: &str, after: &[String], start: Instant, end: Instant) {
    STEPS.lock().unwrap().push(Step {
        name: name.to_string(),
        after: after.to_vec(),
        start,
        end,
    });
}

/// The longest chain of steps each of which waited for the one before, with each step's
/// own time: from when it could go on (its start, or the end of the last step it waited
/// for, if later: a function that waited for its build) to its end. A change can take no
/// less than the sum; wall time beyond it is time nothing on the chain was working.
pub fn critical_path(steps: &[Step]) -> Vec<(String, Duration)> {
    let by_name: BTreeMap<&str, &Step> = steps.iter().map(|s| (s.name.as_str(), s)).collect();
    let before = |s: &Step| -> Vec<&Step> {
        s.after
            .iter()
            .filter_map(|a| by_name.get(a.as_str()).copied())
            .collect()
    };
    let own = |s: &Step| {
        let ready = before(s).iter().map(|b| b.end).fold(s.start, Instant::max);
        s.end.saturating_duration_since(ready)
    };
    // Longest chain ending at each step, in order of end: a step ends after those it waited for.
    let mut order: Vec<&Step> = by_name.values().copied().collect();
    order.sort_by_key(|s| s.end);
    let mut longest: BTreeMap<&str, (Duration, Option<&str>)> = BTreeMap::new();
    for s in &order {
        let best = before(s)
            .into_iter()
            .filter_map(|b| Some((longest.get(b.name.as_str())?.0, b.name.as_str())))
            .max();
        let total = own(s) + best.map_or(Duration::ZERO, |(d, _)| d);
        longest.insert(&s.name, (total, best.map(|(_, name)| name)));
    }
    let Some(mut at) = longest
        .iter()
        .max_by_key(|(_, (total, _))| *total)
        .map(|(name, _)| *name)
    else {
        return Vec::new();
    };
    let mut chain = Vec::new();
    loop {
        chain.push((at.to_string(), own(by_name[at])));
        match longest[at].1 {
            Some(previous) => at = previous,
            None => break,
        }
    }
    chain.reverse();
    chain
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
    let path = critical_path(&STEPS.lock().unwrap());
    if path.len() > 1 {
        let total: Duration = path.iter().map(|(_, d)| *d).sum();
        let chain: Vec<String> = path
            .iter()
            .map(|(name, d)| format!("{name} {:.3} s", d.as_secs_f64()))
            .collect();
        out.push_str(&format!(
            "Critical path: {:.3} s, wall time {:.2}x of it: {}\n",
            total.as_secs_f64(),
            wall.as_secs_f64() / total.as_secs_f64().max(f64::EPSILON),
            chain.join(" → ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: Instant, ms: u64) -> Instant {
        base + Duration::from_millis(ms)
    }

    fn steps(base: Instant, list: &[(&str, &[&str], u64, u64)]) -> Vec<Step> {
        list.iter()
            .map(|(name, after, start, end)| Step {
                name: name.to_string(),
                after: after.iter().map(|a| a.to_string()).collect(),
                start: at(base, *start),
                end: at(base, *end),
            })
            .collect()
    }

    fn names(path: &[(String, Duration)]) -> Vec<(&str, u64)> {
        path.iter()
            .map(|(n, d)| (n.as_str(), d.as_millis() as u64))
            .collect()
    }

    #[test]
    fn the_longest_chain_of_waits_counts_each_step_from_when_it_could_go_on() {
        let base = Instant::now();
        // The build runs beside the table and the role; the function starts when the role
        // is done but waits for the build; the trigger needs the function and the table.
        let list = steps(
            base,
            &[
                ("plan", &[], 0, 100),
                ("build lambda", &["plan"], 100, 900),
                ("table", &["plan"], 100, 400),
                ("role", &["plan"], 100, 300),
                ("function", &["role", "build lambda"], 300, 1200),
                ("trigger", &["function", "table"], 1200, 1300),
            ],
        );
        assert_eq!(
            names(&critical_path(&list)),
            [
                ("plan", 100),
                ("build lambda", 800),
                ("function", 300),
                ("trigger", 100)
            ]
        );
    }

    #[test]
    fn without_the_build_the_chain_goes_through_what_the_function_waited_for() {
        let base = Instant::now();
        let list = steps(
            base,
            &[
                ("plan", &[], 0, 100),
                ("table", &["plan"], 100, 400),
                ("role", &["plan"], 100, 300),
                // Started late (a gap nobody worked in): counted from its own start.
                ("function", &["role"], 350, 600),
                ("orphan", &["function", "unknown step"], 600, 650),
            ],
        );
        assert_eq!(
            names(&critical_path(&list)),
            [
                ("plan", 100),
                ("role", 200),
                ("function", 250),
                ("orphan", 50)
            ]
        );
        assert!(critical_path(&[]).is_empty());
    }
}
