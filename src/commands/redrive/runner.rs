//! Who runs the function for `redrive`: Lambda itself (Invoke, on AWS), or, when requests go
//! to the local emulator (a loopback endpoint), the function's bundle on this machine
//! through the tool's Runtime API, as `invoke` runs it (the emulator runs no function).

use crate::aws::{Aws, check_url};
use crate::commands::invoke::LocalFunction;
use crate::dev::batch::Verdict;
use crate::engine::Observed;
use crate::kinds::Stack;
use crate::local::bootstrap::{Bootstrap, Launch};
use crate::local::runtime_api::{Outcome, RuntimeApi};
use crate::plan::Plan;
use anyhow::Context;
use serde_json::Value;

pub enum Runner {
    /// Lambda runs it: `function` as the mapping names it.
    Aws { aws: Aws, function: String },
    /// Its bootstrap runs here, started again if it exits.
    Local(Box<Local>),
}

pub struct Local {
    api: RuntimeApi,
    launch: Launch,
    process: Option<Bootstrap>,
}

impl Runner {
    /// The runner of `function` (its physical name): against the local emulator, the
    /// stack's function of that name, built and ready to start.
    pub async fn of(
        stack: &Stack,
        observed: &Observed,
        plan: &Plan,
        aws: &Aws,
        function: &str,
    ) -> anyhow::Result<Runner> {
        let local = aws
            .endpoint
            .as_deref()
            .is_some_and(|url| check_url(url, true).is_ok());
        if !local {
            return Ok(Runner::Aws {
                aws: aws.clone(),
                function: function.to_string(),
            });
        }
        let node = plan
            .resource_changes
            .iter()
            .find(|c| c.kind == "lambda_function" && c.physical_id == function && !c.orphan)
            .with_context(|| {
                format!(
                    "function {function} is not a lambda_function of this stack: on the emulator, redrive runs the stack's own functions on this machine"
                )
            })?;
        let local = LocalFunction::planned(stack, observed, plan, &node.name, aws).await?;
        Ok(Runner::Local(Box::new(Local {
            api: RuntimeApi::start(local.info).await?,
            launch: local.launch,
            process: None,
        })))
    }

    /// Invokes the function with `event` and waits for how it ended.
    pub async fn invoke(&mut self, event: Value) -> anyhow::Result<Verdict> {
        match self {
            Runner::Aws { aws, function } => crate::redrive::invoke(aws, function, &event).await,
            Runner::Local(local) => {
                let Local {
                    api,
                    launch,
                    process,
                } = local.as_mut();
                let running = match process {
                    Some(running) => running,
                    None => process.insert(Bootstrap::spawn(launch, api)?),
                };
                let outcome = tokio::select! {
                    outcome = api.invoke(event) => outcome,
                    status = running.wait() => {
                        let status = status?;
                        *process = None;
                        api.abandon(&format!("the bootstrap exited ({status})"));
                        return Ok(Verdict::Failed(format!("the function's bootstrap exited ({status})")));
                    }
                };
                Ok(match outcome {
                    Outcome::Response(body) => Verdict::Answered(body),
                    Outcome::Error(e) => Verdict::Failed(format!("function error: {e}")),
                    Outcome::InitError(e) => {
                        Verdict::Failed(format!("the function failed to start: {e}"))
                    }
                    Outcome::TimedOut => Verdict::Failed("the function timed out".into()),
                })
            }
        }
    }

    /// Stops a bootstrap started here.
    pub async fn stop(&mut self) {
        if let Runner::Local(local) = self
            && let Some(running) = &mut local.process
        {
            let _ = running.stop().await;
        }
    }
}
