//! `build`: every function's bundle, built and zipped; no AWS call.

use super::common;
use crate::bundle;
use crate::cli::Global;
use anyhow::Context;
use std::process::ExitCode;

pub async fn run(g: &Global) -> anyhow::Result<ExitCode> {
    let stack = common::load(g)?;
    let mut built = 0;
    for node in &stack.nodes {
        let Some(source) = node.bundle_source() else {
            continue;
        };
        let started = std::time::Instant::now();
        let hash = bundle::input_hash(&source.package, source.architecture)?;
        eprintln!(
            "{}.{}: building {} for {} ({})",
            node.kind(),
            node.name(),
            source.package.display(),
            source.architecture.rust_target(),
            source.runtime
        );
        let b = bundle::build(
            &source.package,
            source.architecture,
            &source.runtime,
            bundle::CargoOutput::Shown,
        )
        .await
        .with_context(|| format!("{}.{}", node.kind(), node.name()))?;
        println!("{}.{}:", node.kind(), node.name());
        println!("  zip:         {}", b.zip_path.display());
        println!("  size:        {} bytes", b.zip.len());
        println!("  CodeSha256:  {}", b.code_sha256);
        println!("  input hash:  {hash}");
        if let Some((major, minor)) = b.glibc {
            println!(
                "  glibc:       needs {major}.{minor} (fits {})",
                source.runtime
            );
        }
        println!("  took:        {:.1}s", started.elapsed().as_secs_f64());
        built += 1;
    }
    if built == 0 {
        println!("The stack has no lambda_function to build.");
    }
    Ok(ExitCode::SUCCESS)
}
