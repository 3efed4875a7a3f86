//! The README's commands (the "Using it" list and the GitHub Actions example) use only
//! commands and flags that exist: each is parsed by the real command-line definition.

use clap::Parser;
use cruddur_infra::cli::Cli;

/// Every `cruddur-infra …` command line in the README's code blocks, continuation lines
/// joined, comments, redirections and workflow expressions removed.
fn readme_commands() -> Vec<String> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let joined = text.replace("\\\n", " ");
    joined
        .lines()
        .map(str::trim)
        .filter_map(|l| {
            let l = l.strip_prefix("$ ").unwrap_or(l);
            l.strip_prefix("./target/release/cruddur-infra ")
                .or_else(|| l.strip_prefix("cruddur-infra "))
        })
        .map(|l| {
            let l = l.split(" #").next().unwrap();
            // What a shell does with the output is not the command's.
            let l = [">>", " > ", " 2>", " && ", " | "]
                .iter()
                .fold(l, |l, end| l.split(end).next().unwrap());
            l.replace("${{ github.event.number }}", "42")
        })
        .collect()
}

#[test]
fn every_command_in_the_readme_parses() {
    let commands = readme_commands();
    assert!(commands.len() >= 20, "found only {commands:?}");
    assert!(
        commands.iter().any(|c| c.contains("--env pr-42")),
        "the workflow's commands were not found: {commands:?}"
    );
    for command in &commands {
        let args = std::iter::once("cruddur-infra").chain(command.split_whitespace());
        if let Err(e) = Cli::try_parse_from(args) {
            panic!("README command `cruddur-infra {command}` does not parse:\n{e}");
        }
    }
}

/// The README's GitHub Actions workflow passes actionlint (the checker made for workflow
/// files: syntax, expressions, action versions, the shell in `run:`), installed by
/// scripts/ensure-actionlint.
#[test]
fn the_readmes_workflow_passes_actionlint() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = text
        .find("### In CI (GitHub Actions)")
        .expect("the CI section");
    let start = section + text[section..].find("```yaml\n").expect("its workflow") + 8;
    let end = start + text[start..].find("\n```").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let workflows = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    std::fs::write(workflows.join("cruddur-infra.yml"), &text[start..end + 1]).unwrap();
    let install = std::process::Command::new(root.join("scripts/ensure-actionlint"))
        .output()
        .unwrap();
    assert!(
        install.status.success(),
        "{}",
        String::from_utf8_lossy(&install.stderr)
    );
    let actionlint = String::from_utf8(install.stdout).unwrap();
    let out = std::process::Command::new(actionlint.trim())
        .args(["-no-color", ".github/workflows/cruddur-infra.yml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "actionlint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
