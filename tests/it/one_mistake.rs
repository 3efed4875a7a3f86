//! One mistake gives one error: each kind of single mistake the bad-input tests know,
//! planted in a copy of the default stack (where everything is referred to by something
//! else), makes `validate` print exactly one `error:` line, located at the mistake. A
//! resource that fails a check stays declared for what refers to it.

use crate::support::{cli, default_stack_in};

/// (what, text in stack.yaml, its replacement: the mistake). The error must be on the line
/// where the replacement starts.
const MISTAKES: &[(&str, &str, &str)] = &[
    (
        "function memory out of range",
        "    memory: 128\n",
        "    memory: 100\n",
    ),
    (
        "function runtime that cannot run a bundle",
        "    runtime: provided.al2023\n",
        "    runtime: python3.12\n",
    ),
    (
        "reserved environment variable",
        "      INDEX_NAME: message-group-sk-index\n",
        "      AWS_REGION: eu-west-1\n",
    ),
    (
        "log retention CloudWatch does not offer",
        "    log_retention_days: 14\n",
        "    log_retention_days: 10\n",
    ),
    (
        "table capacity of zero",
        "    read_capacity: 5\n    write_capacity: 5\n    global",
        "    read_capacity: 0\n    write_capacity: 5\n    global",
    ),
    (
        "unknown billing mode",
        "    billing_mode: PROVISIONED\n",
        "    billing_mode: PROVISION\n",
    ),
    (
        "unknown stream view type",
        "    stream: NEW_IMAGE\n",
        "    stream: NEW\n",
    ),
    (
        "invalid table name",
        "    name: cruddur-messages-${env}\n",
        "    name: cruddur messages\n",
    ),
    (
        "key on an undefined attribute",
        "    key: { hash: pk, range: sk }\n",
        "    key: { hash: pk, range: created }\n",
    ),
    (
        "batch size of zero",
        "    batch_size: 100\n",
        "    batch_size: 0\n",
    ),
    (
        "unknown starting position",
        "    starting_position: TRIM_HORIZON ",
        "    starting_position: TRIM_HORIZ ",
    ),
    (
        "unknown field",
        "    batch_size: 100\n",
        "    batchsize: 100\n",
    ),
    (
        "reference to an attribute that does not exist",
        "resources: [\"${messages.arn}\"]\n",
        "resources: [\"${messages.arm}\"]\n",
    ),
    (
        "reference to a resource that is not declared",
        "resources: [\"${processor_failures.arn}\"]",
        "resources: [\"${processor_failure.arn}\"]",
    ),
    (
        "depends_on a resource that is not declared",
        "    depends_on: [dynamodb_endpoint]\n",
        "    depends_on: [dynamodb_endpont]\n",
    ),
    (
        "unknown endpoint service",
        "    service: dynamodb\n",
        "    service: dynamo\n",
    ),
    (
        "unknown alarm comparison",
        "    comparison: GreaterThanThreshold\n",
        "    comparison: Greater\n",
    ),
    (
        "unknown alarm statistic",
        "    statistic: Sum\n",
        "    statistic: Total\n",
    ),
    (
        "queue retention out of range",
        "    name: cruddur-processor-failures-${env}\n",
        "    name: cruddur-processor-failures-${env}\n    message_retention_seconds: 30\n",
    ),
    (
        "unknown subscription protocol (prod only)",
        "protocol: email,",
        "protocol: pigeon,",
    ),
    (
        "unknown trusted service form",
        "    trusted_services: [lambda.amazonaws.com]\n",
        "    trusted_services: [\"lambda amazonaws\"]\n",
    ),
];

#[test]
fn each_single_mistake_gives_exactly_one_error_at_the_mistake() {
    let dir = tempfile::tempdir().unwrap();
    let (file, text) = default_stack_in(dir.path());
    let mut failures = Vec::new();
    for (what, from, to) in MISTAKES {
        assert!(text.contains(from), "{what}: `{from}` is not in stack.yaml");
        let planted = text.replacen(from, to, 1);
        std::fs::write(&file, &planted).unwrap();
        // The line the mistake stands on: where `to` starts, plus its first line that
        // differs from `from`.
        let start = planted.find(to).unwrap();
        let first_changed = to
            .lines()
            .zip(from.lines().chain(std::iter::repeat("")))
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        let line = planted[..start].matches('\n').count() + 1 + first_changed;
        let run = cli(
            &["-f", file.to_str().unwrap(), "--no-color", "validate"],
            dir.path(),
        );
        let errors: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .collect();
        let at = format!("error: {}:{line}:", file.display());
        let located = errors.len() == 1 && errors[0].starts_with(&at);
        if run.code != 1 || !located {
            failures.push(format!(
                "{what}: expected one error at line {line}, exit {}:\n{}",
                run.code, run.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
