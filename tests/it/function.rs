//! The `lambda_function` and `event_source_mapping` kinds against the emulator: build and
//! create, no-op, configuration and code updates, the trigger's in-place updates and
//! replacement, out-of-band changes shown in plan, destroy. Live state is asserted through
//! the SDK. The function is tests/fixtures/tiny-function (no dependencies: it builds in a
//! second), copied per test so a test can change its code.

use crate::support::copy_dir;
use std::path::{Path, PathBuf};

struct Fixture {
    base: crate::support::Fixture,
    /// The test's own copy of the function's package.
    package: tempfile::TempDir,
    name: String,
}

impl std::ops::Deref for Fixture {
    type Target = crate::support::Fixture;
    fn deref(&self) -> &crate::support::Fixture {
        &self.base
    }
}

/// The role and function every test starts with. FN, PKG are replaced per test.
const FUNCTION: &str = "  role:
    type: iam_role
    name: FN-role
  fn:
    type: lambda_function
    name: FN
    code: PKG
    role: ${role.arn}
    memory: 128
    timeout: 10
    environment:
      GREETING: hello
";

/// A table with a stream and the trigger from it to the function.
const TRIGGER: &str = "  messages:
    type: dynamodb_table
    name: FN-messages
    attributes: { pk: S, sk: S }
    key: { hash: pk, range: sk }
    stream: NEW_IMAGE
  trigger:
    type: event_source_mapping
    function: ${fn.name}
    source: ${messages.stream_arn}
    batch_size: 10
    starting_position: TRIM_HORIZON
    report_batch_item_failures: true
    filters:
      - { eventName: [INSERT] }
";

impl Fixture {
    fn new(test: &str, with_trigger: bool) -> Fixture {
        let package = tempfile::tempdir().unwrap();
        copy_dir(
            &crate::support::repo_root().join("tests/fixtures/tiny-function"),
            package.path(),
        );
        let name = format!("fn-{test}");
        let mut resources = FUNCTION.to_string();
        if with_trigger {
            resources.push_str(TRIGGER);
        }
        let resources = resources
            .replace("FN", &name)
            .replace("PKG", package.path().to_str().unwrap());
        Fixture {
            base: crate::support::Fixture::new(test, &resources),
            package,
            name,
        }
    }

    fn function(&self) -> Option<aws_sdk_lambda::operation::get_function::GetFunctionOutput> {
        match self.live.block_on(
            self.live
                .lambda
                .get_function()
                .function_name(&self.name)
                .send(),
        ) {
            Ok(out) => Some(out),
            Err(e) => {
                let text = format!("{e:?}");
                assert!(text.contains("ResourceNotFoundException"), "{text}");
                None
            }
        }
    }

    fn config(&self) -> aws_sdk_lambda::types::FunctionConfiguration {
        self.function()
            .expect("the function exists")
            .configuration
            .unwrap()
    }

    fn tags(&self) -> std::collections::HashMap<String, String> {
        self.function().unwrap().tags.unwrap_or_default()
    }

    /// The log group's retention: `None` if there is no log group.
    fn log_retention(&self) -> Option<Option<i32>> {
        let group = format!("/aws/lambda/{}", self.name);
        let out = self
            .live
            .block_on(
                self.live
                    .logs
                    .describe_log_groups()
                    .log_group_name_prefix(&group)
                    .send(),
            )
            .unwrap();
        out.log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(group.as_str()))
            .map(|g| g.retention_in_days())
    }

    fn mappings(&self) -> Vec<aws_sdk_lambda::types::EventSourceMappingConfiguration> {
        self.live
            .block_on(
                self.live
                    .lambda
                    .list_event_source_mappings()
                    .function_name(&self.name)
                    .send(),
            )
            .unwrap()
            .event_source_mappings
            .unwrap_or_default()
    }

    fn stream_arn(&self) -> String {
        self.live
            .expect_table(&format!("{}-messages", self.name))
            .latest_stream_arn()
            .unwrap()
            .to_string()
    }

    /// Where the build writes the zip: under cargo's target directory, which an
    /// (absolute) CARGO_TARGET_DIR moves.
    fn zip_path(&self) -> PathBuf {
        crate::support::target_dir(self.package.path()).join("lambda/tiny-function-x86_64.zip")
    }
}

fn sha256_base64(bytes: &[u8]) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes))
}

#[test]
fn a_function_is_built_created_and_left_alone_when_nothing_changed() {
    let f = Fixture::new("create", false);
    let run = f.file.run(&["plan", "--detailed-exitcode"]).expect_code(2);
    assert!(
        run.stdout.contains(&format!(
            "+ lambda_function.fn ({}) will be created",
            f.name
        )),
        "{}",
        run.stdout
    );
    let applied = f.apply();
    // Cargo's own lines are kept out of apply's progress.
    assert!(
        !applied.stderr.contains("Compiling") && !applied.stderr.contains("Finished"),
        "{}",
        applied.stderr
    );

    let config = f.config();
    assert_eq!(config.handler(), Some("bootstrap"));
    assert_eq!(
        config.runtime().map(|r| r.as_str()),
        Some("provided.al2023")
    );
    assert_eq!(config.memory_size(), Some(128));
    assert_eq!(config.timeout(), Some(10));
    assert!(
        config
            .role()
            .unwrap()
            .ends_with(&format!(":role/{}-role", f.name))
    );
    let variables = config.environment().unwrap().variables().unwrap();
    assert_eq!(variables["GREETING"], "hello");
    // The uploaded code is the zip the build wrote, byte for byte.
    let zip = std::fs::read(f.zip_path()).expect("the bundle was written");
    assert_eq!(config.code_sha256(), Some(sha256_base64(&zip).as_str()));
    let tags = f.tags();
    assert_eq!(tags["cruddur-infra:stack"], "create/test");
    assert_eq!(tags["cruddur-infra:code-hash"].len(), 64);
    assert_eq!(f.log_retention(), Some(Some(14)));

    // A rebuild of the same sources gives the same zip, so nothing is redeployed.
    f.file.run(&["build"]).expect_code(0);
    assert_eq!(
        std::fs::read(f.zip_path()).unwrap(),
        zip,
        "the bundle is not reproducible"
    );
    f.emulator.clear_requests();
    f.apply();
    assert_eq!(f.emulator.mutating_requests(), Vec::<String>::new());
    f.assert_converged();

    f.file.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert!(f.function().is_none(), "the function is still there");
    assert_eq!(f.log_retention(), None, "the log group is still there");
    f.file.run(&["destroy", "--auto-approve"]).expect_code(0);
}

/// The critical path `--stats` printed, or an empty string.
fn critical_path(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("Critical path: "))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn configuration_and_code_change_in_place() {
    let f = Fixture::new("update", false);
    f.apply();
    let first_sha = f.config().code_sha256().unwrap().to_string();
    let first_hash = f.tags()["cruddur-infra:code-hash"].clone();

    // Configuration only: one UpdateFunctionConfiguration, no build, no upload.
    f.edit(&[
        ("memory: 128", "memory: 256"),
        ("GREETING: hello", "GREETING: hi"),
    ]);
    let run = f.file.run(&["plan"]).expect_code(0);
    assert!(run.stdout.contains("~ memory"), "{}", run.stdout);
    assert!(!run.stdout.contains("code_hash"), "{}", run.stdout);
    f.emulator.clear_requests();
    let run = f
        .file
        .run(&["apply", "--auto-approve", "--stats"])
        .expect_code(0);
    // Nothing to upload, so nothing is built.
    assert!(
        !critical_path(&run.stderr).contains("build "),
        "{}",
        run.stderr
    );
    let calls = f.emulator.mutating_requests();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(calls[0].ends_with("/configuration"), "{calls:?}");
    let config = f.config();
    assert_eq!(config.memory_size(), Some(256));
    assert_eq!(
        config.environment().unwrap().variables().unwrap()["GREETING"],
        "hi"
    );
    assert_eq!(config.code_sha256(), Some(first_sha.as_str()));
    f.assert_converged();

    // A source change: plan sees it without building; apply uploads new code.
    std::fs::write(
        f.package.path().join("src/main.rs"),
        "fn main() {\n    println!(\"tiny function, version 2\");\n}\n",
    )
    .unwrap();
    let run = f.file.run(&["plan", "--detailed-exitcode"]).expect_code(2);
    assert!(run.stdout.contains("~ code_hash"), "{}", run.stdout);
    assert!(
        run.stdout.contains("the function is rebuilt"),
        "{}",
        run.stdout
    );
    // The build is a step of its own that started with the apply; the function's own
    // step (the upload) comes after it.
    let run = f
        .file
        .run(&["apply", "--auto-approve", "--stats"])
        .expect_code(0);
    let build = format!("build {}", f.package.path().display());
    let path = critical_path(&run.stderr);
    assert!(
        path.contains(": plan ") && path.contains(&format!("→ {build} ")),
        "{}",
        run.stderr
    );
    assert!(path.ends_with(" s") && path.contains("→ fn "), "{path}");
    assert_ne!(f.config().code_sha256(), Some(first_sha.as_str()));
    assert_ne!(f.tags()["cruddur-infra:code-hash"], first_hash);
    f.assert_converged();

    // Reserved concurrency and log retention.
    f.edit(&[
        (
            "memory: 128",
            "memory: 256\n    reserved_concurrency: 5\n    log_retention_days: 30",
        ),
        ("GREETING: hello", "GREETING: hi"),
    ]);
    f.apply();
    let concurrency = f
        .function()
        .unwrap()
        .concurrency
        .and_then(|c| c.reserved_concurrent_executions);
    assert_eq!(concurrency, Some(5));
    assert_eq!(f.log_retention(), Some(Some(30)));
    f.assert_converged();
}

#[test]
fn a_function_made_by_hand_is_a_conflict_until_adopted() {
    let f = Fixture::new("fn-adopt", false);
    // Make the role with the tool, then a function of the same name by hand.
    f.file
        .write(&f.resources[..f.resources.find("  fn:").unwrap()]);
    f.apply();
    let role = f
        .live
        .block_on(
            f.live
                .iam
                .get_role()
                .role_name(format!("{}-role", f.name))
                .send(),
        )
        .unwrap()
        .role
        .unwrap()
        .arn;
    f.live
        .block_on(
            f.live
                .lambda
                .create_function()
                .function_name(&f.name)
                .runtime(aws_sdk_lambda::types::Runtime::from("provided.al2023"))
                .role(role)
                .handler("bootstrap")
                .code(
                    aws_sdk_lambda::types::FunctionCode::builder()
                        .zip_file(aws_sdk_lambda::primitives::Blob::new(
                            cruddur_infra::bundle::zip_bootstrap(b"#!/bin/sh\n").unwrap(),
                        ))
                        .build(),
                )
                .send(),
        )
        .unwrap();
    f.edit(&[]);
    f.emulator.clear_requests();
    let run = f.file.run(&["apply", "--auto-approve"]).expect_code(1);
    assert!(
        run.stdout.contains("! lambda_function.fn"),
        "{}",
        run.stdout
    );
    assert_eq!(f.emulator.mutating_requests(), Vec::<String>::new());

    f.file
        .run(&["apply", "--auto-approve", "--adopt"])
        .expect_code(0);
    assert_eq!(f.tags()["cruddur-infra:stack"], "fn-adopt/test");
    assert_eq!(f.config().timeout(), Some(10));
    f.assert_converged();
}

#[test]
fn a_function_in_the_default_vpc() {
    let f = Fixture::new("vpc", false);
    f.edit(&[("memory: 128", "memory: 128\n    vpc: { vpc: default }")]);
    f.apply();
    let config = f.config();
    let vpc = config.vpc_config().expect("a VPC config");
    assert!(!vpc.subnet_ids().is_empty());
    assert_eq!(vpc.security_group_ids().len(), 1);
    f.assert_converged();

    // Out of the VPC again.
    f.edit(&[]);
    f.apply();
    let config = f.config();
    assert!(
        config
            .vpc_config()
            .is_none_or(|v| v.subnet_ids().is_empty()),
        "{:?}",
        config.vpc_config()
    );
    f.assert_converged();
}

#[test]
fn the_trigger_is_created_updated_and_shows_out_of_band_changes() {
    let f = Fixture::new("trigger", true);
    f.apply();
    let mappings = f.mappings();
    assert_eq!(mappings.len(), 1);
    let m = &mappings[0];
    assert_eq!(m.event_source_arn(), Some(f.stream_arn().as_str()));
    assert_eq!(m.batch_size(), Some(10));
    assert_eq!(
        m.function_response_types(),
        [aws_sdk_lambda::types::FunctionResponseType::ReportBatchItemFailures]
    );
    let filter = m.filter_criteria().unwrap().filters()[0].pattern().unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(filter).unwrap(),
        serde_json::json!({"eventName": ["INSERT"]})
    );
    f.assert_converged();
    let uuid = m.uuid().unwrap().to_string();

    // In place: batch size.
    f.edit(&[("batch_size: 10", "batch_size: 25")]);
    f.apply();
    let mappings = f.mappings();
    assert_eq!(mappings.len(), 1);
    assert_eq!(
        mappings[0].uuid(),
        Some(uuid.as_str()),
        "updated, not replaced"
    );
    assert_eq!(mappings[0].batch_size(), Some(25));
    f.assert_converged();
    f.edit(&[]);
    f.apply();

    // Disabled out of band: plan shows it, apply enables it again.
    f.live
        .block_on(
            f.live
                .lambda
                .update_event_source_mapping()
                .uuid(&uuid)
                .enabled(false)
                .send(),
        )
        .unwrap();
    let run = f.file.run(&["plan", "--detailed-exitcode"]).expect_code(2);
    assert!(run.stdout.contains("~ enabled"), "{}", run.stdout);
    assert!(run.stdout.contains("is Disabled"), "{}", run.stdout);
    f.apply();
    assert_eq!(f.mappings()[0].state(), Some("Enabled"));

    // A second mapping made out of band: plan names it and leaves it alone.
    let other = f
        .live
        .block_on(
            f.live
                .lambda
                .create_event_source_mapping()
                .function_name(&f.name)
                .event_source_arn(f.stream_arn())
                .starting_position(aws_sdk_lambda::types::EventSourcePosition::Latest)
                .send(),
        )
        .unwrap()
        .uuid
        .unwrap();
    let run = f.file.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    assert!(
        run.stdout.contains("another event source mapping"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(&other), "{}", run.stdout);
    f.emulator.clear_requests();
    f.apply();
    assert_eq!(f.emulator.mutating_requests(), Vec::<String>::new());
    assert_eq!(f.mappings().len(), 2);

    // Destroy takes ours and leaves the other.
    f.file.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert!(f.function().is_none());
    let left = f
        .live
        .block_on(f.live.lambda.get_event_source_mapping().uuid(&uuid).send());
    assert!(left.is_err(), "our mapping is still there");
}

#[test]
fn a_new_stream_view_replaces_the_trigger_in_the_same_apply() {
    let f = Fixture::new("restream", true);
    f.apply();
    let old_stream = f.stream_arn();
    let old_uuid = f.mappings()[0].uuid().unwrap().to_string();
    f.edit(&[("stream: NEW_IMAGE", "stream: NEW_AND_OLD_IMAGES")]);
    let run = f.file.run(&["plan"]).expect_code(0);
    assert!(
        run.stdout.contains("-/+ event_source_mapping.trigger"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("the source stream is being replaced"),
        "{}",
        run.stdout
    );
    // No --allow-replace: a mapping holds no data.
    f.apply();
    let new_stream = f.stream_arn();
    assert_ne!(new_stream, old_stream);
    let mappings = f.mappings();
    assert_eq!(mappings.len(), 1, "{mappings:?}");
    assert_ne!(mappings[0].uuid(), Some(old_uuid.as_str()));
    assert_eq!(mappings[0].event_source_arn(), Some(new_stream.as_str()));
    f.assert_converged();
}

#[test]
fn creation_waits_for_a_role_that_is_not_assumable_yet() {
    let f = Fixture::new("late-role", false);
    // The function's role is made outside the stack, and only once the tool has tried to
    // create the function: Lambda answers "cannot be assumed" until then, as AWS does
    // while a new role propagates.
    f.file.write(
        &f.resources[f.resources.find("  fn:").unwrap()..]
            .replace("${role.arn}", "arn:aws:iam::123456789012:role/late-role"),
    );
    let path = f.file.path();
    let apply = std::thread::spawn(move || {
        crate::support::cli(
            &[
                "-f",
                path.to_str().unwrap(),
                "--env",
                "test",
                "--no-color",
                "-v",
                "apply",
                "--auto-approve",
            ],
            Path::new("/"),
        )
    });
    let started = std::time::Instant::now();
    while !f
        .emulator
        .mutating_requests()
        .iter()
        .any(|r| r == "POST /2015-03-31/functions")
    {
        assert!(
            started.elapsed().as_secs() < 120,
            "the tool never tried to create the function: {:?}",
            f.emulator.requests()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    f.live
        .block_on(
            f.live
                .iam
                .create_role()
                .role_name("late-role")
                .assume_role_policy_document(
                    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
                )
                .send(),
        )
        .unwrap();
    let run = apply.join().unwrap().expect_code(0);
    assert!(
        run.stderr.contains("IAM has not yet propagated the role"),
        "the retry is not visible with -v: {}",
        run.stderr
    );
    assert!(f.config().role().unwrap().ends_with(":role/late-role"));
}

#[test]
fn arm64_without_the_rust_target_says_how_to_add_it() {
    let f = Fixture::new("arm", false);
    let sysroot = std::process::Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .unwrap();
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot
        .join("lib/rustlib/aarch64-unknown-linux-gnu")
        .is_dir()
    {
        eprintln!("this toolchain has the arm64 target; nothing to check here");
        return;
    }
    f.edit(&[("memory: 128", "memory: 128\n    architecture: arm64")]);
    let run = f.file.run(&["apply", "--auto-approve"]).expect_code(1);
    assert!(
        run.stderr
            .contains("rustup target add aarch64-unknown-linux-gnu"),
        "{}",
        run.stderr
    );
    assert!(f.function().is_none(), "a function was created anyway");
    let run = f.file.run(&["build"]).expect_code(1);
    assert!(run.stderr.contains("is not installed"), "{}", run.stderr);
}

#[test]
fn a_build_that_fails_says_cargo_s_errors_in_apply_s_error() {
    let f = Fixture::new("broken", false);
    let main = f.package.path().join("src/main.rs");
    let code = std::fs::read_to_string(&main).unwrap();
    std::fs::write(
        &main,
        format!("{code}\nfn broken() -> u32 {{ \"not a number\" }}\n"),
    )
    .unwrap();
    let run = f.file.run(&["apply", "--auto-approve"]).expect_code(1);
    assert!(run.stderr.contains("cargo build of"), "{}", run.stderr);
    assert!(run.stderr.contains("mismatched types"), "{}", run.stderr);
    assert!(f.function().is_none(), "a function was created anyway");
}
