//! `outputs`: the live attributes of every resource, for scripts and the app's
//! configuration; exit 1 (after printing what exists) when some resource is not deployed,
//! so a script never reads a half-empty configuration silently.

use super::common;
use crate::cli::{Global, Output};
use crate::engine;
use anyhow::bail;
use std::process::ExitCode;

pub async fn run(g: &Global, output: Output) -> anyhow::Result<ExitCode> {
    let stack = common::load(g)?;
    let aws = common::connect(g, &stack).await?;
    let observed = engine::observe(&stack, &aws)
        .await
        .map_err(|e| aws.explain(e))?;
    let owner = stack.owner();
    let mut values = serde_json::Map::new();
    let mut missing = Vec::new();
    for node in &stack.nodes {
        let ours = node
            .live(&observed.resources)
            .filter(|live| crate::tags::owner_of(live.tags()) == crate::tags::Owner::Stack(&owner));
        match ours {
            Some(live) => {
                let object: serde_json::Map<String, serde_json::Value> = live
                    .attributes()
                    .into_iter()
                    .filter_map(|(k, v)| Some((k.to_string(), serde_json::Value::String(v?))))
                    .collect();
                values.insert(node.name().to_string(), object.into());
            }
            None => missing.push(node.name().to_string()),
        }
    }
    match output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "stack": stack.name,
                "environment": stack.env.name,
                "outputs": values,
                "missing": missing,
            }))?
        ),
        Output::Text => {
            for (resource, attributes) in &values {
                for (attribute, value) in attributes.as_object().into_iter().flatten() {
                    println!(
                        "{resource}.{attribute}\t{}",
                        value.as_str().unwrap_or_default()
                    );
                }
            }
        }
    }
    if !missing.is_empty() {
        bail!(
            "not deployed (or not this stack's) in environment {}: {}; run apply first",
            stack.env.name,
            missing.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
