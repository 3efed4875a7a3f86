//! `apply`: make AWS match the stack file, under the deploy lock; or `apply FILE`: carry
//! out a saved plan exactly, or refuse saying what changed since it was made.

use super::common;
use super::confirm::{check_can_confirm, check_can_stream, confirm};
use super::saved;
use crate::cli::{ApplyArgs, Global, Output};
use crate::engine::{self, PlanRequest};
use crate::kinds;
use crate::plan::Operation;
use anyhow::bail;
use std::path::Path;
use std::process::ExitCode;

pub async fn run(g: &Global, args: &ApplyArgs) -> anyhow::Result<ExitCode> {
    if let Some(file) = &args.plan_file {
        return run_saved(g, args, file).await;
    }
    let json = args.output == Output::Json;
    check_can_stream(json, args.auto_approve, " (or a plan file)")?;
    check_can_confirm(args.auto_approve, "apply", "--auto-approve")?;
    let stack = common::load(g)?;
    common::check_release_fits(g, &stack)?;
    let request = PlanRequest {
        operation: Operation::Apply,
        adopt: args.adopt,
        allow_replace: args.allow_replace,
        allow_data_loss: args.allow_data_loss,
        replace: common::chosen(&stack, "--replace", &args.replace)?,
        targets: common::chosen(&stack, "--target", &args.target)?,
    };
    let aws = common::connect(g, &stack).await?;
    common::with_lock(g, &stack, &aws, "apply", async {
        let (observed, plan) = engine::prepare(&stack, &aws, &request).await?;
        if !common::show_and_check(g, &plan, json)? {
            engine::repair_index(&stack, &observed, &aws).await?;
            // Nothing to change, but AWS may still be finishing an earlier change (of an
            // interrupted run): apply ends with the stack ready.
            let unsettled = observed.unsettled(&stack);
            if unsettled.is_empty() {
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!(
                "AWS is still finishing an earlier change of {}; waiting for it.",
                unsettled.join(", ")
            );
            return super::redrive::carry_out(g, &stack, &plan, &observed, &aws, flags(args, json))
                .await;
        }
        if !args.auto_approve && !confirm("\nDo you want to perform these actions?")? {
            println!("Apply cancelled.");
            return Ok(ExitCode::from(1));
        }
        super::redrive::carry_out(g, &stack, &plan, &observed, &aws, flags(args, json)).await
    })
    .await
}

/// `apply FILE`: the saved plan, exactly (no question asked: the plan was reviewed).
async fn run_saved(g: &Global, args: &ApplyArgs, file: &Path) -> anyhow::Result<ExitCode> {
    if args.adopt || !args.replace.is_empty() || !args.target.is_empty() {
        bail!(
            "--adopt, --replace and --target are part of the saved plan (plan --adopt --replace NAME --target NAME --out FILE), not of apply FILE"
        );
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
    // The stack file first: a plan made from another file says which, before this one is
    // read (and without a single request).
    saved::check_file(&saved, &g.file)?;
    let stack = kinds::load(&g.file, &saved.environment)?;
    if stack.name != saved.stack {
        bail!(
            "{} is a plan for stack {}, but {} declares stack {}",
            file.display(),
            saved.stack,
            g.file.display(),
            stack.name
        );
    }
    common::check_release_fits(g, &stack)?;
    let aws = common::connect(g, &stack).await?;
    common::with_lock(g, &stack, &aws, "apply", async {
        let (observed, plan) =
            saved::replan(&saved, &g.file, &stack, &aws, args.allow_replace).await?;
        if !common::show_and_check(g, &plan, args.output == Output::Json)? {
            engine::repair_index(&stack, &observed, &aws).await?;
            return Ok(ExitCode::SUCCESS);
        }
        let json = args.output == Output::Json;
        super::redrive::carry_out(g, &stack, &plan, &observed, &aws, flags(args, json)).await
    })
    .await
}

/// What apply's flags ask of carrying out its plan.
fn flags(args: &ApplyArgs, json: bool) -> common::Flags {
    common::Flags {
        json,
        backups: !args.no_backup,
        bake: !args.no_bake,
    }
}
