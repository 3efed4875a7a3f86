//! The commands, one file per verb. Each loads the stack file (no AWS call before it is
//! valid), connects, and goes through the engine; what they share is here.

pub mod apply;
pub mod build;
pub mod common;
pub mod confirm;
pub mod destroy;
pub mod dev;
pub mod drift;
pub mod force_unlock;
pub mod graph;
pub mod invoke;
pub mod outputs;
pub mod permissions;
pub mod plan;
pub mod redrive;
pub mod rollback;
pub mod saved;
pub mod schema;
pub mod shell;
pub mod validate;

pub use common::EXIT_CHANGES;

use crate::cli::{Cli, Command};
use std::process::ExitCode;

/// Runs one command; errors are reported by `main` with exit code 1.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let g = &cli.global;
    if g.no_color || std::env::var_os("NO_COLOR").is_some() {
        // Progress bars style themselves through `console`; switch it off there too.
        console::set_colors_enabled(false);
        console::set_colors_enabled_stderr(false);
    }
    let result = match &cli.command {
        Command::Validate { output } => validate::run(g, *output),
        Command::Plan(args) => plan::run(g, args).await,
        Command::Apply(args) => apply::run(g, args).await,
        Command::Destroy {
            auto_approve,
            allow_data_loss,
            no_backup,
            target,
            output,
        } => {
            destroy::run(
                g,
                *auto_approve,
                *allow_data_loss,
                *no_backup,
                target,
                *output,
            )
            .await
        }
        Command::Redrive {
            auto_approve,
            dry_run,
            output,
        } => redrive::run(g, *auto_approve, *dry_run, *output).await,
        Command::Rollback { auto_approve } => rollback::run(g, *auto_approve).await,
        Command::Build => build::run(g).await,
        Command::Dev { checkpoints } => dev::run(g, checkpoints.as_deref()).await,
        Command::Invoke { function, event } => invoke::run(g, function, event).await,
        Command::Graph { format } => graph::run(g, *format),
        Command::Schema { of } => schema::run(*of),
        Command::Completions { shell } => shell::completions(*shell),
        Command::Man => shell::man(),
        Command::ForceUnlock { lease, yes } => force_unlock::run(g, lease.as_deref(), *yes).await,
        Command::Drift { output } => drift::run(g, *output).await,
        Command::Outputs { output } => outputs::run(g, *output).await,
        Command::Permissions { scope, account } => {
            permissions::run(g, *scope, account.as_deref()).await
        }
    };
    if g.stats {
        eprint!("{}", crate::stats::report(started.elapsed()));
    }
    result
}
