//! cruddur-infra: a declarative deployer for the Cruddur messaging backend.
//!
//! `stack.yaml` → [`spec::load`] → [`engine::observe`] → [`engine::plan_apply`] →
//! [`render`] → [`engine::execute`]. See the README for the stack file and the commands.

pub mod aws;
pub mod bundle;
pub mod cli;
pub mod create_once;
pub mod drift;
pub mod engine;
pub mod graph;
pub mod kinds;
pub mod lock;
pub mod plan;
pub mod policy;
pub mod progress;
pub mod render;
pub mod retry;
pub mod saved;
pub mod spec;
pub mod stats;
pub mod tags;
pub mod wait;

use anyhow::{Context, bail};
use aws::{Aws, AwsFlags};
use cli::{ApplyArgs, Cli, Command, DriftOutput, Global, Output, PlanArgs};
use plan::{Action, Plan};
use progress::Progress;
use render::Styles;
use spec::Stack;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

/// Exit code for "there are changes" (plan --detailed-exitcode).
pub const EXIT_CHANGES: u8 = 2;

/// Runs one command; errors are reported by `main` with exit code 1.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let result = run_command(&cli).await;
    if cli.global.stats {
        eprint!("{}", stats::report(started.elapsed()));
    }
    result
}

async fn run_command(cli: &Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.global;
    if g.no_color || std::env::var_os("NO_COLOR").is_some() {
        // Progress bars style themselves through `console`; switch it off there too.
        console::set_colors_enabled(false);
        console::set_colors_enabled_stderr(false);
    }
    match &cli.command {
        Command::Validate { output } => validate(g, *output),
        Command::Plan(args) => plan(g, args).await,
        Command::Apply(args) => apply(g, args).await,
        Command::Destroy {
            auto_approve,
            allow_data_loss,
        } => destroy(g, *auto_approve, *allow_data_loss).await,
        Command::Build => build(g).await,
        Command::Drift { output } => drift(g, *output).await,
        Command::Outputs { output } => outputs(g, *output).await,
    }
}

fn validate(g: &Global, output: Output) -> anyhow::Result<ExitCode> {
    let (environments, warnings) = match &g.env {
        Some(env) => (vec![env.clone()], spec::load(&g.file, env)?.warnings),
        None => {
            let v = spec::validate_all(&g.file)?;
            (v.environments, v.warnings)
        }
    };
    eprint!("{warnings}");
    match output {
        Output::Json => println!(
            "{}",
            serde_json::json!({"valid": true, "file": g.file.display().to_string(), "environments": environments})
        ),
        Output::Text => println!(
            "{} is valid (environments checked: {})",
            g.file.display(),
            environments.join(", ")
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// The live attributes of every resource; exit 1 (after printing what exists) when some
/// resource is not deployed, so a script never reads a half-empty configuration silently.
async fn outputs(g: &Global, output: Output) -> anyhow::Result<ExitCode> {
    let stack = load(g)?;
    let aws = connect(g, &stack).await?;
    engine::observe(&stack, &aws).await?;
    let mut values = serde_json::Map::new();
    let mut missing = Vec::new();
    for node in &stack.nodes {
        match node.live_attributes(&stack.owner()) {
            Some(attributes) => {
                let object: serde_json::Map<String, serde_json::Value> = attributes
                    .into_iter()
                    .filter_map(|(k, v)| Some((k.to_string(), serde_json::Value::String(v?))))
                    .collect();
                values.insert(node.name().to_string(), object.into());
            }
            None => missing.push(node.name().to_string()),
        }
    }
    match output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "stack": stack.name,
                "environment": stack.env.name,
                "outputs": values,
                "missing": missing,
            }))?
        ),
        Output::Text => {
            for (resource, attributes) in &values {
                for (attribute, value) in attributes.as_object().into_iter().flatten() {
                    println!(
                        "{resource}.{attribute}\t{}",
                        value.as_str().unwrap_or_default()
                    );
                }
            }
        }
    }
    if !missing.is_empty() {
        bail!(
            "not deployed (or not this stack's) in environment {}: {}; run apply first",
            stack.env.name,
            missing.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Drift of one or more environments (`--env a,b,c`), read concurrently, one report.
async fn drift(g: &Global, output: DriftOutput) -> anyhow::Result<ExitCode> {
    let names: Vec<&str> = g
        .env
        .as_deref()
        .context("no environment chosen: pass --env NAME (or several: --env dev,prod)")?
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    // Every environment's file first: a file error is reported before any AWS request.
    let stacks = names
        .iter()
        .map(|env| spec::load(&g.file, env))
        .collect::<Result<Vec<Stack>, _>>()?;
    if let Some(first) = stacks.first() {
        eprint!("{}", first.warnings);
    }
    let environments = futures::future::join_all(stacks.iter().map(|stack| async move {
        let planned = async {
            let aws = connect(g, stack).await?;
            let context = engine::observe(stack, &aws).await?;
            anyhow::Ok(engine::plan_apply(stack, false, &context))
        };
        match planned.await {
            Ok(plan) => drift::from_plan(&plan),
            Err(e) => drift::failed(&stack.env.name, &e),
        }
    }))
    .await;
    let report = drift::Report {
        format_version: drift::FORMAT_VERSION,
        stack: stacks.first().map(|s| s.name.clone()).unwrap_or_default(),
        environments,
    };
    match output {
        DriftOutput::Text => print!("{}", drift::text(&report)),
        DriftOutput::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        DriftOutput::Markdown => print!("{}", drift::markdown(&report)),
    }
    Ok(if report.has_errors() {
        ExitCode::from(1)
    } else if report.has_drift() {
        ExitCode::from(EXIT_CHANGES)
    } else {
        ExitCode::SUCCESS
    })
}

/// Builds every function's bundle; no AWS call.
async fn build(g: &Global) -> anyhow::Result<ExitCode> {
    let stack = load(g)?;
    let mut built = 0;
    for node in &stack.nodes {
        let Some(source) = node.bundle_source() else {
            continue;
        };
        let started = std::time::Instant::now();
        let hash = bundle::input_hash(&source.package, source.architecture)?;
        eprintln!(
            "{}.{}: building {} for {} ({})",
            node.kind(),
            node.name(),
            source.package.display(),
            source.architecture.rust_target(),
            source.runtime
        );
        let b = bundle::build(&source.package, source.architecture, &source.runtime)
            .await
            .with_context(|| format!("{}.{}", node.kind(), node.name()))?;
        println!("{}.{}:", node.kind(), node.name());
        println!("  zip:         {}", b.zip_path.display());
        println!("  size:        {} bytes", b.zip.len());
        println!("  CodeSha256:  {}", b.code_sha256);
        println!("  input hash:  {hash}");
        if let Some((major, minor)) = b.glibc {
            println!(
                "  glibc:       needs {major}.{minor} (fits {})",
                source.runtime
            );
        }
        println!("  took:        {:.1}s", started.elapsed().as_secs_f64());
        built += 1;
    }
    if built == 0 {
        println!("The stack has no lambda_function to build.");
    }
    Ok(ExitCode::SUCCESS)
}

/// Loads the stack for the chosen environment (offline) — errors here mean no AWS call.
fn load(g: &Global) -> anyhow::Result<Stack> {
    let env = g.env.as_deref().context(
        "no environment chosen: pass --env NAME (or set CRUDDUR_ENV); `cruddur-infra validate` lists the declared ones",
    )?;
    let stack = spec::load(&g.file, env)?;
    eprint!("{}", stack.warnings);
    Ok(stack)
}

async fn connect(g: &Global, stack: &Stack) -> anyhow::Result<Aws> {
    let flags = AwsFlags {
        profile: g.profile.clone(),
        region: g.region.clone(),
        endpoint_url: g.endpoint_url.clone(),
    };
    Aws::connect(&stack.env, &flags).await
}

fn color(g: &Global) -> bool {
    !g.no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}

async fn plan(g: &Global, args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let stack = load(g)?;
    let aws = connect(g, &stack).await?;
    let context = engine::observe(&stack, &aws).await?;
    let plan = if args.destroy {
        let mut plan = engine::plan_destroy(&stack);
        engine::guard_deletions(&stack, &mut plan, &aws, args.allow_data_loss).await?;
        plan
    } else {
        let mut plan = engine::plan_apply(&stack, args.adopt, &context);
        engine::guard_deletions(&stack, &mut plan, &aws, args.allow_data_loss).await?;
        plan
    };
    match args.output {
        cli::PlanOutput::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
        cli::PlanOutput::Text => {
            print!("{}", render::plan_text(&plan, &Styles::new(color(g))))
        }
        cli::PlanOutput::Markdown => print!("{}", render::plan_markdown(&plan)),
    }
    refuse_conflicts(&plan)?;
    if let Some(out) = &args.out {
        saved::save(
            out,
            &g.file,
            &stack,
            &context,
            &plan,
            args.adopt,
            args.allow_data_loss,
        )?;
        eprintln!(
            "Saved the plan to {}; `cruddur-infra apply {}` carries out exactly this plan.",
            out.display(),
            out.display()
        );
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        ExitCode::from(EXIT_CHANGES)
    } else {
        ExitCode::SUCCESS
    })
}

/// A plan with conflicts cannot be applied; saying so is an error (exit 1) in plan too, so
/// CI stops before a doomed apply.
fn refuse_conflicts(plan: &Plan) -> anyhow::Result<()> {
    let conflicts: Vec<&str> = plan.conflicts().map(|c| c.physical_id.as_str()).collect();
    if !conflicts.is_empty() {
        bail!(
            "{} resource(s) already exist and are not this stack's: {}. Nothing was changed; \
             re-run with --adopt to take over resources nobody manages",
            conflicts.len(),
            conflicts.join(", ")
        );
    }
    Ok(())
}

/// Deletions that would fail (deletion protection, ...) stop the run before anything changes.
fn refuse_blocked(plan: &Plan, verb: &str) -> anyhow::Result<()> {
    let blocked: Vec<String> = plan
        .blocked()
        .map(|c| {
            format!(
                "{}: {}",
                c.physical_id,
                c.blocked.as_deref().unwrap_or_default()
            )
        })
        .collect();
    if !blocked.is_empty() {
        bail!("cannot {verb} {}. Nothing was changed", blocked.join("; "));
    }
    Ok(())
}

/// Refuses up front (before any AWS call) when nobody can be asked and nobody said yes.
fn check_can_confirm(auto_approve: bool, command: &str) -> anyhow::Result<()> {
    if !auto_approve && !std::io::stdin().is_terminal() {
        bail!(
            "{command} asks for confirmation, but stdin is not a terminal; re-run with --auto-approve to {command} without asking"
        );
    }
    Ok(())
}

fn confirm(question: &str) -> anyhow::Result<bool> {
    print!("{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    println!();
    Ok(answer.trim() == "yes")
}

async fn apply(g: &Global, args: &ApplyArgs) -> anyhow::Result<ExitCode> {
    if let Some(file) = &args.plan_file {
        return apply_saved(g, args, file).await;
    }
    check_can_confirm(args.auto_approve, "apply")?;
    let stack = load(g)?;
    let aws = connect(g, &stack).await?;
    with_lock(
        g,
        &stack,
        &aws,
        "apply",
        apply_locked(g, args, &stack, &aws),
    )
    .await
}

/// Runs `work` holding the deploy lock of the stack and environment: the plan is made and
/// carried out under it, so another run's changes cannot slip in between. Should the lease
/// be lost, `work` is stopped where it is (as if the process had been killed, which the
/// next run converges from) instead of going on beside another run.
async fn with_lock(
    g: &Global,
    stack: &Stack,
    aws: &Aws,
    command: &str,
    work: impl std::future::Future<Output = anyhow::Result<ExitCode>>,
) -> anyhow::Result<ExitCode> {
    let id = stack.owner();
    let mut lock = lock::acquire(aws, &id, command, Duration::from_secs(g.lock_timeout)).await?;
    let result = tokio::select! {
        result = work => result,
        why = lock.lost() => Err(anyhow::anyhow!(
            "stopped: the deploy lock of {id} {why}. This {command} did not finish; run it again once the other run is done, and it converges from where this one stopped"
        )),
    };
    let released = lock.release().await;
    let code = result?;
    released?;
    Ok(code)
}

async fn apply_locked(
    g: &Global,
    args: &ApplyArgs,
    stack: &Stack,
    aws: &Aws,
) -> anyhow::Result<ExitCode> {
    let context = engine::observe(stack, aws).await?;
    let mut plan = engine::plan_apply(stack, args.adopt, &context);
    engine::guard_deletions(stack, &mut plan, aws, args.allow_data_loss).await?;
    print!("{}", render::plan_text(&plan, &Styles::new(color(g))));
    refuse_conflicts(&plan)?;
    let replacements: Vec<&str> = plan
        .guarded_replacements()
        .map(|c| c.physical_id.as_str())
        .collect();
    if !replacements.is_empty() && !args.allow_replace {
        bail!(
            "refusing to replace {}: a replacement deletes the resource and everything in it. \
             Nothing was changed; re-run with --allow-replace if that is what you want",
            replacements.join(", ")
        );
    }
    refuse_blocked(&plan, "change")?;
    if !plan.has_changes() {
        return Ok(ExitCode::SUCCESS);
    }
    if !args.auto_approve && !confirm("\nDo you want to perform these actions?")? {
        println!("Apply cancelled.");
        return Ok(ExitCode::from(1));
    }
    execute(g, stack, &plan, &context, aws).await
}

async fn destroy(
    g: &Global,
    auto_approve: bool,
    allow_data_loss: bool,
) -> anyhow::Result<ExitCode> {
    check_can_confirm(auto_approve, "destroy")?;
    let stack = load(g)?;
    let aws = connect(g, &stack).await?;
    with_lock(
        g,
        &stack,
        &aws,
        "destroy",
        destroy_locked(g, auto_approve, allow_data_loss, &stack, &aws),
    )
    .await
}

async fn destroy_locked(
    g: &Global,
    auto_approve: bool,
    allow_data_loss: bool,
    stack: &Stack,
    aws: &Aws,
) -> anyhow::Result<ExitCode> {
    let context = engine::observe(stack, aws).await?;
    let mut plan = engine::plan_destroy(stack);
    engine::guard_deletions(stack, &mut plan, aws, allow_data_loss).await?;
    print!("{}", render::plan_text(&plan, &Styles::new(color(g))));
    refuse_blocked(&plan, "delete")?;
    if !plan.has_changes() {
        return Ok(ExitCode::SUCCESS);
    }
    if !auto_approve
        && !confirm(&format!(
            "\nDo you really want to destroy every resource of {} in environment {}? There is no undo.",
            stack.name, stack.env.name
        ))?
    {
        println!("Destroy cancelled.");
        return Ok(ExitCode::from(1));
    }
    execute(g, stack, &plan, &context, aws).await
}

/// `apply FILE`: the saved plan, exactly, or a refusal saying what changed.
async fn apply_saved(
    g: &Global,
    args: &ApplyArgs,
    file: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    if args.adopt {
        bail!("--adopt is part of the saved plan (plan --adopt --out FILE), not of apply FILE");
    }
    let saved = saved::load(file)?;
    if let Some(env) = &g.env
        && *env != saved.environment
    {
        bail!(
            "{} is a plan for environment {}, not {env}",
            file.display(),
            saved.environment
        );
    }
    let stack = spec::load(&g.file, &saved.environment)?;
    if stack.name != saved.stack {
        bail!(
            "{} is a plan for stack {}, but {} declares stack {}",
            file.display(),
            saved.stack,
            g.file.display(),
            stack.name
        );
    }
    // The local check first: a changed file is refused without a single request.
    saved::check_file(&saved, &g.file)?;
    let aws = connect(g, &stack).await?;
    with_lock(
        g,
        &stack,
        &aws,
        "apply",
        apply_saved_locked(g, args, &saved, &stack, &aws),
    )
    .await
}

async fn apply_saved_locked(
    g: &Global,
    args: &ApplyArgs,
    saved: &saved::SavedPlan,
    stack: &Stack,
    aws: &Aws,
) -> anyhow::Result<ExitCode> {
    let (plan, context) = saved::replan(saved, &g.file, stack, aws).await?;
    print!("{}", render::plan_text(&plan, &Styles::new(color(g))));
    refuse_conflicts(&plan)?;
    let replacements: Vec<&str> = plan
        .guarded_replacements()
        .map(|c| c.physical_id.as_str())
        .collect();
    if !replacements.is_empty() && !args.allow_replace {
        bail!(
            "refusing to replace {}: a replacement deletes the resource and everything in it. \
             Nothing was changed; re-run with --allow-replace if that is what you want",
            replacements.join(", ")
        );
    }
    refuse_blocked(
        &plan,
        if plan.operation == plan::Operation::Destroy {
            "delete"
        } else {
            "change"
        },
    )?;
    if !plan.has_changes() {
        return Ok(ExitCode::SUCCESS);
    }
    execute(g, stack, &plan, &context, aws).await
}

async fn execute(
    g: &Global,
    stack: &Stack,
    plan: &Plan,
    context: &kinds::Inputs,
    aws: &Aws,
) -> anyhow::Result<ExitCode> {
    let progress = Progress::new(std::io::stderr().is_terminal());
    let timeout = Duration::from_secs(g.wait_timeout);
    let outcome = match plan.operation {
        // Orphans first: nothing declared depends on them.
        plan::Operation::Destroy => {
            let mut outcome = engine::execute_orphans(stack, plan, aws, &progress, timeout).await;
            outcome.merge(engine::execute(stack, plan, context, aws, &progress, timeout).await);
            outcome
        }
        // Orphans last, and only once everything declared converged (a function must be
        // on its new role before the old role goes).
        plan::Operation::Apply => {
            let mut outcome = engine::execute(stack, plan, context, aws, &progress, timeout).await;
            if outcome.failed.is_empty() {
                outcome.merge(engine::execute_orphans(stack, plan, aws, &progress, timeout).await);
            } else {
                outcome.skipped.extend(
                    plan.resource_changes
                        .iter()
                        .filter(|rc| rc.orphan)
                        .map(|rc| format!("{} {} (orphan)", rc.kind, rc.physical_id)),
                );
            }
            outcome
        }
    };
    let count = |actions: &[Action]| {
        outcome
            .done
            .iter()
            .filter(|(_, a)| actions.contains(a))
            .count()
    };
    let verb = match plan.operation {
        plan::Operation::Apply => "Apply",
        plan::Operation::Destroy => "Destroy",
    };
    let summary = format!(
        "{} added, {} changed, {} replaced, {} destroyed",
        count(&[Action::Create]),
        count(&[Action::Update, Action::Adopt]),
        count(&[Action::Replace]),
        count(&[Action::Delete]),
    );
    if outcome.failed.is_empty() {
        println!("\n{verb} complete! Resources: {summary}.");
        return Ok(ExitCode::SUCCESS);
    }
    let mut message = format!("{verb} failed. Resources: {summary}.");
    for (name, error) in &outcome.failed {
        message.push_str(&format!("\n  {name}: {error:#}"));
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
