//! A busy account in the emulator: other teams' roles, tables with streams, queues,
//! functions with mappings and VPC endpoints, some tagged as other stacks' (or as another
//! environment of the same stack), some not tagged at all. What a run reads must not grow
//! with them, and nothing of theirs may change.

use super::{Live, ddb, key_element, string_attribute};
use futures::future::join_all;
use std::collections::BTreeMap;

/// How much of each there is.
#[derive(Debug, Clone, Copy)]
pub struct Crowd {
    pub roles: usize,
    pub tables: usize,
    pub queues: usize,
    /// Each with a mapping on one of the tables' streams.
    pub functions: usize,
    /// Each in a VPC of its own.
    pub endpoints: usize,
}

/// The tags of the `i`-th foreign resource: every third untagged, the others owned by
/// another stack, or (every fifth) by another environment of `stack`.
fn tags_of(i: usize, stack: &str) -> Vec<(String, String)> {
    let owner = match i % 5 {
        0 => format!("{stack}/prod"),
        _ => format!("team-{}/dev", i % 7),
    };
    match i % 3 {
        0 => vec![("team".into(), "someone-else".into())],
        _ => vec![
            ("managed-by".into(), "cruddur-infra".into()),
            ("cruddur-infra:stack".into(), owner),
            ("cruddur-infra:resource".into(), format!("thing_{i}")),
        ],
    }
}

/// What `seed` made, to check afterwards that it is all still there, unchanged.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub roles: BTreeMap<String, Vec<(String, String)>>,
    pub tables: Vec<String>,
    pub queues: Vec<String>,
    pub functions: Vec<String>,
    pub mappings: Vec<String>,
    pub endpoints: Vec<String>,
}

/// Fills the emulator behind `live` with `crowd`; resources of `stack`'s other
/// environments are among them.
pub fn seed(live: &Live, crowd: Crowd, stack: &str) {
    live.block_on(async {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        let roles = (0..crowd.roles).map(|i| {
            let mut request = live
                .iam
                .create_role()
                .role_name(format!("other-team-role-{i}"))
                .assume_role_policy_document(trust);
            for (k, v) in tags_of(i, stack) {
                request = request.tags(aws_sdk_iam::types::Tag::builder().key(k).value(v).build().unwrap());
            }
            request.send()
        });
        let role_arns: Vec<String> = join_all(roles)
            .await
            .into_iter()
            .map(|r| r.unwrap().role.unwrap().arn)
            .collect();

        let tables = (0..crowd.tables).map(|i| {
            let mut request = live
                .client
                .create_table()
                .table_name(format!("other-team-table-{i}"))
                .attribute_definitions(string_attribute("pk"))
                .key_schema(key_element("pk", ddb::KeyType::Hash))
                .billing_mode(ddb::BillingMode::PayPerRequest)
                .stream_specification(
                    ddb::StreamSpecification::builder()
                        .stream_enabled(true)
                        .stream_view_type(ddb::StreamViewType::NewImage)
                        .build()
                        .unwrap(),
                );
            for (k, v) in tags_of(i, stack) {
                request = request.tags(ddb::Tag::builder().key(k).value(v).build().unwrap());
            }
            request.send()
        });
        let streams: Vec<String> = join_all(tables)
            .await
            .into_iter()
            .map(|t| t.unwrap().table_description.unwrap().latest_stream_arn.unwrap())
            .collect();

        let queues = (0..crowd.queues).map(|i| {
            live.sqs
                .create_queue()
                .queue_name(format!("other-team-queue-{i}"))
                .set_tags(Some(tags_of(i, stack).into_iter().collect()))
                .send()
        });
        for queue in join_all(queues).await {
            queue.unwrap();
        }

        let zip = cruddur_infra::bundle::zip_bootstrap(b"#!/bin/sh\n").unwrap();
        let functions = (0..crowd.functions).map(|i| {
            live.lambda
                .create_function()
                .function_name(format!("other-team-function-{i}"))
                .runtime(aws_sdk_lambda::types::Runtime::from("provided.al2023"))
                .role(&role_arns[i % role_arns.len().max(1)])
                .handler("bootstrap")
                .code(
                    aws_sdk_lambda::types::FunctionCode::builder()
                        .zip_file(aws_sdk_lambda::primitives::Blob::new(zip.clone()))
                        .build(),
                )
                .set_tags(Some(tags_of(i, stack).into_iter().collect()))
                .send()
        });
        for function in join_all(functions).await {
            function.unwrap();
        }
        let mappings = (0..crowd.functions).map(|i| {
            live.lambda
                .create_event_source_mapping()
                .function_name(format!("other-team-function-{i}"))
                .event_source_arn(&streams[i % streams.len().max(1)])
                .starting_position(aws_sdk_lambda::types::EventSourcePosition::Latest)
                .set_tags(Some(tags_of(i, stack).into_iter().collect()))
                .send()
        });
        for mapping in join_all(mappings).await {
            mapping.unwrap();
        }

        for i in 0..crowd.endpoints {
            let vpc = live
                .ec2
                .create_vpc()
                .cidr_block(format!("10.{}.0.0/16", 100 + i))
                .send()
                .await
                .unwrap()
                .vpc
                .unwrap()
                .vpc_id
                .unwrap();
            let mut tags = aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::VpcEndpoint);
            for (k, v) in tags_of(i, stack) {
                tags = tags.tags(aws_sdk_ec2::types::Tag::builder().key(k).value(v).build());
            }
            live.ec2
                .create_vpc_endpoint()
                .vpc_id(vpc)
                .service_name("com.amazonaws.us-east-1.dynamodb")
                .vpc_endpoint_type(aws_sdk_ec2::types::VpcEndpointType::Gateway)
                .tag_specifications(tags.build())
                .send()
                .await
                .unwrap();
        }
    });
}

/// Everything the seeded crowd consists of, as the emulator has it now: names (and each
/// role's tags), to compare before and after a run.
pub fn snapshot(live: &Live) -> Snapshot {
    live.block_on(async {
        let mut roles = BTreeMap::new();
        let mut marker = None;
        loop {
            let out = live
                .iam
                .list_roles()
                .set_marker(marker)
                .send()
                .await
                .unwrap();
            for role in out.roles {
                if role.role_name.starts_with("other-team-") {
                    let tags = live
                        .iam
                        .list_role_tags()
                        .role_name(&role.role_name)
                        .send()
                        .await
                        .unwrap()
                        .tags
                        .into_iter()
                        .map(|t| (t.key, t.value))
                        .collect();
                    roles.insert(role.role_name, tags);
                }
            }
            match (out.is_truncated, out.marker) {
                (true, Some(m)) => marker = Some(m),
                _ => break,
            }
        }
        let foreign = |names: Vec<String>| -> Vec<String> {
            let mut names: Vec<String> = names
                .into_iter()
                .filter(|n| n.contains("other-team-"))
                .collect();
            names.sort();
            names
        };
        let tables = live.client.list_tables().limit(100).send().await.unwrap();
        let queues = live.sqs.list_queues().send().await.unwrap();
        let functions = live.lambda.list_functions().send().await.unwrap();
        let mappings = live
            .lambda
            .list_event_source_mappings()
            .send()
            .await
            .unwrap();
        let endpoints = live.ec2.describe_vpc_endpoints().send().await.unwrap();
        Snapshot {
            roles,
            tables: foreign(tables.table_names.unwrap_or_default()),
            queues: foreign(queues.queue_urls.unwrap_or_default()),
            functions: foreign(
                functions
                    .functions
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|f| f.function_name)
                    .collect(),
            ),
            mappings: foreign(
                mappings
                    .event_source_mappings
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|m| Some(format!("{} {}", m.function_arn?, m.uuid?)))
                    .collect(),
            ),
            endpoints: {
                let mut ids: Vec<String> = endpoints
                    .vpc_endpoints
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|e| {
                        e.tags().iter().any(|t| {
                            t.value()
                                .is_some_and(|v| v.contains("someone-else") || v.contains("thing_"))
                        })
                    })
                    .filter_map(|e| e.vpc_endpoint_id)
                    .collect();
                ids.sort();
                ids
            },
        }
    })
}
