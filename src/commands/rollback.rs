//! `rollback`: each released function's alias moved back, at once, to the version it
//! pointed at before the last apply moved it, which passed its check then (a version that
//! failed its check never had the alias). No plan is made: this is for the minutes after a
//! bad release. The next plan shows the alias behind the code, and apply rolls forward
//! again, through the check.

use super::common;
use super::confirm::{check_can_confirm, confirm};
use crate::cli::Global;
use crate::kinds::function::{roll_back, rollback_target};
use anyhow::bail;
use std::process::ExitCode;

pub async fn run(g: &Global, auto_approve: bool) -> anyhow::Result<ExitCode> {
    check_can_confirm(auto_approve, "rollback", "--auto-approve")?;
    let stack = common::load(g)?;
    let released: Vec<(String, String, String)> = stack
        .nodes
        .iter()
        .filter_map(|n| {
            let alias = n.release()?.alias.clone();
            Some((n.name().to_string(), n.known_name()?, alias))
        })
        .collect();
    if released.is_empty() {
        bail!(
            "no lambda_function of the stack has `release:`: its mappings invoke $LATEST, which keeps no earlier version to go back to (docs/stack-file.md, `release`)"
        );
    }
    let owner = stack.owner();
    let aws = common::connect(g, &stack).await?;
    common::with_lock(g, &stack, &aws, "rollback", async {
        let targets = futures::future::try_join_all(
            released
                .iter()
                .map(|(_, name, alias)| rollback_target(&aws, name, alias, &owner)),
        )
        .await?;
        for ((logical, name, alias), rollback) in released.iter().zip(&targets) {
            println!("{logical}: alias {alias} of {name} {}", rollback.says());
        }
        if !auto_approve && !confirm("\nRoll back?")? {
            println!("Rollback cancelled.");
            return Ok(ExitCode::from(1));
        }
        for ((logical, name, alias), rollback) in released.iter().zip(&targets) {
            roll_back(&aws, name, alias, rollback).await?;
            println!(
                "{logical}: alias {alias} now points at version {}.",
                rollback.to
            );
        }
        println!(
            "The next plan shows the alias behind the code; apply rolls forward again, through the check."
        );
        Ok(ExitCode::SUCCESS)
    })
    .await
}
