//! `graph` prints the repository's stack as Mermaid and DOT, from the file alone.

use crate::support::{cli, repo_root};

#[test]
fn the_default_stack_as_mermaid_and_dot() {
    let file = repo_root().join("stack.yaml");
    let file = file.to_str().unwrap();
    let mermaid = cli(&["-f", file, "--env", "dev", "graph"], &repo_root()).expect_code(0);
    let out = mermaid.stdout;
    assert!(out.starts_with("flowchart LR\n"), "{out}");
    // The topic, the table and the queue first, needing nothing; the trigger last, after
    // the function.
    assert!(out.contains("  subgraph wave1 [\"wave 1: starts at once\"]\n    alerts[\"sns_topic.alerts (cruddur-alerts-dev)\"]\n    processor_failures[\"sqs_queue.processor_failures (cruddur-processor-failures-dev)\"]\n    messages[\"dynamodb_table.messages (cruddur-messages-dev)\"]\n  end\n"), "{out}");
    assert!(
        out.contains("  processor --> trigger\n")
            && out.contains("  processor_role --> processor\n")
            && out.contains("  processor_failures --> trigger\n")
            && out.contains("  processor --> processor_errors\n")
            && out.contains("  alerts --> processor_errors\n"),
        "{out}"
    );
    let dot = cli(
        &["-f", file, "--env", "dev", "graph", "--format", "dot"],
        &repo_root(),
    )
    .expect_code(0)
    .stdout;
    assert!(
        dot.starts_with("digraph stack {") && dot.contains("\"messages\" -> \"trigger\";"),
        "{dot}"
    );
}
