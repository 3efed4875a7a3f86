//! `iam_role` and `vpc_gateway_endpoint` against the emulator: create, no-op, in-place
//! changes, out-of-band changes, adoption, destroy; live state asserted through the SDK.

use cruddur_infra::policy::{Statement, parse_document};
use std::collections::BTreeSet;

/// The table the role and the endpoint refer to, the role, the endpoint. `RT1`/`RT2` are
/// replaced by route tables the test creates.
const STACK: &str = "  messages:
    type: dynamodb_table
    name: msgs-${env}
    attributes: { pk: S, sk: S }
    key: { hash: pk, range: sk }
    stream: NEW_IMAGE
  processor_role:
    type: iam_role
    name: processor-${env}
    description: Runs the stream processor
    managed_policies:
      - arn:aws:iam::aws:policy/service-role/AWSLambdaENIManagementAccess
      - arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole
    policies:
      processor:
        - actions: [dynamodb:PutItem, dynamodb:DeleteItem]
          resources: [\"${messages.arn}\"]
        - actions: [dynamodb:DescribeStream, dynamodb:GetRecords, dynamodb:GetShardIterator]
          resources: [\"${messages.stream_arn}\"]
        - actions: [logs:CreateLogStream, logs:PutLogEvents]
          resources: [\"arn:${aws.partition}:logs:${aws.region}:${aws.account_id}:log-group:/aws/lambda/processor-${env}:*\"]
  endpoint:
    type: vpc_gateway_endpoint
    service: dynamodb
    route_table_ids: [RT1, RT2]
    policy:
      - actions: [dynamodb:Query, dynamodb:PutItem, dynamodb:DeleteItem]
        resources: [\"${messages.arn}\", \"${messages.arn}/index/*\"]
";

const ENI: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaENIManagementAccess";
const BASIC: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";

struct Fixture {
    base: crate::support::Fixture,
    rt1: String,
    rt2: String,
}

impl std::ops::Deref for Fixture {
    type Target = crate::support::Fixture;
    fn deref(&self) -> &crate::support::Fixture {
        &self.base
    }
}

impl Fixture {
    /// STACK on a fresh emulator, with two route tables made for it.
    fn new(test: &str) -> Fixture {
        let (base, (rt1, rt2)) = crate::support::Fixture::with(test, |live| {
            let vpc = live.default_vpc();
            let rt1 = live.create_route_table(&vpc, &[("tier", "private")]);
            let rt2 = live.create_route_table(&vpc, &[("tier", "private")]);
            (STACK.replace("RT1", &rt1).replace("RT2", &rt2), (rt1, rt2))
        });
        Fixture { base, rt1, rt2 }
    }

    fn table_arn(&self) -> String {
        self.live.expect_table("msgs-test").table_arn.unwrap()
    }

    fn endpoint(&self) -> aws_sdk_ec2::types::VpcEndpoint {
        let mut all = self.live.endpoints();
        assert_eq!(all.len(), 1, "expected exactly one endpoint: {all:?}");
        all.remove(0)
    }
}

fn statement(actions: &[&str], resources: &[&str]) -> Statement {
    Statement {
        sid: None,
        effect: "Allow".into(),
        principal: None,
        action: actions.iter().map(|s| s.to_string()).collect(),
        not_action: BTreeSet::new(),
        resource: resources.iter().map(|s| s.to_string()).collect(),
        not_resource: BTreeSet::new(),
        condition: Default::default(),
    }
}

#[test]
fn role_and_endpoint_are_created_then_left_alone() {
    let f = Fixture::new("create");
    let run = f.file.run(&["plan"]).expect_code(0);
    assert!(
        run.stdout
            .contains("+ iam_role.processor_role (processor-test) will be created"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("+ vpc_gateway_endpoint.endpoint"),
        "{}",
        run.stdout
    );
    f.apply();

    // The role: trust, inline policy with ARNs from the live account, attachments, tags.
    let role = f.live.role("processor-test").expect("the role exists");
    let trust = parse_document(role.assume_role_policy_document().unwrap()).unwrap();
    assert_eq!(trust.len(), 1);
    assert_eq!(
        serde_json::to_value(&trust[0]).unwrap()["Principal"]["Service"],
        serde_json::json!(["lambda.amazonaws.com"])
    );
    assert_eq!(role.description(), Some("Runs the stream processor"));
    let table = f.live.expect_table("msgs-test");
    let stream_arn = table.latest_stream_arn().unwrap();
    let policies = f.live.inline_policies("processor-test");
    let mut expected = vec![
        statement(
            &["dynamodb:PutItem", "dynamodb:DeleteItem"],
            &[&f.table_arn()],
        ),
        statement(
            &[
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
            ],
            &[stream_arn],
        ),
        statement(
            &["logs:CreateLogStream", "logs:PutLogEvents"],
            &["arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/processor-test:*"],
        ),
    ];
    expected.sort();
    assert_eq!(policies["processor"], expected);
    assert_eq!(
        f.live.attached_policies("processor-test"),
        BTreeSet::from([ENI.to_string(), BASIC.to_string()])
    );
    let tags: Vec<_> = role.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert!(
        tags.contains(&("cruddur-infra:stack", "create/test")),
        "{tags:?}"
    );

    // The endpoint: the VPC's route tables as asked, the policy limited to the table.
    let endpoint = f.endpoint();
    assert_eq!(endpoint.vpc_id(), Some(f.live.default_vpc().as_str()));
    assert_eq!(
        endpoint.service_name(),
        Some("com.amazonaws.us-east-1.dynamodb")
    );
    let tables: BTreeSet<&str> = endpoint
        .route_table_ids()
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(tables, BTreeSet::from([f.rt1.as_str(), f.rt2.as_str()]));
    let policy = parse_document(endpoint.policy_document().unwrap()).unwrap();
    let resources: Vec<&String> = policy.iter().flat_map(|s| &s.resource).collect();
    assert_eq!(resources.len(), 2);
    assert!(
        resources.iter().all(|r| r.starts_with(&f.table_arn())),
        "{resources:?}"
    );
    assert!(
        endpoint
            .tags()
            .iter()
            .any(|t| t.key() == Some("cruddur-infra:resource") && t.value() == Some("endpoint"))
    );

    // Converged: no changes, and a second apply sends only reads (and makes no second endpoint).
    f.assert_converged();
    f.emulator.clear_requests();
    f.apply();
    assert!(!f.emulator.requests().is_empty());
    assert_eq!(f.emulator.mutating_requests(), Vec::<String>::new());
    assert_eq!(f.live.endpoints().len(), 1);
}

#[test]
fn a_changed_statement_is_updated_in_place_and_shown_readably() {
    let f = Fixture::new("statement");
    f.apply();
    f.edit(&[(
        "[dynamodb:PutItem, dynamodb:DeleteItem]",
        "[dynamodb:PutItem, dynamodb:DeleteItem, dynamodb:UpdateItem]",
    )]);
    let run = f.file.run(&["plan", "--detailed-exitcode"]).expect_code(2);
    assert!(
        run.stdout
            .contains("~ iam_role.processor_role (processor-test) will be updated in place"),
        "{}",
        run.stdout
    );
    // Only the changed statement, named, and only what changed in it.
    let expected = "      ~ policies = {
          ~ processor = [
              ~ {   # Allow dynamodb:DeleteItem, dynamodb:PutItem, dynamodb:UpdateItem
                  ~ Action = [
                      + \"dynamodb:UpdateItem\"
                    ]
                }
            ]
        }
";
    assert!(run.stdout.contains(expected), "{}", run.stdout);

    f.emulator.clear_requests();
    f.apply();
    assert_eq!(f.emulator.mutating_requests(), ["PutRolePolicy"]);
    let policies = f.live.inline_policies("processor-test");
    assert!(
        policies["processor"]
            .iter()
            .any(|s| s.action.contains("dynamodb:UpdateItem"))
    );
    f.assert_converged();
}

#[test]
fn managed_attachments_follow_the_file_even_against_out_of_band_changes() {
    let f = Fixture::new("managed");
    f.apply();

    // Dropped from the file: detached.
    f.edit(&[(
        "      - arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole\n",
        "",
    )]);
    f.emulator.clear_requests();
    f.apply();
    assert_eq!(f.emulator.mutating_requests(), ["DetachRolePolicy"]);
    assert_eq!(
        f.live.attached_policies("processor-test"),
        BTreeSet::from([ENI.to_string()])
    );
    f.assert_converged();

    // Attached out of band: plan shows it, apply detaches it.
    let full = "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess";
    f.live
        .block_on(
            f.live
                .iam
                .attach_role_policy()
                .role_name("processor-test")
                .policy_arn(full)
                .send(),
        )
        .unwrap();
    let run = f.file.run(&["plan", "--detailed-exitcode"]).expect_code(2);
    assert!(
        run.stdout
            .contains(&format!("~ managed_policies = [ # attached to the role but not in the stack file: it is detached\n          - \"{full}\"")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("not in the stack file: it is detached"),
        "{}",
        run.stdout
    );
    f.apply();
    assert_eq!(
        f.live.attached_policies("processor-test"),
        BTreeSet::from([ENI.to_string()])
    );

    // An inline policy edited out of band is put back; one added out of band is removed.
    let edited = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"}]}"#;
    for name in ["processor", "extra"] {
        let request = f
            .live
            .iam
            .put_role_policy()
            .role_name("processor-test")
            .policy_name(name)
            .policy_document(edited);
        f.live.block_on(request.send()).unwrap();
    }
    let run = f.file.run(&["plan", "--detailed-exitcode"]).expect_code(2);
    assert!(run.stdout.contains("- extra = ["), "{}", run.stdout);
    assert!(run.stdout.contains("processor = ["), "{}", run.stdout);
    f.apply();
    let policies = f.live.inline_policies("processor-test");
    assert_eq!(policies.keys().collect::<Vec<_>>(), ["processor"]);
    assert_eq!(policies["processor"].len(), 3);
    f.assert_converged();
}

#[test]
fn a_rewritten_but_equal_policy_is_no_change() {
    let f = Fixture::new("semantic");
    f.apply();
    // The same statements, written the way people and other tools do: keys in another order,
    // single strings for one-element lists, statements reordered.
    let table = f.table_arn();
    let stream = f.live.expect_table("msgs-test").latest_stream_arn.unwrap();
    let same = serde_json::json!({
        "Statement": [
            {"Resource": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/processor-test:*",
             "Action": ["logs:PutLogEvents", "logs:CreateLogStream"], "Effect": "Allow"},
            {"Effect": "Allow", "Resource": table, "Action": ["dynamodb:DeleteItem", "dynamodb:PutItem"]},
            {"Action": ["dynamodb:GetShardIterator", "dynamodb:GetRecords", "dynamodb:DescribeStream"],
             "Resource": [stream], "Effect": "Allow"},
        ],
        "Version": "2012-10-17"
    });
    let request = f
        .live
        .iam
        .put_role_policy()
        .role_name("processor-test")
        .policy_name("processor")
        .policy_document(same.to_string());
    f.live.block_on(request.send()).unwrap();
    f.assert_converged();
}

#[test]
fn route_tables_and_policy_change_in_place() {
    let f = Fixture::new("routes");
    f.apply();
    let id = f.endpoint().vpc_endpoint_id.unwrap();

    f.edit(&[(
        &format!("[{}, {}]", f.rt1, f.rt2)[..],
        &format!("[{}]", f.rt1)[..],
    )]);
    let run = f.file.run(&["plan", "--detailed-exitcode"]).expect_code(2);
    assert!(
        run.stdout
            .contains(&format!("~ route_table_ids = [\n          - \"{}\"", f.rt2)),
        "{}",
        run.stdout
    );
    f.emulator.clear_requests();
    f.apply();
    assert_eq!(f.emulator.mutating_requests(), ["ModifyVpcEndpoint"]);
    let endpoint = f.endpoint();
    assert_eq!(
        endpoint.vpc_endpoint_id.as_deref(),
        Some(id.as_str()),
        "the endpoint was replaced"
    );
    assert_eq!(endpoint.route_table_ids(), std::slice::from_ref(&f.rt1));
    f.assert_converged();

    // Route tables by tag, and the policy widened to the stream: one more modification.
    f.edit(&[
        (
            &format!("    route_table_ids: [{}, {}]\n", f.rt1, f.rt2)[..],
            "    route_table_tags: { tier: private }\n",
        ),
        (
            "\"${messages.arn}/index/*\"]",
            "\"${messages.arn}/index/*\", \"${messages.arn}/stream/*\"]",
        ),
    ]);
    f.emulator.clear_requests();
    f.apply();
    assert_eq!(f.emulator.mutating_requests(), ["ModifyVpcEndpoint"]);
    let endpoint = f.endpoint();
    let tables: BTreeSet<String> = endpoint.route_table_ids().iter().cloned().collect();
    assert_eq!(tables, BTreeSet::from([f.rt1.clone(), f.rt2.clone()]));
    let policy = parse_document(endpoint.policy_document().unwrap()).unwrap();
    assert!(
        policy[0].resource.iter().any(|r| r.ends_with("/stream/*")),
        "{policy:?}"
    );
    f.assert_converged();
}

#[test]
fn a_hand_made_role_and_endpoint_conflict_until_adopted() {
    let f = Fixture::new("adoptiam");
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let request = f
        .live
        .iam
        .create_role()
        .role_name("processor-test")
        .assume_role_policy_document(trust);
    f.live.block_on(request.send()).unwrap();
    let vpc = f.live.default_vpc();
    let request = f
        .live
        .ec2
        .create_vpc_endpoint()
        .vpc_endpoint_type(aws_sdk_ec2::types::VpcEndpointType::Gateway)
        .vpc_id(&vpc)
        .service_name("com.amazonaws.us-east-1.dynamodb")
        .route_table_ids(&f.rt1);
    f.live.block_on(request.send()).unwrap();
    f.emulator.clear_requests();

    let run = f.file.run(&["plan"]).expect_code(1);
    assert!(
        run.stdout
            .contains("! iam_role.processor_role (processor-test) conflicts"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("! vpc_gateway_endpoint.endpoint"),
        "{}",
        run.stdout
    );
    f.file.run(&["apply", "--auto-approve"]).expect_code(1);
    assert_eq!(
        f.emulator.mutating_requests(),
        Vec::<String>::new(),
        "a conflict changed something"
    );

    f.file
        .run(&["apply", "--auto-approve", "--adopt"])
        .expect_code(0);
    let role = f.live.role("processor-test").unwrap();
    assert!(
        role.tags()
            .iter()
            .any(|t| t.key() == "cruddur-infra:stack" && t.value() == "adoptiam/test")
    );
    assert_eq!(
        f.live.inline_policies("processor-test")["processor"].len(),
        3
    );
    assert_eq!(
        f.live.endpoints().len(),
        1,
        "adoption made a second endpoint"
    );
    let tables: BTreeSet<String> = f.endpoint().route_table_ids().iter().cloned().collect();
    assert_eq!(tables, BTreeSet::from([f.rt1.clone(), f.rt2.clone()]));
    f.assert_converged();
}

#[test]
fn destroy_leaves_no_role_policy_or_endpoint() {
    let f = Fixture::new("destroyiam");
    f.apply();
    let run = f.file.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert!(run.stdout.contains("3 destroyed"), "{}", run.stdout);
    assert!(
        f.live.role("processor-test").is_none(),
        "the role is still there"
    );
    assert!(f.live.endpoints().is_empty(), "the endpoint is still there");
    assert!(f.live.table("msgs-test").is_none());
    // Nothing left for a second destroy.
    f.emulator.clear_requests();
    f.file.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert_eq!(f.emulator.mutating_requests(), Vec::<String>::new());
}

#[test]
fn a_missing_vpc_or_route_table_is_a_plan_time_error() {
    let f = Fixture::new("missing");
    f.edit(&[(
        "    service: dynamodb\n",
        "    service: dynamodb\n    vpc: vpc-0123456789abcdef0\n",
    )]);
    let run = f.file.run(&["plan"]).expect_code(1);
    assert!(
        run.stderr
            .contains("VPC vpc-0123456789abcdef0 does not exist"),
        "{}",
        run.stderr
    );
    f.edit(&[(&f.rt2[..], "rtb-0123456789abcdef0")]);
    let run = f.file.run(&["apply", "--auto-approve"]).expect_code(1);
    assert!(
        run.stderr
            .contains("route table(s) rtb-0123456789abcdef0 do not exist"),
        "{}",
        run.stderr
    );
    assert_eq!(f.emulator.mutating_requests(), Vec::<String>::new());
}

#[test]
fn validate_warns_on_wildcards_but_accepts_them() {
    let f = Fixture::new("wildcards");
    f.edit(&[
        (
            "[dynamodb:PutItem, dynamodb:DeleteItem]",
            "[\"dynamodb:*\"]",
        ),
        ("resources: [\"${messages.arn}\"]", "resources: [\"*\"]"),
    ]);
    let run = f.file.run(&["validate"]).expect_code(0);
    assert!(run.stderr.contains("warning: "), "{}", run.stderr);
    assert!(
        run.stderr.contains("action `dynamodb:*` is a wildcard"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("resource `*` matches every resource"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("is valid"), "{}", run.stdout);
}
