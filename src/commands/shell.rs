//! `completions` and `man`: what a shell and `man` need, made from the CLI's own
//! definition (clap_complete, clap_mangen), so they cannot fall behind it.

use crate::cli::command;
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
    let name = command().get_name().to_string();
    completer.write_registration(
        COMPLETE_VAR,
        &name,
        &name,
        &binary.to_string_lossy(),
        &mut out,
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the manual page (roff): one page, its commands described in it (clap_mangen's own
/// list would point at a page per command, `cruddur-infra-plan(1)`, which nothing installs).
pub fn man() -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    write_man(&mut out)?;
    Ok(ExitCode::SUCCESS)
}

/// The manual page, into `out`.
pub fn write_man(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let cli = command();
    let man = clap_mangen::Man::new(cli.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    writeln!(out, ".SH COMMANDS")?;
    writeln!(
        out,
        "Each command's own options: \\fB{} <command> \\-\\-help\\fR.",
        roff(cli.get_name())
    )?;
    for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        writeln!(
            out,
            ".TP\n\\fB{}\\fR\n{}",
            roff(sub.get_name()),
            roff(&about)
        )?;
    }
    man.render_version_section(out)
}

/// Text as roff reads it: backslashes and dashes escaped, no line starting with a dot.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    match escaped.starts_with(['.', '\'']) {
        true => format!("\\&{escaped}"),
        false => escaped,
    }
}
