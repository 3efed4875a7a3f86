//! Test support: a private AWS emulator per test, stack files, and running the CLI.
//!
//! Each test starts its own moto server (scripts/emulator.py) on a free loopback port with
//! moto's request recorder writing to a file of the test's own, so a test can list exactly
//! the requests the tool sent. The server stops when the `Emulator` is dropped.

pub mod busy;
pub mod dev;
pub mod fault_proxy;
pub mod runtime_api;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Cargo's target directory for the package in `package`: its `target/`, or
/// CARGO_TARGET_DIR when that is set (an absolute one replaces the path; a relative one
/// is read from the package, as cargo reads it there).
pub fn target_dir(package: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => package.join(dir),
        None => package.join("target"),
    }
}

/// Copies a package's directory, all but its `target/`, so a test can change its code.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// The Python that can run the emulator, installing moto first if needed (once per test
/// process, through the same script the README's commands use).
pub fn emulator_python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new(repo_root().join("scripts/ensure-emulator"))
            .stderr(Stdio::inherit())
            .output()
            .expect("run scripts/ensure-emulator");
        assert!(out.status.success(), "scripts/ensure-emulator failed");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One request the emulator received.
#[derive(Debug, Clone)]
pub struct Request {
    pub operation: String,
    /// On the deploy lock's table (`cruddur-infra-locks`), not on the stack.
    pub lock: bool,
    /// What makes two calls the same call: operation, URL and body.
    pub call: String,
}

impl Request {
    /// Reads describe, list, get, query and scan; everything else changes something.
    pub fn is_mutating(&self) -> bool {
        // REST operations (Lambda) are recorded as `METHOD /path`: a GET only reads.
        const READS: &[&str] = &[
            "Describe", "List", "Get", "Query", "Scan", "BatchGet", "GET ",
        ];
        !READS.iter().any(|p| self.operation.starts_with(p))
    }
}

pub struct Emulator {
    child: Child,
    pub url: String,
    dir: tempfile::TempDir,
}

impl Emulator {
    pub fn start() -> Emulator {
        Emulator::start_with(&[])
    }

    /// An emulator with `env` set for it (e.g. `INITIAL_NO_AUTH_ACTION_COUNT`, after which
    /// moto checks every request against the caller's IAM policies).
    pub fn start_with(env: &[(&str, &str)]) -> Emulator {
        let python = emulator_python();
        for _attempt in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let log = std::fs::File::create(dir.path().join("emulator.log")).unwrap();
            let child = Command::new(python)
                .arg(repo_root().join("scripts/emulator.py"))
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_ENABLE_RECORDING", "1")
                .env("MOTO_RECORDER_FILEPATH", dir.path().join("requests.jsonl"))
                .envs(env.iter().copied())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start the emulator");
            let mut emulator = Emulator {
                child,
                url: format!("http://127.0.0.1:{port}"),
                dir,
            };
            if emulator.wait_ready(port) {
                emulator.clear_requests();
                return emulator;
            }
            // Most likely the port was taken between choosing and binding it: try another.
            let _ = emulator.child.kill();
        }
        panic!("the emulator did not start (see scripts/emulator.py)");
    }

    fn wait_ready(&mut self, port: u16) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut delay = Duration::from_millis(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
                let _ = stream.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: localhost\r\n\r\n");
                let mut head = [0u8; 12];
                if stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1") {
                    return true;
                }
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(200));
        }
        false
    }

    /// An emulator that keeps AWS's time (scripts/aws_time/): transient states and
    /// the refusals meanwhile, each state lasting its duration times `scale`.
    pub fn keeping_aws_time(scale: f64) -> Emulator {
        Emulator::start_with(&[("CRUDDUR_EMULATOR_TIME", &scale.to_string())])
    }

    /// What an emulator keeping AWS's time reports of its windows so far: `scale`,
    /// `seconds` (each state's duration at scale 1) and `windows`.
    pub fn windows(&self) -> serde_json::Value {
        let port = self.url.rsplit(':').next().unwrap();
        let mut stream = TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).unwrap();
        stream
            .write_all(b"GET /cruddur-emulator/windows HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"))
    }

    /// The file the emulator records every request to (one JSON object a line).
    pub fn recording(&self) -> PathBuf {
        self.dir.path().join("requests.jsonl")
    }

    /// Every request received since the last `clear_requests`.
    pub fn requests(&self) -> Vec<Request> {
        let text = std::fs::read_to_string(self.recording()).unwrap_or_default();
        // A line without its newline yet is still being written (read while the tool
        // runs): it is not a request received yet.
        let complete = match text.rfind('\n') {
            Some(end) => &text[..end],
            None => "",
        };
        complete
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let entry: serde_json::Value = serde_json::from_str(line).expect("recorder line");
                let body = body_of(&entry);
                Request {
                    operation: operation_of(&entry),
                    lock: body.contains("cruddur-infra-locks"),
                    call: format!(
                        "{} {} {}",
                        operation_of(&entry),
                        entry["url"].as_str().unwrap_or_default(),
                        body
                    ),
                }
            })
            .collect()
    }

    /// Requests that change the stack's resources (the deploy lock's own writes, which
    /// every apply and destroy makes, are not counted: see `lock_requests`).
    pub fn mutating_requests(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| r.is_mutating() && !r.lock)
            .map(|r| r.operation)
            .collect()
    }

    pub fn clear_requests(&self) {
        std::fs::write(self.recording(), "").unwrap();
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A recorded request's body, decoded.
fn body_of(entry: &serde_json::Value) -> String {
    let body = entry["body"].as_str().unwrap_or_default();
    if entry["body_encoded"].as_bool() == Some(true) {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        body.to_string()
    }
}

/// The operation a recorded request called: `X-Amz-Target` for JSON protocols (DynamoDB),
/// `Action=` for query protocols (IAM, EC2, STS), else method and path (REST: Lambda).
fn operation_of(entry: &serde_json::Value) -> String {
    let headers = &entry["headers"];
    let target = headers
        .as_object()
        .and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-target"))
        })
        .and_then(|(_, v)| v.as_str());
    if let Some(target) = target {
        return target.rsplit('.').next().unwrap_or(target).to_string();
    }
    let body = body_of(entry);
    if let Some(action) = body.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
        return action.to_string();
    }
    // The recorder keeps the whole URL; the path is what names a REST operation.
    let url = entry["url"].as_str().unwrap_or("?");
    let path = url
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or(url);
    format!("{} {path}", entry["method"].as_str().unwrap_or("?"))
}

/// The repository's stack.yaml written into `dir` with the function's package and its
/// release check's event by absolute path (so it builds from there); returns the file's
/// path and its text.
pub fn default_stack_in(dir: &Path) -> (PathBuf, String) {
    let check = "check: lambda/fixtures/check-event.json";
    let text = std::fs::read_to_string(repo_root().join("stack.yaml"))
        .unwrap()
        .replace(
            "    code: lambda\n",
            &format!("    code: {}\n", repo_root().join("lambda").display()),
        )
        .replace(
            check,
            &format!(
                "check: {}",
                repo_root()
                    .join("lambda/fixtures/check-event.json")
                    .display()
            ),
        );
    let file = dir.join("stack.yaml");
    std::fs::write(&file, &text).unwrap();
    (file, text)
}

/// Runs the tool on the default stack `file` (the repository's stack.yaml, or a copy made
/// by `default_stack_in`), environment `local`, against `url` (an emulator, or a proxy in
/// front of one).
pub fn run_default(dir: &Path, file: &Path, url: &str, args: &[&str]) -> Run {
    let mut all = vec![
        "-f",
        file.to_str().unwrap(),
        "--env",
        "local",
        "--endpoint-url",
        url,
    ];
    all.extend_from_slice(args);
    cli(&all, dir)
}

/// A stack file in a directory of its own. `resources` is the YAML under `resources:`,
/// indented by two spaces; the environment `test` points at the emulator.
pub struct StackFile {
    dir: tempfile::TempDir,
    pub stack: String,
    pub env_url: String,
}

impl StackFile {
    /// `stack` should be unique per test (it ends up in ownership tags).
    pub fn new(stack: &str, env_url: &str, resources: &str) -> StackFile {
        let file = StackFile {
            dir: tempfile::tempdir().unwrap(),
            stack: stack.to_string(),
            env_url: env_url.to_string(),
        };
        file.write(resources);
        file
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("stack.yaml")
    }

    /// Replaces the resources (the rest of the file stays the same).
    pub fn write(&self, resources: &str) {
        let text = format!(
            "stack: {}\nenvironments:\n  test:\n    emulator: {}\nresources:\n{}",
            self.stack, self.env_url, resources
        );
        std::fs::write(self.path(), text).unwrap();
    }

    /// Writes the whole file as given.
    pub fn write_raw(&self, text: &str) {
        std::fs::write(self.path(), text).unwrap();
    }

    /// Runs `cruddur-infra -f <file> --env test --no-color <args>`.
    pub fn run(&self, args: &[&str]) -> Run {
        let path = self.path();
        let mut all = vec!["-f", path.to_str().unwrap(), "--env", "test", "--no-color"];
        all.extend_from_slice(args);
        cli(&all, self.dir.path())
    }
}

/// What the tests of one area start from: a private emulator, a stack file whose
/// resources are `resources` (edited per test), and the SDK on the emulator to check what
/// the tool did.
pub struct Fixture {
    pub emulator: Emulator,
    pub file: StackFile,
    pub live: Live,
    /// The YAML under `resources:`, before a test's edits.
    pub resources: String,
}

impl Fixture {
    /// A fresh emulator and a stack named after the test, holding `resources`.
    pub fn new(test: &str, resources: &str) -> Fixture {
        Fixture::with(test, |_| (resources.to_string(), ())).0
    }

    /// Like `new`, with `setup` making what the stack refers to on the emulator first
    /// (route tables, say) and returning the resources and what the test needs of it.
    /// Requests `setup` sends are not counted as the tool's.
    pub fn with<T>(test: &str, setup: impl FnOnce(&Live) -> (String, T)) -> (Fixture, T) {
        let emulator = Emulator::start();
        let live = Live::new(&emulator);
        let (resources, extra) = setup(&live);
        let file = StackFile::new(test, &emulator.url, &resources);
        emulator.clear_requests();
        let fixture = Fixture {
            emulator,
            file,
            live,
            resources,
        };
        (fixture, extra)
    }

    /// Rewrites the stack file with the resources changed by `edits` (text → replacement,
    /// each of which must be there).
    pub fn edit(&self, edits: &[(&str, &str)]) {
        let mut text = self.resources.clone();
        for (from, to) in edits {
            assert!(text.contains(from), "`{from}` is not in the resources");
            text = text.replacen(from, to, 1);
        }
        self.file.write(&text);
    }

    pub fn apply(&self) -> Run {
        self.file.run(&["apply", "--auto-approve"]).expect_code(0)
    }

    /// Asserts that a plan now reports no changes (and exits 0 with --detailed-exitcode).
    pub fn assert_converged(&self) {
        let run = self
            .file
            .run(&["plan", "--detailed-exitcode"])
            .expect_code(0);
        assert!(run.stdout.contains("No changes."), "{}", run.stdout);
    }
}

/// The outcome of one CLI run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().expect("exited"),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Panics with both outputs unless the exit code is `code`.
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}, got {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

/// Runs the CLI with a clean AWS environment (nothing from the developer's shell leaks in)
/// and stdin not a terminal.
pub fn cli(args: &[&str], cwd: &Path) -> Run {
    cli_with_env(args, cwd, &[])
}

pub fn cli_with_env(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Run {
    let mut cmd = cli_command(args, cwd);
    for (key, value) in env {
        cmd.env(key, value);
    }
    Run::from(cmd.output().expect("run cruddur-infra"))
}

/// The CLI with `args`, ready to run or spawn: a clean AWS environment (nothing from the
/// developer's shell or home leaks in), stdin not a terminal, stdout and stderr piped.
pub fn cli_command(args: &[&str], cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cruddur-infra"));
    cmd.args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") || key == "CRUDDUR_ENV" || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.env("AWS_CONFIG_FILE", "/nonexistent/cruddur-infra-test-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/cruddur-infra-test-credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

/// Live DynamoDB state on the emulator, read (and, for setting up a test, written) through
/// the SDK, independently of the tool.
pub struct Live {
    runtime: tokio::runtime::Runtime,
    pub client: aws_sdk_dynamodb::Client,
    pub iam: aws_sdk_iam::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub streams: aws_sdk_dynamodbstreams::Client,
}

pub use aws_sdk_dynamodb::types as ddb;

/// A string (`S`) attribute definition, for tables a test makes by hand.
pub fn string_attribute(name: &str) -> ddb::AttributeDefinition {
    ddb::AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ddb::ScalarAttributeType::S)
        .build()
        .unwrap()
}

/// A key schema element, for tables a test makes by hand.
pub fn key_element(name: &str, key_type: ddb::KeyType) -> ddb::KeySchemaElement {
    ddb::KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .unwrap()
}

impl Live {
    pub fn new(emulator: &Emulator) -> Live {
        Live::with_url(&emulator.url)
    }

    /// On an emulator at `url` (loopback) that this test did not start itself.
    pub fn with_url(url: &str) -> Live {
        Live::with_credentials(url, "test", "test")
    }

    /// As the IAM user whose access key is `key` (on an emulator that checks IAM).
    pub fn with_credentials(url: &str, key: &str, secret: &str) -> Live {
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "tests only talk to loopback"
        );
        macro_rules! client {
            ($sdk:ident) => {
                $sdk::Client::from_conf(
                    $sdk::Config::builder()
                        .behavior_version(BehaviorVersion::latest())
                        .region(Region::new("us-east-1"))
                        .credentials_provider(Credentials::new(key, secret, None, None, "test"))
                        .endpoint_url(url)
                        .build(),
                )
            };
        }
        Live {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            client: client!(aws_sdk_dynamodb),
            iam: client!(aws_sdk_iam),
            ec2: client!(aws_sdk_ec2),
            lambda: client!(aws_sdk_lambda),
            logs: client!(aws_sdk_cloudwatchlogs),
            sqs: client!(aws_sdk_sqs),
            sns: client!(aws_sdk_sns),
            cloudwatch: client!(aws_sdk_cloudwatch),
            streams: client!(aws_sdk_dynamodbstreams),
        }
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    /// A messages table as the stack makes it (`pk` + `sk`, the index `index` on
    /// `message_group_uuid` + `sk`, projection ALL), on demand.
    pub fn create_messages_table(&self, table: &str, index: &str) {
        let (attribute, key) = (string_attribute, key_element);
        let index = ddb::GlobalSecondaryIndex::builder()
            .index_name(index)
            .key_schema(key("message_group_uuid", ddb::KeyType::Hash))
            .key_schema(key("sk", ddb::KeyType::Range))
            .projection(
                ddb::Projection::builder()
                    .projection_type(ddb::ProjectionType::All)
                    .build(),
            )
            .build()
            .unwrap();
        let request = self
            .client
            .create_table()
            .table_name(table)
            .attribute_definitions(attribute("pk"))
            .attribute_definitions(attribute("sk"))
            .attribute_definitions(attribute("message_group_uuid"))
            .key_schema(key("pk", ddb::KeyType::Hash))
            .key_schema(key("sk", ddb::KeyType::Range))
            .global_secondary_indexes(index)
            .billing_mode(ddb::BillingMode::PayPerRequest);
        self.block_on(request.send()).unwrap();
    }

    /// DescribeTable, or `None` when the table does not exist.
    pub fn table(&self, name: &str) -> Option<ddb::TableDescription> {
        match self.block_on(self.client.describe_table().table_name(name).send()) {
            Ok(out) => out.table,
            Err(e) => {
                let code =
                    aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&e).map(str::to_string);
                assert_eq!(code.as_deref(), Some("ResourceNotFoundException"), "{e:?}");
                None
            }
        }
    }

    pub fn expect_table(&self, name: &str) -> ddb::TableDescription {
        self.table(name)
            .unwrap_or_else(|| panic!("table {name} does not exist"))
    }

    pub fn tags(&self, name: &str) -> std::collections::BTreeMap<String, String> {
        let arn = self.expect_table(name).table_arn.unwrap();
        let mut tags = std::collections::BTreeMap::new();
        let mut next = None;
        loop {
            let out = self
                .block_on(
                    self.client
                        .list_tags_of_resource()
                        .resource_arn(&arn)
                        .set_next_token(next)
                        .send(),
                )
                .unwrap();
            tags.extend(
                out.tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string())),
            );
            match out.next_token {
                Some(t) => next = Some(t),
                None => return tags,
            }
        }
    }

    /// The TTL attribute when TTL is enabled.
    pub fn ttl(&self, name: &str) -> Option<String> {
        let out = self
            .block_on(self.client.describe_time_to_live().table_name(name).send())
            .unwrap();
        let ttl = out.time_to_live_description.unwrap();
        (ttl.time_to_live_status == Some(ddb::TimeToLiveStatus::Enabled))
            .then(|| ttl.attribute_name.unwrap())
    }

    pub fn pitr(&self, name: &str) -> bool {
        let out = self
            .block_on(
                self.client
                    .describe_continuous_backups()
                    .table_name(name)
                    .send(),
            )
            .unwrap();
        out.continuous_backups_description
            .and_then(|c| c.point_in_time_recovery_description)
            .and_then(|p| p.point_in_time_recovery_status)
            == Some(ddb::PointInTimeRecoveryStatus::Enabled)
    }

    pub fn put(&self, table: &str, pk: &str, sk: &str) {
        let item = |s: &str| ddb::AttributeValue::S(s.to_string());
        self.block_on(
            self.client
                .put_item()
                .table_name(table)
                .item("pk", item(pk))
                .item("sk", item(sk))
                .send(),
        )
        .unwrap();
    }

    pub fn item_count(&self, table: &str) -> i32 {
        self.block_on(self.client.scan().table_name(table).send())
            .unwrap()
            .count
    }

    /// GetRole, or `None` when the role does not exist.
    pub fn role(&self, name: &str) -> Option<aws_sdk_iam::types::Role> {
        match self.block_on(self.iam.get_role().role_name(name).send()) {
            Ok(out) => out.role,
            Err(e) => {
                let code = aws_sdk_iam::error::ProvideErrorMetadata::code(&e).map(str::to_string);
                assert_eq!(code.as_deref(), Some("NoSuchEntity"), "{e:?}");
                None
            }
        }
    }

    /// The role's inline policies, each in canonical form.
    pub fn inline_policies(
        &self,
        role: &str,
    ) -> std::collections::BTreeMap<String, Vec<cruddur_infra::policy::Statement>> {
        let names = self
            .block_on(self.iam.list_role_policies().role_name(role).send())
            .unwrap()
            .policy_names;
        names
            .into_iter()
            .map(|name| {
                let out = self
                    .block_on(
                        self.iam
                            .get_role_policy()
                            .role_name(role)
                            .policy_name(&name)
                            .send(),
                    )
                    .unwrap();
                (
                    name,
                    cruddur_infra::policy::parse_document(&out.policy_document).unwrap(),
                )
            })
            .collect()
    }

    pub fn attached_policies(&self, role: &str) -> std::collections::BTreeSet<String> {
        let out = self
            .block_on(
                self.iam
                    .list_attached_role_policies()
                    .role_name(role)
                    .send(),
            )
            .unwrap();
        out.attached_policies
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.policy_arn)
            .collect()
    }

    /// Every event source mapping in the emulator.
    pub fn mappings(&self) -> Vec<aws_sdk_lambda::types::EventSourceMappingConfiguration> {
        self.block_on(self.lambda.list_event_source_mappings().send())
            .unwrap()
            .event_source_mappings
            .unwrap_or_default()
    }

    /// The deploy lock's item of `id` (`<stack>/<env>`), read consistently.
    pub fn lock_item(
        &self,
        id: &str,
    ) -> Option<std::collections::HashMap<String, ddb::AttributeValue>> {
        self.block_on(
            self.client
                .get_item()
                .table_name("cruddur-infra-locks")
                .key("lock_id", ddb::AttributeValue::S(id.into()))
                .consistent_read(true)
                .send(),
        )
        .unwrap()
        .item
    }

    /// Gateway endpoints that are not deleted.
    pub fn endpoints(&self) -> Vec<aws_sdk_ec2::types::VpcEndpoint> {
        let out = self
            .block_on(self.ec2.describe_vpc_endpoints().send())
            .unwrap();
        out.vpc_endpoints
            .unwrap_or_default()
            .into_iter()
            .filter(|e| {
                let state = e.state.as_ref().map(|s| s.as_str().to_ascii_lowercase());
                state.as_deref() != Some("deleted")
            })
            .collect()
    }

    pub fn default_vpc(&self) -> String {
        let filter = aws_sdk_ec2::types::Filter::builder()
            .name("is-default")
            .values("true")
            .build();
        let out = self
            .block_on(self.ec2.describe_vpcs().filters(filter).send())
            .unwrap();
        out.vpcs.unwrap()[0].vpc_id.clone().unwrap()
    }

    /// A new route table in `vpc`, optionally tagged.
    pub fn create_route_table(&self, vpc: &str, tags: &[(&str, &str)]) -> String {
        let mut spec = aws_sdk_ec2::types::TagSpecification::builder()
            .resource_type(aws_sdk_ec2::types::ResourceType::RouteTable);
        for (k, v) in tags {
            spec = spec.tags(aws_sdk_ec2::types::Tag::builder().key(*k).value(*v).build());
        }
        let out = self
            .block_on(
                self.ec2
                    .create_route_table()
                    .vpc_id(vpc)
                    .tag_specifications(spec.build())
                    .send(),
            )
            .unwrap();
        out.route_table.unwrap().route_table_id.unwrap()
    }
}
