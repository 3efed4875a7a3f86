//! Every invalid stack file gets an error naming file:line:column and the field path, with a
//! hint; exit code 1; and not a single request to AWS. "AWS" here is a loopback listener
//! that records whether anyone connected.

use crate::support::{Run, cli};
use std::net::TcpListener;

/// The valid base file; each case changes one thing. Line numbers matter: the expected
/// positions below count from this text.
pub const BASE: &str = "\
stack: bad-input
environments:
  test:
    emulator: URL
resources:
  messages:
    type: dynamodb_table
    name: cruddur-messages-${env}
    attributes: { pk: S, sk: S, message_group_uuid: S }
    key: { hash: pk, range: sk }
    billing_mode: PROVISIONED
    read_capacity: 5
    write_capacity: 5
    global_secondary_indexes:
      - name: message-group-sk-index
        key: { hash: message_group_uuid, range: sk }
        read_capacity: 5
        write_capacity: 5
    stream: NEW_IMAGE
";

pub struct Case {
    pub name: &'static str,
    /// (text in BASE, replacement); applied in order.
    pub edits: &'static [(&'static str, &'static str)],
    pub env: &'static str,
    /// Expected start of the error line after `error: <file>:`.
    pub expect: &'static str,
}

/// BASE's last line followed by a lambda_function `fn` (lines 20-24) and `$extra`.
macro_rules! with_function {
    ($extra:literal) => {
        concat!(
            "    stream: NEW_IMAGE\n  fn:\n    type: lambda_function\n    name: fn-${env}\n    code: ",
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/tiny-function\n    role: arn:aws:iam::123456789012:role/r\n",
            $extra
        )
    };
}

/// BASE's last line followed by an event_source_mapping `trigger` (lines 20-23) and `$extra`.
macro_rules! with_trigger {
    ($extra:literal) => {
        concat!(
            "    stream: NEW_IMAGE\n  trigger:\n    type: event_source_mapping\n    function: some-function\n    source: ${messages.stream_arn}\n",
            $extra
        )
    };
}

const CASES: &[Case] = &[
    Case {
        name: "function code that is not a cargo package",
        edits: &[
            ("    stream: NEW_IMAGE\n", with_function!("")),
            ("/tests/fixtures/tiny-function\n", "/tests/fixtures\n"),
        ],
        env: "test",
        expect: "23:11: resources.fn.code:",
    },
    Case {
        name: "function runtime that cannot run a bundle",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            with_function!("    runtime: python3.12\n"),
        )],
        env: "test",
        expect: "25:14: resources.fn.runtime: runtime `python3.12` cannot run a bundled Rust executable",
    },
    Case {
        name: "function memory out of range",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            with_function!("    memory: 64\n"),
        )],
        env: "test",
        expect: "25:13: resources.fn.memory: 64 is out of range (128-10240)",
    },
    Case {
        name: "function environment variable reserved by Lambda",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            with_function!("    environment:\n      AWS_REGION: eu-west-1\n"),
        )],
        env: "test",
        expect: "26:7: resources.fn.environment.AWS_REGION: `AWS_REGION` is set by Lambda itself",
    },
    Case {
        name: "function log retention CloudWatch does not offer",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            with_function!("    log_retention_days: 10\n"),
        )],
        env: "test",
        expect: "25:25: resources.fn.log_retention_days: CloudWatch Logs does not offer a retention of 10 days",
    },
    Case {
        name: "function subnet id of the wrong form",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            with_function!("    vpc: { subnet_ids: [subnet-xyz] }\n"),
        )],
        env: "test",
        expect: "25:25: resources.fn.vpc.subnet_ids: `subnet-xyz` is not a subnet id",
    },
    Case {
        name: "function vpc with an unknown field",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            with_function!("    vpc: { subnets: all }\n"),
        )],
        env: "test",
        expect: "25:12: resources.fn.vpc.subnets: unknown field `subnets`",
    },
    Case {
        name: "trigger filter that is not an event pattern",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            with_trigger!("    filters: [INSERT]\n"),
        )],
        env: "test",
        expect: "24:15: resources.trigger.filters[0]: a filter is an event pattern (a mapping of fields)",
    },
    Case {
        name: "function name with a character Lambda refuses",
        edits: &[
            ("    stream: NEW_IMAGE\n", with_function!("")),
            ("name: fn-${env}", "name: fn.${env}"),
        ],
        env: "test",
        expect: "22:11: resources.fn.name: invalid function name `fn.test`",
    },
    Case {
        name: "function environment variable with a bad name",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            with_function!("    environment:\n      9LIVES: x\n"),
        )],
        env: "test",
        expect: "26:7: resources.fn.environment.9LIVES: invalid environment variable name `9LIVES`",
    },
    Case {
        name: "trigger record age below Lambda's minimum",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            with_trigger!("    maximum_record_age_seconds: 30\n"),
        )],
        env: "test",
        expect: "24:33: resources.trigger.maximum_record_age_seconds: 30 is out of range",
    },
    Case {
        name: "trigger starting position Lambda does not know",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            with_trigger!("    starting_position: NEWEST\n"),
        )],
        env: "test",
        expect: "24:24: resources.trigger.starting_position:",
    },
    Case {
        name: "trigger batch size out of range",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            with_trigger!("    batch_size: 0\n"),
        )],
        env: "test",
        expect: "24:17: resources.trigger.batch_size: 0 is out of range",
    },
    Case {
        name: "trigger from a table without a stream",
        edits: &[
            ("    stream: NEW_IMAGE\n", with_trigger!("")),
            ("    stream: NEW_IMAGE\n", ""),
        ],
        env: "test",
        expect: "22:13: resources.trigger.source: `${messages.stream_arn}`: the table has no stream",
    },
    Case {
        name: "yaml syntax",
        edits: &[("key: { hash: pk, range: sk }", "key: { hash: pk, range: sk")],
        env: "test",
        expect: "11:17: resources.messages.key: while parsing a flow mapping",
    },
    Case {
        name: "hash and range key are one attribute",
        edits: &[(
            "key: { hash: pk, range: sk }",
            "key: { hash: pk, range: pk }",
        )],
        env: "test",
        expect: "10:29: resources.messages.key.range: `pk` is both the hash and the range key",
    },
    Case {
        name: "two resources with one table name",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            "    stream: NEW_IMAGE\n  copy:\n    type: dynamodb_table\n    name: cruddur-messages-${env}\n    attributes: { pk: S }\n    key: { hash: pk }\n",
        )],
        env: "test",
        expect: "22:11: resources.copy.name: table name `cruddur-messages-test` is also the name of resources.messages",
    },
    Case {
        name: "unknown field",
        edits: &[(
            "    read_capacity: 5\n    write",
            "    read_capcity: 5\n    write",
        )],
        env: "test",
        expect: "12:5: resources.messages.read_capcity: unknown field `read_capcity`",
    },
    Case {
        name: "wrong type",
        edits: &[(
            "    read_capacity: 5\n    write",
            "    read_capacity: five\n    write",
        )],
        env: "test",
        expect: "12:20: resources.messages.read_capacity:",
    },
    Case {
        name: "invalid table name",
        edits: &[(
            "name: cruddur-messages-${env}",
            "name: \"no spaces, ${env}\"",
        )],
        env: "test",
        expect: "8:11: resources.messages.name: invalid table name `no spaces, test`",
    },
    Case {
        name: "table name too short",
        edits: &[("name: cruddur-messages-${env}", "name: ab")],
        env: "test",
        expect: "8:11: resources.messages.name: invalid table name `ab`",
    },
    Case {
        name: "key attribute not declared",
        edits: &[(
            "key: { hash: pk, range: sk }",
            "key: { hash: id, range: sk }",
        )],
        env: "test",
        expect: "10:18: resources.messages.key.hash: key attribute `id` is not declared in `attributes`",
    },
    Case {
        name: "index over an undeclared attribute",
        edits: &[(
            "hash: message_group_uuid, range: sk }",
            "hash: user_uuid, range: sk }",
        )],
        env: "test",
        expect: "16:22: resources.messages.global_secondary_indexes[0].key.hash: key attribute `user_uuid` is not declared",
    },
    Case {
        name: "capacity zero",
        edits: &[(
            "    read_capacity: 5\n    write",
            "    read_capacity: 0\n    write",
        )],
        env: "test",
        expect: "12:20: resources.messages.read_capacity: capacity 0 is out of range",
    },
    Case {
        name: "capacity above the quota",
        edits: &[(
            "        read_capacity: 5\n",
            "        read_capacity: 50000\n",
        )],
        env: "test",
        expect: "17:24: resources.messages.global_secondary_indexes[0].read_capacity: capacity 50000 is out of range",
    },
    Case {
        name: "capacity with on-demand billing",
        edits: &[("billing_mode: PROVISIONED", "billing_mode: PAY_PER_REQUEST")],
        env: "test",
        expect: "12:20: resources.messages.read_capacity: `read_capacity` is only for billing_mode PROVISIONED",
    },
    Case {
        name: "provisioned without capacity",
        edits: &[(
            "    read_capacity: 5\n    write_capacity: 5\n    global",
            "    global",
        )],
        env: "test",
        expect: "7:5: resources.messages.read_capacity: `read_capacity` is required with billing_mode PROVISIONED",
    },
    Case {
        name: "dangling reference",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            "    stream: NEW_IMAGE\n    tags: { peer: \"${mesages.arn}\" }\n",
        )],
        env: "test",
        expect: "20:19: resources.messages.tags.peer: `${mesages.arn}` refers to resource `mesages`, which is not declared",
    },
    Case {
        name: "cyclic reference",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            "    stream: NEW_IMAGE\n    tags: { peer: \"${other.arn}\" }\n  other:\n    type: dynamodb_table\n    name: other-${env}\n    attributes: { id: S }\n    key: { hash: id }\n    tags: { peer: \"${messages.name}\" }\n",
        )],
        env: "test",
        expect: "20:19: resources.messages.tags.peer: dependency cycle: messages → other → messages",
    },
    Case {
        name: "self reference through depends_on",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            "    stream: NEW_IMAGE\n    depends_on: [messages]\n",
        )],
        env: "test",
        expect: "6:3: resources.messages: dependency cycle: messages → messages",
    },
    Case {
        name: "unknown environment",
        edits: &[],
        env: "prod",
        expect: " --env: environment `prod` is not declared in the stack file",
    },
    Case {
        name: "unknown environment in an override",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            "    stream: NEW_IMAGE\n    overrides:\n      prdo: { deletion_protection: true }\n",
        )],
        env: "test",
        expect: "21:7: resources.messages.overrides.prdo: override for environment `prdo`, which is not declared",
    },
    Case {
        name: "duplicate key",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            "    stream: NEW_IMAGE\n    stream: KEYS_ONLY\n",
        )],
        env: "test",
        expect: "20:5: resources.messages: duplicate mapping key `stream`",
    },
    Case {
        name: "unknown resource type",
        edits: &[("type: dynamodb_table", "type: dynamodb_tabel")],
        env: "test",
        expect: "7:5: resources.messages: unknown variant `dynamodb_tabel`",
    },
    Case {
        name: "type not first",
        edits: &[(
            "    type: dynamodb_table\n    name: cruddur-messages-${env}\n",
            "    name: cruddur-messages-${env}\n    type: dynamodb_table\n",
        )],
        env: "test",
        expect: "7:5: resources.messages: `type` must be the first key of a resource (found `name` first)",
    },
    Case {
        name: "attribute no key uses",
        edits: &[(
            "message_group_uuid: S }",
            "message_group_uuid: S, extra: S }",
        )],
        env: "test",
        expect: "9:56: resources.messages.attributes.extra: attribute `extra` is declared but no key uses it",
    },
    Case {
        name: "stream ARN of a table without a stream",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            "  other:\n    type: dynamodb_table\n    name: other-${env}\n    attributes: { id: S }\n    key: { hash: id }\n    tags: { source: \"${messages.stream_arn}\" }\n",
        )],
        env: "test",
        expect: "24:21: resources.other.tags.source: `${messages.stream_arn}`: the table has no stream",
    },
    Case {
        name: "attribute that does not exist",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            "    stream: NEW_IMAGE\n    tags: { x: \"${messages.url}\" }\n",
        )],
        env: "test",
        expect: "20:16: resources.messages.tags.x: `${messages.url}`: dynamodb_table has no attribute `url`",
    },
    Case {
        name: "malformed placeholder",
        edits: &[(
            "name: cruddur-messages-${env}",
            "name: cruddur-messages-${env",
        )],
        env: "test",
        expect: "8:11: resources.messages.name: unterminated placeholder",
    },
    Case {
        name: "invalid stack name",
        edits: &[("stack: bad-input", "stack: Bad_Input")],
        env: "test",
        expect: "1:8: stack: invalid stack name `Bad_Input`",
    },
    Case {
        name: "emulator that is not loopback",
        edits: &[("emulator: URL", "emulator: http://192.0.2.1:5000")],
        env: "test",
        expect: "4:15: environments.test.emulator: `http://192.0.2.1:5000` is not a loopback address",
    },
    Case {
        name: "invalid region",
        edits: &[(
            "  test:\n    emulator: URL\n",
            "  test:\n    emulator: URL\n    region: mars-1\n",
        )],
        env: "test",
        expect: "5:13: environments.test.region: invalid region `mars-1`",
    },
    Case {
        name: "reserved tag key",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            "    stream: NEW_IMAGE\n    tags: { \"aws:owner\": me }\n",
        )],
        env: "test",
        expect: "20:13: resources.messages.tags.aws:owner: tag key `aws:owner`: the `aws:` prefix is reserved by AWS",
    },
    Case {
        name: "depends_on an unknown resource",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            "    stream: NEW_IMAGE\n    depends_on: [procesor]\n",
        )],
        env: "test",
        expect: "20:18: resources.messages.depends_on: `procesor` is not a declared resource",
    },
    Case {
        name: "unknown projection",
        edits: &[(
            "        key: { hash: message_group_uuid, range: sk }\n",
            "        key: { hash: message_group_uuid, range: sk }\n        projection: EVERYTHING\n",
        )],
        env: "test",
        expect: "17:21: resources.messages.global_secondary_indexes[0].projection: unknown variant `EVERYTHING`",
    },
    Case {
        name: "INCLUDE without attributes",
        edits: &[(
            "        key: { hash: message_group_uuid, range: sk }\n",
            "        key: { hash: message_group_uuid, range: sk }\n        projection: INCLUDE\n",
        )],
        env: "test",
        expect: "15:9: resources.messages.global_secondary_indexes[0].non_key_attributes: projection INCLUDE needs `non_key_attributes`",
    },
    Case {
        name: "yes is not a boolean",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            "    stream: NEW_IMAGE\n    deletion_protection: yes\n",
        )],
        env: "test",
        expect: "20:26: resources.messages.deletion_protection:",
    },
    Case {
        name: "missing key",
        edits: &[("    key: { hash: pk, range: sk }\n", "")],
        env: "test",
        expect: "7:5: resources.messages.key: missing field `key`",
    },
    Case {
        name: "malformed action",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            "    stream: NEW_IMAGE\n  role:\n    type: iam_role\n    name: processor-${env}\n    policies:\n      p:\n        - actions: [\"dynamodb:\"]\n          resources: [\"${messages.arn}\"]\n",
        )],
        env: "test",
        expect: "25:21: resources.role.policies.p[0].actions: action `dynamodb:` has no action name after `dynamodb:`",
    },
    Case {
        name: "managed policy that is not an ARN",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            "    stream: NEW_IMAGE\n  role:\n    type: iam_role\n    name: processor-${env}\n    managed_policies: [AWSLambdaBasicExecutionRole]\n",
        )],
        env: "test",
        expect: "23:24: resources.role.managed_policies: `AWSLambdaBasicExecutionRole` is not a managed policy ARN",
    },
    Case {
        name: "invalid role name",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            "    stream: NEW_IMAGE\n  role:\n    type: iam_role\n    name: \"processor ${env}\"\n",
        )],
        env: "test",
        expect: "22:11: resources.role.name: invalid role name `processor test`",
    },
    Case {
        name: "session duration out of range",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            "    stream: NEW_IMAGE\n  role:\n    type: iam_role\n    name: processor\n    max_session_duration: 60\n",
        )],
        env: "test",
        expect: "23:27: resources.role.max_session_duration: 60 is out of range (3600-43200)",
    },
    Case {
        name: "resource that is not an ARN",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            "    stream: NEW_IMAGE\n  role:\n    type: iam_role\n    name: processor\n    policies:\n      p:\n        - actions: [dynamodb:Query]\n          resources: [messages]\n",
        )],
        env: "test",
        expect: "26:23: resources.role.policies.p[0].resources: resource `messages` is not an ARN",
    },
    Case {
        name: "unknown deployment value",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            "    stream: NEW_IMAGE\n  role:\n    type: iam_role\n    name: processor\n    policies:\n      p:\n        - actions: [logs:PutLogEvents]\n          resources: [\"arn:aws:logs:${aws.regoin}:1:x\"]\n",
        )],
        env: "test",
        expect: "26:23: resources.role.policies.p[0].resources: `${aws.regoin}` is not a deployment value",
    },
    Case {
        name: "route table id of the wrong form",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            "    stream: NEW_IMAGE\n  endpoint:\n    type: vpc_gateway_endpoint\n    service: dynamodb\n    route_table_ids: [rt-123]\n",
        )],
        env: "test",
        expect: "23:23: resources.endpoint.route_table_ids: `rt-123` is not a route table id",
    },
    Case {
        name: "VPC id of the wrong form",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            "    stream: NEW_IMAGE\n  endpoint:\n    type: vpc_gateway_endpoint\n    service: dynamodb\n    vpc: main\n",
        )],
        env: "test",
        expect: "23:10: resources.endpoint.vpc: `main` is not a VPC id",
    },
    Case {
        name: "VPC by id and by tags",
        edits: &[(
            "    stream: NEW_IMAGE\n",
            "    stream: NEW_IMAGE\n  endpoint:\n    type: vpc_gateway_endpoint\n    service: dynamodb\n    vpc: default\n    vpc_tags: { Name: main }\n",
        )],
        env: "test",
        expect: "23:10: resources.endpoint.vpc: give `vpc` or `vpc_tags`, not both",
    },
    Case {
        name: "invalid resource name",
        edits: &[("  messages:\n", "  Messages:\n")],
        env: "test",
        expect: "6:3: resources.Messages: invalid resource name `Messages`",
    },
];

/// A loopback port that records whether anything connected to it.
pub struct Sentinel(TcpListener);

impl Sentinel {
    pub fn new() -> Sentinel {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Sentinel(listener)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.0.local_addr().unwrap())
    }

    fn was_contacted(&self) -> bool {
        self.0.accept().is_ok()
    }
}

pub fn run_case(case: &Case, sentinel: &Sentinel, command: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut text = BASE.to_string();
    for (from, to) in case.edits {
        assert!(
            text.contains(from),
            "case `{}`: `{from}` is not in the base file",
            case.name
        );
        text = text.replacen(from, to, 1);
    }
    std::fs::write(
        dir.path().join("stack.yaml"),
        text.replace("URL", &sentinel.url()),
    )
    .unwrap();
    let mut args = vec!["--env", case.env, "--no-color"];
    args.extend_from_slice(command);
    cli(&args, dir.path())
}

#[test]
fn every_bad_input_is_located_explained_and_touches_nothing() {
    check_cases(CASES);
}

/// Each case's error is located, explained and printed by plan, apply and validate alike,
/// with exit code 1, nothing on stdout and no request sent.
pub fn check_cases(cases: &[Case]) {
    let sentinel = Sentinel::new();
    let mut failures = Vec::new();
    for case in cases {
        for command in [&["plan"][..], &["apply", "--auto-approve"], &["validate"]] {
            let run = run_case(case, &sentinel, command);
            let expected = format!("error: stack.yaml:{}", case.expect);
            let ok = run.code == 1
                && run.stderr.contains(&expected)
                && run.stderr.contains("= hint: ")
                && run.stdout.is_empty();
            if !ok {
                failures.push(format!(
                    "case `{}` ({}): exit {}, expected `{expected}`\n{}",
                    case.name,
                    command.join(" "),
                    run.code,
                    run.stderr
                ));
            }
        }
        assert!(
            !sentinel.was_contacted(),
            "case `{}` sent a request",
            case.name
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_base_file_is_valid() {
    // Guards the table above: each case must fail because of its edit, not the base.
    let sentinel = Sentinel::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stack.yaml"),
        BASE.replace("URL", &sentinel.url()),
    )
    .unwrap();
    cli(&["validate"], dir.path()).expect_code(0);
    cli(&["validate", "--env", "test"], dir.path()).expect_code(0);
}

#[test]
fn a_missing_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = cli(&["-f", "nope.yaml", "plan", "--env", "test"], dir.path()).expect_code(1);
    assert!(
        run.stderr
            .contains("error: nope.yaml: cannot read the stack file"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_oversized_file_is_refused_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let big = format!("stack: x\n# {}\n", "a".repeat(2 * 1024 * 1024));
    std::fs::write(dir.path().join("stack.yaml"), big).unwrap();
    let run = cli(&["validate"], dir.path()).expect_code(1);
    assert!(
        run.stderr.contains("the limit is 1048576"),
        "{}",
        run.stderr
    );
}

#[test]
fn deep_nesting_hits_the_parser_budget() {
    let sentinel = Sentinel::new();
    let dir = tempfile::tempdir().unwrap();
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let text = BASE
        .replace("URL", &sentinel.url())
        .replace("stream: NEW_IMAGE", &format!("stream: {deep}"));
    std::fs::write(dir.path().join("stack.yaml"), text).unwrap();
    let run = cli(&["plan", "--env", "test"], dir.path()).expect_code(1);
    assert!(
        run.stderr.contains("error: stack.yaml:19:"),
        "{}",
        run.stderr
    );
    assert!(!sentinel.was_contacted());
}

#[test]
fn no_environment_chosen_is_an_error_before_any_request() {
    let sentinel = Sentinel::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stack.yaml"),
        BASE.replace("URL", &sentinel.url()),
    )
    .unwrap();
    let run = cli(&["plan"], dir.path()).expect_code(1);
    assert!(
        run.stderr
            .contains("no environment chosen: pass --env NAME"),
        "{}",
        run.stderr
    );
    assert!(!sentinel.was_contacted());
}

#[test]
fn usage_errors_exit_1_not_2() {
    // 2 means "changes" for plan --detailed-exitcode; a usage error must not look like it.
    let dir = tempfile::tempdir().unwrap();
    let run = cli(&["plan", "--no-such-flag"], dir.path()).expect_code(1);
    assert!(run.stderr.contains("--no-such-flag"), "{}", run.stderr);
}
