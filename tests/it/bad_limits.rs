//! Limits AWS would only enforce mid-apply, refused at load time instead: ARNs of the
//! wrong service or resource type, duplicate statement ids, the size of a function's
//! environment, and the new kinds' ranges. The same harness as `bad_input`: located,
//! explained, exit 1, no request sent.

use crate::bad_input::{BASE, Case, check_cases};

/// BASE's last line followed by an event_source_mapping `trigger` (lines 20-23) and `$extra`.
macro_rules! with_trigger {
    ($extra:literal) => {
        concat!(
            "    stream: NEW_IMAGE\n  trigger:\n    type: event_source_mapping\n    function: some-function\n    source: ${messages.stream_arn}\n",
            $extra
        )
    };
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

/// BASE's last line followed by an sqs_queue `q` (lines 20-22) and `$extra`.
macro_rules! with_queue {
    ($extra:literal) => {
        concat!(
            "    stream: NEW_IMAGE\n  q:\n    type: sqs_queue\n    name: q-${env}\n",
            $extra
        )
    };
}

/// BASE's last line followed by a cloudwatch_alarm `alarm` (lines 20-26) and `$extra`.
macro_rules! with_alarm {
    ($extra:literal) => {
        concat!(
            "    stream: NEW_IMAGE\n  alarm:\n    type: cloudwatch_alarm\n    name: alarm-${env}\n    namespace: AWS/DynamoDB\n    metric: ThrottledRequests\n    threshold: 0\n    comparison: GreaterThanThreshold\n",
            $extra
        )
    };
}

/// BASE's last line followed by an iam_role `role` whose one statement's `conditions`
/// are `$operator` (line 28, column 13) with `$key_and_value` (line 29, column 15).
macro_rules! with_condition {
    ($operator:literal, $key_and_value:literal) => {
        concat!(
            "    stream: NEW_IMAGE\n  role:\n    type: iam_role\n    name: processor\n    policies:\n      p:\n        - actions: [dynamodb:PutItem]\n          resources: [\"${messages.arn}\"]\n          conditions:\n            ",
            $operator,
            ":\n              ",
            $key_and_value,
            "\n"
        )
    };
}

const LAST: &str = "    stream: NEW_IMAGE\n";

const CASES: &[Case] = &[
    Case {
        name: "policy statements that share a sid",
        edits: &[(
            LAST,
            "    stream: NEW_IMAGE\n  role:\n    type: iam_role\n    name: processor\n    policies:\n      p:\n        - sid: Write\n          actions: [dynamodb:PutItem]\n          resources: [\"${messages.arn}\"]\n        - sid: Write\n          actions: [dynamodb:DeleteItem]\n          resources: [\"${messages.arn}\"]\n",
        )],
        env: "test",
        expect: "28:16: resources.role.policies.p[1].sid: sid `Write` is already the id of statement 0",
    },
    Case {
        name: "trigger on_failure that is not an ARN",
        edits: &[(LAST, with_trigger!("    on_failure: failures\n"))],
        env: "test",
        expect: "24:17: resources.trigger.on_failure: `failures` is not an ARN",
    },
    Case {
        name: "trigger on_failure that is a table",
        edits: &[(LAST, with_trigger!("    on_failure: ${messages.arn}\n"))],
        env: "test",
        expect: "24:17: resources.trigger.on_failure: expects an ARN of type sqs queue, sns topic or s3 bucket; this is of type dynamodb table",
    },
    Case {
        name: "trigger on_failure that is an SQS ARN of no queue",
        edits: &[(
            LAST,
            with_trigger!("    on_failure: arn:aws:sqs:us-east-1:123456789012:a/b\n"),
        )],
        env: "test",
        expect: "24:17: resources.trigger.on_failure: expects an ARN of type sqs queue, sns topic or s3 bucket; this is of type sqs (no resource type it has)",
    },
    Case {
        name: "trigger source that is the table, not its stream",
        edits: &[
            (LAST, with_trigger!("")),
            ("source: ${messages.stream_arn}", "source: ${messages.arn}"),
        ],
        env: "test",
        expect: "23:13: resources.trigger.source: expects an ARN of type dynamodb stream; this is of type dynamodb table",
    },
    Case {
        name: "function role that is not a role",
        edits: &[
            (LAST, with_function!("")),
            (
                "role: arn:aws:iam::123456789012:role/r",
                "role: arn:aws:iam::123456789012:policy/p",
            ),
        ],
        env: "test",
        expect: "24:11: resources.fn.role: expects an ARN of type iam role; this is of type iam policy",
    },
    Case {
        name: "queue name with a dot",
        edits: &[
            (LAST, with_queue!("")),
            ("name: q-${env}", "name: q.${env}"),
        ],
        env: "test",
        expect: "22:11: resources.q.name:",
    },
    Case {
        name: "queue retention under a minute",
        edits: &[(LAST, with_queue!("    message_retention_seconds: 30\n"))],
        env: "test",
        expect: "23:32: resources.q.message_retention_seconds:",
    },
    Case {
        name: "queue visibility timeout over 12 hours",
        edits: &[(LAST, with_queue!("    visibility_timeout_seconds: 43201\n"))],
        env: "test",
        expect: "23:33: resources.q.visibility_timeout_seconds:",
    },
    Case {
        name: "alarm period that is not a multiple of a minute",
        edits: &[(LAST, with_alarm!("    period: 45\n"))],
        env: "test",
        expect: "27:13: resources.alarm.period:",
    },
    Case {
        name: "alarm evaluating more than a day",
        edits: &[(LAST, with_alarm!("    evaluation_periods: 1441\n"))],
        env: "test",
        expect: "27:25: resources.alarm.evaluation_periods: 1441 periods of 60 s is 86460 s; an alarm evaluates at most 86400 s",
    },
    Case {
        name: "alarm action that is not an ARN",
        edits: &[(LAST, with_alarm!("    alarm_actions: [alerts]\n"))],
        env: "test",
        expect: "27:21: resources.alarm.alarm_actions[0]: `alerts` is not an ARN",
    },
    Case {
        name: "alarm action that is a table",
        edits: &[(
            LAST,
            with_alarm!("    alarm_actions: ['${messages.arn}']\n"),
        )],
        env: "test",
        expect: "27:21: resources.alarm.alarm_actions[0]: expects an ARN of type sns topic",
    },
    Case {
        name: "ok action that is not an ARN",
        edits: &[(LAST, with_alarm!("    ok_actions: [alerts]\n"))],
        env: "test",
        expect: "27:18: resources.alarm.ok_actions[0]: `alerts` is not an ARN",
    },
    Case {
        name: "six ok actions",
        edits: &[(
            LAST,
            with_alarm!(
                "    ok_actions: [arn:aws:sns:us-east-1:1:a, arn:aws:sns:us-east-1:1:b, arn:aws:sns:us-east-1:1:c, arn:aws:sns:us-east-1:1:d, arn:aws:sns:us-east-1:1:e, arn:aws:sns:us-east-1:1:f]\n"
            ),
        )],
        env: "test",
        expect: "27:17: resources.alarm.ok_actions: 6 actions; an alarm has at most 5",
    },
    Case {
        name: "alarm without a threshold",
        edits: &[(LAST, with_alarm!("")), ("    threshold: 0\n", "")],
        env: "test",
        expect: "21:5: resources.alarm.threshold: missing field `threshold`",
    },
    Case {
        name: "gateway endpoint for a service that has none",
        edits: &[(
            LAST,
            "    stream: NEW_IMAGE\n  endpoint:\n    type: vpc_gateway_endpoint\n    service: sqs\n",
        )],
        env: "test",
        expect: "22:14: resources.endpoint.service: invalid service `sqs`",
    },
    Case {
        name: "index projecting more than 20 non-key attributes",
        edits: &[(
            "        read_capacity: 5\n        write_capacity: 5\n",
            "        projection: INCLUDE\n        non_key_attributes: [a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21]\n        read_capacity: 5\n        write_capacity: 5\n",
        )],
        env: "test",
        expect: "18:29: resources.messages.global_secondary_indexes[0].non_key_attributes: list 1 to 20 attributes (there are 21)",
    },
    Case {
        name: "alarm period longer than seven days",
        edits: &[(LAST, with_alarm!("    period: 604860\n"))],
        env: "test",
        expect: "27:13: resources.alarm.period: 1 periods of 604860 s is 604860 s; an alarm evaluates at most 604800 s",
    },
    Case {
        name: "function in more than 16 subnets",
        edits: &[(
            LAST,
            with_function!(
                "    vpc:\n      subnet_ids: [subnet-00000001, subnet-00000002, subnet-00000003, subnet-00000004, subnet-00000005, subnet-00000006, subnet-00000007, subnet-00000008, subnet-00000009, subnet-00000010, subnet-00000011, subnet-00000012, subnet-00000013, subnet-00000014, subnet-00000015, subnet-00000016, subnet-00000017]\n"
            ),
        )],
        env: "test",
        expect: "26:19: resources.fn.vpc.subnet_ids: 17 ids; a function's VPC configuration takes at most 16",
    },
    Case {
        name: "function with more than 5 security groups",
        edits: &[(
            LAST,
            with_function!(
                "    vpc:\n      security_group_ids: [sg-00000001, sg-00000002, sg-00000003, sg-00000004, sg-00000005, sg-00000006]\n"
            ),
        )],
        env: "test",
        expect: "26:27: resources.fn.vpc.security_group_ids: 6 ids; a function's VPC configuration takes at most 5",
    },
    Case {
        name: "role with more than 20 managed policies",
        edits: &[(
            LAST,
            "    stream: NEW_IMAGE\n  role:\n    type: iam_role\n    name: processor\n    managed_policies: [arn:aws:iam::aws:policy/P1, arn:aws:iam::aws:policy/P2, arn:aws:iam::aws:policy/P3, arn:aws:iam::aws:policy/P4, arn:aws:iam::aws:policy/P5, arn:aws:iam::aws:policy/P6, arn:aws:iam::aws:policy/P7, arn:aws:iam::aws:policy/P8, arn:aws:iam::aws:policy/P9, arn:aws:iam::aws:policy/P10, arn:aws:iam::aws:policy/P11, arn:aws:iam::aws:policy/P12, arn:aws:iam::aws:policy/P13, arn:aws:iam::aws:policy/P14, arn:aws:iam::aws:policy/P15, arn:aws:iam::aws:policy/P16, arn:aws:iam::aws:policy/P17, arn:aws:iam::aws:policy/P18, arn:aws:iam::aws:policy/P19, arn:aws:iam::aws:policy/P20, arn:aws:iam::aws:policy/P21]\n",
        )],
        env: "test",
        expect: "23:23: resources.role.managed_policies: 21 managed policies; a role takes at most 20",
    },
    Case {
        name: "role description with a character IAM refuses",
        edits: &[(
            LAST,
            "    stream: NEW_IMAGE\n  role:\n    type: iam_role\n    name: processor\n    description: \"Runs the processor 🚀\"\n",
        )],
        env: "test",
        expect: "23:18: resources.role.description: a role description cannot hold `🚀`",
    },
    Case {
        name: "two roles whose names differ only in case",
        edits: &[(
            LAST,
            "    stream: NEW_IMAGE\n  role:\n    type: iam_role\n    name: Processor\n  other_role:\n    type: iam_role\n    name: processor\n",
        )],
        env: "test",
        expect: "25:11: resources.other_role.name: role name `processor` is also the name of resources.role (AWS ignores case in these names)",
    },
    Case {
        name: "trigger function named in more than 140 characters",
        edits: &[
            (LAST, with_trigger!("")),
            (
                "function: some-function",
                "function: arn:aws:lambda:us-east-1:123456789012:function:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            ),
        ],
        env: "test",
        expect: "22:15: resources.trigger.function: a function is named in at most 140 characters",
    },
    Case {
        name: "filter with an operator Lambda's filters do not have",
        edits: &[(
            LAST,
            with_trigger!("    filters:\n      - { eventName: [{ wildcard: \"INS*\" }] }\n"),
        )],
        env: "test",
        expect: "25:9: resources.trigger.filters[0]: `eventName`: Lambda's filters have no operator `wildcard`",
    },
    Case {
        name: "filter with a single value where a list belongs",
        edits: &[(
            LAST,
            with_trigger!("    filters:\n      - { eventName: INSERT }\n"),
        )],
        env: "test",
        expect: "25:9: resources.trigger.filters[0]: `eventName`: a field's values are a list",
    },
    Case {
        name: "condition operator IAM does not have",
        edits: &[(
            LAST,
            with_condition!("stringEquals", "aws:SourceVpce: vpce-1a2b3c4d"),
        )],
        env: "test",
        expect: "28:13: resources.role.policies.p[0].conditions.stringEquals: `stringEquals` is not a condition operator (IAM spells it `StringEquals`)",
    },
    Case {
        name: "condition operator Null with IfExists",
        edits: &[(
            LAST,
            with_condition!("NullIfExists", "aws:SourceVpce: \"true\""),
        )],
        env: "test",
        expect: "28:13: resources.role.policies.p[0].conditions.NullIfExists: `NullIfExists`: Null takes no IfExists",
    },
    Case {
        name: "condition key without a prefix",
        edits: &[(
            LAST,
            with_condition!("StringEquals", "SourceVpce: vpce-1a2b3c4d"),
        )],
        env: "test",
        expect: "29:15: resources.role.policies.p[0].conditions.StringEquals.SourceVpce: condition key `SourceVpce` must look like `prefix:name`",
    },
    Case {
        name: "Bool condition on something else than true or false",
        edits: &[(
            LAST,
            with_condition!("Bool", "aws:SecureTransport: \"yes\""),
        )],
        env: "test",
        expect: "29:36: resources.role.policies.p[0].conditions.Bool.aws:SecureTransport: Bool compares `true` or `false`, not `yes`",
    },
    Case {
        name: "Numeric condition on something else than a number",
        edits: &[(
            LAST,
            with_condition!("NumericLessThan", "aws:MultiFactorAuthAge: an hour"),
        )],
        env: "test",
        expect: "29:39: resources.role.policies.p[0].conditions.NumericLessThan.aws:MultiFactorAuthAge: NumericLessThan compares numbers; `an hour` is not one",
    },
];

#[test]
fn every_limit_aws_would_refuse_mid_apply_is_refused_at_load() {
    check_cases(CASES);
}

#[test]
fn a_function_environment_over_lambdas_4_kb_is_refused() {
    let big: &'static str = Box::leak(
        format!(
            "{}    environment:\n      SETTINGS: {}\n",
            with_function!(""),
            "x".repeat(4096)
        )
        .into_boxed_str(),
    );
    let edits: &'static [(&'static str, &'static str)] = Box::leak(Box::new([(LAST, big)]));
    check_cases(&[Case {
        name: "function environment over 4 KB",
        edits,
        env: "test",
        expect: "26:7: resources.fn.environment: the environment variables take 4104 bytes; Lambda allows 4096 in all",
    }]);
}

#[test]
fn a_trust_policy_over_iams_largest_quota_is_refused() {
    // 100 services of 45 characters each, quoted and separated: over 4,096 in all.
    let services: Vec<String> = (0..100)
        .map(|i| format!("service-number-{i:05}-of-many.amazonaws.com"))
        .collect();
    let big: &'static str = Box::leak(
        format!(
            "    stream: NEW_IMAGE\n  role:\n    type: iam_role\n    name: processor\n    trusted_services: [{}]\n",
            services.join(", ")
        )
        .into_boxed_str(),
    );
    let edits: &'static [(&'static str, &'static str)] = Box::leak(Box::new([(LAST, big)]));
    check_cases(&[Case {
        name: "trust policy over 4,096 characters",
        edits,
        env: "test",
        expect: "23:23: resources.role.trusted_services: the trust policy is 4611 characters (white space not counted); IAM allows at most 4096",
    }]);
}

/// Policies IAM accepts but that grant less than they say are warned about, from the
/// table of actions the tool knows; the file still validates.
#[test]
fn actions_scoped_to_resources_they_do_not_apply_to_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let text = BASE.replace("URL", "http://127.0.0.1:9").replace(
        LAST,
        "    stream: NEW_IMAGE\n  role:\n    type: iam_role\n    name: processor\n    policies:\n      p:\n        - actions: [dynamodb:GetRecords, dynamodb:ListStreams]\n          resources: [\"${messages.stream_arn}\"]\n        - actions: [dynamodb:PutItem]\n          resources: [\"${messages.arn}/index/*\"]\n        - actions: [dynamodb:ListStreams]\n          resources: [\"*\"]\n        - actions: [dynamodb:Query]\n          resources: [\"${messages.arn}/index/*\"]\n",
    );
    std::fs::write(dir.path().join("stack.yaml"), text).unwrap();
    let run = crate::support::cli(&["--no-color", "validate"], dir.path()).expect_code(0);
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning:") || l.contains("= hint:"))
        .collect();
    assert_eq!(
        warnings,
        [
            "warning: stack.yaml:26:23: resources.role.policies.p[0].resources: `dynamodb:ListStreams` cannot be scoped to a resource: only `*` grants it, so this statement does not",
            "  = hint: give it a statement of its own with resources: [\"*\"] (AWS Service Authorization Reference)",
            "warning: stack.yaml:28:23: resources.role.policies.p[1].resources: `dynamodb:PutItem` applies to table resources, and none of this statement's is one, so it grants nothing",
            "  = hint: scope it to a table ARN in a statement of its own (AWS Service Authorization Reference)",
        ],
        "{}",
        run.stderr
    );
}

/// The stack's tags and a resource's own are each within the limit, but not together.
#[test]
fn tags_over_the_limit_once_merged_are_refused() {
    let stack_tags: String = (0..30).map(|i| format!("  s{i}: v\n")).collect();
    let own_tags: String = (0..20).map(|i| format!("r{i}: v, ")).collect();
    let text: &'static str = Box::leak(
        format!(
            "stack: bad-input\ntags:\n{stack_tags}environments:\n  test:\n    emulator: URL\nresources:\n  q:\n    type: sqs_queue\n    name: q\n    tags: {{ {own_tags} }}\n"
        )
        .into_boxed_str(),
    );
    let edits: &'static [(&'static str, &'static str)] = Box::leak(Box::new([(BASE, text)]));
    check_cases(&[Case {
        name: "50 tags once merged",
        edits,
        env: "test",
        expect: "38:5: resources.q.tags: 50 tags with the stack's and the environment's; at most 47 are allowed",
    }]);
}

/// Limits the other way: what AWS accepts passes (an empty alarm description, an S3
/// bucket as the on-failure destination, `*` for an action that only `*` can grant).
#[test]
fn what_aws_accepts_passes() {
    let dir = tempfile::tempdir().unwrap();
    let text = BASE.replace("URL", "http://127.0.0.1:9").replace(
        LAST,
        &format!(
            "{}{}",
            with_trigger!("    on_failure: arn:aws:s3:::given-up-records\n"),
            "  alarm:\n    type: cloudwatch_alarm\n    name: a\n    description: ''\n    namespace: AWS/Lambda\n    metric: Errors\n    threshold: 0\n    comparison: GreaterThanThreshold\n    alarm_actions: ['arn:aws:swf:us-east-1:123456789012:action/actions/AWS_EC2.InstanceId.Stop/1.0']\n",
        ),
    );
    std::fs::write(dir.path().join("stack.yaml"), text).unwrap();
    let run = crate::support::cli(&["--no-color", "validate"], dir.path()).expect_code(0);
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
}
