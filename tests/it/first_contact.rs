//! A new user's first run against a real environment, when something is missing: no
//! credentials, no region, no network, an expired session, a profile that does not exist.
//! Each is the tool's own error and hint, at most three lines: nothing from aws-config, the
//! SDK, hyper or rustls without `-v`. The texts are golden files
//! (`tests/golden/first-contact/`; `UPDATE_GOLDEN=1` rewrites them), with the loopback
//! port of the moment written as PORT.
//!
//! The runs use a real (non-emulator) environment and keep everything on this machine:
//! requests that can be sent go to a closed loopback port or to the fault proxy (given by
//! --endpoint-url); where no request can be made (no credentials), the endpoint is AWS's
//! own, as a new user's is, and HTTPS_PROXY points at a closed loopback port should one
//! try. The credential chain's instance-metadata lookup (which a laptop outside EC2 also
//! tries and fails) goes to a closed loopback port instead of 169.254.169.254.

use crate::support::fault_proxy::{Fault, FaultProxy, Faults, Scripted};
use crate::support::{Emulator, Run, cli_with_env, repo_root};
use std::net::TcpListener;
use std::path::Path;

fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A stack whose environment `dev` is a real one (a region, no emulator).
fn stack_file(dir: &Path, region: bool) -> String {
    let file = dir.join("stack.yaml");
    let region = if region {
        "    region: us-east-1\n"
    } else {
        "    {}\n"
    };
    std::fs::write(
        &file,
        format!(
            "stack: first\nenvironments:\n  dev:\n{region}resources:\n  t:\n    type: dynamodb_table\n    name: first-t\n    attributes: {{ pk: S }}\n    key: {{ hash: pk }}\n"
        )
        .replace("  dev:\n    {}\n", "  dev: {}\n"),
    )
    .unwrap();
    file.to_str().unwrap().to_string()
}

/// `plan --env dev` (against `url`, if given), with `env` set besides the harness's clean
/// AWS environment (instance metadata and any proxy on closed loopback ports).
fn plan(dir: &Path, file: &str, url: Option<&str>, env: &[(&str, &str)], extra: &[&str]) -> Run {
    let closed = format!("http://127.0.0.1:{}", closed_port());
    let mut all_env = vec![
        ("AWS_EC2_METADATA_DISABLED", "false"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", closed.as_str()),
        ("HTTPS_PROXY", closed.as_str()),
    ];
    all_env.extend_from_slice(env);
    let mut args = vec!["-f", file, "--env", "dev", "--no-color"];
    if let Some(url) = url {
        args.extend(["--endpoint-url", url]);
    }
    args.extend_from_slice(extra);
    args.push("plan");
    cli_with_env(&args, dir, &all_env)
}

const KEYS: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", "AKIAFIRSTCONTACT0000"),
    ("AWS_SECRET_ACCESS_KEY", "first-contact-secret"),
];

/// Checks a run's stderr (ports written as PORT) against its golden file, and that it is
/// at most three lines.
fn golden(name: &str, run: &Run, port: u16) {
    assert_eq!(run.code, 1, "{name}: {}{}", run.stdout, run.stderr);
    let text = run.stderr.replace(&port.to_string(), "PORT");
    let lines = text.lines().count();
    assert!(lines <= 3, "{name}: {lines} lines:\n{text}");
    let path = repo_root().join(format!("tests/golden/first-contact/{name}.txt"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; write it with UPDATE_GOLDEN=1", path.display()));
    assert_eq!(
        text, expected,
        "{name} changed; UPDATE_GOLDEN=1 rewrites it"
    );
}

#[test]
fn first_contact_errors_are_the_tool_s_own_and_short() {
    let dir = tempfile::tempdir().unwrap();
    let file = stack_file(dir.path(), true);
    let port = closed_port();
    let closed = format!("http://127.0.0.1:{port}");

    golden(
        "no-credentials",
        &plan(dir.path(), &file, None, &[], &[]),
        port,
    );
    // A configuration with a profile, and another name asked for.
    let config = dir.path().join("config");
    std::fs::write(&config, "[profile sandbox]\nregion = us-east-1\n").unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &credentials,
        "[sandbox]\naws_access_key_id = AKIAFIRSTCONTACT0000\naws_secret_access_key = s\n",
    )
    .unwrap();
    let files = [
        ("AWS_CONFIG_FILE", config.to_str().unwrap()),
        ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
    ];
    golden(
        "no-such-profile",
        &plan(dir.path(), &file, None, &files, &["--profile", "sandbx"]),
        port,
    );
    golden(
        "no-network",
        &plan(dir.path(), &file, Some(&closed), &KEYS, &[]),
        port,
    );
    // A host name that does not resolve (`.invalid` never does, RFC 6761): a few quick
    // retries, said, then the error naming the host, within seconds.
    let started = std::time::Instant::now();
    let nowhere = format!("http://cruddur-first-contact.invalid:{port}");
    golden(
        "unresolvable",
        &plan(dir.path(), &file, Some(&nowhere), &KEYS, &[]),
        port,
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let other = tempfile::tempdir().unwrap();
    let no_region = stack_file(other.path(), false);
    golden(
        "no-region",
        &plan(other.path(), &no_region, Some(&closed), &KEYS, &[]),
        port,
    );

    // An expired session: AWS answers every call with ExpiredToken.
    let emulator = Emulator::start();
    let scripted = [
        "GetResources",
        "DescribeTable",
        "DescribeTimeToLive",
        "DescribeContinuousBackups",
        "GetItem",
        "GetCallerIdentity",
    ]
    .map(|op| Scripted::new(op, Fault::Error("ExpiredTokenException"), 10))
    .to_vec();
    let proxy = FaultProxy::start(
        &emulator.url,
        Faults {
            scripted,
            ..Faults::default()
        },
    );
    let proxy_port: u16 = proxy.url.rsplit(':').next().unwrap().parse().unwrap();
    let mut session = KEYS.to_vec();
    session.push(("AWS_SESSION_TOKEN", "an-old-session"));
    golden(
        "expired",
        &plan(dir.path(), &file, Some(&proxy.url), &session, &[]),
        proxy_port,
    );
}

/// With `-v`, the SDK's own account of the credential chain is there again.
#[test]
fn verbose_shows_the_sdk_s_own_account() {
    let dir = tempfile::tempdir().unwrap();
    let file = stack_file(dir.path(), true);
    let port = closed_port();
    let run = plan(
        dir.path(),
        &file,
        Some(&format!("http://127.0.0.1:{port}")),
        &[],
        &["-vv"],
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("aws_config"), "{}", run.stderr);
    // --no-color (and a pipe) reach the logs too.
    assert!(!run.stderr.contains('\u{1b}'), "{}", run.stderr);
}

/// A call the identity's policies deny is said once, in a line naming the action, with a
/// hint, however many resources met it (the emulator checks IAM policies here: after the
/// setup's three calls, every request is authorised against the caller's).
#[test]
fn a_denied_call_is_said_once_in_one_line() {
    let emulator = Emulator::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]);
    let live = crate::support::Live::new(&emulator);
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"iam:GetRole","Resource":"*"}]}"#;
    let key = live.block_on(async {
        live.iam.create_user().user_name("ci").send().await.unwrap();
        live.iam
            .put_user_policy()
            .user_name("ci")
            .policy_name("deploy")
            .policy_document(policy)
            .send()
            .await
            .unwrap();
        live.iam
            .create_access_key()
            .user_name("ci")
            .send()
            .await
            .unwrap()
            .access_key
            .unwrap()
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stack.yaml");
    // Roles: the emulator answers a denied DynamoDB call in a shape the SDK cannot read
    // (XML for a JSON protocol), IAM in its own.
    let tables: String = (0..3)
        .map(|i| format!("  r{i}:\n    type: iam_role\n    name: denied-{i}\n"))
        .collect();
    std::fs::write(
        &file,
        format!(
            "stack: denied\nenvironments:\n  dev:\n    region: us-east-1\nresources:\n{tables}"
        ),
    )
    .unwrap();
    let run = plan(
        dir.path(),
        file.to_str().unwrap(),
        Some(&emulator.url),
        &[
            ("AWS_ACCESS_KEY_ID", key.access_key_id.as_str()),
            ("AWS_SECRET_ACCESS_KEY", key.secret_access_key.as_str()),
        ],
        &[],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stderr);
    assert!(
        lines[0]
            .starts_with("error: AWS denied iam:GetRole on arn:aws:iam::123456789012:role/denied-"),
        "{}",
        run.stderr
    );
    assert!(lines[0].ends_with(":user/ci"), "{}", run.stderr);
    assert!(
        lines[1].contains("cruddur-infra permissions"),
        "{}",
        run.stderr
    );
}
