//! `drift`: out-of-band changes made with the SDK against the emulator, then the report
//! (text, JSON, Markdown), its exit codes, and several environments in one call.

use crate::support::{Emulator, Live, StackFile, ddb};
use serde_json::Value;

/// Every kind, small. FN, PKG are replaced per test.
const STACK: &str = "  messages:
    type: dynamodb_table
    name: FN-messages
    attributes: { pk: S, sk: S, message_group_uuid: S }
    key: { hash: pk, range: sk }
    billing_mode: PROVISIONED
    read_capacity: 5
    write_capacity: 5
    global_secondary_indexes:
      - name: by-group
        key: { hash: message_group_uuid, range: sk }
        read_capacity: 5
        write_capacity: 5
    stream: NEW_IMAGE
    tags: { team: chat }
  role:
    type: iam_role
    name: FN-role
    policies:
      reads:
        - actions: [dynamodb:Query]
          resources: [\"${messages.arn}/index/*\"]
  endpoint:
    type: vpc_gateway_endpoint
    service: dynamodb
    vpc: default
  fn:
    type: lambda_function
    name: FN
    code: PKG
    role: ${role.arn}
    memory: 128
  trigger:
    type: event_source_mapping
    function: ${fn.name}
    source: ${messages.stream_arn}
";

fn drift_json(file: &StackFile, code: i32) -> Value {
    file.run(&["drift", "--output", "json"])
        .expect_code(code)
        .json()
}

/// The drift entry of resource `name` in the first environment of a JSON report.
fn resource<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["environments"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report:#}"))
}

fn difference<'a>(r: &'a Value, field: &str) -> &'a Value {
    r["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["field"] == field)
        .unwrap_or_else(|| panic!("no difference `{field}` in {r:#}"))
}

#[test]
fn every_kind_of_out_of_band_change_is_reported_and_apply_repairs_it() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let name = "drift-all".to_string();
    let package = crate::support::repo_root().join("tests/fixtures/tiny-function");
    // The fixture is built where it lies (its own target/, git-ignored); nothing edits it.
    let file = StackFile::new(
        "drift-all",
        &emulator.url,
        &STACK
            .replace("FN", &name)
            .replace("PKG", package.to_str().unwrap()),
    );
    file.run(&["apply", "--auto-approve"]).expect_code(0);
    let report = drift_json(&file, 0);
    assert_eq!(report["environments"][0]["status"], "in-sync", "{report:#}");
    let table = format!("{name}-messages");

    // Out of band, one of each.
    let run = |f: &dyn Fn() -> Result<(), String>| f().unwrap();
    let stream_arn = live
        .expect_table(&table)
        .latest_stream_arn()
        .unwrap()
        .to_string();
    let lambda = &live.lambda;
    let second = live
        .block_on(
            lambda
                .create_event_source_mapping()
                .function_name(&name)
                .event_source_arn(&stream_arn)
                .starting_position(aws_sdk_lambda::types::EventSourcePosition::Latest)
                .send(),
        )
        .unwrap()
        .uuid
        .unwrap();
    let ours = live
        .block_on(
            lambda
                .list_event_source_mappings()
                .function_name(&name)
                .send(),
        )
        .unwrap()
        .event_source_mappings()
        .iter()
        .find(|m| m.uuid() != Some(second.as_str()))
        .unwrap()
        .uuid()
        .unwrap()
        .to_string();
    run(&|| {
        live.block_on(
            lambda
                .update_event_source_mapping()
                .uuid(&ours)
                .enabled(false)
                .send(),
        )
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
    });
    let throughput = ddb::ProvisionedThroughput::builder()
        .read_capacity_units(5)
        .write_capacity_units(7)
        .build()
        .unwrap();
    live.block_on(
        live.client
            .update_table()
            .table_name(&table)
            .provisioned_throughput(throughput)
            .send(),
    )
    .unwrap();
    live.block_on(
        live.client
            .update_table()
            .table_name(&table)
            .global_secondary_index_updates(
                ddb::GlobalSecondaryIndexUpdate::builder()
                    .delete(
                        ddb::DeleteGlobalSecondaryIndexAction::builder()
                            .index_name("by-group")
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .send(),
    )
    .unwrap();
    live.block_on(
        live.client
            .update_table()
            .table_name(&table)
            .stream_specification(
                ddb::StreamSpecification::builder()
                    .stream_enabled(false)
                    .build()
                    .unwrap(),
            )
            .send(),
    )
    .unwrap();
    let table_arn = live.expect_table(&table).table_arn().unwrap().to_string();
    live.block_on(
        live.client
            .tag_resource()
            .resource_arn(&table_arn)
            .tags(
                ddb::Tag::builder()
                    .key("owner")
                    .value("someone")
                    .build()
                    .unwrap(),
            )
            .send(),
    )
    .unwrap();
    let role = format!("{name}-role");
    live.block_on(
        live.iam
            .put_role_policy()
            .role_name(&role)
            .policy_name("reads")
            .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"}]}"#)
            .send(),
    )
    .unwrap();
    live.block_on(
        live.iam
            .attach_role_policy()
            .role_name(&role)
            .policy_arn("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
            .send(),
    )
    .unwrap();
    live.block_on(
        lambda
            .update_function_code()
            .function_name(&name)
            .zip_file(aws_sdk_lambda::primitives::Blob::new(
                cruddur_infra::bundle::zip_bootstrap(b"#!/bin/sh\necho hand-made\n").unwrap(),
            ))
            .send(),
    )
    .unwrap();
    live.block_on(
        lambda
            .update_function_configuration()
            .function_name(&name)
            .memory_size(256)
            .send(),
    )
    .unwrap();
    let endpoint = live.endpoints().remove(0);
    live.block_on(
        live.ec2
            .modify_vpc_endpoint()
            .vpc_endpoint_id(endpoint.vpc_endpoint_id().unwrap())
            .set_remove_route_table_ids(Some(endpoint.route_table_ids().to_vec()))
            .send(),
    )
    .unwrap();

    emulator.clear_requests();
    let report = drift_json(&file, 2);
    assert_eq!(
        emulator.mutating_requests(),
        Vec::<String>::new(),
        "drift changed something"
    );
    assert_eq!(report["format_version"], "1");
    assert_eq!(report["environments"][0]["status"], "drift");

    let messages = resource(&report, "messages");
    assert_eq!(messages["status"], "drifted");
    let capacity = difference(messages, "write_capacity");
    assert_eq!(
        (&capacity["expected"], &capacity["actual"]),
        (&Value::from(5), &Value::from(7))
    );
    let stream = difference(messages, "stream");
    assert_eq!(
        (&stream["expected"], &stream["actual"]),
        (&Value::from("NEW_IMAGE"), &Value::from("DISABLED"))
    );
    assert!(messages["differences"].as_array().unwrap().iter().any(|d| {
        d["field"]
            .as_str()
            .unwrap()
            .starts_with("global_secondary_indexes[\"by-group\"]")
            && d["actual"].is_null()
    }));
    let tag = difference(messages, "tags.owner");
    assert_eq!(
        (&tag["expected"], &tag["actual"]),
        (&Value::Null, &Value::from("someone"))
    );

    let role_drift = resource(&report, "role");
    assert!(
        role_drift["differences"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["field"].as_str().unwrap().starts_with("policies.reads"))
    );
    assert!(
        role_drift["differences"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["field"] == "managed_policies"
                && d["actual"]
                    .to_string()
                    .contains("AWSLambdaBasicExecutionRole"))
    );

    let function = resource(&report, "fn");
    let code = difference(function, "code_hash");
    assert!(
        code["actual"]
            .as_str()
            .unwrap()
            .starts_with("changed outside cruddur-infra"),
        "{code}"
    );
    assert_eq!(difference(function, "memory")["actual"], 256);

    let trigger = resource(&report, "trigger");
    assert_eq!(difference(trigger, "enabled")["actual"], false);
    assert!(
        trigger["notes"].to_string().contains(&second),
        "the second trigger is not named: {trigger:#}"
    );

    let endpoint_drift = resource(&report, "endpoint");
    assert!(
        endpoint_drift["differences"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["field"] == "route_table_ids")
    );

    // Text and Markdown carry the same findings.
    let text = file.run(&["drift"]).expect_code(2).stdout;
    assert!(text.contains("dynamodb_table.messages"), "{text}");
    assert!(
        text.contains("write_capacity: expected 5, actual 7"),
        "{text}"
    );
    let markdown = file
        .run(&["drift", "--output", "markdown"])
        .expect_code(2)
        .stdout;
    assert!(
        markdown.starts_with("## Drift report: stack `drift-all`"),
        "{markdown}"
    );
    assert!(markdown.contains("⚠️ drift"), "{markdown}");
    assert!(
        markdown.contains("| `dynamodb_table.messages` ("),
        "{markdown}"
    );
    assert!(
        markdown.contains("| `write_capacity` | 5 | 7 |"),
        "{markdown}"
    );

    // apply repairs what is ours; the second trigger is not ours and stays until removed.
    file.run(&["apply", "--auto-approve"]).expect_code(0);
    let report = drift_json(&file, 2);
    let trigger = resource(&report, "trigger");
    assert_eq!(trigger["status"], "in-sync", "{report:#}");
    assert!(trigger["notes"].to_string().contains(&second));
    live.block_on(lambda.delete_event_source_mapping().uuid(&second).send())
        .unwrap();
    let report = drift_json(&file, 0);
    assert_eq!(report["environments"][0]["status"], "in-sync", "{report:#}");
}

#[test]
fn a_resource_deleted_out_of_band_is_missing() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let file = StackFile::new(
        "drift-missing",
        &emulator.url,
        "  messages:\n    type: dynamodb_table\n    name: drift-missing\n    attributes: { pk: S }\n    key: { hash: pk }\n",
    );
    file.run(&["apply", "--auto-approve"]).expect_code(0);
    live.block_on(
        live.client
            .delete_table()
            .table_name("drift-missing")
            .send(),
    )
    .unwrap();
    let report = drift_json(&file, 2);
    let messages = resource(&report, "messages");
    assert_eq!(messages["status"], "missing");
    assert!(
        messages["notes"][0]
            .as_str()
            .unwrap()
            .contains("deleted out of band")
    );
    let text = file.run(&["drift"]).expect_code(2).stdout;
    assert!(
        text.contains("dynamodb_table.messages (drift-missing): missing"),
        "{text}"
    );
}

#[test]
fn several_environments_in_one_report_and_errors_exit_1() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let file = StackFile::new("unused", &emulator.url, "");
    file.write_raw(&format!(
        "stack: drift-multi
environments:
  a:
    emulator: {url}
  b:
    emulator: {url}
  unreachable:
    emulator: http://127.0.0.1:9
resources:
  messages:
    type: dynamodb_table
    name: drift-multi-${{env}}
    attributes: {{ pk: S }}
    key: {{ hash: pk }}
",
        url = emulator.url
    ));
    let path = file.path();
    let run = |args: &[&str]| {
        let mut all = vec!["-f", path.to_str().unwrap(), "--no-color"];
        all.extend_from_slice(args);
        crate::support::cli(&all, std::path::Path::new("/"))
    };
    run(&["--env", "a", "apply", "--auto-approve"]).expect_code(0);
    run(&["--env", "b", "apply", "--auto-approve"]).expect_code(0);
    run(&["--env", "a,b", "drift"]).expect_code(0);

    let arn = live
        .expect_table("drift-multi-b")
        .table_arn()
        .unwrap()
        .to_string();
    live.block_on(
        live.client
            .tag_resource()
            .resource_arn(arn)
            .tags(
                ddb::Tag::builder()
                    .key("cost-center")
                    .value("7")
                    .build()
                    .unwrap(),
            )
            .send(),
    )
    .unwrap();
    let report = run(&["--env", "a,b", "drift", "--output", "json"])
        .expect_code(2)
        .json();
    let envs = report["environments"].as_array().unwrap();
    assert_eq!(envs.len(), 2);
    assert_eq!(
        (&envs[0]["environment"], &envs[0]["status"]),
        (&Value::from("a"), &Value::from("in-sync"))
    );
    assert_eq!(
        (&envs[1]["environment"], &envs[1]["status"]),
        (&Value::from("b"), &Value::from("drift"))
    );

    // An environment that cannot be read makes the whole call an error, the others still
    // reported.
    let out = run(&[
        "--env",
        "a,unreachable",
        "drift",
        "--output",
        "json",
        "--wait-timeout",
        "5",
    ])
    .expect_code(1);
    let report = out.json();
    assert_eq!(report["environments"][0]["status"], "in-sync");
    assert_eq!(report["environments"][1]["status"], "error");
    assert!(
        report["environments"][1]["error"]
            .as_str()
            .unwrap()
            .contains("could not reach")
    );
}
