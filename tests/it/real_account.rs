//! Opt-in acceptance test against a real AWS account, for users who have one. Ignored by
//! default and gated twice: it runs only with `--ignored` and `CRUDDUR_REAL_AWS_TEST=1`,
//! using the standard credential chain and `AWS_REGION`:
//!
//! ```sh
//! CRUDDUR_REAL_AWS_TEST=1 AWS_REGION=us-east-1 AWS_PROFILE=sandbox \
//!   cargo test --test it real_account -- --ignored --nocapture
//! ```
//!
//! It deploys a table with a stream, a role, a function (tests/fixtures/tiny-function) and
//! its trigger under a unique environment name, checks plan is clean and `outputs` has
//! every value, and destroys everything, also when an assertion fails (a guard runs
//! destroy on the way out). Costs: a few requests and seconds of on-demand capacity.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Deployed {
    dir: tempfile::TempDir,
    env: String,
}

impl Deployed {
    fn run(&self, args: &[&str]) -> std::process::Output {
        let file = self.dir.path().join("stack.yaml");
        Command::new(env!("CARGO_BIN_EXE_cruddur-infra"))
            .args([
                "-f",
                file.to_str().unwrap(),
                "--env",
                &self.env,
                "--no-color",
            ])
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Deployed {
    fn drop(&mut self) {
        let out = self.run(&["destroy", "--auto-approve", "--allow-data-loss"]);
        eprintln!(
            "teardown of {}: {}\n{}",
            self.env,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn stack(region: &str, package: &Path) -> String {
    format!(
        "stack: cruddur-acceptance
environments:
  acc-*:
    region: {region}
resources:
  messages:
    type: dynamodb_table
    name: cruddur-acc-${{env}}
    attributes: {{ pk: S, sk: S }}
    key: {{ hash: pk, range: sk }}
    stream: NEW_IMAGE
  role:
    type: iam_role
    name: cruddur-acc-${{env}}
    policies:
      stream:
        - actions: [dynamodb:DescribeStream, dynamodb:GetRecords, dynamodb:GetShardIterator, dynamodb:ListStreams]
          resources: [\"${{messages.stream_arn}}\"]
  fn:
    type: lambda_function
    name: cruddur-acc-${{env}}
    code: {}
    role: ${{role.arn}}
  trigger:
    type: event_source_mapping
    function: ${{fn.name}}
    source: ${{messages.stream_arn}}
",
        package.display()
    )
}

#[test]
#[ignore = "needs a real AWS account: CRUDDUR_REAL_AWS_TEST=1 cargo test --test it real_account -- --ignored"]
fn a_stack_deploys_converges_and_tears_down_in_a_real_account() {
    if std::env::var("CRUDDUR_REAL_AWS_TEST").as_deref() != Ok("1") {
        eprintln!("CRUDDUR_REAL_AWS_TEST is not 1: not touching any AWS account");
        return;
    }
    let region = std::env::var("AWS_REGION").expect("set AWS_REGION for the acceptance test");
    let unique = format!(
        "acc-{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let package = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-function");
    let deployed = Deployed {
        dir: tempfile::tempdir().unwrap(),
        env: unique,
    };
    std::fs::write(
        deployed.dir.path().join("stack.yaml"),
        stack(&region, &package),
    )
    .unwrap();

    let out = deployed.run(&["apply", "--auto-approve", "--stats"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = deployed.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = deployed.run(&["outputs", "--output", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (resource, attribute) in [
        ("messages", "stream_arn"),
        ("role", "arn"),
        ("fn", "arn"),
        ("trigger", "uuid"),
    ] {
        assert!(
            json["outputs"][resource][attribute].is_string(),
            "no {resource}.{attribute}: {json:#}"
        );
    }
    let out = deployed.run(&["drift"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The guard destroys on the way out; check it worked by running it here first.
    let out = deployed.run(&["destroy", "--auto-approve", "--allow-data-loss"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = deployed.run(&["outputs", "--output", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["missing"].as_array().unwrap().len(), 4, "{json:#}");
}

/// The acceptance test's stack file is valid (offline, no AWS): the opt-in test cannot rot
/// unnoticed.
#[test]
fn the_acceptance_stack_file_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let package = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-function");
    let file = dir.path().join("stack.yaml");
    std::fs::write(&file, stack("us-east-1", &package)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cruddur-infra"))
        .args(["-f", file.to_str().unwrap(), "validate"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
