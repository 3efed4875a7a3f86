//! The README's main command, `scripts/local-apply`, run as a user would (on a free port
//! instead of 5000, so it cannot collide with anything): it starts the emulator, applies
//! stack.yaml with the `local` environment, and shows a clean second plan.

use crate::support::{Live, repo_root};
use std::process::Command;

/// Stops the emulator the script started, even when an assertion fails.
struct StopEmulator(u16);

impl Drop for StopEmulator {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("scripts/emulator"))
            .arg("stop")
            .env("CRUDDUR_EMULATOR_PORT", self.0.to_string())
            .output();
    }
}

#[test]
fn local_apply_creates_the_stack_and_a_second_plan_is_clean() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _stop = StopEmulator(port);
    let out = Command::new(repo_root().join("scripts/local-apply"))
        .env("CRUDDUR_EMULATOR_PORT", port.to_string())
        .env("CRUDDUR_INFRA_BIN", env!("CARGO_BIN_EXE_cruddur-infra"))
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "local-apply failed\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("Apply complete! Resources: 10 added"),
        "{stdout}"
    );
    assert!(stdout.contains("No changes."), "{stdout}");
    // On another port than stack.yaml's, what to type next names it.
    assert!(
        stdout.contains(&format!(
            "cruddur-infra plan --env local --endpoint-url http://127.0.0.1:{port}"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "CRUDDUR_EMULATOR_PORT={port} scripts/emulator stop"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("in memory"), "{stdout}");

    let url = format!("http://127.0.0.1:{port}");
    let live = Live::with_url(&url);
    let table = live.expect_table("cruddur-messages-local");
    assert_eq!(table.global_secondary_indexes().len(), 1);
    assert_eq!(
        live.tags("cruddur-messages-local")["cruddur-infra:stack"],
        "cruddur/local"
    );
    let role = live
        .role("cruddur-stream-processor-local")
        .expect("the role exists");
    assert!(
        role.tags()
            .iter()
            .any(|t| t.key() == "cruddur-infra:stack" && t.value() == "cruddur/local")
    );
    let policies = live.inline_policies("cruddur-stream-processor-local");
    assert_eq!(policies["stream-processor"].len(), 6);
    assert_eq!(live.endpoints().len(), 1);
    let function = live
        .block_on(
            live.lambda
                .get_function()
                .function_name("cruddur-stream-processor-local")
                .send(),
        )
        .expect("the function exists");
    let config = function.configuration().unwrap();
    assert_eq!(config.handler(), Some("bootstrap"));
    assert_eq!(
        config.environment().unwrap().variables().unwrap()["TABLE_NAME"],
        "cruddur-messages-local"
    );
    let mappings = live
        .block_on(
            live.lambda
                .list_event_source_mappings()
                // The trigger invokes the alias that passed its check: listed by it.
                .function_name("cruddur-stream-processor-local:live")
                .send(),
        )
        .unwrap();
    assert_eq!(
        mappings.event_source_mappings().len(),
        1,
        "one trigger on the function"
    );
}
