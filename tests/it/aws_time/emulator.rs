//! The emulator keeping AWS's time answers as AWS does: its states, and its refusals in the
//! shape the SDK reads into its typed errors.

// The closures here hand back the SDK's own results: their errors are what is checked.
#![allow(clippy::result_large_err)]

use super::eventually;
use crate::support::{Emulator, Live, ddb, key_element};

fn code<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(e: &E) -> String {
    format!(
        "{}: {}",
        e.code().unwrap_or("?"),
        e.message().unwrap_or("?")
    )
}

#[test]
fn the_emulator_keeps_dynamodbs_states_and_refuses_as_dynamodb_does() {
    use aws_sdk_dynamodb::operation::update_continuous_backups::UpdateContinuousBackupsError;
    use aws_sdk_dynamodb::operation::update_table::UpdateTableError;
    let emulator = Emulator::keeping_aws_time(0.5);
    let live = Live::new(&emulator);
    live.create_messages_table("t", "by-group");
    let status = |live: &Live| live.expect_table("t").table_status.unwrap();
    assert_eq!(status(&live), ddb::TableStatus::Creating);
    // Reads and writes of a table that is not ACTIVE: ResourceNotFoundException.
    let put = live.block_on(
        live.client
            .put_item()
            .table_name("t")
            .item("pk", ddb::AttributeValue::S("a".into()))
            .item("sk", ddb::AttributeValue::S("b".into()))
            .send(),
    );
    let e = put.unwrap_err().into_service_error();
    assert!(e.is_resource_not_found_exception(), "{}", code(&e));
    let update = || {
        live.block_on(
            live.client
                .update_table()
                .table_name("t")
                .deletion_protection_enabled(false)
                .send(),
        )
    };
    let e = update().unwrap_err().into_service_error();
    assert!(
        matches!(e, UpdateTableError::ResourceInUseException(_)),
        "{}",
        code(&e)
    );
    assert!(
        code(&e).contains("Table is being created: t"),
        "{}",
        code(&e)
    );
    let pitr = || {
        let spec = ddb::PointInTimeRecoverySpecification::builder()
            .point_in_time_recovery_enabled(true)
            .build()
            .unwrap();
        live.block_on(
            live.client
                .update_continuous_backups()
                .table_name("t")
                .point_in_time_recovery_specification(spec)
                .send(),
        )
    };
    let e = pitr().unwrap_err().into_service_error();
    assert!(
        matches!(
            e,
            UpdateContinuousBackupsError::ContinuousBackupsUnavailableException(_)
        ),
        "{}",
        code(&e)
    );
    eventually("the table becoming ACTIVE", || {
        status(&live) == ddb::TableStatus::Active
    });
    eventually("backups becoming available", || pitr().is_ok());

    // A new index: the table UPDATING while it is allocated, then the index backfilling;
    // meanwhile a second index change is refused.
    let index = |name: &str| {
        let create = ddb::CreateGlobalSecondaryIndexAction::builder()
            .index_name(name)
            .key_schema(key_element("sk", ddb::KeyType::Hash))
            .projection(
                ddb::Projection::builder()
                    .projection_type(ddb::ProjectionType::KeysOnly)
                    .build(),
            )
            .build()
            .unwrap();
        live.block_on(
            live.client
                .update_table()
                .table_name("t")
                .global_secondary_index_updates(
                    ddb::GlobalSecondaryIndexUpdate::builder()
                        .create(create)
                        .build(),
                )
                .send(),
        )
    };
    index("first").unwrap();
    assert_eq!(status(&live), ddb::TableStatus::Updating);
    eventually("the index backfilling", || {
        let table = live.expect_table("t");
        let first = table
            .global_secondary_indexes()
            .iter()
            .find(|i| i.index_name() == Some("first"))
            .unwrap()
            .clone();
        table.table_status == Some(ddb::TableStatus::Active)
            && first.index_status == Some(ddb::IndexStatus::Creating)
            && first.backfilling == Some(true)
    });
    let e = index("second").unwrap_err().into_service_error();
    assert!(
        matches!(e, UpdateTableError::LimitExceededException(_)),
        "{}",
        code(&e)
    );
    eventually("the index becoming ACTIVE", || {
        live.expect_table("t")
            .global_secondary_indexes()
            .iter()
            .all(|i| i.index_status == Some(ddb::IndexStatus::Active))
    });

    // Deleting: DELETING for a while (a second DeleteTable is no error), then gone.
    let delete = || live.block_on(live.client.delete_table().table_name("t").send());
    let deleted = delete().unwrap().table_description.unwrap();
    assert_eq!(deleted.table_status, Some(ddb::TableStatus::Deleting));
    delete().unwrap();
    eventually("the table being gone", || live.table("t").is_none());
}

#[test]
fn the_emulator_keeps_lambdas_iams_sqss_and_ec2s_time() {
    use aws_sdk_lambda::operation::create_event_source_mapping::CreateEventSourceMappingError;
    use aws_sdk_lambda::operation::create_function::CreateFunctionError;
    use aws_sdk_lambda::operation::delete_event_source_mapping::DeleteEventSourceMappingError;
    use aws_sdk_lambda::operation::update_function_configuration::UpdateFunctionConfigurationError;
    use aws_sdk_sqs::operation::create_queue::CreateQueueError;
    let emulator = Emulator::keeping_aws_time(0.5);
    let live = Live::new(&emulator);

    // SQS holds a deleted queue's name: the SDK reads the query-compatible code
    // (x-amzn-query-error) into its typed error.
    let url = live
        .block_on(live.sqs.create_queue().queue_name("q").send())
        .unwrap()
        .queue_url
        .unwrap();
    live.block_on(live.sqs.delete_queue().queue_url(url).send())
        .unwrap();
    let e = live
        .block_on(live.sqs.create_queue().queue_name("q").send())
        .unwrap_err();
    assert_eq!(
        aws_sdk_sqs::error::ProvideErrorMetadata::code(&e),
        Some("AWS.SimpleQueueService.QueueDeletedRecently")
    );
    assert!(matches!(
        e.into_service_error(),
        CreateQueueError::QueueDeletedRecently(_)
    ));

    // A new role is not usable by Lambda until it has propagated.
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = live
        .block_on(
            live.iam
                .create_role()
                .role_name("r")
                .assume_role_policy_document(trust)
                .send(),
        )
        .unwrap()
        .role
        .unwrap()
        .arn;
    let zip = {
        let mut bytes = std::io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut bytes);
        zip.start_file("bootstrap", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut zip, b"#!/bin/sh\n").unwrap();
        zip.finish().unwrap();
        bytes.into_inner()
    };
    let create = || {
        live.block_on(
            live.lambda
                .create_function()
                .function_name("f")
                .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
                .role(&role)
                .handler("bootstrap")
                .code(
                    aws_sdk_lambda::types::FunctionCode::builder()
                        .zip_file(aws_sdk_lambda::primitives::Blob::new(zip.clone()))
                        .build(),
                )
                .send(),
        )
    };
    let e = create().unwrap_err().into_service_error();
    assert!(
        matches!(e, CreateFunctionError::InvalidParameterValueException(_)),
        "{e:?}"
    );
    assert_eq!(
        e.meta().message(),
        Some("The role defined for the function cannot be assumed by Lambda.")
    );
    let mut made = None;
    eventually("the role becoming usable", || {
        made = create().ok();
        made.is_some()
    });
    assert_eq!(
        made.unwrap().state,
        Some(aws_sdk_lambda::types::State::Pending)
    );
    let e = live
        .block_on(
            live.lambda
                .update_function_configuration()
                .function_name("f")
                .memory_size(256)
                .send(),
        )
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(
            e,
            UpdateFunctionConfigurationError::ResourceConflictException(_)
        ),
        "{e:?}"
    );

    // A mapping: refused until the role's policy to read the stream has reached Lambda.
    live.create_messages_table("t", "i");
    let stream = || {
        live.block_on(
            live.client
                .update_table()
                .table_name("t")
                .stream_specification(
                    ddb::StreamSpecification::builder()
                        .stream_enabled(true)
                        .stream_view_type(ddb::StreamViewType::NewImage)
                        .build()
                        .unwrap(),
                )
                .send(),
        )
    };
    eventually("the stream being enabled", || stream().is_ok());
    let stream = live.expect_table("t").latest_stream_arn.unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:DescribeStream","dynamodb:GetRecords","dynamodb:GetShardIterator","dynamodb:ListStreams"],"Resource":"*"}]}"#;
    live.block_on(
        live.iam
            .put_role_policy()
            .role_name("r")
            .policy_name("stream")
            .policy_document(policy)
            .send(),
    )
    .unwrap();
    let map = || {
        live.block_on(
            live.lambda
                .create_event_source_mapping()
                .function_name("f")
                .event_source_arn(&stream)
                .starting_position(aws_sdk_lambda::types::EventSourcePosition::Latest)
                .send(),
        )
    };
    let mut mapped = None;
    eventually("the mapping being accepted", || match map() {
        Ok(out) => {
            mapped = Some(out);
            true
        }
        Err(e) => {
            let e = e.into_service_error();
            assert!(
                match &e {
                    CreateEventSourceMappingError::InvalidParameterValueException(e) => e
                        .message()
                        .unwrap_or_default()
                        .starts_with("Cannot access stream"),
                    CreateEventSourceMappingError::ResourceConflictException(_) => true,
                    _ => false,
                },
                "{e:?}"
            );
            false
        }
    });
    let mapped = mapped.unwrap();
    assert_eq!(mapped.state(), Some("Creating"));
    let uuid = mapped.uuid().unwrap();
    let e = live
        .block_on(live.lambda.delete_event_source_mapping().uuid(uuid).send())
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(e, DeleteEventSourceMappingError::ResourceInUseException(_)),
        "{e:?}"
    );
    // A second mapping of the function on the stream is refused.
    let e = map().unwrap_err().into_service_error();
    assert!(
        matches!(
            e,
            CreateEventSourceMappingError::ResourceConflictException(_)
        ),
        "{e:?}"
    );

    // EC2: a new endpoint is pending for a moment.
    let vpc = live.default_vpc();
    let endpoint = live
        .block_on(
            live.ec2
                .create_vpc_endpoint()
                .vpc_id(vpc)
                .service_name("com.amazonaws.us-east-1.dynamodb")
                .send(),
        )
        .unwrap()
        .vpc_endpoint
        .unwrap();
    assert_eq!(endpoint.state.unwrap().as_str().to_lowercase(), "pending");

    // Every window is reported, with its state and length at the emulator's scale.
    let windows = emulator.windows();
    assert_eq!(windows["scale"], 0.5);
    let names: Vec<&str> = windows["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    for name in [
        "queue name held",
        "role propagating",
        "function Pending",
        "table CREATING",
        "mapping Creating",
        "endpoint pending",
    ] {
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
}
