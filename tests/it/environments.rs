//! The stack file is one configuration: an error in any of its environments stops every
//! command, whichever environment it runs for, located, before a single request.

use crate::support::{Emulator, StackFile};

#[test]
fn a_bad_setting_in_another_environment_is_refused_before_any_request() {
    let emulator = Emulator::start();
    let file = StackFile::new("envs", &emulator.url, "");
    for (setting, field, line) in [
        ("region: \"us east\"", "environments.dev.region", 6),
        (
            "endpoint_url: not a url",
            "environments.dev.endpoint_url",
            6,
        ),
    ] {
        file.write_raw(&format!(
            "stack: envs\nenvironments:\n  test:\n    emulator: {}\n  dev:\n    {setting}\nresources:\n  t:\n    type: dynamodb_table\n    name: envs-t\n    attributes: {{ pk: S }}\n    key: {{ hash: pk }}\n",
            emulator.url
        ));
        for command in [
            &["validate"][..],
            &["plan"],
            &["apply", "--auto-approve"],
            &["destroy", "--auto-approve"],
        ] {
            emulator.clear_requests();
            let run = file.run(command).expect_code(1);
            assert!(
                run.stderr.contains(&format!("stack.yaml:{line}:")) && run.stderr.contains(field),
                "{command:?} with `{setting}`:\n{}",
                run.stderr
            );
            assert!(run.stderr.contains("(environment dev)"), "{}", run.stderr);
            assert!(
                emulator.requests().is_empty(),
                "{command:?} sent requests: {:?}",
                emulator.requests()
            );
        }
    }
}
