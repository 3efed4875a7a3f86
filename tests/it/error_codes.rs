//! What an AWS answer means is matched through the SDK's typed errors; the few codes
//! compared as text (`cruddur_infra::aws::codes`) are ones the SDK has no typed variant for
//! in the operations they are compared on, and nothing else in the source compares codes.
//! (A code compared as text that the SDK never reports is how `QueueDeletedRecently` went
//! unnoticed: the SDK reports SQS's query-compatible `AWS.SimpleQueueService.…` code.)

use crate::support::repo_root;
use cruddur_infra::aws::codes::ALL;
use std::path::{Path, PathBuf};

/// The source directory of the SDK crate `aws-sdk-<service>` this build uses.
fn sdk_source(service: &str) -> PathBuf {
    let metadata = cargo_metadata::MetadataCommand::new()
        .manifest_path(repo_root().join("Cargo.toml"))
        .exec()
        .unwrap();
    let package = metadata
        .packages
        .iter()
        .find(|p| p.name.as_str() == format!("aws-sdk-{service}"))
        .unwrap_or_else(|| panic!("aws-sdk-{service} is not a dependency"));
    package.manifest_path.parent().unwrap().join("src").into()
}

fn snake(operation: &str) -> String {
    let mut out = String::new();
    for (i, c) in operation.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The codes the SDK reads into a typed error of `operation`: the arms of the match in
/// its generated `de_<operation>_http_error`.
fn typed_codes(sdk: &Path, operation: &str) -> Vec<String> {
    let file = sdk.join(format!("protocol_serde/shape_{}.rs", snake(operation)));
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e} (is {operation} an operation?)", file.display()));
    let errors = text
        .split("_http_error(")
        .nth(1)
        .and_then(|rest| rest.split("\npub fn ").next())
        .unwrap_or_else(|| panic!("no error parser in {}", file.display()));
    errors
        .lines()
        .filter_map(|line| {
            let arm = line.trim().strip_prefix('"')?;
            let (code, rest) = arm.split_once('"')?;
            rest.trim_start()
                .starts_with("=>")
                .then(|| code.to_string())
        })
        .collect()
}

#[test]
fn each_code_compared_as_text_has_no_typed_variant_where_it_is_compared() {
    assert!(!ALL.is_empty());
    for code in ALL {
        let sdk = sdk_source(code.service);
        for operation in code.operations {
            let typed = typed_codes(&sdk, operation);
            assert!(
                !typed.contains(&code.code.to_string()),
                "{} {operation} has a typed error for {}: match it with `answered` instead",
                code.service,
                code.code
            );
        }
        assert!(
            code.documented.starts_with("https://docs.aws.amazon.com/"),
            "{code:?}"
        );
    }
    // The parser reads the SDK's arms: SQS's CreateQueue reports its query-compatible codes.
    let typed = typed_codes(&sdk_source("sqs"), "CreateQueue");
    assert!(
        typed.contains(&"AWS.SimpleQueueService.QueueDeletedRecently".to_string())
            && typed.contains(&"QueueAlreadyExists".to_string())
            && !typed.contains(&"QueueDeletedRecently".to_string()),
        "{typed:?}"
    );
    // EC2 models no errors: its operations have no typed codes at all.
    assert!(typed_codes(&sdk_source("ec2"), "DescribeVpcEndpoints").is_empty());
}

#[test]
fn no_code_is_compared_as_text_outside_the_codes_module() {
    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut all = Vec::new();
    files(&repo_root().join("src"), &mut all);
    let mut found = Vec::new();
    for file in &all {
        let relative = file.strip_prefix(repo_root()).unwrap();
        if relative.starts_with("src/aws/errors.rs") || relative.starts_with("src/aws/codes.rs") {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let compared = line.contains("error_code(")
                || line.contains("code() ==")
                || line.contains("code() != ")
                || line.contains(".code().is_some_and");
            if compared {
                found.push(format!("{}:{}: {}", relative.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "codes compared as text (match the SDK's typed error with `answered`, or add a `codes::Code`):\n{}",
        found.join("\n")
    );
}
