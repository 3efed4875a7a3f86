//! `invoke <function> --event FILE|-`: one invocation of a function's bundle on this
//! machine, against the emulator, printing the response (as `cargo lambda invoke` does
//! for fixtures). The bundle is built as apply builds it, unzipped, and its `bootstrap`
//! run through the tool's own Lambda Runtime API, with the environment the stack gives
//! the function (references filled in from the deployed stack), the emulator's endpoint
//! and test credentials. Memory is not limited; the timeout is enforced.

use super::common;
use crate::aws::Aws;
use crate::bundle;
use crate::cli::Global;
use crate::engine::{self, Observed, PlanRequest};
use crate::kinds::Stack;
use crate::local::bootstrap::{self, Bootstrap, LambdaEnvironment, Launch};
use crate::local::runtime_api::{FunctionInfo, Outcome, RuntimeApi};
use crate::plan::{Plan, ResourceChange, contains_unknown};
use anyhow::{Context, bail};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

pub async fn run(g: &Global, function: &str, event: &Path) -> anyhow::Result<ExitCode> {
    let stack = common::load(g)?;
    if stack.env.settings().emulator.is_none() {
        bail!(
            "environment {} is not an emulator environment: invoke runs a function on this machine against the local emulator only (declare `emulator:` for the environment)",
            stack.env.name
        );
    }
    let functions: Vec<&str> = stack
        .nodes
        .iter()
        .filter(|n| n.bundle_source().is_some())
        .map(|n| n.name())
        .collect();
    let Some(node) = stack
        .nodes
        .iter()
        .find(|n| n.name() == function && n.bundle_source().is_some())
    else {
        bail!(
            "`{function}` is not a lambda_function of the stack (it has: {})",
            functions.join(", ")
        );
    };
    let event = read_event(event)?;

    let aws = common::connect(g, &stack).await?;
    let local = LocalFunction::of(&stack, &aws, node.name()).await?;
    let (name, timeout) = (
        &local.launch.lambda.function_name,
        local.info.timeout.as_secs(),
    );
    let api = RuntimeApi::start(local.info.clone()).await?;
    let mut process = Bootstrap::spawn(&local.launch, &api)?;
    let outcome = tokio::select! {
        outcome = api.invoke(event) => outcome,
        status = process.wait() => bail!("{name}'s bootstrap exited ({}) before it answered", status?),
    };
    match outcome {
        Outcome::Response(body) => {
            println!("{}", serde_json::to_string_pretty(&body)?);
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Error(body) => bail!("{name} returned an error: {body}"),
        Outcome::InitError(body) => bail!("{name} failed to start: {body}"),
        Outcome::TimedOut => bail!("{name} did not answer within its timeout ({timeout} s)"),
    }
}

/// A function of the stack made ready to run on this machine: its bundle built and
/// unzipped, and what Lambda would give it (shared with `dev`).
pub(super) struct LocalFunction {
    pub launch: Launch,
    pub info: FunctionInfo,
}

impl LocalFunction {
    /// Function `name` of `stack`, from a plan made now (its environment's references
    /// are filled in from what is deployed).
    pub async fn of(stack: &Stack, aws: &Aws, name: &str) -> anyhow::Result<LocalFunction> {
        let (observed, plan) = engine::prepare(stack, aws, &PlanRequest::apply())
            .await
            .map_err(|e| aws.explain(e))?;
        LocalFunction::planned(stack, &observed, &plan, name, aws).await
    }

    /// Function `name` of `stack`, from a plan already made against `observed`.
    pub async fn planned(
        stack: &Stack,
        observed: &Observed,
        plan: &Plan,
        name: &str,
        aws: &Aws,
    ) -> anyhow::Result<LocalFunction> {
        let node = stack
            .nodes
            .iter()
            .find(|n| n.name() == name)
            .with_context(|| format!("{name} is not in the stack file"))?;
        let source = node
            .bundle_source()
            .with_context(|| format!("{name} is not a lambda_function"))?;
        let change = plan
            .get(name)
            .context("the plan has no entry for the function")?;
        let arn = node
            .live(&observed.resources)
            .and_then(|live| live.attributes().remove("arn").flatten());
        LocalFunction::prepare(change, &source, arn, aws, &stack.env.name).await
    }

    /// From the function's planned state (`change`: its environment with references
    /// filled in, timeout, memory) and its deployed ARN when there is one.
    async fn prepare(
        change: &ResourceChange,
        source: &bundle::Source,
        arn: Option<String>,
        aws: &Aws,
        environment_name: &str,
    ) -> anyhow::Result<LocalFunction> {
        let desired = &change.states.after;
        let mut environment = BTreeMap::new();
        for (key, value) in desired["environment"].as_object().into_iter().flatten() {
            if contains_unknown(value) {
                bail!(
                    "{key} refers to a resource that is not deployed yet: run `cruddur-infra apply --env {environment_name}` first"
                );
            }
            environment.insert(key.clone(), value.as_str().unwrap_or_default().to_string());
        }
        let name = change.physical_id.clone();
        eprintln!("building {}", source.package.display());
        let shown = bundle::CargoOutput::Shown;
        let built =
            bundle::build(&source.package, source.architecture, &source.runtime, shown).await?;
        let dir = built.zip_path.with_file_name(format!("local-{name}"));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(LocalFunction {
            launch: Launch {
                executable: bootstrap::extract(&built.zip_path, &dir)?,
                lambda: LambdaEnvironment {
                    function_name: name.clone(),
                    memory_mb: desired["memory"].as_i64().unwrap_or(128),
                    region: aws.region.clone(),
                    endpoint_url: aws.endpoint.clone(),
                },
                environment,
            },
            info: FunctionInfo {
                arn: arn.unwrap_or_else(|| {
                    format!("arn:aws:lambda:{}:000000000000:function:{name}", aws.region)
                }),
                timeout: Duration::from_secs(desired["timeout"].as_u64().unwrap_or(3)),
            },
        })
    }
}

/// The event, from a file or `-` (stdin); it must be JSON.
fn read_event(path: &Path) -> anyhow::Result<Value> {
    let text = if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the event from stdin")?;
        text
    } else {
        std::fs::read_to_string(path)
            .with_context(|| format!("reading the event from {}", path.display()))?
    };
    serde_json::from_str(&text).with_context(|| {
        format!(
            "the event in {} is not JSON",
            if path == Path::new("-") {
                "stdin".into()
            } else {
                path.display().to_string()
            }
        )
    })
}
