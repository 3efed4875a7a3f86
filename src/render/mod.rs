//! Plans for people: Terraform's vocabulary (`+`, `~`, `-/+`, `-`), one line per changed
//! field with before → after, a summary line; colour only when asked for. As Markdown for
//! a pull-request comment. (`drift` renders drift reports.) Values read the same way
//! everywhere: [`crate::values::show`].

pub mod drift;
pub mod graph;
mod tree;

use crate::plan::{Action, Operation, Plan, ResourceChange};
use console::Style;

pub struct Styles {
    add: Style,
    change: Style,
    remove: Style,
    replace: Style,
    conflict: Style,
    dim: Style,
    bold: Style,
}

impl Styles {
    pub fn new(color: bool) -> Styles {
        let s = || Style::new().force_styling(color);
        Styles {
            add: s().green(),
            change: s().yellow(),
            remove: s().red(),
            replace: s().magenta(),
            conflict: s().red().bold(),
            dim: s().dim(),
            bold: s().bold(),
        }
    }

    fn of(&self, action: Action) -> &Style {
        match action {
            Action::Create => &self.add,
            Action::Update | Action::Adopt => &self.change,
            Action::Delete => &self.remove,
            Action::Replace => &self.replace,
            Action::Conflict => &self.conflict,
            Action::NoOp => &self.dim,
        }
    }
}

pub fn plan_text(plan: &Plan, styles: &Styles) -> String {
    let mut out = String::new();
    let verb = match plan.operation {
        Operation::Apply => "apply",
        Operation::Destroy => "destroy",
    };
    out.push_str(&format!(
        "{} stack {}, environment {}\n\n",
        styles.bold.apply_to(format!("Plan ({verb}):")),
        plan.stack,
        plan.environment
    ));
    for rc in &plan.resource_changes {
        resource(&mut out, rc, styles);
    }
    if !out.ends_with("\n\n") {
        out.push('\n');
    }
    if !plan.has_changes() {
        out.push_str(&match plan.operation {
            Operation::Apply => {
                "No changes. The live resources match the stack file.\n".to_string()
            }
            Operation::Destroy => "Nothing to destroy.\n".to_string(),
        });
        return out;
    }
    out.push_str(&summary_line(plan, styles));
    if !plan.targets.is_empty() {
        out.push_str(&targeted(plan));
    }
    out
}

/// The warning a targeted plan carries, as Terraform's does: the rest of the stack was
/// not looked at, so the result may be partial.
fn targeted(plan: &Plan) -> String {
    let around = match plan.operation {
        Operation::Apply => "what they depend on",
        Operation::Destroy => "what depends on them",
    };
    format!(
        "\nWarning: --target limits this plan to {} and {around}; the rest of the stack, \
         its orphans included, was left out, so the result may be partial. Use it for what \
         a plan of the whole stack cannot do, and plan the whole stack afterwards.\n",
        plan.targets.join(", ")
    )
}

/// The plan as Markdown, for a pull-request comment or `$GITHUB_STEP_SUMMARY`: the summary,
/// then each resource that changes as a collapsible block holding its field tree.
pub fn plan_markdown(plan: &Plan) -> String {
    let verb = match plan.operation {
        Operation::Apply => "apply",
        Operation::Destroy => "destroy",
    };
    let mut out = format!(
        "## Plan ({verb}): stack `{}`, environment `{}`\n\n",
        plan.stack, plan.environment
    );
    if !plan.has_changes() {
        out.push_str("No changes. The live resources match the stack file.\n");
        return out;
    }
    let plain = Styles::new(false);
    out.push_str(&format!(
        "**{}**\n\n",
        summary_line(plan, &plain).trim_end()
    ));
    let html = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    for rc in plan
        .resource_changes
        .iter()
        .filter(|rc| rc.action != Action::NoOp)
    {
        out.push_str(&format!(
            "<details><summary><code>{} {}.{}</code> ({}) {}</summary>\n\n",
            html(rc.action.symbol()),
            rc.kind,
            rc.name,
            html(&rc.physical_id),
            rc.action.describe()
        ));
        for reason in &rc.reasons {
            out.push_str(&format!("- {}\n", html(reason)));
        }
        if let Some(blocked) = &rc.blocked {
            out.push_str(&format!("- **blocked:** {}\n", html(blocked)));
        }
        let lines = tree::lines(rc);
        if !rc.reasons.is_empty() || rc.blocked.is_some() {
            out.push('\n');
        }
        if !lines.is_empty() {
            // A diff block: GitHub colours the lines that start with `+` and `-`.
            out.push_str("```diff\n");
            for line in &lines {
                out.push_str(&format!(
                    "{} {}{}{}\n",
                    line.symbol,
                    "    ".repeat(line.depth),
                    line.text,
                    comments(line)
                ));
            }
            out.push_str("```\n\n");
        }
        out.push_str("</details>\n\n");
    }
    out
}

/// A line's trailing comments: what forces replacement, and the note.
fn comments(line: &tree::Line) -> String {
    let mut out = String::new();
    if line.forces_replacement {
        out.push_str(" # forces replacement");
    }
    if let Some(note) = &line.note {
        out.push_str(&format!(" # {note}"));
    }
    out
}

fn summary_line(plan: &Plan, styles: &Styles) -> String {
    let s = &plan.summary;
    let mut parts = vec![
        format!("{} to add", s.create),
        format!("{} to change", s.update + s.adopt),
        format!("{} to replace", s.replace),
        format!("{} to destroy", s.delete),
    ];
    if s.adopt > 0 {
        parts.push(format!("{} to adopt", s.adopt));
    }
    if s.conflict > 0 {
        parts.push(
            styles
                .conflict
                .apply_to(format!("{} in conflict", s.conflict))
                .to_string(),
        );
    }
    format!("{} {}.\n", styles.bold.apply_to("Plan:"), parts.join(", "))
}

fn resource(out: &mut String, rc: &ResourceChange, styles: &Styles) {
    let style = styles.of(rc.action);
    let head = format!("{}.{} ({})", rc.kind, rc.name, rc.physical_id);
    if rc.action == Action::NoOp {
        let why = rc
            .reasons
            .first()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "  {}\n",
            styles.dim.apply_to(format!("  {head}: no changes{why}"))
        ));
        return;
    }
    out.push_str(&format!(
        "{} {} {}\n",
        style.apply_to(format!("{:>3}", rc.action.symbol())),
        styles.bold.apply_to(&head),
        style.apply_to(rc.action.describe())
    ));
    for reason in &rc.reasons {
        out.push_str(&format!("      {} {reason}\n", style.apply_to("#")));
    }
    if let Some(blocked) = &rc.blocked {
        out.push_str(&format!(
            "      {} {blocked}\n",
            styles.conflict.apply_to("! blocked:")
        ));
    }
    for line in tree::lines(rc) {
        let symbol = match line.symbol {
            '+' => styles.add.apply_to("+"),
            '-' => styles.remove.apply_to("-"),
            '~' => styles.change.apply_to("~"),
            _ => styles.dim.apply_to(" "),
        };
        let mut text = format!("      {}{symbol} {}", "    ".repeat(line.depth), line.text);
        if line.forces_replacement {
            text.push_str(&format!(
                " {}",
                styles.replace.apply_to("# forces replacement")
            ));
        }
        if let Some(note) = &line.note {
            text.push_str(&format!(" {}", styles.dim.apply_to(format!("# {note}"))));
        }
        out.push_str(&text);
        out.push('\n');
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Operation, Plan, States, diff_values};
    use serde_json::json;

    fn update(before: serde_json::Value, after: serde_json::Value) -> String {
        let rc = ResourceChange {
            name: "messages".into(),
            kind: "dynamodb_table",
            physical_id: "cruddur-messages".into(),
            action: Action::Update,
            reasons: vec![],
            changes: diff_values(&before, &after),
            states: States { before, after },
            blocked: None,
            safe_to_replace: false,
            orphan: false,
        };
        let plan = Plan::new("s".into(), "e".into(), Operation::Apply, vec![rc]);
        plan_text(&plan, &Styles::new(false))
    }

    #[test]
    fn update_lines_show_before_and_after() {
        let text = update(json!({"read_capacity": 5}), json!({"read_capacity": 10}));
        assert!(
            text.contains(
                "  ~ dynamodb_table.messages (cruddur-messages) will be updated in place"
            ),
            "{text}"
        );
        assert!(text.contains("      ~ read_capacity = 5 → 10\n"), "{text}");
        assert!(
            text.contains("Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy."),
            "{text}"
        );
    }

    #[test]
    fn sets_show_each_element_and_blocks_nest() {
        let text = update(
            json!({"vpc": {"subnet_ids": ["subnet-1", "subnet-2"], "security_group_ids": ["sg-1"]}}),
            json!({"vpc": {"subnet_ids": ["subnet-1"], "security_group_ids": ["sg-1"]}}),
        );
        let expected = "      ~ vpc = {\n          ~ subnet_ids = [\n              - \"subnet-2\"\n            ]\n        }\n";
        assert!(text.contains(expected), "{text}");
    }
}
