//! What a shell and `man` get: completion scripts for every shell, completions that come
//! from the stack file in the current directory (environments, functions, resources), the
//! manual page, and `--help` that keeps the global options in their own section.

use crate::support::{cli, cli_with_env, repo_root};

#[test]
fn every_shell_gets_a_script_that_calls_the_binary_back() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = cli(&["completions", shell], dir.path()).expect_code(0);
        assert!(
            run.stdout.contains("CRUDDUR_INFRA_COMPLETE"),
            "{shell}: {}",
            run.stdout
        );
        assert!(
            run.stdout.contains("cruddur-infra"),
            "{shell}: {}",
            run.stdout
        );
    }
    let run = cli(&["completions", "tcsh"], dir.path()).expect_code(1);
    assert!(run.stderr.contains("possible values"), "{}", run.stderr);
}

/// What fish would get for the words typed so far (`cruddur-infra` first).
fn complete(words: &[&str]) -> Vec<String> {
    let mut args = vec!["--", "cruddur-infra"];
    args.extend_from_slice(words);
    let run = cli_with_env(&args, &repo_root(), &[("CRUDDUR_INFRA_COMPLETE", "fish")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect()
}

#[test]
fn names_complete_from_the_stack_file() {
    // The repository's stack.yaml: its environments (not the `pr-*` pattern) and its one
    // function.
    assert_eq!(complete(&["--env", ""]), ["dev", "local", "prod"]);
    assert_eq!(complete(&["plan", "--env", "p"]), ["prod"]);
    assert_eq!(complete(&["invoke", ""])[0], "processor");
    // Resource names after --target and --replace.
    let targets = complete(&["apply", "--target", "proc"]);
    assert!(targets.contains(&"processor".to_string()), "{targets:?}");
    assert!(
        targets.contains(&"processor_role".to_string()),
        "{targets:?}"
    );
    assert!(!targets.contains(&"messages".to_string()), "{targets:?}");
    assert_eq!(complete(&["plan", "--replace", "trig"]), ["trigger"]);
    assert!(complete(&["pl"]).contains(&"plan".to_string()));
    assert!(complete(&["apply", "--allow-"]).contains(&"--allow-replace".to_string()));
}

/// Every command the CLI defines (from `--help`'s list, which clap makes from it).
fn commands() -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let help = cli(&["--help"], dir.path()).expect_code(0).stdout;
    let list = help
        .split_once("Commands:\n")
        .unwrap()
        .1
        .split("\n\n")
        .next()
        .unwrap();
    list.lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect()
}

#[test]
fn the_manual_page_describes_every_command_and_names_no_page_that_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let run = cli(&["man"], dir.path()).expect_code(0);
    assert!(run.stdout.starts_with(".ie"), "{}", run.stdout);
    assert!(run.stdout.contains(".TH cruddur-infra 1"), "{}", run.stdout);
    let commands = commands();
    assert!(commands.len() > 10, "{commands:?}");
    for command in &commands {
        let entry = format!(".TP\n\\fB{}\\fR\n", command.replace('-', "\\-"));
        assert!(
            run.stdout.contains(&entry),
            "{command} missing:\n{}",
            run.stdout
        );
    }
    // A reference to another page reads `name(section)`: this is the only page.
    let references: Vec<&str> = run
        .stdout
        .split(|c: char| c.is_whitespace())
        .filter(|w| w.contains("(1)") || w.contains("(5)") || w.contains("(7)"))
        .collect();
    assert!(references.is_empty(), "{references:?}");
}

#[test]
fn help_names_every_kind_from_the_registry_and_every_schema() {
    let dir = tempfile::tempdir().unwrap();
    let help = cli(&["--help"], dir.path()).expect_code(0).stdout;
    for kind in cruddur_infra::kinds::TYPES {
        assert!(help.contains(kind), "{kind} missing from --help:\n{help}");
    }
    let schema = cli(&["schema", "--help"], dir.path()).expect_code(0).stdout;
    for of in ["stack", "plan", "progress"] {
        assert!(
            schema.contains(of),
            "{of} missing from schema --help:\n{schema}"
        );
    }
}

#[test]
fn validate_checks_every_environment_and_says_so() {
    let run = cli(
        &[
            "-f",
            repo_root().join("stack.yaml").to_str().unwrap(),
            "--env",
            "local",
            "validate",
        ],
        &repo_root(),
    )
    .expect_code(0);
    assert!(
        run.stdout
            .contains("environments checked: local, dev, prod, pr-"),
        "{}",
        run.stdout
    );
}

#[test]
fn help_keeps_the_global_options_in_their_own_section() {
    let dir = tempfile::tempdir().unwrap();
    let help = cli(&["apply", "--help"], dir.path()).expect_code(0).stdout;
    let (own, global) = help
        .split_once("Global options (every command):")
        .unwrap_or_else(|| panic!("no global section: {help}"));
    assert!(
        own.contains("--allow-replace") && !own.contains("--env"),
        "{own}"
    );
    assert!(
        global.contains("--env") && !global.contains("--allow-replace"),
        "{global}"
    );
}
