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
    /// Lambda runs it.
    Aws(Box<Remote>),
    /// Its bootstrap runs here, started again if it exits.
    Local(Box<Local>),
}

pub struct Remote {
    aws: Aws,
    /// As the mapping names it (an alias or a version after a `:`).
    function: String,
    /// The log tail of the last invocation.
    logs: Vec<String>,
}

pub struct Local {
    api: RuntimeApi,
    launch: Launch,
    process: Option<Bootstrap>,
    /// The log lines of the bootstraps it started.
    recent: crate::local::logs::Recent,
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
            return Ok(Runner::Aws(Box::new(Remote {
                aws: aws.clone(),
                function: function.to_string(),
                logs: Vec::new(),
            })));
        }
        // Here the stack's code runs, whatever the alias or version.
        let function = function.split(':').next().unwrap_or(function);
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
            recent: Default::default(),
        })))
    }

    /// Invokes the function with `event` and waits for how it ended.
    pub async fn invoke(&mut self, event: Value) -> anyhow::Result<Verdict> {
        match self {
            Runner::Aws(remote) => {
                let (verdict, tail) =
                    crate::redrive::invoke(&remote.aws, &remote.function, &event).await?;
                remote.logs = tail;
                Ok(verdict)
            }
            Runner::Local(local) => {
                let Local {
                    api,
                    launch,
                    process,
                    recent,
                } = local.as_mut();
                let running = match process {
                    Some(running) => running,
                    None => {
                        let started = Bootstrap::spawn(launch, api)?;
                        *recent = started.recent.clone();
                        process.insert(started)
                    }
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

    /// The function's last log lines (of the last invocation, on AWS), and forgets them.
    pub fn take_logs(&mut self) -> Vec<String> {
        match self {
            Runner::Aws(remote) => std::mem::take(&mut remote.logs),
            Runner::Local(local) => local.recent.take(),
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
