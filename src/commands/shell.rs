//! `completions` and `man`: what a shell and `man` need, made from the CLI's own
//! definition (clap_complete, clap_mangen), so they cannot fall behind it.

use crate::cli::Cli;
use clap::CommandFactory;
use clap_complete::aot::Shell;
use clap_complete::env::Shells;
use std::process::ExitCode;

/// The variable a shell sets when it asks the binary for candidates.
pub const COMPLETE_VAR: &str = "CRUDDUR_INFRA_COMPLETE";

/// Prints `shell`'s registration: a script that calls this binary back for each completion,
/// so names from the stack file complete as well as commands and flags.
pub fn completions(shell: Shell) -> anyhow::Result<ExitCode> {
    let shells = Shells::builtins();
    let completer = shells
        .completer(&shell.to_string())
        .ok_or_else(|| anyhow::anyhow!("no completions for {shell}"))?;
    let binary = std::env::current_exe()?;
    let mut out = std::io::stdout().lock();
    let name = Cli::command().get_name().to_string();
    completer.write_registration(
        COMPLETE_VAR,
        &name,
        &name,
        &binary.to_string_lossy(),
        &mut out,
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the manual page (roff).
pub fn man() -> anyhow::Result<ExitCode> {
    clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout().lock())?;
    Ok(ExitCode::SUCCESS)
}
