//! The pull request's plan comment (scripts/plan-comment, which docs/ci.md's workflow
//! posts and updates): a real plan in Markdown, short or too long for a comment, made into
//! the comment's body. GitHub refuses a comment over 65,536 characters.

use crate::support::{Emulator, StackFile, repo_root};

/// The comment made of `plan` (Markdown) for environment `pr-7`.
fn comment(plan: &str, dir: &std::path::Path) -> String {
    let file = dir.join("plan.md");
    std::fs::write(&file, plan).unwrap();
    let out = std::process::Command::new(repo_root().join("scripts/plan-comment"))
        .args([
            "pr-7",
            file.to_str().unwrap(),
            "https://github.com/o/r/actions/runs/1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_plan_too_long_for_a_comment_is_cut_between_resources_with_a_pointer() {
    let emulator = Emulator::start();
    // 150 queues with long tags: a plan of about 150 KB.
    let resources: String = (0..150)
        .map(|i| {
            format!(
                "  q{i}:\n    type: sqs_queue\n    name: ci-comment-{i}\n    tags: {{ note: \"{}\" }}\n",
                "x".repeat(200)
            )
        })
        .collect();
    let file = StackFile::new("ci-comment", &emulator.url, &resources);
    let plan = file.run(&["plan", "--output", "markdown"]).expect_code(0);
    assert!(plan.stdout.len() > 70_000, "{}", plan.stdout.len());
    let dir = tempfile::tempdir().unwrap();

    let body = comment(&plan.stdout, dir.path());
    assert!(body.chars().count() <= 65_536, "{}", body.len());
    assert!(body.starts_with("<!-- cruddur-infra plan pr-7 -->\n## Plan (apply)"));
    // Whole blocks only, in the plan's order, then how many were left out and where the
    // whole plan is.
    let opened = body.matches("<details>").count();
    assert_eq!(opened, body.matches("</details>").count());
    assert!(opened > 20 && opened < 150, "{opened}");
    let kept = &body[..body.rfind("</details>").unwrap()];
    assert!(
        plan.stdout
            .starts_with(&kept[kept.find('\n').unwrap() + 1..])
    );
    assert!(
        body.ends_with(&format!(
            "**{} more resource(s) not shown: the plan is longer than a comment can hold. The whole plan is in the [job summary](https://github.com/o/r/actions/runs/1).**\n",
            150 - opened
        )),
        "{}",
        &body[body.len() - 300..]
    );

    // A plan that fits is the comment as it is, after the marker.
    let short: String = plan.stdout.chars().take(3000).collect();
    let short = &short[..short.rfind("</details>").unwrap() + "</details>\n".len()];
    assert_eq!(
        comment(short, dir.path()),
        format!("<!-- cruddur-infra plan pr-7 -->\n{short}")
    );
}
