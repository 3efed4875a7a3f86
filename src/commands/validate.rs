//! `validate`: the stack file checked offline, for every environment unless --env is given.

use crate::cli::{Global, Output};
use crate::kinds;
use std::process::ExitCode;

pub fn run(g: &Global, output: Output) -> anyhow::Result<ExitCode> {
    let (environments, warnings) = match &g.env {
        Some(env) => (vec![env.clone()], kinds::load(&g.file, env)?.warnings),
        None => {
            let v = kinds::validate_all(&g.file)?;
            (v.environments, v.warnings)
        }
    };
    eprint!("{warnings}");
    match output {
        Output::Json => println!(
            "{}",
            serde_json::json!({"valid": true, "file": g.file.display().to_string(), "environments": environments})
        ),
        Output::Text => println!(
            "{} is valid (environments checked: {})",
            g.file.display(),
            environments.join(", ")
        ),
    }
    Ok(ExitCode::SUCCESS)
}
