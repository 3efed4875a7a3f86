//! The `dynamodb_table` kind against the emulator: create, no-op, every in-place update,
//! replacement, adoption, destroy. Each test asserts the live state afterwards through the
//! SDK, not just the tool's exit code.

use crate::support::{Emulator, Live, StackFile, ddb};

/// The seed's table. `NAME` is replaced by the test's table name.
const TABLE: &str = "  messages:
    type: dynamodb_table
    name: NAME
    attributes: { pk: S, sk: S, message_group_uuid: S }
    key: { hash: pk, range: sk }
    billing_mode: PROVISIONED
    read_capacity: 5
    write_capacity: 5
    global_secondary_indexes:
      - name: message-group-sk-index
        key: { hash: message_group_uuid, range: sk }
        projection: ALL
        read_capacity: 5
        write_capacity: 5
    stream: NEW_IMAGE
";

struct Fixture {
    base: crate::support::Fixture,
    table: String,
}

impl std::ops::Deref for Fixture {
    type Target = crate::support::Fixture;
    fn deref(&self) -> &crate::support::Fixture {
        &self.base
    }
}

impl Fixture {
    /// A fresh emulator and a stack named after the test, holding TABLE.
    fn new(test: &str) -> Fixture {
        let table = format!("msgs-{test}");
        Fixture {
            base: crate::support::Fixture::new(test, &TABLE.replace("NAME", &table)),
            table,
        }
    }

    fn describe(&self) -> ddb::TableDescription {
        self.live.expect_table(&self.table)
    }
}

fn capacity(t: &ddb::TableDescription) -> (i64, i64) {
    let p = t.provisioned_throughput().unwrap();
    (
        p.read_capacity_units().unwrap(),
        p.write_capacity_units().unwrap(),
    )
}

fn index<'a>(
    t: &'a ddb::TableDescription,
    name: &str,
) -> Option<&'a ddb::GlobalSecondaryIndexDescription> {
    t.global_secondary_indexes()
        .iter()
        .find(|g| g.index_name() == Some(name))
}

fn stream_view(t: &ddb::TableDescription) -> Option<ddb::StreamViewType> {
    t.stream_specification()
        .filter(|s| s.stream_enabled())
        .and_then(|s| s.stream_view_type().cloned())
}

#[test]
fn plan_apply_noop_destroy_lifecycle() {
    let f = Fixture::new("lifecycle");

    // Plan against an empty account: one create, exit 2 with --detailed-exitcode.
    let run = f.file.run(&["plan", "--detailed-exitcode"]).expect_code(2);
    assert!(
        run.stdout.contains(&format!(
            "+ dynamodb_table.messages ({}) will be created",
            f.table
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("Plan: 1 to add, 0 to change, 0 to replace, 0 to destroy."),
        "{}",
        run.stdout
    );
    let json = f
        .file
        .run(&["plan", "--output", "json"])
        .expect_code(0)
        .json();
    assert_eq!(json["format_version"], "2");
    assert_eq!(json["resource_changes"][0]["action"], "create");
    assert_eq!(json["summary"]["create"], 1);
    assert!(
        f.emulator.mutating_requests().is_empty(),
        "plan changed something"
    );
    assert!(f.live.table(&f.table).is_none());

    // Apply creates exactly the seed's table.
    let run = f.apply();
    assert!(
        run.stdout
            .contains("Apply complete! Resources: 1 added, 0 changed, 0 replaced, 0 destroyed."),
        "{}",
        run.stdout
    );
    let t = f.describe();
    assert_eq!(t.table_status(), Some(&ddb::TableStatus::Active));
    let key: Vec<_> = t
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type().clone()))
        .collect();
    assert_eq!(
        key,
        [("pk", ddb::KeyType::Hash), ("sk", ddb::KeyType::Range)]
    );
    assert_eq!(capacity(&t), (5, 5));
    let gsi = index(&t, "message-group-sk-index").expect("the GSI exists");
    assert_eq!(gsi.key_schema()[0].attribute_name(), "message_group_uuid");
    assert_eq!(
        gsi.projection().and_then(|p| p.projection_type()),
        Some(&ddb::ProjectionType::All)
    );
    assert_eq!(stream_view(&t), Some(ddb::StreamViewType::NewImage));
    let tags = f.live.tags(&f.table);
    assert_eq!(
        tags.get("managed-by").map(String::as_str),
        Some("cruddur-infra")
    );
    assert_eq!(
        tags.get("cruddur-infra:stack").map(String::as_str),
        Some("lifecycle/test")
    );
    assert_eq!(
        tags.get("cruddur-infra:resource").map(String::as_str),
        Some("messages")
    );

    // Converged: plan shows nothing, and a second apply sends only reads.
    f.assert_converged();
    f.emulator.clear_requests();
    let run = f.apply();
    assert!(run.stdout.contains("No changes."), "{}", run.stdout);
    let requests = f.emulator.requests();
    assert!(
        !requests.is_empty(),
        "the recorder saw nothing: the zero below would mean nothing"
    );
    assert_eq!(f.emulator.mutating_requests(), Vec::<String>::new());

    // Destroy removes it; a second destroy is a no-op that changes nothing.
    let run = f.file.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert!(run.stdout.contains("1 destroyed"), "{}", run.stdout);
    assert!(f.live.table(&f.table).is_none(), "the table is still there");
    f.emulator.clear_requests();
    let run = f.file.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert!(run.stdout.contains("Nothing to destroy."), "{}", run.stdout);
    assert_eq!(f.emulator.mutating_requests(), Vec::<String>::new());
}

#[test]
fn capacity_changes_in_place() {
    let f = Fixture::new("capacity");
    f.apply();
    f.edit(&[
        (
            "    read_capacity: 5\n    write_capacity: 5\n    global",
            "    read_capacity: 10\n    write_capacity: 7\n    global",
        ),
        ("        read_capacity: 5\n", "        read_capacity: 3\n"),
    ]);
    let run = f.file.run(&["plan", "--detailed-exitcode"]).expect_code(2);
    assert!(run.stdout.contains("~ read_capacity"), "{}", run.stdout);
    assert!(run.stdout.contains("= 5 → 10"), "{}", run.stdout);
    f.emulator.clear_requests();
    f.apply();
    assert_eq!(
        f.emulator.mutating_requests(),
        ["UpdateTable"],
        "table and index capacity change in one call"
    );
    let t = f.describe();
    assert_eq!(capacity(&t), (10, 7));
    let gsi = index(&t, "message-group-sk-index")
        .unwrap()
        .provisioned_throughput()
        .unwrap();
    assert_eq!(
        (gsi.read_capacity_units(), gsi.write_capacity_units()),
        (Some(3), Some(5))
    );
    f.assert_converged();
}

#[test]
fn billing_mode_switches_both_ways() {
    let f = Fixture::new("billing");
    f.apply();
    f.live.put(&f.table, "MSG#1", "2023-01-01");
    f.edit(&[
        (
            "    billing_mode: PROVISIONED\n    read_capacity: 5\n    write_capacity: 5\n",
            "    billing_mode: PAY_PER_REQUEST\n",
        ),
        ("        read_capacity: 5\n        write_capacity: 5\n", ""),
    ]);
    f.apply();
    let t = f.describe();
    assert_eq!(
        t.billing_mode_summary().and_then(|b| b.billing_mode()),
        Some(&ddb::BillingMode::PayPerRequest)
    );
    f.assert_converged();

    // Back to provisioned: table and index capacity are set in the same call.
    f.edit(&[(
        "    read_capacity: 5\n    write_capacity: 5\n    global",
        "    read_capacity: 4\n    write_capacity: 4\n    global",
    )]);
    f.apply();
    let t = f.describe();
    assert_eq!(
        t.billing_mode_summary().and_then(|b| b.billing_mode()),
        Some(&ddb::BillingMode::Provisioned)
    );
    assert_eq!(capacity(&t), (4, 4));
    let gsi = index(&t, "message-group-sk-index")
        .unwrap()
        .provisioned_throughput()
        .unwrap();
    assert_eq!(
        (gsi.read_capacity_units(), gsi.write_capacity_units()),
        (Some(5), Some(5))
    );
    assert_eq!(
        f.live.item_count(&f.table),
        1,
        "an in-place update lost data"
    );
    f.assert_converged();
}

#[test]
fn indexes_are_added_rebuilt_and_removed() {
    let f = Fixture::new("indexes");
    f.apply();
    f.live.put(&f.table, "MSG#1", "2023-01-01");

    // Add a second index (over a new attribute): one UpdateTable, waited for.
    f.edit(&[
        ("message_group_uuid: S }", "message_group_uuid: S, user_uuid: S }"),
        (
            "    stream: NEW_IMAGE\n",
            "      - name: by-user\n        key: { hash: user_uuid }\n        projection: INCLUDE\n        non_key_attributes: [message]\n        read_capacity: 2\n        write_capacity: 2\n    stream: NEW_IMAGE\n",
        ),
    ]);
    let run = f.file.run(&["plan"]).expect_code(0);
    assert!(
        run.stdout.contains("    + \"by-user\" = {"),
        "{}",
        run.stdout
    );
    f.emulator.clear_requests();
    f.apply();
    assert_eq!(
        f.emulator.mutating_requests(),
        ["UpdateTable"],
        "one UpdateTable per index"
    );
    let t = f.describe();
    let by_user = index(&t, "by-user").expect("by-user exists");
    assert_eq!(
        by_user.projection().unwrap().non_key_attributes(),
        ["message"]
    );
    assert!(index(&t, "message-group-sk-index").is_some());
    f.assert_converged();

    // Change the first index's projection: it is deleted and created again.
    f.edit(&[
        ("message_group_uuid: S }", "message_group_uuid: S, user_uuid: S }"),
        ("        projection: ALL\n", "        projection: KEYS_ONLY\n"),
        (
            "    stream: NEW_IMAGE\n",
            "      - name: by-user\n        key: { hash: user_uuid }\n        projection: INCLUDE\n        non_key_attributes: [message]\n        read_capacity: 2\n        write_capacity: 2\n    stream: NEW_IMAGE\n",
        ),
    ]);
    let run = f.file.run(&["plan"]).expect_code(0);
    assert!(
        run.stdout.contains("the index is deleted and rebuilt"),
        "{}",
        run.stdout
    );
    f.emulator.clear_requests();
    f.apply();
    assert_eq!(
        f.emulator.mutating_requests(),
        ["UpdateTable", "UpdateTable"]
    );
    let t = f.describe();
    let gsi = index(&t, "message-group-sk-index").unwrap();
    assert_eq!(
        gsi.projection().and_then(|p| p.projection_type()),
        Some(&ddb::ProjectionType::KeysOnly)
    );
    f.assert_converged();

    // Remove both extra changes: by-user goes away, the projection returns to ALL.
    f.edit(&[]);
    f.apply();
    let t = f.describe();
    assert!(index(&t, "by-user").is_none(), "by-user is still there");
    assert_eq!(t.global_secondary_indexes().len(), 1);
    assert!(
        !t.attribute_definitions()
            .iter()
            .any(|a| a.attribute_name() == "user_uuid")
    );
    assert_eq!(f.live.item_count(&f.table), 1, "an index change lost data");
    f.assert_converged();
}

#[test]
fn stream_view_type_change_disables_then_enables_with_a_new_arn() {
    let f = Fixture::new("stream");
    f.apply();
    let old_arn = f.describe().latest_stream_arn().unwrap().to_string();

    f.edit(&[("stream: NEW_IMAGE", "stream: NEW_AND_OLD_IMAGES")]);
    let run = f.file.run(&["plan"]).expect_code(0);
    assert!(run.stdout.contains("~ stream"), "{}", run.stdout);
    assert!(
        run.stdout.contains("the stream ARN changes"),
        "{}",
        run.stdout
    );
    f.emulator.clear_requests();
    f.apply();
    assert_eq!(
        f.emulator.mutating_requests(),
        ["UpdateTable", "UpdateTable"],
        "disable, then enable"
    );
    let t = f.describe();
    assert_eq!(stream_view(&t), Some(ddb::StreamViewType::NewAndOldImages));
    assert_ne!(
        t.latest_stream_arn().unwrap(),
        old_arn,
        "the stream ARN did not change"
    );
    f.assert_converged();

    // Disabling and enabling again both work in place.
    f.edit(&[("stream: NEW_IMAGE", "stream: DISABLED")]);
    f.apply();
    assert_eq!(stream_view(&f.describe()), None);
    f.assert_converged();
    f.edit(&[("stream: NEW_IMAGE", "stream: KEYS_ONLY")]);
    f.apply();
    assert_eq!(
        stream_view(&f.describe()),
        Some(ddb::StreamViewType::KeysOnly)
    );
    f.assert_converged();
}

#[test]
fn point_in_time_recovery_toggles() {
    let f = Fixture::new("pitr");
    f.apply();
    assert!(!f.live.pitr(&f.table));
    f.edit(&[(
        "stream: NEW_IMAGE",
        "stream: NEW_IMAGE\n    point_in_time_recovery: true",
    )]);
    f.apply();
    assert!(f.live.pitr(&f.table));
    f.assert_converged();
    f.edit(&[]);
    f.apply();
    assert!(!f.live.pitr(&f.table));
    f.assert_converged();
}

#[test]
fn deletion_protection_toggles_and_blocks_destroy() {
    let f = Fixture::new("protection");
    f.edit(&[(
        "stream: NEW_IMAGE",
        "stream: NEW_IMAGE\n    deletion_protection: true",
    )]);
    f.apply();
    assert_eq!(f.describe().deletion_protection_enabled(), Some(true));
    f.assert_converged();

    // Destroy refuses before changing anything.
    f.emulator.clear_requests();
    let run = f.file.run(&["destroy", "--auto-approve"]).expect_code(1);
    assert!(
        run.stderr.contains("deletion protection is enabled"),
        "{}",
        run.stderr
    );
    assert_eq!(f.emulator.mutating_requests(), Vec::<String>::new());
    assert!(f.live.table(&f.table).is_some());

    f.edit(&[]);
    f.apply();
    assert_eq!(f.describe().deletion_protection_enabled(), Some(false));
    f.file.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert!(f.live.table(&f.table).is_none());
}

#[test]
fn ttl_is_enabled_and_disabled_and_a_rename_takes_two_applies() {
    let f = Fixture::new("ttl");
    f.apply();
    assert_eq!(f.live.ttl(&f.table), None);
    f.edit(&[(
        "stream: NEW_IMAGE",
        "stream: NEW_IMAGE\n    ttl_attribute: expires_at",
    )]);
    f.emulator.clear_requests();
    f.apply();
    assert_eq!(f.emulator.mutating_requests(), ["UpdateTimeToLive"]);
    assert_eq!(f.live.ttl(&f.table).as_deref(), Some("expires_at"));
    f.assert_converged();

    // DynamoDB refuses a second TTL change within the hour, so a rename cannot be done
    // as disable-then-enable in one run: plan says so and apply changes nothing.
    f.edit(&[(
        "stream: NEW_IMAGE",
        "stream: NEW_IMAGE\n    ttl_attribute: purge_at",
    )]);
    let run = f.file.run(&["plan"]).expect_code(0);
    assert!(run.stdout.contains("! blocked:"), "{}", run.stdout);
    assert!(run.stdout.contains("takes two applies"), "{}", run.stdout);
    f.emulator.clear_requests();
    let run = f.file.run(&["apply", "--auto-approve"]).expect_code(1);
    assert!(run.stderr.contains("cannot change"), "{}", run.stderr);
    assert!(run.stderr.contains("Nothing was changed"), "{}", run.stderr);
    assert_eq!(f.emulator.mutating_requests(), Vec::<String>::new());
    assert_eq!(f.live.ttl(&f.table).as_deref(), Some("expires_at"));

    // The two steps the message describes.
    f.edit(&[]);
    f.apply();
    assert_eq!(f.live.ttl(&f.table), None);
    f.assert_converged();
    f.edit(&[(
        "stream: NEW_IMAGE",
        "stream: NEW_IMAGE\n    ttl_attribute: purge_at",
    )]);
    f.apply();
    assert_eq!(f.live.ttl(&f.table).as_deref(), Some("purge_at"));
    f.assert_converged();
}

#[test]
fn billing_switch_and_a_new_index_in_one_apply() {
    let f = Fixture::new("billing-gsi");
    f.apply();
    f.edit(&[
        (
            "    billing_mode: PROVISIONED\n    read_capacity: 5\n    write_capacity: 5\n",
            "    billing_mode: PAY_PER_REQUEST\n",
        ),
        ("        read_capacity: 5\n        write_capacity: 5\n", ""),
        (
            "message_group_uuid: S }",
            "message_group_uuid: S, user_uuid: S }",
        ),
        (
            "    stream: NEW_IMAGE\n",
            "      - name: by-user\n        key: { hash: user_uuid }\n    stream: NEW_IMAGE\n",
        ),
    ]);
    f.emulator.clear_requests();
    f.apply();
    // The billing switch first (it names no capacity for an index that does not exist
    // yet), then the index: two calls, each waited for.
    assert_eq!(
        f.emulator.mutating_requests(),
        ["UpdateTable", "UpdateTable"]
    );
    let t = f.describe();
    assert_eq!(
        t.billing_mode_summary().and_then(|b| b.billing_mode()),
        Some(&ddb::BillingMode::PayPerRequest)
    );
    assert!(index(&t, "by-user").is_some());
    assert!(index(&t, "message-group-sk-index").is_some());
    f.assert_converged();
}

#[test]
fn an_index_key_attribute_changing_type_rebuilds_the_index_only() {
    let f = Fixture::new("gsi-type");
    f.apply();
    f.live.put(&f.table, "MSG#1", "2023-01-01");
    f.edit(&[(
        "attributes: { pk: S, sk: S, message_group_uuid: S }",
        "attributes: { pk: S, sk: S, message_group_uuid: N }",
    )]);
    let run = f.file.run(&["plan"]).expect_code(0);
    assert!(
        run.stdout.contains("~ dynamodb_table.messages"),
        "not a replacement: {}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("indexes keyed on it are deleted and rebuilt"),
        "{}",
        run.stdout
    );
    f.emulator.clear_requests();
    f.apply();
    assert_eq!(
        f.emulator.mutating_requests(),
        ["UpdateTable", "UpdateTable"],
        "delete the index, then create it"
    );
    let t = f.describe();
    let uuid = t
        .attribute_definitions()
        .iter()
        .find(|a| a.attribute_name() == "message_group_uuid")
        .unwrap();
    assert_eq!(uuid.attribute_type(), &ddb::ScalarAttributeType::N);
    assert!(index(&t, "message-group-sk-index").is_some());
    assert_eq!(f.live.item_count(&f.table), 1, "an index rebuild lost data");
    f.assert_converged();
}

#[test]
fn tags_are_added_changed_and_removed_but_ownership_stays() {
    let f = Fixture::new("tags");
    // More than ten tags: moto pages ListTagsOfResource at ten, so this exercises paging.
    let many: String = (0..9).map(|i| format!("t{i}: v{i}, ")).collect();
    f.edit(&[(
        "stream: NEW_IMAGE",
        &format!("stream: NEW_IMAGE\n    tags: {{ {many}team: messaging }}"),
    )]);
    f.apply();
    let tags = f.live.tags(&f.table);
    assert_eq!(tags.len(), 13, "{tags:?}");
    assert_eq!(tags["team"], "messaging");
    f.assert_converged();

    f.edit(&[(
        "stream: NEW_IMAGE",
        "stream: NEW_IMAGE\n    tags: { team: chat, cost-center: \"42\" }",
    )]);
    f.emulator.clear_requests();
    f.apply();
    assert_eq!(
        f.emulator.mutating_requests(),
        ["TagResource", "UntagResource"]
    );
    let tags = f.live.tags(&f.table);
    assert_eq!(tags["team"], "chat");
    assert_eq!(tags["cost-center"], "42");
    assert!(!tags.contains_key("t0"));
    assert_eq!(tags["cruddur-infra:stack"], "tags/test");
    f.assert_converged();
}

#[test]
fn table_class_changes_in_place() {
    let f = Fixture::new("class");
    f.apply();
    f.edit(&[(
        "stream: NEW_IMAGE",
        "stream: NEW_IMAGE\n    table_class: STANDARD_INFREQUENT_ACCESS",
    )]);
    f.apply();
    let t = f.describe();
    assert_eq!(
        t.table_class_summary().and_then(|c| c.table_class()),
        Some(&ddb::TableClass::StandardInfrequentAccess)
    );
    f.assert_converged();
}

#[test]
fn key_changes_are_replacements_refused_without_allow_replace() {
    let f = Fixture::new("replace");
    f.apply();
    f.live.put(&f.table, "MSG#1", "2023-01-01");
    f.edit(&[
        (
            "attributes: { pk: S, sk: S, message_group_uuid: S }",
            "attributes: { pk: S, sk: N, message_group_uuid: S }",
        ),
        (
            "key: { hash: message_group_uuid, range: sk }",
            "key: { hash: message_group_uuid }",
        ),
    ]);
    let run = f.file.run(&["plan", "--detailed-exitcode"]).expect_code(2);
    assert!(
        run.stdout.contains("-/+ dynamodb_table.messages"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("key attribute `sk` changes type (S → N)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("# forces replacement"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("the table holds about 1 item; it is deleted with it"),
        "{}",
        run.stdout
    );

    f.emulator.clear_requests();
    let run = f.file.run(&["apply", "--auto-approve"]).expect_code(1);
    assert!(run.stderr.contains("refusing to replace"), "{}", run.stderr);
    assert!(run.stderr.contains("--allow-replace"), "{}", run.stderr);
    assert_eq!(f.emulator.mutating_requests(), Vec::<String>::new());
    assert_eq!(
        f.live.item_count(&f.table),
        1,
        "the refused replacement lost data"
    );

    f.file
        .run(&["apply", "--auto-approve", "--allow-replace"])
        .expect_code(0);
    let t = f.describe();
    let sk = t
        .attribute_definitions()
        .iter()
        .find(|a| a.attribute_name() == "sk")
        .unwrap();
    assert_eq!(sk.attribute_type(), &ddb::ScalarAttributeType::N);
    assert_eq!(
        f.live.item_count(&f.table),
        0,
        "a replaced table starts empty"
    );
    assert_eq!(f.live.tags(&f.table)["cruddur-infra:stack"], "replace/test");
    f.assert_converged();
}

/// Makes the seed's table by hand, as the week-5 journal did: no ownership tags.
fn create_by_hand(live: &Live, name: &str, tags: &[(&str, &str)]) {
    use crate::support::{key_element as key, string_attribute as attr};
    let throughput = |n| {
        ddb::ProvisionedThroughput::builder()
            .read_capacity_units(n)
            .write_capacity_units(n)
            .build()
            .unwrap()
    };
    let gsi = ddb::GlobalSecondaryIndex::builder()
        .index_name("message-group-sk-index")
        .key_schema(key("message_group_uuid", ddb::KeyType::Hash))
        .key_schema(key("sk", ddb::KeyType::Range))
        .projection(
            ddb::Projection::builder()
                .projection_type(ddb::ProjectionType::All)
                .build(),
        )
        .provisioned_throughput(throughput(5))
        .build()
        .unwrap();
    let mut request = live
        .client
        .create_table()
        .table_name(name)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .attribute_definitions(attr("message_group_uuid"))
        .key_schema(key("pk", ddb::KeyType::Hash))
        .key_schema(key("sk", ddb::KeyType::Range))
        .provisioned_throughput(throughput(1))
        .global_secondary_indexes(gsi);
    for (k, v) in tags {
        request = request.tags(ddb::Tag::builder().key(*k).value(*v).build().unwrap());
    }
    live.block_on(request.send()).unwrap();
}

#[test]
fn a_hand_made_table_is_a_conflict_until_adopted() {
    let f = Fixture::new("adopt");
    create_by_hand(&f.live, &f.table, &[]);
    f.live.put(&f.table, "MSG#1", "2023-01-01");
    f.emulator.clear_requests();

    let run = f.file.run(&["plan"]).expect_code(1);
    assert!(
        run.stdout.contains("! dynamodb_table.messages"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("not created by cruddur-infra"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("--adopt"), "{}", run.stderr);
    let run = f.file.run(&["apply", "--auto-approve"]).expect_code(1);
    assert!(
        run.stderr.contains("not made by cruddur-infra"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("Nothing was changed"), "{}", run.stderr);
    assert_eq!(
        f.emulator.mutating_requests(),
        Vec::<String>::new(),
        "a conflict touched the table"
    );
    assert_eq!(capacity(&f.describe()), (1, 1));

    // plan --adopt previews the takeover; apply --adopt tags it first, then reconciles.
    let run = f.file.run(&["plan", "--adopt"]).expect_code(0);
    assert!(
        run.stdout
            .contains("will be adopted, then updated in place"),
        "{}",
        run.stdout
    );
    f.emulator.clear_requests();
    f.file
        .run(&["apply", "--auto-approve", "--adopt"])
        .expect_code(0);
    let ops = f.emulator.mutating_requests();
    assert_eq!(
        ops.first().map(String::as_str),
        Some("TagResource"),
        "tagging comes first: {ops:?}"
    );
    let t = f.describe();
    assert_eq!(capacity(&t), (5, 5));
    assert_eq!(stream_view(&t), Some(ddb::StreamViewType::NewImage));
    assert_eq!(f.live.tags(&f.table)["cruddur-infra:stack"], "adopt/test");
    assert_eq!(f.live.item_count(&f.table), 1, "adoption lost data");
    f.assert_converged();
}

#[test]
fn adopting_never_replaces_even_with_allow_replace() {
    let f = Fixture::new("adopt-replace");
    create_by_hand(&f.live, &f.table, &[]);
    f.live.put(&f.table, "MSG#1", "2023-01-01");
    // The file's key differs from the hand-made table's: adopting would mean replacing.
    f.edit(&[
        (
            "attributes: { pk: S, sk: S, message_group_uuid: S }",
            "attributes: { pk: S, sk: N, message_group_uuid: S }",
        ),
        (
            "key: { hash: message_group_uuid, range: sk }",
            "key: { hash: message_group_uuid }",
        ),
    ]);
    let run = f.file.run(&["plan", "--adopt"]).expect_code(0);
    assert!(run.stdout.contains("! blocked:"), "{}", run.stdout);
    f.emulator.clear_requests();
    let run = f
        .file
        .run(&["apply", "--auto-approve", "--adopt", "--allow-replace"])
        .expect_code(1);
    assert!(
        run.stderr.contains("never deletes what it does not own"),
        "{}",
        run.stderr
    );
    assert_eq!(f.emulator.mutating_requests(), Vec::<String>::new());
    assert_eq!(f.live.item_count(&f.table), 1, "the table lost its data");
    assert!(!f.live.tags(&f.table).contains_key("cruddur-infra:stack"));
}

#[test]
fn an_adopted_table_with_a_local_index_converges() {
    let f = Fixture::new("adopt-lsi");
    use crate::support::{key_element as key, string_attribute as attr};
    let lsi = ddb::LocalSecondaryIndex::builder()
        .index_name("by-created")
        .key_schema(key("pk", ddb::KeyType::Hash))
        .key_schema(key("created_at", ddb::KeyType::Range))
        .projection(
            ddb::Projection::builder()
                .projection_type(ddb::ProjectionType::KeysOnly)
                .build(),
        )
        .build()
        .unwrap();
    let request = f
        .live
        .client
        .create_table()
        .table_name(&f.table)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .attribute_definitions(attr("created_at"))
        .key_schema(key("pk", ddb::KeyType::Hash))
        .key_schema(key("sk", ddb::KeyType::Range))
        .billing_mode(ddb::BillingMode::PayPerRequest)
        .local_secondary_indexes(lsi);
    f.live.block_on(request.send()).unwrap();
    f.file.write(&format!(
        "  messages:\n    type: dynamodb_table\n    name: {}\n    attributes: {{ pk: S, sk: S }}\n    key: {{ hash: pk, range: sk }}\n",
        f.table
    ));
    f.file
        .run(&["apply", "--auto-approve", "--adopt"])
        .expect_code(0);
    // The local index's attribute is not ours to manage and is not a difference.
    f.assert_converged();
    assert_eq!(f.describe().local_secondary_indexes().len(), 1);
}

#[test]
fn a_table_of_another_stack_is_never_touched() {
    let f = Fixture::new("foreign");
    create_by_hand(
        &f.live,
        &f.table,
        &[
            ("managed-by", "cruddur-infra"),
            ("cruddur-infra:stack", "other/prod"),
        ],
    );
    f.emulator.clear_requests();
    let run = f.file.run(&["plan", "--adopt"]).expect_code(1);
    assert!(
        run.stdout
            .contains("belongs to stack/environment `other/prod`"),
        "{}",
        run.stdout
    );
    f.file
        .run(&["apply", "--auto-approve", "--adopt"])
        .expect_code(1);
    let run = f.file.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert!(run.stdout.contains("left alone"), "{}", run.stdout);
    assert_eq!(f.emulator.mutating_requests(), Vec::<String>::new());
    assert!(f.live.table(&f.table).is_some());
}

#[test]
fn apply_without_a_terminal_or_auto_approve_refuses_before_any_request() {
    let f = Fixture::new("noprompt");
    let run = f.file.run(&["apply"]).expect_code(1);
    assert!(run.stderr.contains("--auto-approve"), "{}", run.stderr);
    let run = f.file.run(&["destroy"]).expect_code(1);
    assert!(run.stderr.contains("--auto-approve"), "{}", run.stderr);
    assert!(f.emulator.requests().is_empty());
}

#[test]
fn plan_json_describes_field_changes() {
    let f = Fixture::new("json");
    f.apply();
    f.edit(&[(
        "stream: NEW_IMAGE",
        "stream: NEW_AND_OLD_IMAGES\n    tags: { team: chat }",
    )]);
    let json = f
        .file
        .run(&["plan", "--output", "json", "--detailed-exitcode"])
        .expect_code(2)
        .json();
    let change = &json["resource_changes"][0];
    assert_eq!(change["name"], "messages");
    assert_eq!(change["type"], "dynamodb_table");
    assert_eq!(change["physical_id"], f.table.as_str());
    assert_eq!(change["action"], "update");
    let fields = change["changes"].as_array().unwrap();
    let stream = fields
        .iter()
        .find(|c| c["path"] == serde_json::json!(["stream"]))
        .unwrap();
    assert_eq!(stream["before"], "NEW_IMAGE");
    assert_eq!(stream["after"], "NEW_AND_OLD_IMAGES");
    assert_eq!(stream["forces_replacement"], false);
    assert!(stream["note"].as_str().unwrap().contains("ARN changes"));
    let tag = fields
        .iter()
        .find(|c| c["path"] == serde_json::json!(["tags", "team"]))
        .unwrap();
    assert_eq!(tag["before"], serde_json::Value::Null);
    assert_eq!(tag["after"], "chat");
    assert_eq!(json["summary"]["update"], 1);
}

#[test]
fn references_order_resources_and_resolve_after_apply() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let resources = "  audit:
    type: dynamodb_table
    name: audit-${env}
    attributes: { id: S }
    key: { hash: id }
    tags: { source: \"${messages.stream_arn}\", table: \"${messages.name}\" }
  messages:
    type: dynamodb_table
    name: messages-${env}
    attributes: { pk: S }
    key: { hash: pk }
    stream: NEW_IMAGE
";
    let file = StackFile::new("refs", &emulator.url, resources);
    let run = file.run(&["plan"]).expect_code(0);
    assert!(
        run.stdout.contains("+ source ")
            && run.stdout.contains(
                "= \"arn:aws:dynamodb:us-east-1:123456789012:table/messages-test/stream/(known after apply)\""
            ),
        "{}",
        run.stdout
    );
    file.run(&["apply", "--auto-approve"]).expect_code(0);
    let stream_arn = live
        .expect_table("messages-test")
        .latest_stream_arn
        .unwrap();
    let tags = live.tags("audit-test");
    assert_eq!(tags["source"], stream_arn);
    assert_eq!(tags["table"], "messages-test");
    let run = file.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    assert!(run.stdout.contains("No changes."), "{}", run.stdout);

    // A new stream on `messages` changes the ARN `audit` copies: both change in one apply.
    file.write(&resources.replace("stream: NEW_IMAGE", "stream: KEYS_ONLY"));
    let run = file.run(&["plan"]).expect_code(0);
    assert!(
        run.stdout.contains("Plan: 0 to add, 2 to change"),
        "{}",
        run.stdout
    );
    file.run(&["apply", "--auto-approve"]).expect_code(0);
    let new_arn = live
        .expect_table("messages-test")
        .latest_stream_arn
        .unwrap();
    assert_ne!(new_arn, stream_arn);
    assert_eq!(live.tags("audit-test")["source"], new_arn);
    file.run(&["plan", "--detailed-exitcode"]).expect_code(0);

    // Destroy goes dependents first and leaves nothing.
    file.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert!(live.table("audit-test").is_none() && live.table("messages-test").is_none());
}

#[test]
fn environments_overlay_the_base_file() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    let text = format!(
        "\
stack: envs
environments:
  test:
    emulator: {url}
  prod:
    emulator: {url}
    tags: {{ tier: production }}
  pr-*:
    emulator: {url}
tags:
  app: cruddur
resources:
  messages:
    type: dynamodb_table
    name: messages-${{env}}
    attributes: {{ pk: S }}
    key: {{ hash: pk }}
    billing_mode: PROVISIONED
    read_capacity: 1
    write_capacity: 1
    overrides:
      prod:
        name: messages
        read_capacity: 20
        deletion_protection: true
      pr-*:
        billing_mode: PAY_PER_REQUEST
        read_capacity: null
        write_capacity: null
",
        url = emulator.url
    );
    let file = StackFile::new("envs", &emulator.url, "");
    file.write_raw(&text);
    let dir = file.path();
    let dir = dir.parent().unwrap();
    let run = |env: &str| {
        crate::support::cli(
            &["--env", env, "--no-color", "apply", "--auto-approve"],
            dir,
        )
    };

    run("prod").expect_code(0);
    let t = live.expect_table("messages");
    assert_eq!(capacity(&t), (20, 1));
    assert_eq!(t.deletion_protection_enabled(), Some(true));
    let tags = live.tags("messages");
    assert_eq!(tags["tier"], "production");
    assert_eq!(tags["app"], "cruddur");
    assert_eq!(tags["cruddur-infra:stack"], "envs/prod");

    run("pr-42").expect_code(0);
    let t = live.expect_table("messages-pr-42");
    assert_eq!(
        t.billing_mode_summary().and_then(|b| b.billing_mode()),
        Some(&ddb::BillingMode::PayPerRequest)
    );
    assert_eq!(
        live.tags("messages-pr-42")["cruddur-infra:stack"],
        "envs/pr-42"
    );
    assert!(!live.tags("messages-pr-42").contains_key("tier"));

    // Each environment owns only its own table.
    let run = crate::support::cli(
        &["--env", "pr-42", "--no-color", "destroy", "--auto-approve"],
        dir,
    )
    .expect_code(0);
    assert!(run.stdout.contains("1 destroyed"), "{}", run.stdout);
    assert!(live.table("messages-pr-42").is_none());
    assert!(live.table("messages").is_some());
}

#[test]
fn endpoints_come_from_flags_environment_variables_or_the_file() {
    let emulator = Emulator::start();
    let live = Live::new(&emulator);
    // Nothing listens on port 9 of loopback (discard): a request sent there fails.
    let dead = "http://127.0.0.1:9";
    let resources = "  t:\n    type: dynamodb_table\n    name: endpoint-${env}\n    attributes: { pk: S }\n    key: { hash: pk }\n";

    // 1. --endpoint-url overrides an emulator environment's URL (still loopback only).
    let file = StackFile::new("endpoints", dead, resources);
    let run = file.run(&["plan"]).expect_code(1);
    assert!(
        run.stderr
            .contains("could not reach the local emulator at http://127.0.0.1:9"),
        "{}",
        run.stderr
    );
    file.run(&["--endpoint-url", &emulator.url, "apply", "--auto-approve"])
        .expect_code(0);
    assert!(live.table("endpoint-test").is_some());
    let run = file
        .run(&["--endpoint-url", "http://192.0.2.1:4566", "plan"])
        .expect_code(1);
    assert!(
        run.stderr.contains("not a loopback address"),
        "{}",
        run.stderr
    );

    // 2. A real-account environment: the file's endpoint_url, unless AWS_ENDPOINT_URL says otherwise.
    let real = |endpoint: &str| {
        format!(
            "stack: endpoints\nenvironments:\n  real:\n    region: us-east-1\n    endpoint_url: {endpoint}\nresources:\n{resources}"
        )
    };
    let creds = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("stack.yaml"), real(&emulator.url)).unwrap();
    crate::support::cli_with_env(
        &["--env", "real", "apply", "--auto-approve"],
        dir.path(),
        &creds,
    )
    .expect_code(0);
    assert!(live.table("endpoint-real").is_some());

    std::fs::write(dir.path().join("stack.yaml"), real(dead)).unwrap();
    let mut env = creds.to_vec();
    env.push(("AWS_ENDPOINT_URL", &emulator.url));
    let run = crate::support::cli_with_env(
        &["--env", "real", "plan", "--detailed-exitcode"],
        dir.path(),
        &env,
    )
    .expect_code(0);
    assert!(run.stdout.contains("No changes."), "{}", run.stdout);
    // Per-service variables win over the file too. Every plan also looks for this stack's
    // resources of every kind by their tags, so each service the tool talks to is named.
    let mut env = creds.to_vec();
    for service in [
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_IAM",
        "AWS_ENDPOINT_URL_EC2",
        "AWS_ENDPOINT_URL_LAMBDA",
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
        "AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API",
    ] {
        env.push((service, &emulator.url));
    }
    crate::support::cli_with_env(
        &["--env", "real", "plan", "--detailed-exitcode"],
        dir.path(),
        &env,
    )
    .expect_code(0);
}
