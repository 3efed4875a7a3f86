//! `force-unlock`: the deploy lock of one environment removed by hand, for the day a CI
//! runner dies holding it (a lease expires by itself after a minute; a stuck one, or one
//! that should not wait, goes here). Only the lease shown goes: the removal is conditional
//! on it, so a run that took the lock meanwhile keeps it.

use super::{common, confirm};
use crate::cli::Global;
use crate::lock;
use std::process::ExitCode;

pub async fn run(g: &Global, lease: Option<&str>, yes: bool) -> anyhow::Result<ExitCode> {
    let stack = common::load(g)?;
    let id = stack.owner();
    let aws = common::connect(g, &stack).await?;
    let held = lock::read_holder(&aws, &id)
        .await
        .map_err(|e| aws.explain(e))?;
    let Some(held) = held else {
        println!("No deploy lock is held for {id}: nothing to remove.");
        return Ok(ExitCode::SUCCESS);
    };
    println!("{}", shown(&id, &held));
    // A lock there is: only now is there something to ask about. Named on the command
    // line, the lease needs no question.
    confirm::check_can_confirm(
        yes || lease.is_some(),
        "force-unlock",
        "--yes (or the lease)",
    )?;
    let lease = match lease {
        // Another lease than the one read: nothing to remove, said without a request.
        Some(lease) if lease != held.holder => {
            return Err(lock::not_held_by(&id, lease, Some(&held)));
        }
        Some(lease) => lease.to_string(),
        None if yes || confirm::confirm("Remove this lease?")? => held.holder.clone(),
        None => {
            println!("Nothing was removed.");
            return Ok(ExitCode::from(1));
        }
    };
    lock::force_release(&aws, &id, &lease)
        .await
        .map_err(|e| aws.explain(e))?;
    println!("Removed lease {lease}: the next apply or destroy of {id} takes the lock at once.");
    Ok(ExitCode::SUCCESS)
}

/// The holder, as people check it before removing its lease.
fn shown(id: &str, held: &lock::Current) -> String {
    let (host, process) = held.host_and_process();
    let expiry = match held.expires_in() {
        0 => "its lease has expired (the next run takes it over anyway)".to_string(),
        s => format!("its lease expires in {s}s unless renewed"),
    };
    format!(
        "The deploy lock of {id} is held by `{}` (lease {}):\n  host {host}, process {process}, since {}s ago;\n  {expiry}.",
        held.command,
        held.holder,
        held.held_for()
    )
}
