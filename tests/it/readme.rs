//! The README and `docs/`: every command they show uses only commands and flags that exist
//! (each is parsed by the real command-line definition), the README stays short enough to
//! read in five minutes and links only to pages that exist, and the CI guide's workflow
//! passes actionlint.

use clap::Parser;
use cruddur_infra::cli::Cli;

/// The README and every page of `docs/`, by path.
fn pages() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![(
        "README.md".to_string(),
        std::fs::read_to_string(root.join("README.md")).unwrap(),
    )];
    let mut docs: Vec<_> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    docs.sort();
    for path in docs
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
    {
        let name = format!("docs/{}", path.file_name().unwrap().to_string_lossy());
        pages.push((name, std::fs::read_to_string(path).unwrap()));
    }
    pages
}

/// Every `cruddur-infra …` command line in the README's and the docs' code blocks,
/// continuation lines joined, comments, redirections and workflow expressions removed.
fn readme_commands() -> Vec<String> {
    pages()
        .iter()
        .flat_map(|(_, text)| commands_in(text))
        .collect()
}

fn commands_in(text: &str) -> Vec<String> {
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

/// The commands the command-line definition refuses, with why.
fn unparsable(commands: &[String]) -> Vec<String> {
    commands
        .iter()
        .filter_map(|command| {
            let args = std::iter::once("cruddur-infra").chain(command.split_whitespace());
            // --version and --help parse: they print and stop, as asked.
            Cli::try_parse_from(args)
                .err()
                .filter(|e| {
                    !matches!(
                        e.kind(),
                        clap::error::ErrorKind::DisplayVersion
                            | clap::error::ErrorKind::DisplayHelp
                    )
                })
                .map(|e| format!("`cruddur-infra {command}`: {e}"))
        })
        .collect()
}

#[test]
fn every_command_in_the_readme_and_the_docs_parses() {
    let commands = readme_commands();
    assert!(commands.len() >= 30, "found only {commands:?}");
    assert!(
        commands.iter().any(|c| c.contains("--env pr-42")),
        "the workflow's commands were not found: {commands:?}"
    );
    assert_eq!(unparsable(&commands), Vec::<String>::new());
    // The check can fail: a flag that does not exist is caught, as is a command.
    let made_up = commands_in(
        "```sh\ncruddur-infra plan --env dev --no-such-flag\ncruddur-infra teleport\n```\n",
    );
    assert_eq!(unparsable(&made_up).len(), 2, "{made_up:?}");
}

#[test]
fn the_readme_is_short_and_links_to_pages_that_exist() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(lines <= 300, "README.md has {lines} lines; at most 300");
    let mut linked = 0;
    for (page, text) in pages() {
        let dir = root.join(&page).parent().unwrap().to_path_buf();
        for link in text
            .split("](")
            .skip(1)
            .map(|rest| rest.split(')').next().unwrap())
        {
            if link.starts_with("http") || link.starts_with('#') {
                continue;
            }
            let target = dir.join(link.split('#').next().unwrap());
            assert!(
                target.exists(),
                "{page} links to {link}, which does not exist"
            );
            linked += 1;
        }
    }
    assert!(linked >= 12, "only {linked} links found");
}

/// The README's GitHub Actions workflow passes actionlint (the checker made for workflow
/// files: syntax, expressions, action versions, the shell in `run:`), installed by
/// scripts/ensure-actionlint.
#[test]
fn the_readmes_workflow_passes_actionlint() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("docs/ci.md")).unwrap();
    let section = text.find("# In CI (GitHub Actions)").expect("the CI guide");
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

/// The README's install line, then the tour's first command, with the binary it installed.
/// (`--debug`, `--root` and `--offline` only keep the test to this build's target
/// directory, a directory of its own and no network; the line is otherwise the README's.)
#[test]
fn the_install_line_gives_a_binary_that_runs_the_tour() {
    use crate::support::repo_root;
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let line = "cargo install --locked --path .";
    assert!(
        readme.contains(&format!("{line}   #")),
        "the README has no `{line}`"
    );
    assert!(readme.contains("cruddur-infra --version"));
    let root = tempfile::tempdir().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let installed = std::process::Command::new(cargo)
        .args(["install", "--locked", "--path"])
        .arg(repo_root())
        .args(["--debug", "--offline", "--root"])
        .arg(root.path())
        .env("CARGO_TARGET_DIR", crate::support::target_dir(&repo_root()))
        .output()
        .unwrap();
    assert!(
        installed.status.success(),
        "{}",
        String::from_utf8_lossy(&installed.stderr)
    );
    let binary = root.path().join("bin/cruddur-infra");
    let version = std::process::Command::new(&binary)
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("cruddur-infra {}", env!("CARGO_PKG_VERSION"))
    );
    // The tour's first command: `cruddur-infra plan --env local` (on this test's emulator).
    let emulator = crate::support::Emulator::start();
    let plan = std::process::Command::new(&binary)
        .args([
            "plan",
            "--env",
            "local",
            "--endpoint-url",
            &emulator.url,
            "--no-color",
        ])
        .current_dir(repo_root())
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&plan.stdout);
    assert!(
        plan.status.success(),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    assert!(stdout.contains("Plan: 10 to add"), "{stdout}");
}
