//! Saved plans: `plan --out FILE` writes the plan with a fingerprint of what was observed
//! (and of the stack file); `apply FILE` observes again and carries out exactly that plan,
//! or refuses when anything it was based on has changed since.

use crate::engine::{self, Observed, PlanRequest};
use crate::kinds::Stack;
use crate::plan::{Operation, Plan};
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::Path;

/// 2 since the plan inside is `plan --output json` format 2.
pub const FORMAT_VERSION: &str = "2";

#[derive(Debug, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format_version: String,
    pub stack: String,
    pub environment: String,
    pub operation: Operation,
    /// The options the plan was made with; `apply FILE` plans again with the same ones.
    pub adopt: bool,
    pub allow_data_loss: bool,
    /// `plan --replace`: the resources replaced on request.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub replace: BTreeSet<String>,
    /// `plan --target`: the resources the plan was limited to.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub targets: BTreeSet<String>,
    /// SHA-256 of the stack file's text.
    pub stack_file_sha256: String,
    /// The stack file's path when the plan was made, to name in a refusal (the plan may
    /// be applied from another checkout: the text is what must match).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stack_file: String,
    /// SHA-256 of every resource's observed state and of the deployment context.
    pub observed_sha256: String,
    /// The plan itself, as `plan --output json` prints it.
    pub plan: serde_json::Value,
}

impl SavedPlan {
    /// The request `apply FILE` plans again with.
    pub fn request(&self, allow_replace: bool) -> PlanRequest {
        PlanRequest {
            operation: self.operation,
            adopt: self.adopt,
            allow_replace,
            allow_data_loss: self.allow_data_loss,
            replace: self.replace.clone(),
            targets: self.targets.clone(),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn file_sha256(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(hex(&Sha256::digest(text)))
}

/// A fingerprint of what observe saw: each declared resource's live state and attributes,
/// in stack order, and the account context.
pub fn observed_sha256(stack: &Stack, observed: &Observed) -> String {
    let mut hasher = Sha256::new();
    for node in &stack.nodes {
        let seen = match node.live(&observed.resources) {
            Some(live) => serde_json::json!({
                "state": live.state_json(),
                "attributes": live.attributes(),
            }),
            None => serde_json::Value::Null,
        };
        hasher.update(node.name().as_bytes());
        hasher.update([0]);
        hasher.update(seen.to_string().as_bytes());
        hasher.update([0]);
    }
    let context = observed
        .context
        .as_ref()
        .map(|c| format!("{}/{}/{}", c.partition, c.region, c.account_id))
        .unwrap_or_default();
    hasher.update(context.as_bytes());
    hex(&hasher.finalize())
}

pub fn save(
    path: &Path,
    stack_file: &Path,
    stack: &Stack,
    observed: &Observed,
    plan: &Plan,
    request: &PlanRequest,
) -> anyhow::Result<()> {
    let saved = SavedPlan {
        format_version: FORMAT_VERSION.into(),
        stack: stack.name.clone(),
        environment: stack.env.name.clone(),
        operation: plan.operation,
        adopt: request.adopt,
        allow_data_loss: request.allow_data_loss,
        replace: request.replace.clone(),
        targets: request.targets.clone(),
        stack_file_sha256: file_sha256(stack_file)?,
        stack_file: std::fs::canonicalize(stack_file)
            .unwrap_or_else(|_| stack_file.to_path_buf())
            .display()
            .to_string(),
        observed_sha256: observed_sha256(stack, observed),
        plan: serde_json::to_value(plan)?,
    };
    std::fs::write(path, serde_json::to_string_pretty(&saved)? + "\n")
        .with_context(|| format!("writing {}", path.display()))
}

pub fn load(path: &Path) -> anyhow::Result<SavedPlan> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the saved plan {}", path.display()))?;
    let saved: SavedPlan = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a saved plan (write one with plan --out)",
            path.display()
        )
    })?;
    if saved.format_version != FORMAT_VERSION {
        bail!(
            "{} is a saved plan of format {}; this cruddur-infra reads format {FORMAT_VERSION}",
            path.display(),
            saved.format_version
        );
    }
    Ok(saved)
}

/// Refuses when the stack file is not the one the plan was made from: another file
/// (named, with how to pass it), or the same one changed since.
pub fn check_file(saved: &SavedPlan, stack_file: &Path) -> anyhow::Result<()> {
    if file_sha256(stack_file)? == saved.stack_file_sha256 {
        return Ok(());
    }
    let given = std::fs::canonicalize(stack_file).unwrap_or_else(|_| stack_file.to_path_buf());
    if !saved.stack_file.is_empty() && Path::new(&saved.stack_file) != given {
        bail!(
            "this plan was made from the stack file {}, not {}: pass it with -f {0}",
            saved.stack_file,
            stack_file.display()
        );
    }
    bail!(
        "the stack file {} changed since this plan was made; make a new plan",
        stack_file.display()
    )
}

/// Plans again against what AWS holds now and refuses, saying why, unless it is the saved
/// plan on the same observations from the same stack file.
pub async fn replan(
    saved: &SavedPlan,
    stack_file: &Path,
    stack: &Stack,
    aws: &crate::aws::Aws,
    allow_replace: bool,
) -> anyhow::Result<(Observed, Plan)> {
    check_file(saved, stack_file)?;
    let (observed, plan) = engine::prepare(stack, aws, &saved.request(allow_replace)).await?;
    if observed_sha256(stack, &observed) != saved.observed_sha256 {
        bail!(
            "the live resources changed since this plan was made (someone applied, or changed \
             something out of band); nothing was changed: make a new plan"
        );
    }
    if serde_json::to_value(&plan)? != saved.plan {
        bail!(
            "planning again gave another plan than the saved one; nothing was changed: make a new plan"
        );
    }
    Ok((observed, plan))
}
