//! The JSON Schemas in `schema/`: generated from the loader's and the plan's own types, kept
//! current, and true to the files they describe (`stack.yaml`, the README's examples, the
//! golden plans), while a mistake an editor should flag fails them.

use cruddur_infra::cli::SchemaOf;
use cruddur_infra::commands::schema::text;
use serde_json::Value;

fn repo(path: &str) -> String {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("not YAML: {e}\n{text}"))
}

/// What the schema says is wrong with `instance`, one line per error.
fn violations(schema: &Value, instance: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(schema).expect("a valid JSON Schema");
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn stack_schema() -> Value {
    serde_json::from_str(&repo("schema/stack.schema.json")).unwrap()
}

#[test]
fn the_committed_schemas_are_the_generated_ones() {
    for (of, path) in [
        (SchemaOf::Stack, "schema/stack.schema.json"),
        (SchemaOf::Plan, "schema/plan.schema.json"),
        (SchemaOf::Progress, "schema/progress.schema.json"),
        (SchemaOf::Redrive, "schema/redrive.schema.json"),
    ] {
        assert!(
            repo(path).trim_end() == text(of).trim_end(),
            "{path} is out of date: run `cargo run -- schema {} > {path}`",
            match of {
                SchemaOf::Stack => "stack",
                SchemaOf::Plan => "plan",
                SchemaOf::Progress => "progress",
                SchemaOf::Redrive => "redrive",
            }
        );
    }
}

#[test]
fn stack_yaml_names_the_schema_and_passes_it() {
    let file = repo("stack.yaml");
    assert!(
        file.starts_with("# yaml-language-server: $schema=schema/stack.schema.json\n"),
        "stack.yaml's first line should point editors at the schema"
    );
    assert_eq!(
        violations(&stack_schema(), &yaml(&file)),
        Vec::<String>::new()
    );
}

#[test]
fn the_readme_examples_pass_the_schema() {
    // The stack file reference is in docs/stack-file.md, the README's tour points there.
    let readme = repo("README.md") + &repo("docs/stack-file.md");
    let blocks: Vec<&str> = readme
        .split("```yaml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    let schema = stack_schema();
    // The stack file reference.
    let file = blocks
        .iter()
        .find(|b| b.starts_with("stack:"))
        .expect("the README's stack file example");
    assert_eq!(violations(&schema, &yaml(file)), Vec::<String>::new());
    // The policy statements, as a role's inline policy.
    let statements = blocks
        .iter()
        .find(|b| b.starts_with("- sid:"))
        .expect("the README's statement example");
    let indented: String = statements.lines().map(|l| format!("      {l}\n")).collect();
    let role = format!(
        "stack: s\nresources:\n  r:\n    type: iam_role\n    name: r\n    policies:\n      p:\n{indented}"
    );
    assert_eq!(violations(&schema, &yaml(&role)), Vec::<String>::new());
}

#[test]
fn mistakes_an_editor_should_flag_fail_the_schema() {
    let schema = stack_schema();
    let base = repo("stack.yaml");
    for (what, from, to, expected) in [
        (
            "an unknown field",
            "    stream: NEW_IMAGE\n",
            "    stream: NEW_IMAGE\n    read_capasity: 5\n",
            "read_capasity",
        ),
        (
            "a value outside an enum",
            "    stream: NEW_IMAGE\n",
            "    stream: NEW_IMAGES\n",
            "NEW_IMAGES",
        ),
        (
            "a number out of range",
            "    timeout: ",
            "    timeout: 901 #",
            "901",
        ),
        (
            "an unknown resource type",
            "    type: dynamodb_table\n",
            "    type: dynamo_table\n",
            "/resources/messages",
        ),
    ] {
        assert!(base.contains(from), "stack.yaml no longer has {from:?}");
        let file = base.replacen(from, to, 1);
        let found = violations(&schema, &yaml(&file));
        assert!(
            found.iter().any(|v| v.contains(expected)),
            "{what}: expected a violation mentioning {expected:?}, got {found:#?}"
        );
    }
}

#[test]
fn the_golden_plans_pass_the_plan_schema() {
    let schema: Value = serde_json::from_str(&repo("schema/plan.schema.json")).unwrap();
    for name in ["create", "update", "replace", "destroy"] {
        let plan: Value =
            serde_json::from_str(&repo(&format!("tests/golden/{name}.json"))).unwrap();
        assert_eq!(
            violations(&schema, &plan),
            Vec::<String>::new(),
            "{name}.json"
        );
    }
    let broken =
        serde_json::json!({ "format_version": "2", "resource_changes": [{ "action": "explode" }] });
    assert!(!violations(&schema, &broken).is_empty());
}

#[test]
fn unknown_choices_of_schema_and_graph_are_refused_with_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let run = crate::support::cli(&["schema", "nonsense"], dir.path()).expect_code(1);
    assert!(
        run.stderr.contains("invalid value 'nonsense'")
            && run
                .stderr
                .contains("[possible values: stack, plan, progress, redrive]"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
    let run = crate::support::cli(&["graph", "--format", "svg"], dir.path()).expect_code(1);
    assert!(
        run.stderr.contains("[possible values: mermaid, dot]"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
}
