//! `destroy`: delete every resource of the stack that this stack created (and its
//! orphans), under the deploy lock; tables that would lose items or have deletion
//! protection stop it unless --allow-data-loss.

use super::common;
use super::confirm::{check_can_confirm, check_can_stream, confirm};
use crate::cli::{Global, Output};
use crate::engine::{self, PlanRequest};
use std::process::ExitCode;

pub async fn run(
    g: &Global,
    auto_approve: bool,
    allow_data_loss: bool,
    no_backup: bool,
    targets: &[String],
    output: Output,
) -> anyhow::Result<ExitCode> {
    let json = output == Output::Json;
    check_can_stream(json, auto_approve, "")?;
    check_can_confirm(auto_approve, "destroy", "--auto-approve")?;
    let stack = common::load(g)?;
    let request = PlanRequest {
        allow_data_loss,
        targets: common::chosen(&stack, "--target", targets)?,
        ..PlanRequest::destroy()
    };
    let aws = common::connect(g, &stack).await?;
    common::with_lock(g, &stack, &aws, "destroy", async {
        let (observed, plan) = engine::prepare(&stack, &aws, &request).await?;
        if !common::show_and_check(g, &plan, json)? {
            // Nothing of the stack is left: neither is its index (unless only targets
            // were looked at).
            if observed.index.is_some() && targets.is_empty() {
                engine::drop_index(&stack, &aws).await?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        if !auto_approve
            && !confirm(&format!(
                "\nDo you really want to destroy {} of {} in environment {}? There is no undo.",
                match targets.is_empty() {
                    true => "every resource".to_string(),
                    false => format!("{} and what depends on it", targets.join(", ")),
                },
                stack.name,
                stack.env.name
            ))?
        {
            println!("Destroy cancelled.");
            return Ok(ExitCode::from(1));
        }
        let flags = super::common::Flags {
            json,
            backups: !no_backup,
            bake: true,
        };
        super::redrive::carry_out(g, &stack, &plan, &observed, &aws, flags).await
    })
    .await
}
