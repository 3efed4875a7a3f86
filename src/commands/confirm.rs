//! Asking before changing anything: Terraform's prompt, where only `yes` approves.

use anyhow::bail;
use std::io::{BufRead, IsTerminal, Write};

/// Refuses up front (before any AWS call) when nobody can be asked and nobody said yes
/// (with `flag`, which says it).
pub fn check_can_confirm(approved: bool, command: &str, flag: &str) -> anyhow::Result<()> {
    if !approved && !std::io::stdin().is_terminal() {
        bail!(
            "{command} asks for confirmation, but stdin is not a terminal; re-run with {flag} to {command} without asking"
        );
    }
    Ok(())
}

/// Refuses up front a change whose events stream as JSON (`--output json`) and that would
/// still ask: a question would break the stream. `alternative` says what else approves it.
pub fn check_can_stream(json: bool, approved: bool, alternative: &str) -> anyhow::Result<()> {
    if json && !approved {
        bail!(
            "--output json needs --auto-approve{alternative}: a question would break the stream of events"
        );
    }
    Ok(())
}

/// Asks `question`; true only for the answer `yes`.
pub fn confirm(question: &str) -> anyhow::Result<bool> {
    print!("{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    println!();
    Ok(answer.trim() == "yes")
}
