//! `validate`: the stack file checked offline, every environment it declares (the file is
//! one configuration: an error in any environment stops every command, as Terraform
//! refuses an invalid configuration); with --env, also that it declares that environment.

use crate::cli::{Global, Output};
use crate::kinds;
use std::process::ExitCode;

pub fn run(g: &Global, output: Output) -> anyhow::Result<ExitCode> {
    let (environments, warnings) = match &g.env {
        Some(env) => {
            let warnings = kinds::load(&g.file, env)?.warnings;
            (kinds::validate_all(&g.file)?.environments, warnings)
        }
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
