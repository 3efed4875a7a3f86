//! Whole-stack checks on ARNs, once every resource is validated (references must be
//! known first):
//! - a field that takes one kind of ARN (a trigger's `source`, its `on_failure`, a
//!   function's `role`, ...) gets one: an error otherwise, before any request;
//! - each action of a policy statement is scoped to a resource type it supports: a
//!   warning otherwise, since IAM accepts the policy and the action then grants nothing.
//!
//! A reference is judged by an example of the ARN it will hold (`sample_arn`), so
//! `${messages.arn}/index/by-group` is seen as an index before the table exists.

use crate::spec::arn::{self, ArnField, SOURCE};
use crate::spec::diag::{Diagnostic, Diags};
use crate::spec::stack::Resource;
use crate::spec::template::{Reference, Template};
use crate::values::DeploymentContext;

/// `template` with each reference replaced by an example of its value; `None` when a
/// reference is not an ARN the resources describe (then nothing is judged).
fn sample<R: Resource>(template: &Template, nodes: &[R]) -> Option<String> {
    let unknown = std::cell::Cell::new(false);
    let example = DeploymentContext::example().attributes();
    let lookup = |r: &Reference| {
        let value = if r.resource == DeploymentContext::NAME {
            example.get(r.attribute.as_str()).cloned().flatten()
        } else {
            nodes
                .iter()
                .find(|n| n.name() == r.resource)
                .and_then(|n| n.sample_arn(&r.attribute))
        };
        if value.is_none() {
            unknown.set(true);
        }
        value
    };
    let text = template.render(&lookup);
    (!unknown.get()).then_some(text)
}

pub fn check<R: Resource>(nodes: &[R], diags: &mut Diags) {
    for node in nodes {
        for field in node.arn_fields() {
            check_field(&field, nodes, diags);
        }
        for statement in node.policies() {
            lint_statement(statement.actions(), statement.templates(), nodes, diags);
        }
    }
}

fn check_field<R: Resource>(field: &ArnField, nodes: &[R], diags: &mut Diags) {
    let Some(value) = sample(field.template, nodes) else {
        return;
    };
    let wanted: Vec<String> = field
        .accepts
        .iter()
        .map(|(service, kind)| format!("{service} {kind}"))
        .collect();
    let wanted = match wanted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    let problem = match arn::resource_types(&value) {
        _ if !value.starts_with("arn:") => Some(format!("`{value}` is not an ARN")),
        Some((service, types)) => {
            let fits = field
                .accepts
                .iter()
                .any(|(s, t)| *s == service && types.contains(t));
            let named = if types.is_empty() {
                format!("{service} (no resource type it has)")
            } else {
                format!("{service} {}", types.join("/"))
            };
            (!fits).then(|| format!("expects an ARN of type {wanted}; this is of type {named}"))
        }
        // A service the tables do not hold: judged by its service only.
        None => {
            let service = value.split(':').nth(2).unwrap_or_default();
            (!field.accepts.iter().any(|(s, _)| *s == service))
                .then(|| format!("expects an ARN of type {wanted}; this is a {service} ARN"))
        }
    };
    if let Some(problem) = problem {
        let shown = if field.template.has_references() {
            format!(" (`{}` is an ARN like `{value}`)", describe(field.template))
        } else {
            String::new()
        };
        diags.push(
            Diagnostic::new(
                &field.template.loc,
                &field.template.path,
                format!("{problem}{shown}"),
            )
            .hint(field.hint),
        );
    }
}

/// The template as written, references included.
fn describe(template: &Template) -> String {
    template.render(&|r| Some(r.to_string()))
}

/// Warns when an action is scoped only to resources of types it does not support, or when
/// an action that supports none is scoped to anything but `*`.
fn lint_statement<'a, R: Resource>(
    actions: impl Iterator<Item = &'a String>,
    resources: impl Iterator<Item = &'a Template>,
    nodes: &[R],
    diags: &mut Diags,
) {
    let resources: Vec<&Template> = resources.collect();
    let Some(first) = resources.first() else {
        return;
    };
    // Each resource's types; `None` for a resource nothing can be said about.
    let mut judged = Vec::new();
    for template in &resources {
        let Some(value) = sample(template, nodes) else {
            return;
        };
        if value == "*" {
            judged.push(None);
            continue;
        }
        match arn::resource_types(&value) {
            Some((service, types)) => judged.push(Some((service, types))),
            None => return,
        }
    }
    let any_star = judged.iter().any(Option::is_none);
    for action in actions {
        let Some(supported) = arn::action_resource_types(action) else {
            continue;
        };
        let service = action.split(':').next().unwrap_or_default();
        if supported.is_empty() {
            if !any_star {
                diags.push(
                    Diagnostic::warning(
                        &first.loc,
                        &first.path,
                        format!("`{action}` cannot be scoped to a resource: only `*` grants it, so this statement does not"),
                    )
                    .hint(format!("give it a statement of its own with resources: [\"*\"] ({SOURCE})")),
                );
            }
            continue;
        }
        let fits = any_star
            || judged
                .iter()
                .flatten()
                .any(|(s, types)| *s == service && types.iter().any(|t| supported.contains(t)));
        if !fits {
            diags.push(
                Diagnostic::warning(
                    &first.loc,
                    &first.path,
                    format!(
                        "`{action}` applies to {} resources, and none of this statement's is one, so it grants nothing",
                        supported.join(" or ")
                    ),
                )
                .hint(format!(
                    "scope it to a {} ARN in a statement of its own ({SOURCE})",
                    supported.join(" or ")
                )),
            );
        }
    }
}
