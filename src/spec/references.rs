//! References between resources: each `${resource.attribute}` must name a declared
//! resource and an attribute it has, and the resources must not depend on each other in a
//! circle; then they are put in dependency order.

use crate::graph::topological_order;
use crate::spec::diag::{Diagnostic, Diags, did_you_mean};
use crate::spec::stack::Resource;
use crate::spec::template::Template;
use crate::values::DeploymentContext;
use serde_saphyr::Location;
use std::collections::{BTreeMap, BTreeSet};

/// Every `${resource.attribute}` must name a declared resource and an attribute it has.
/// `declared` names every resource the file declares: one that is not among `nodes` failed
/// its own checks, which said so; a reference to it is not another error.
pub fn check<R: Resource>(nodes: &[R], declared: &[String], diags: &mut Diags) {
    for node in nodes {
        for template in node.templates() {
            for r in template.references() {
                if r.resource == DeploymentContext::NAME {
                    if !DeploymentContext::ATTRIBUTES.contains(&r.attribute.as_str()) {
                        diags.push(
                            Diagnostic::new(
                                &template.loc,
                                &template.path,
                                format!("`{r}` is not a deployment value"),
                            )
                            .hint(format!(
                                "`${{aws.…}}` offers: {}",
                                DeploymentContext::ATTRIBUTES.join(", ")
                            )),
                        );
                    }
                    continue;
                }
                match nodes.iter().find(|n| n.name() == r.resource) {
                    None if declared.contains(&r.resource) => {}
                    None => diags.push(
                        Diagnostic::new(
                            &template.loc,
                            &template.path,
                            format!(
                                "`{r}` refers to resource `{}`, which is not declared",
                                r.resource
                            ),
                        )
                        .hint(
                            did_you_mean(&r.resource, nodes.iter().map(|n| n.name()))
                                .unwrap_or_else(|| {
                                    "declare the resource under `resources:` or fix the name".into()
                                }),
                        ),
                    ),
                    Some(target) => {
                        if let Err(e) = target.check_attribute(&r.attribute) {
                            diags.push(Diagnostic::new(&template.loc, &template.path, format!("`{r}`: {e}")).hint(
                                "references take the form ${<resource>.<attribute>}; docs/stack-file.md lists each type's attributes",
                            ));
                        }
                    }
                }
            }
        }
    }
}

/// Dependency order; a cycle is an error pointing at a reference that closes it.
pub fn order<R: Resource>(
    nodes: &[R],
    locations: &[Location],
    diags: &mut Diags,
) -> Option<Vec<usize>> {
    let index: BTreeMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name(), i))
        .collect();
    let deps: Vec<BTreeSet<usize>> = nodes
        .iter()
        .map(|n| {
            n.dependencies()
                .iter()
                .filter_map(|d| index.get(d.as_str()).copied())
                .collect()
        })
        .collect();
    match topological_order(&deps) {
        Ok(order) => Some(order),
        Err(cycle) => {
            let names: Vec<&str> = cycle.iter().map(|&i| nodes[i].name()).collect();
            let (from, to) = (cycle[0], cycle[1]);
            // Point at a reference from the first resource to the next one, if written as a
            // reference (otherwise it is a depends_on entry: point at the resource).
            let at = nodes[from]
                .templates()
                .into_iter()
                .find(|t| t.references().any(|r| r.resource == nodes[to].name()))
                .map(|t: &Template| (t.loc, t.path.clone()))
                .unwrap_or((locations[from], format!("resources.{}", nodes[from].name())));
            diags.push(
                Diagnostic::new(&at.0, at.1, format!("dependency cycle: {}", names.join(" → ")))
                    .hint("a resource cannot depend on itself, directly or through others; remove one of these references or depends_on entries"),
            );
            None
        }
    }
}
