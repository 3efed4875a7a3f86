//! The default stack's lifecycle at AWS's pace: an emulator keeping AWS's time at scale 1
//! (`Emulator::keeping_aws_time`, scripts/aws_time/), each run next to AWS's own
//! floor for the same work: the sum of the emulator's windows along the run's critical
//! path, which no deployer can beat. Also, for every window the tool waited in, how soon
//! after its end the tool saw it over.
//!
//! The runs: a first apply (in an account and region where the deploy lock's table exists
//! already: its first use adds one table creation, said apart), a change (an index added to
//! the table and the function's memory), destroy, and apply again at once (SQS holds the
//! deleted queue's name for 60 s).

use crate::support::{Emulator, Live, cli, ddb, default_stack_in, run_default};
use std::time::Instant;

/// A state's duration at scale 1, by its name ("table CREATING").
type Seconds<'a> = &'a dyn Fn(&str) -> f64;

/// One run: what it is, the arguments, and its floor from the emulator's durations (in
/// seconds, as `seconds` reports them at scale 1) and windows.
struct Case {
    name: &'static str,
    args: &'static [&'static str],
    /// The floor, given the durations and the windows open when the run started.
    floor: fn(Seconds, &Open) -> f64,
    /// The stack file's edits before the run.
    edits: &'static [(&'static str, &'static str)],
}

/// What was still going on when a run started.
struct Open {
    /// Seconds until SQS gives the deleted queue's name back (0: not held).
    queue_held: f64,
}

const CASES: &[Case] = &[
    Case {
        name: "first apply",
        args: &["apply", "--auto-approve"],
        // The role waits for nothing; the function for the role to reach Lambda and the
        // endpoint; the mapping for the function Active and the table ACTIVE.
        floor: |s, _| {
            let function = s("role propagating").max(s("endpoint pending")) + s("function Pending");
            function.max(s("table CREATING")) + s("mapping Creating")
        },
        edits: &[],
    },
    Case {
        name: "a change: an index added, the function's memory",
        args: &["apply", "--auto-approve"],
        floor: |s, _| {
            (s("index allocating") + s("index backfilling")).max(s("function InProgress"))
        },
        edits: &[
            (
                "        read_capacity: 5\n        write_capacity: 5\n    # The stream",
                "        read_capacity: 5\n        write_capacity: 5\n      - name: by-user\n        key: { hash: user_uuid, range: sk }\n        projection: KEYS_ONLY\n        read_capacity: 5\n        write_capacity: 5\n    # The stream",
            ),
            (
                "      message_group_uuid: S\n",
                "      message_group_uuid: S\n      user_uuid: S\n",
            ),
            ("    memory: 128\n", "    memory: 256\n"),
        ],
    },
    Case {
        name: "destroy",
        args: &["destroy", "--auto-approve"],
        // The mapping goes first (it reads the stream and runs the function); then the
        // table, and the function and its endpoint.
        floor: |s, _| s("mapping Deleting") + s("table DELETING").max(s("endpoint deleting")),
        edits: &[],
    },
    Case {
        name: "apply again at once",
        args: &["apply", "--auto-approve"],
        // As a first apply, but the mapping also needs its on-failure queue, whose name
        // SQS still holds.
        floor: |s, open| {
            let function = s("role propagating").max(s("endpoint pending")) + s("function Pending");
            function.max(s("table CREATING")).max(open.queue_held) + s("mapping Creating")
        },
        edits: &[],
    },
];

pub fn lifecycle() {
    let emulator = Emulator::keeping_aws_time(1.0);
    let live = Live::new(&emulator);
    let dir = tempfile::tempdir().unwrap();
    let (file, text) = default_stack_in(dir.path());
    let built = cli(
        &["-f", file.to_str().unwrap(), "--env", "local", "build"],
        dir.path(),
    );
    assert_eq!(built.code, 0, "{}", built.stderr);
    warm_up(&live);
    let lock_table = Instant::now();
    make_lock_table(&live);
    println!(
        "at AWS's pace (the emulator keeping AWS's time, scale 1); the deploy lock's table, \
         made once per account and region: {:.1} s",
        lock_table.elapsed().as_secs_f64()
    );
    // A plan first, as a pull request's review has: every read the apply makes has been
    // made once (the emulator's first answers of some services are slow).
    let planned = run_default(dir.path(), &file, &emulator.url, &["plan"]);
    assert_eq!(planned.code, 0, "{}", planned.stderr);
    let windows = emulator.windows();
    let seconds = |name: &str| windows["seconds"][name].as_f64().unwrap();
    let mut edited = text.clone();
    for case in CASES {
        for (from, to) in case.edits {
            assert!(edited.contains(from), "{from}");
            edited = edited.replacen(from, to, 1);
        }
        std::fs::write(&file, &edited).unwrap();
        let before = emulator.windows();
        let now = before["now"].as_f64().unwrap();
        let queue_held = before["windows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["name"] == "queue name held")
            .map(|w| w["end"].as_f64().unwrap() - now)
            .fold(0.0, f64::max);
        let floor = (case.floor)(&seconds, &Open { queue_held });
        let mut args = vec!["--no-color", "--stats"];
        args.extend_from_slice(case.args);
        let started = Instant::now();
        let run = run_default(dir.path(), &file, &emulator.url, &args);
        let wall = started.elapsed().as_secs_f64();
        assert_eq!(run.code, 0, "{}: {}", case.name, run.stderr);
        println!(
            "  {:<48} {wall:6.1} s, floor {floor:5.1} s: {:.2}x",
            case.name,
            wall / floor
        );
        // Each state the tool waited in, and how long after its end it saw it over.
        let after = emulator.windows();
        for w in after["windows"].as_array().unwrap() {
            let (start, end) = (w["start"].as_f64().unwrap(), w["end"].as_f64().unwrap());
            let (Some(seen), Some(asked)) = (w["seen"].as_f64(), w["asked"].as_u64()) else {
                continue;
            };
            if start < now || asked == 0 {
                continue;
            }
            println!(
                "      {:<22} {:5.1} s, seen over {:4.2} s after its end ({:.2}x)",
                w["name"].as_str().unwrap(),
                end - start,
                seen - end,
                (seen - start) / (end - start)
            );
        }
        if let Some(path) = run.stderr.lines().find(|l| l.starts_with("Critical path:")) {
            println!("      {path}");
        }
    }
}

/// One call to each service, so that the emulator's own first-use work (moto loads AWS's
/// managed IAM policies, makes the default VPC, ... when a service is first called) is not
/// counted as the tool's.
fn warm_up(live: &Live) {
    live.block_on(async {
        live.iam.list_roles().send().await.unwrap();
        live.ec2.describe_vpcs().send().await.unwrap();
        live.lambda.list_functions().send().await.unwrap();
        live.sqs.list_queues().send().await.unwrap();
        live.sns.list_topics().send().await.unwrap();
        live.cloudwatch.describe_alarms().send().await.unwrap();
        live.logs.describe_log_groups().send().await.unwrap();
        live.client.list_tables().send().await.unwrap();
    });
}

/// The deploy lock's table, as the tool makes it on first use, ACTIVE.
fn make_lock_table(live: &Live) {
    let key = ddb::KeySchemaElement::builder()
        .attribute_name("lock_id")
        .key_type(ddb::KeyType::Hash)
        .build()
        .unwrap();
    let attribute = ddb::AttributeDefinition::builder()
        .attribute_name("lock_id")
        .attribute_type(ddb::ScalarAttributeType::S)
        .build()
        .unwrap();
    let request = live
        .client
        .create_table()
        .table_name("cruddur-infra-locks")
        .key_schema(key)
        .attribute_definitions(attribute)
        .billing_mode(ddb::BillingMode::PayPerRequest);
    live.block_on(request.send()).unwrap();
    while live.expect_table("cruddur-infra-locks").table_status != Some(ddb::TableStatus::Active) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
