//! `graph`: the stack's dependency graph as Mermaid or DOT, from the file alone.

use super::common;
use crate::cli::{Global, GraphFormat};
use crate::render::graph::{self, Vertex};
use std::process::ExitCode;

pub fn run(g: &Global, format: GraphFormat) -> anyhow::Result<ExitCode> {
    let stack = common::load(g)?;
    let position = |name: &str| stack.nodes.iter().position(|n| n.name() == name);
    let deps: Vec<Vec<usize>> = stack
        .nodes
        .iter()
        .map(|n| {
            n.dependencies()
                .iter()
                .filter_map(|d| position(d))
                .collect()
        })
        .collect();
    let waves = graph::waves(&deps);
    let vertices: Vec<Vertex> = stack
        .nodes
        .iter()
        .zip(&waves)
        .map(|(n, &wave)| Vertex {
            name: n.name().to_string(),
            label: match n.known_name() {
                Some(physical) => format!("{}.{} ({physical})", n.kind(), n.name()),
                None => format!("{}.{}", n.kind(), n.name()),
            },
            wave,
        })
        .collect();
    let edges: Vec<graph::Edge> = stack
        .nodes
        .iter()
        .flat_map(|n| {
            n.dependencies()
                .iter()
                .map(move |d| (d.clone(), n.name().to_string()))
        })
        .collect();
    print!(
        "{}",
        match format {
            GraphFormat::Mermaid => graph::mermaid(&vertices, &edges),
            GraphFormat::Dot => graph::dot(&vertices, &edges),
        }
    );
    Ok(ExitCode::SUCCESS)
}
