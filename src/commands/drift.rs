//! `drift`: what changed out of band, in one or more environments (`--env a,b,c`), read
//! concurrently and reported together; nothing is changed. Exit 0: none, 2: drift, 1: error.

use super::common::{self, EXIT_CHANGES};
use crate::cli::{DriftOutput, Global};
use crate::engine::{self, PlanRequest};
use crate::kinds::{self, Stack};
use crate::render::drift;
use anyhow::Context;
use std::process::ExitCode;

pub async fn run(g: &Global, output: DriftOutput) -> anyhow::Result<ExitCode> {
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
        .map(|env| kinds::load(&g.file, env))
        .collect::<Result<Vec<Stack>, _>>()?;
    if let Some(first) = stacks.first() {
        eprint!("{}", first.warnings);
    }
    let environments = futures::future::join_all(stacks.iter().map(|stack| async move {
        let planned = async {
            let aws = common::connect(g, stack).await?;
            let observed = engine::observe(stack, &aws)
                .await
                .map_err(|e| aws.explain(e))?;
            anyhow::Ok(engine::plan(stack, &observed, &PlanRequest::apply()))
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
