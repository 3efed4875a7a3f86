//! `plan`: what apply (or destroy) would change, field by field; optionally saved for
//! `apply FILE`. A plan with conflicts is an error (exit 1) here too, so CI stops before a
//! doomed apply.

use super::common::{self, EXIT_CHANGES};
use super::saved;
use crate::cli::{Global, PlanArgs, PlanOutput};
use crate::engine::{self, PlanRequest};
use crate::plan::Operation;
use crate::render;
use anyhow::bail;
use std::process::ExitCode;

pub async fn run(g: &Global, args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let stack = common::load(g)?;
    let request = PlanRequest {
        operation: if args.destroy {
            Operation::Destroy
        } else {
            Operation::Apply
        },
        adopt: args.adopt,
        // Plan shows replacements; only apply refuses them.
        allow_replace: true,
        allow_data_loss: args.allow_data_loss,
        replace: common::chosen(&stack, "--replace", &args.replace)?,
        targets: common::chosen(&stack, "--target", &args.target)?,
    };
    let aws = common::connect(g, &stack).await?;
    let (observed, plan) = engine::prepare(&stack, &aws, &request)
        .await
        .map_err(|e| aws.explain(e))?;
    match args.output {
        PlanOutput::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
        PlanOutput::Text => print!("{}", render::plan_text(&plan, &common::styles(g))),
        PlanOutput::Markdown => print!("{}", render::plan_markdown(&plan)),
    }
    if let Some(conflicts) = &plan.refusals.conflicts {
        bail!("{conflicts}");
    }
    if let Some(out) = &args.out {
        saved::save(out, &g.file, &stack, &observed, &plan, &request)?;
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
