//! What the commands share: loading the stack, connecting, colours, the deploy lock around
//! a change, and carrying out a plan with its summary.

use crate::aws::errors::{Access, access_of};
use crate::aws::{Aws, AwsFlags};
use crate::cli::Global;
use crate::engine::{self, Observed};
use crate::exec::{Replayer, RunOptions};
use crate::kinds::{self, Stack};
use crate::lock;
use crate::plan::{Action, Operation, Plan};
use crate::progress::{Display, Event, Progress};
use crate::render::Styles;
use anyhow::{Context, bail};
use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

/// Exit code for "there are changes" (plan --detailed-exitcode) and drift.
pub const EXIT_CHANGES: u8 = 2;

/// The resources `names` given to `flag` (`--replace`, `--target`), refused before any
/// request when the stack file does not declare one.
pub fn chosen(stack: &Stack, flag: &str, names: &[String]) -> anyhow::Result<BTreeSet<String>> {
    let declared: Vec<&str> = stack.nodes.iter().map(|n| n.name()).collect();
    if let Some(unknown) = names.iter().find(|n| !declared.contains(&n.as_str())) {
        let hint = crate::spec::diag::did_you_mean(unknown, declared.iter().copied())
            .unwrap_or_else(|| format!("it declares: {}", declared.join(", ")));
        bail!("{flag} {unknown}: the stack file declares no resource `{unknown}`\n  hint: {hint}");
    }
    Ok(names.iter().cloned().collect())
}

/// Loads the stack for the chosen environment (offline): errors here mean no AWS call.
pub fn load(g: &Global) -> anyhow::Result<Stack> {
    let env = g.env.as_deref().context(
        "no environment chosen: pass --env NAME (or set CRUDDUR_ENV); `cruddur-infra validate` lists the declared ones",
    )?;
    let stack = kinds::load(&g.file, env)?;
    eprint!("{}", stack.warnings);
    Ok(stack)
}

pub async fn connect(g: &Global, stack: &Stack) -> anyhow::Result<Aws> {
    let flags = AwsFlags {
        profile: g.profile.clone(),
        region: g.region.clone(),
        endpoint_url: g.endpoint_url.clone(),
    };
    let mut aws = Aws::connect(&stack.env.settings(), &flags).await?;
    aws.deep_scan = g.deep_scan;
    Ok(aws)
}

/// Colour on stdout when it is a terminal and nobody said no.
pub fn styles(g: &Global) -> Styles {
    Styles::new(
        !g.no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal(),
    )
}

/// Refuses, before any request, a release whose canary and bake watch longer than one
/// step may wait (`--wait-timeout`).
pub fn check_release_fits(g: &Global, stack: &Stack) -> anyhow::Result<()> {
    for node in &stack.nodes {
        let Some(release) = node.release() else {
            continue;
        };
        let watched = release.watched_for().as_secs();
        if watched > g.wait_timeout {
            anyhow::bail!(
                "{}: its release's canary and bake watch for {watched}s, longer than one step may wait (--wait-timeout {}s); raise --wait-timeout to at least {watched}, or shorten `release.bake` or `release.canary.for`",
                node.name(),
                g.wait_timeout
            );
        }
    }
    Ok(())
}

/// Runs `work` holding the deploy lock of the stack and environment: the plan is made and
/// carried out under it, so another run's changes cannot slip in between. Should the lease
/// be lost, `work` is stopped where it is (as if the process had been killed, which the
/// next run converges from) instead of going on beside another run.
pub async fn with_lock(
    g: &Global,
    stack: &Stack,
    aws: &Aws,
    command: &str,
    work: impl std::future::Future<Output = anyhow::Result<ExitCode>>,
) -> anyhow::Result<ExitCode> {
    let id = stack.owner();
    let timeout = Duration::from_secs(g.lock_timeout);
    let mut lock = lock::acquire(aws, &id, command, timeout)
        .await
        .map_err(|e| aws.explain(e))?;
    let result = tokio::select! {
        result = work => result,
        why = lock.lost() => Err(anyhow::anyhow!(
            "stopped: the deploy lock of {id} {why}. This {command} did not finish; run it again once the other run is done, and it converges from where this one stopped"
        )),
    };
    let released = lock.release().await;
    let code = result.map_err(|e| aws.explain(e))?;
    released?;
    Ok(code)
}

/// Prints the plan (as text, or `json`: as the first event of `--output json`), stops
/// (changing nothing) if it must not be carried out, and says whether there is anything
/// to do.
pub fn show_and_check(g: &Global, plan: &Plan, json: bool) -> anyhow::Result<bool> {
    match json {
        true => Event::Plan {
            plan: serde_json::to_value(plan)?,
        }
        .print(),
        false => print!("{}", crate::render::plan_text(plan, &styles(g))),
    }
    if let Some(refusal) = plan.refusals.first() {
        bail!("{refusal}. Nothing was changed");
    }
    Ok(plan.has_changes())
}

fn denied(error: &anyhow::Error) -> bool {
    matches!(access_of(error), Some(Access::Denied { .. }))
}

/// What the command line asks of carrying out a plan.
#[derive(Clone, Copy)]
pub struct Flags {
    /// Events as JSON lines on stdout, instead of progress on stderr.
    pub json: bool,
    /// A backup before a table that holds items goes (`--no-backup`: none).
    pub backups: bool,
    /// A release's canary and bake (`apply --no-bake`: the check only).
    pub bake: bool,
}

/// How a plan is carried out, as the command asked.
pub struct Carry<'a> {
    pub flags: Flags,
    /// What a trigger moved off a closed stream hands what it holds to, and what runs a
    /// release's check (made by the command: running a function is `redrive`'s, which
    /// itself uses this module).
    pub replayer: &'a dyn Replayer,
}

/// Carries out `plan` with progress on stderr (`json`: as events on stdout), then says
/// what was done; a failure is an error naming what failed and what did not start.
pub async fn carry_out(
    g: &Global,
    stack: &Stack,
    plan: &Plan,
    observed: &Observed,
    aws: &Aws,
    how: Carry<'_>,
) -> anyhow::Result<ExitCode> {
    let Carry {
        flags: Flags {
            json,
            backups,
            bake,
        },
        replayer,
    } = how;
    let started = std::time::Instant::now();
    let display = match (json, std::io::stderr().is_terminal()) {
        (true, _) => Display::Json,
        (false, true) => Display::Spinners,
        (false, false) => Display::Lines,
    };
    let progress = Progress::new(display);
    let options = RunOptions {
        wait_timeout: Duration::from_secs(g.wait_timeout),
        backups,
        bake,
        replayer: Some(replayer),
    };
    let outcome = engine::execute(stack, plan, observed, aws, &progress, options).await;
    let backups_kept = progress.backups_kept();
    let count = |actions: &[Action]| {
        outcome
            .done
            .iter()
            .filter(|(_, a)| actions.contains(a))
            .count()
    };
    let verb = match plan.operation {
        Operation::Apply => "Apply",
        Operation::Destroy => "Destroy",
    };
    let (added, changed) = (
        count(&[Action::Create]),
        count(&[Action::Update, Action::Adopt]),
    );
    let (replaced, destroyed) = (count(&[Action::Replace]), count(&[Action::Delete]));
    let summary =
        format!("{added} added, {changed} changed, {replaced} replaced, {destroyed} destroyed");
    if json {
        Event::Summary {
            operation: verb.to_lowercase(),
            added,
            changed,
            replaced,
            destroyed,
            failed: outcome
                .failed
                .iter()
                .map(|(name, _)| name.clone())
                .collect(),
            not_started: outcome.skipped.clone(),
            backups_kept: backups_kept.clone(),
            elapsed_ms: started.elapsed().as_millis() as u64,
        }
        .print();
    }
    if !json && !backups_kept.is_empty() {
        println!(
            "\nBackups kept before tables were deleted (the tool never deletes them; docs/safety.md says how to restore one):"
        );
        for arn in &backups_kept {
            println!("  {arn}");
        }
    }
    if outcome.failed.is_empty() {
        if !json {
            println!("\n{verb} complete! Resources: {summary}.");
        }
        return Ok(ExitCode::SUCCESS);
    }
    // A denied call is said once, first, with its hint; the resources it stopped are named
    // after it without repeating it.
    let mut failed = outcome.failed;
    let denied = failed.iter().position(|(_, e)| denied(e));
    let mut message = String::new();
    if let Some(i) = denied {
        let stopped = anyhow::anyhow!("stopped by the call denied above");
        message = format!(
            "{:#}\n",
            aws.explain(std::mem::replace(&mut failed[i].1, stopped))
        );
    }
    message.push_str(&format!("{verb} failed. Resources: {summary}."));
    for (name, error) in &failed {
        match access_of(error) {
            Some(Access::Denied { action, .. }) => {
                message.push_str(&format!("\n  {name}: {action} was refused as well"));
            }
            _ => message.push_str(&format!("\n  {name}: {error:#}")),
        }
    }
    if !outcome.skipped.is_empty() {
        message.push_str(&format!(
            "\n  not started because something they wait for failed: {}",
            outcome.skipped.join(", ")
        ));
    }
    message.push_str("\nFix the cause and run it again: it picks up where this run stopped.");
    bail!(message)
}
