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
            l.strip_prefix("./target/release/cruddur-infra ")
                .or_else(|| l.strip_prefix("cruddur-infra "))
        })
        .map(|l| {
            let l = l.split(" #").next().unwrap();
            let l = l.split(">>").next().unwrap();
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
