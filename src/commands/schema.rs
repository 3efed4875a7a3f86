//! `schema`: JSON Schemas generated from the types the tool reads and writes: the stack
//! file's (editors complete and check it as you type) and the plan's (`plan --output json`).
//! `schema/` in the repository holds both; a test keeps them current.

use crate::cli::SchemaOf;
use std::process::ExitCode;

pub fn run(of: SchemaOf) -> anyhow::Result<ExitCode> {
    println!("{}", text(of));
    Ok(ExitCode::SUCCESS)
}

/// The schema as printed.
pub fn text(of: SchemaOf) -> String {
    let schema = match of {
        SchemaOf::Stack => crate::kinds::stack_schema(),
        SchemaOf::Plan => crate::plan::schema(),
        SchemaOf::Progress => crate::progress::schema(),
        SchemaOf::Redrive => super::redrive::schema(),
    };
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}
