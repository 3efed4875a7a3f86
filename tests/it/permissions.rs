//! The deployer's own policy (`cruddur-infra permissions`), tested on an emulator that
//! checks every request against the caller's IAM policies (moto with
//! `INITIAL_NO_AUTH_ACTION_COUNT`; scripts/emulator.py's fix 6 makes it judge each call on
//! the ARNs AWS does, and check iam:PassRole). A user holding exactly the printed policy
//! runs the default stack's whole lifecycle; without any one of its statements, a run
//! fails, saying in one line what was denied.

use crate::support::{Emulator, Live, Run, cli_with_env, default_stack_in, repo_root};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The emulator's account.
const ACCOUNT: &str = "123456789012";

/// Calls the emulator answers before it checks IAM: the setup's five.
const SETUP_CALLS: &str = "5";

/// The lifecycle's stack files: the default stack with an environment `ci` that is not an
/// emulator's (so the tool uses the credentials it is given); then a change to every
/// resource's tags, the log retention and the function's memory (a new version, the alias
/// moved, the first version pruned: it keeps one); then every named resource renamed,
/// which leaves the earlier ones as orphans of every kind but the endpoint.
///
/// Its release has no check: on the emulator the check runs the function here with the
/// emulator's test credentials, which an emulator enforcing IAM refuses (on AWS it is
/// Lambda's Invoke, in the policy).
fn versions(dir: &Path) -> [PathBuf; 3] {
    let (_, text) = default_stack_in(dir);
    let check = text
        .lines()
        .find(|l| l.contains("check: ") && l.contains("check-event.json"))
        .unwrap();
    let v1 = text
        .replacen(
            "environments:\n",
            "environments:\n  ci:\n    region: us-east-1\n",
            1,
        )
        .replacen(&format!("{check}\n"), "", 1)
        .replacen("      keep_versions: 3\n", "      keep_versions: 1\n", 1);
    let v2 = v1
        .replacen("  app: cruddur\n", "  app: cruddur\n  team: messaging\n", 1)
        .replacen("log_retention_days: 14", "log_retention_days: 30", 1)
        .replacen("    memory: 128\n", "    memory: 256\n", 1);
    let v3 = v2.replace("    name: cruddur-", "    name: cruddur2-");
    [v1, v2, v3].map(|text| {
        let path = dir.join(format!("stack-{}.yaml", text.len()));
        std::fs::write(&path, text).unwrap();
        path
    })
}

/// The user `ci` (whose policy each step sets) and an administrator that sets it.
struct Account {
    emulator: Emulator,
    admin: Live,
    ci_key: (String, String),
}

impl Account {
    fn new() -> Account {
        let emulator = Emulator::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", SETUP_CALLS)]);
        let setup = Live::new(&emulator);
        let (admin_key, ci_key) = setup.block_on(async {
            let iam = &setup.iam;
            let key = |user: &'static str| async move {
                let key = iam.create_access_key().user_name(user).send().await.unwrap();
                let key = key.access_key.unwrap();
                (key.access_key_id, key.secret_access_key)
            };
            iam.create_user().user_name("admin").send().await.unwrap();
            let everything = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
            let put = iam.put_user_policy().user_name("admin").policy_name("all");
            put.policy_document(everything).send().await.unwrap();
            let admin = key("admin").await;
            iam.create_user().user_name("ci").send().await.unwrap();
            (admin, key("ci").await)
        });
        let admin = Live::with_credentials(&emulator.url, &admin_key.0, &admin_key.1);
        Account {
            emulator,
            admin,
            ci_key,
        }
    }

    /// Gives `ci` exactly `policy` (a document).
    fn allow(&self, policy: &serde_json::Value) {
        self.admin.block_on(async {
            let put = self.admin.iam.put_user_policy().user_name("ci");
            put.policy_name("deploy")
                .policy_document(policy.to_string())
                .send()
                .await
                .unwrap();
        });
    }

    /// Runs the tool as `ci` on `file`, environment `ci`.
    fn run(&self, dir: &Path, file: &Path, args: &[&str]) -> Run {
        let mut all = vec!["-f", file.to_str().unwrap(), "--env", "ci", "--no-color"];
        all.extend(["--endpoint-url", &self.emulator.url]);
        all.extend_from_slice(args);
        let env = [
            ("AWS_ACCESS_KEY_ID", self.ci_key.0.as_str()),
            ("AWS_SECRET_ACCESS_KEY", self.ci_key.1.as_str()),
        ];
        cli_with_env(&all, dir, &env)
    }
}

/// `permissions` for `file`, as printed.
fn printed_text(dir: &Path, file: &Path, extra: &[&str]) -> String {
    let mut args = vec!["-f", file.to_str().unwrap(), "--env", "ci"];
    args.extend(["permissions", "--account", ACCOUNT]);
    args.extend_from_slice(extra);
    cli_with_env(&args, dir, &[]).expect_code(0).stdout
}

/// `permissions` for `file`, as a document.
fn printed(dir: &Path, file: &Path, extra: &[&str]) -> serde_json::Value {
    serde_json::from_str(&printed_text(dir, file, extra)).unwrap()
}

/// `policy` without the statement `sid`.
fn without(policy: &serde_json::Value, sid: &str) -> serde_json::Value {
    let mut policy = policy.clone();
    policy["Statement"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s["Sid"] != sid);
    policy
}

fn sids(policy: &serde_json::Value) -> BTreeSet<String> {
    let statements = policy["Statement"].as_array().unwrap();
    statements
        .iter()
        .map(|s| s["Sid"].as_str().unwrap().to_string())
        .collect()
}

/// One step of the lifecycle: the file, the command, and the exit code that means success.
type Step = (usize, &'static [&'static str], i32);

const LIFECYCLE: &[Step] = &[
    (0, &["apply", "--auto-approve"], 0),
    (0, &["plan", "--detailed-exitcode"], 0),
    (0, &["drift"], 0),
    (0, &["outputs"], 0),
    (0, &["redrive", "--auto-approve"], 0),
    (1, &["apply", "--auto-approve"], 0),
    (2, &["apply", "--auto-approve"], 0),
    (2, &["destroy", "--auto-approve", "--allow-data-loss"], 0),
];

/// Runs the lifecycle as `ci`, each step under `policy_for` its file's printed policy;
/// returns the first run that did not succeed, with its step.
fn lifecycle(
    account: &Account,
    dir: &Path,
    files: &[PathBuf; 3],
    policy_for: impl Fn(serde_json::Value) -> serde_json::Value,
) -> Option<(usize, Run)> {
    for (step, (file, args, success)) in LIFECYCLE.iter().enumerate() {
        if args[0] == "redrive" {
            give_up_a_record(&account.admin);
        }
        if args[0] == "destroy" {
            // A message in the table: destroy keeps a backup of it first.
            let at = "2026-12-07T10:00:00Z";
            account.admin.put("cruddur2-messages-ci", "MSG#1", at);
        }
        account.allow(&policy_for(printed(dir, &files[*file], &[])));
        let run = account.run(dir, &files[*file], args);
        if run.code != *success {
            return Some((step, run));
        }
        if args[0] == "redrive" {
            // The row goes again, so that the table holds nothing when it is renamed.
            let admin = &account.admin;
            let delete = admin
                .client
                .delete_item()
                .table_name("cruddur-messages-ci")
                .key("pk", AttributeValue::S("USER#1".into()))
                .key("sk", AttributeValue::S("PROFILE".into()));
            admin.block_on(delete.send()).unwrap();
        }
    }
    None
}

#[test]
fn the_printed_policy_runs_the_whole_lifecycle_and_grants_every_call_made() {
    let dir = tempfile::tempdir().unwrap();
    let files = versions(dir.path());
    let account = Account::new();
    let admin = &account.admin;
    if let Some((step, run)) = lifecycle(&account, dir.path(), &files, |p| p) {
        panic!("step {step} failed:\n{}{}", run.stdout, run.stderr);
    }
    // It ran for real: the renamed resources were made, the earlier ones (orphans by
    // then) deleted, and destroy left nothing.
    assert!(admin.table("cruddur-messages-ci").is_none());
    assert!(admin.table("cruddur2-messages-ci").is_none());
    assert!(admin.role("cruddur-stream-processor-ci").is_none());
    assert!(admin.mappings().is_empty());
    assert!(admin.endpoints().is_empty());
    // The table destroyed with a message in it was kept as a backup first.
    let backups = admin
        .block_on(
            admin
                .client
                .list_backups()
                .table_name("cruddur2-messages-ci")
                .send(),
        )
        .unwrap()
        .backup_summaries
        .unwrap_or_default();
    assert_eq!(backups.len(), 1, "{backups:?}");
    // Every call the lifecycle made is granted by the policy (or needs no permission).
    let granted: BTreeSet<String> = files
        .iter()
        .flat_map(|f| actions(&printed(dir.path(), f, &[])))
        .collect();
    let made = recorded_actions(&account.emulator, &account.ci_key.0);
    let free = cruddur_infra::aws::needs::NEED_NO_PERMISSION;
    let missing: Vec<&String> = made
        .iter()
        .filter(|a| !granted.contains(*a) && !free.contains(&a.as_str()))
        .collect();
    assert!(missing.is_empty(), "called but not granted: {missing:?}");
    assert!(made.contains("dynamodb:CreateTable") && made.contains("iam:DeleteRole"));
    for action in [
        "sqs:ReceiveMessage",
        "dynamodb:GetRecords",
        "sqs:DeleteMessage",
        "dynamodb:CreateBackup",
        "dynamodb:DescribeBackup",
    ] {
        assert!(made.contains(action), "{action}: {made:?}");
    }
}

/// Before redrive's step: an on-failure record in the trigger's queue, as Lambda sends it,
/// for a row its filter drops (no MSG# key), so that redrive reads the range from the
/// stream and deletes the message without running the function.
fn give_up_a_record(admin: &Live) {
    use aws_sdk_dynamodbstreams::types::ShardIteratorType;
    admin.put("cruddur-messages-ci", "USER#1", "PROFILE");
    let stream = admin
        .expect_table("cruddur-messages-ci")
        .latest_stream_arn
        .unwrap();
    let streams = &admin.streams;
    let described = admin.block_on(streams.describe_stream().stream_arn(&stream).send());
    let description = described.unwrap().stream_description.unwrap();
    let shard = description.shards()[0].shard_id().unwrap().to_string();
    let request = streams
        .get_shard_iterator()
        .stream_arn(&stream)
        .shard_id(&shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon);
    let iterator = admin
        .block_on(request.send())
        .unwrap()
        .shard_iterator
        .unwrap();
    let records = admin.block_on(streams.get_records().shard_iterator(iterator).send());
    let records = records.unwrap().records.unwrap();
    let seq = records[0].dynamodb().unwrap().sequence_number().unwrap();
    let body = serde_json::json!({"DDBStreamBatchInfo": {
        "shardId": shard, "startSequenceNumber": seq, "endSequenceNumber": seq,
        "batchSize": 1, "streamArn": stream,
    }});
    let sqs = &admin.sqs;
    let url = admin
        .block_on(
            sqs.get_queue_url()
                .queue_name("cruddur-processor-failures-ci")
                .send(),
        )
        .unwrap()
        .queue_url
        .unwrap();
    let send = sqs
        .send_message()
        .queue_url(url)
        .message_body(body.to_string());
    admin.block_on(send.send()).unwrap();
}

fn actions(policy: &serde_json::Value) -> BTreeSet<String> {
    let statements = policy["Statement"].as_array().unwrap();
    statements
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// The IAM action of every request the emulator recorded signed with `access_key`
/// (tests/check_requests.py names each by AWS's published models).
fn recorded_actions(emulator: &Emulator, access_key: &str) -> BTreeSet<String> {
    let out = std::process::Command::new(crate::support::emulator_python())
        .arg(repo_root().join("tests/check_requests.py"))
        .arg("--operations")
        .arg(emulator.recording())
        .arg(access_key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn without_any_one_statement_a_run_fails_saying_what_was_denied_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let files = versions(dir.path());
    let all: BTreeSet<String> = files
        .iter()
        .flat_map(|f| sids(&printed(dir.path(), f, &[])))
        .collect();
    assert!(all.len() > 20, "{all:?}");
    // ONLY_SID=<Sid> runs the one statement's case, when looking into it.
    let only = std::env::var("ONLY_SID").ok();
    for sid in all.iter().filter(|s| only.as_ref().is_none_or(|o| o == *s)) {
        let account = Account::new();
        let failed = lifecycle(&account, dir.path(), &files, |p| without(&p, sid));
        let Some((step, run)) = failed else {
            panic!("without {sid}, the whole lifecycle still ran");
        };
        // The error: one line naming the action (and the resource, where it has a type)
        // and the identity, then the hint; said once, however many resources it stopped.
        let lines: Vec<&str> = run.stderr.lines().collect();
        let errors: Vec<usize> = (0..lines.len())
            .filter(|i| lines[*i].starts_with("error:"))
            .collect();
        assert_eq!(
            errors.len(),
            1,
            "without {sid}, step {step}:\n{}",
            run.stderr
        );
        let line = lines[errors[0]];
        assert!(
            line.starts_with("error: AWS denied "),
            "without {sid}, step {step}: {line}\n{}",
            run.stderr
        );
        assert!(
            line.contains(" to arn:aws:iam::123456789012:user/ci"),
            "{line}"
        );
        assert!(
            lines[errors[0] + 1].contains("cruddur-infra permissions"),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("ServiceError"), "{}", run.stderr);
        eprintln!("without {sid}: step {step}: {line}");
    }
}

#[test]
fn the_plan_policy_reads_only_and_plans() {
    let dir = tempfile::tempdir().unwrap();
    let files = versions(dir.path());
    let plan_policy = printed(dir.path(), &files[0], &["--for", "plan"]);
    let writes: Vec<String> = actions(&plan_policy)
        .into_iter()
        .filter(|a| {
            let verb = a.split(':').nth(1).unwrap();
            !["Describe", "Get", "List", "Scan"]
                .iter()
                .any(|read| verb.starts_with(read))
        })
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    let account = Account::new();
    account.allow(&printed(dir.path(), &files[0], &[]));
    account
        .run(dir.path(), &files[0], &["apply", "--auto-approve"])
        .expect_code(0);
    account.allow(&plan_policy);
    let plan = account.run(dir.path(), &files[1], &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}{}", plan.stdout, plan.stderr);
    account.run(dir.path(), &files[1], &["drift"]);
    // An apply is refused before it changes anything.
    let apply = account.run(dir.path(), &files[1], &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}", apply.stderr);
    assert!(apply.stderr.contains("AWS denied"), "{}", apply.stderr);
    let tags = account.admin.tags("cruddur-messages-ci");
    assert!(!tags.contains_key("team"), "{tags:?}");
}

/// What users read: the policy for the default stack, as a golden file.
#[test]
fn the_default_stacks_policy_reads_as_its_golden_file() {
    let dir = tempfile::tempdir().unwrap();
    let files = versions(dir.path());
    for (scope, extra) in [("all", &[][..]), ("plan", &["--for", "plan"][..])] {
        let text = printed_text(dir.path(), &files[0], extra);
        let path = repo_root().join(format!("tests/golden/permissions/{scope}.json"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, format!("{text}\n")).unwrap();
        }
        let golden = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text.trim_end(),
            golden.trim_end(),
            "{scope}: UPDATE_GOLDEN=1 rewrites it"
        );
    }
}

/// The SDK clients of `crate::aws::Aws`, by field name, and IAM's prefix for each.
const CLIENTS: &[(&str, &str)] = &[
    ("dynamodb", "dynamodb"),
    ("iam", "iam"),
    ("ec2", "ec2"),
    ("sts", "sts"),
    ("lambda", "lambda"),
    ("logs", "logs"),
    ("sqs", "sqs"),
    ("streams", "dynamodb"),
    ("cloudwatch", "cloudwatch"),
    ("tagging", "tag"),
];

/// Where calls need no listed permission: the local pipeline (`dev`, `invoke`) and the
/// bundler talk to the emulator only; STS's GetCallerIdentity needs none (client.rs).
const UNLISTED: &[&str] = &[
    "src/dev/",
    "src/commands/dev.rs",
    "src/commands/invoke.rs",
    "src/bundle.rs",
    "src/aws/client.rs",
    "src/engine/plan_tests/",
];

/// Every SDK call in `text`: `<client> . <operation>()`, as `prefix:Operation`.
fn sdk_calls(text: &str) -> Vec<String> {
    let mut calls = Vec::new();
    for (client, prefix) in CLIENTS {
        let mut rest = text;
        while let Some(at) = rest.find(client) {
            let before = rest[..at].chars().next_back();
            let after = rest[at + client.len()..].trim_start();
            rest = &rest[at + client.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let Some(after) = after.strip_prefix('.') else {
                continue;
            };
            let after = after.trim_start();
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if name.is_empty() || !after[name.len()..].starts_with("()") {
                continue;
            }
            let operation: String = name
                .split('_')
                .map(|w| w[..1].to_uppercase() + &w[1..])
                .collect();
            let call = format!("{prefix}:{operation}");
            // The SDK's name of an operation whose IAM action is named otherwise.
            let action = match call.as_str() {
                "lambda:Invoke" => "lambda:InvokeFunction".to_string(),
                _ => call,
            };
            calls.push(action);
        }
    }
    calls
}

/// A call added without its action in the list next to it fails here: every SDK call in
/// `src/` is listed in the `NEEDS` of its kind's folder or of its own file.
#[test]
fn every_sdk_call_in_the_source_is_listed_next_to_it() {
    let src = repo_root().join("src");
    let mut files = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let relative = |p: &Path| {
        p.strip_prefix(repo_root())
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    let mut unlisted = Vec::new();
    let mut seen = 0;
    for file in &files {
        let name = relative(file);
        if UNLISTED.iter().any(|u| name.starts_with(u)) {
            continue;
        }
        // A kind's calls are listed in its folder's ops.rs or in the file that makes them
        // (a kind's backup.rs); shared code lists its own.
        let code = std::fs::read_to_string(file).unwrap();
        let lists = match file.parent().unwrap().parent() {
            Some(kinds) if kinds.ends_with("src/kinds") => {
                std::fs::read_to_string(file.parent().unwrap().join("ops.rs")).unwrap() + &code
            }
            _ => code.clone(),
        };
        for call in sdk_calls(&code) {
            seen += 1;
            // A list's entry holds its actions in one string: `<use>: <actions>; ...`.
            let listed = ["\"", " "].iter().any(|before| {
                ["\"", " ", ";"]
                    .iter()
                    .any(|after| lists.contains(&format!("{before}{call}{after}")))
            });
            if !listed {
                unlisted.push(format!("{name}: {call}"));
            }
        }
    }
    assert!(seen > 60, "the scan found only {seen} calls");
    assert!(
        unlisted.is_empty(),
        "calls whose IAM action is not in the NEEDS next to them: {unlisted:#?}"
    );
}

#[test]
fn the_scan_sees_calls_written_over_several_lines() {
    let code = "let r = cx\n    .aws\n    .iam\n    .put_role_policy()\n; iam.delete_role(); my_iam.x(); lambda.list_tags()";
    assert_eq!(
        sdk_calls(code),
        ["iam:PutRolePolicy", "iam:DeleteRole", "lambda:ListTags"]
    );
}

/// `--account` that is not an account id, and an environment without a region when no
/// AWS call may tell it, are refused in one line, before any request.
#[test]
fn a_bad_account_or_no_region_is_refused_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let files = versions(dir.path());
    let emulator = Emulator::start();
    let file = files[0].to_str().unwrap();
    let url = emulator.url.as_str();
    let cases: [(&[&str], &str); 2] = [
        (
            &["--env", "ci", "permissions", "--account", "12345"],
            "error: --account \"12345\": an AWS account id is 12 digits",
        ),
        (
            &["--env", "ci", "permissions", "--account", "12345678901x"],
            "error: --account \"12345678901x\": an AWS account id is 12 digits",
        ),
    ];
    for (args, expected) in &cases {
        let mut all = vec!["-f", file, "--endpoint-url", url];
        all.extend_from_slice(args);
        let run = cli_with_env(&all, dir.path(), &[]).expect_code(1);
        assert_eq!(run.stderr.trim_end(), *expected, "{args:?}");
        assert!(run.stdout.is_empty(), "{}", run.stdout);
    }
    let no_region = dir.path().join("no-region.yaml");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    std::fs::write(
        &no_region,
        text.replacen("  ci:\n    region: us-east-1\n", "  ci: {}\n", 1),
    )
    .unwrap();
    let args = [
        "-f",
        no_region.to_str().unwrap(),
        "--env",
        "ci",
        "permissions",
    ];
    let run = cli_with_env(
        &[&args[..], &["--account", ACCOUNT]].concat(),
        dir.path(),
        &[],
    )
    .expect_code(1);
    assert_eq!(
        run.stderr.trim_end(),
        "error: environment ci names no region: pass --region (the policy's ARNs name it)"
    );
    assert!(
        emulator.requests().is_empty(),
        "{:?}",
        emulator.requests().len()
    );
}

#[test]
fn a_deploy_lock_table_that_may_not_be_described_is_said_at_once_not_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let files = versions(dir.path());
    let account = Account::new();
    // The printed policy but for dynamodb:DescribeTable on the lock's table (denied: other
    // statements grant it on every table, for orphans): the table is made on first use,
    // then cannot be looked at.
    let mut policy = printed(dir.path(), &files[0], &[]);
    policy["Statement"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "Sid": "NotTheLockTable",
            "Effect": "Deny",
            "Action": "dynamodb:DescribeTable",
            "Resource": format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/cruddur-infra-locks"),
        }));
    account.allow(&policy);
    let started = std::time::Instant::now();
    let run = account.run(dir.path(), &files[0], &["apply", "--auto-approve"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "it waited {:?}:\n{}",
        started.elapsed(),
        run.stderr
    );
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(
        errors,
        [
            "error: AWS denied dynamodb:DescribeTable on arn:aws:dynamodb:us-east-1:123456789012:table/cruddur-infra-locks to arn:aws:iam::123456789012:user/ci"
        ],
        "{}",
        run.stderr
    );
}
