//! Plans for people: Terraform's vocabulary (`+`, `~`, `-/+`, `-`), one line per changed
//! field with before → after, a summary line; colour only when asked for. As Markdown for
//! a pull-request comment. (`drift` renders drift reports.) Values read the same way
//! everywhere: [`crate::values::show`].

pub mod drift;

use crate::plan::{Action, FieldChange, Operation, Plan, ResourceChange};
use crate::values::{UNKNOWN_TEXT, show};
use console::Style;

/// Field paths longer than this are not padded to, so short ones stay readable.
const MAX_ALIGN: usize = 32;

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
    out
}

/// The plan as Markdown, for a pull-request comment or `$GITHUB_STEP_SUMMARY`: the summary,
/// then one table row per changed field (or per resource when no field says more).
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
    out.push_str(&format!("**{}**", summary_line(plan, &plain).trim_end()));
    out.push_str(
        "\n\n| | resource | action | field | before | after |\n|---|---|---|---|---|---|\n",
    );
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    for rc in plan
        .resource_changes
        .iter()
        .filter(|rc| rc.action != Action::NoOp)
    {
        let head = format!(
            "| `{}` | `{}.{}` ({}) | {}",
            rc.action.symbol(),
            rc.kind,
            rc.name,
            cell(&rc.physical_id),
            rc.action.describe()
        );
        let fields: Vec<&FieldChange> = match rc.action {
            // A new resource's every field is news to nobody; its row says enough.
            Action::Create => Vec::new(),
            _ => rc.changes.iter().collect(),
        };
        if fields.is_empty() {
            out.push_str(&format!("{head} | | | |\n"));
        }
        for c in fields {
            let after = if c.after_unknown {
                UNKNOWN_TEXT.to_string()
            } else {
                show(&c.after)
            };
            out.push_str(&format!(
                "{head} | `{}`{} | {} | {} |\n",
                cell(&c.field),
                if c.forces_replacement {
                    " (forces replacement)"
                } else {
                    ""
                },
                cell(&show(&c.before)),
                cell(&after)
            ));
        }
        for reason in rc.reasons.iter().chain(rc.blocked.iter()) {
            out.push_str(&format!("{head} | note | {} | |\n", cell(reason)));
        }
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
    // Align the values, but do not let one long path push every line far to the right.
    let width = rc
        .changes
        .iter()
        .map(|c| c.field.len())
        .max()
        .unwrap_or(0)
        .min(MAX_ALIGN);
    for change in &rc.changes {
        out.push_str(&field(change, rc.action, width, styles));
    }
    out.push('\n');
}

fn field(change: &FieldChange, action: Action, width: usize, styles: &Styles) -> String {
    let after = if change.after_unknown {
        UNKNOWN_TEXT.to_string()
    } else {
        show(&change.after)
    };
    let (symbol, style, text) = if action == Action::Create || change.before.is_null() {
        (
            "+",
            &styles.add,
            format!("{:width$} = {after}", change.field),
        )
    } else if change.after.is_null() && !change.after_unknown {
        (
            "-",
            &styles.remove,
            format!("{:width$} = {}", change.field, show(&change.before)),
        )
    } else {
        (
            "~",
            &styles.change,
            format!(
                "{:width$} : {} → {after}",
                change.field,
                show(&change.before)
            ),
        )
    };
    let mut line = format!("      {} {text}", style.apply_to(symbol));
    if change.forces_replacement {
        line.push_str(&format!(
            " {}",
            styles.replace.apply_to("# forces replacement")
        ));
    }
    if let Some(note) = &change.note {
        line.push_str(&format!(" {}", styles.dim.apply_to(format!("# {note}"))));
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Operation, Plan};
    use serde_json::json;

    #[test]
    fn update_lines_show_before_and_after() {
        let rc = ResourceChange {
            name: "messages".into(),
            kind: "dynamodb_table",
            physical_id: "cruddur-messages".into(),
            action: Action::Update,
            reasons: vec![],
            changes: vec![FieldChange {
                field: "read_capacity".into(),
                before: json!(5),
                after: json!(10),
                after_unknown: false,
                forces_replacement: false,
                note: None,
            }],
            blocked: None,
            safe_to_replace: false,
            orphan: false,
        };
        let plan = Plan::new("s".into(), "e".into(), Operation::Apply, vec![rc]);
        let text = plan_text(&plan, &Styles::new(false));
        assert!(
            text.contains(
                "  ~ dynamodb_table.messages (cruddur-messages) will be updated in place"
            ),
            "{text}"
        );
        assert!(text.contains("~ read_capacity : 5 → 10"), "{text}");
        assert!(
            text.contains("Plan: 0 to add, 1 to change, 0 to replace, 0 to destroy."),
            "{text}"
        );
    }
}
