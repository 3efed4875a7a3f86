//! `drift`: what changed out of band. Reads every resource of the stack (as plan does),
//! compares it with the file, and reports each difference without changing anything:
//! human text, JSON (stable, `format_version` "1") or Markdown (a pull-request comment or
//! the GitHub step summary). Several environments are checked concurrently, one report.

use crate::plan::{Action, Plan, ResourceChange};
use crate::values::{UNKNOWN_TEXT, show};
use serde::Serialize;
use serde_json::Value;

pub const FORMAT_VERSION: &str = "1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Live matches the file.
    InSync,
    /// Exists, but some fields differ from the file.
    Drifted,
    /// In the file, not in AWS (deleted out of band, or never applied).
    Missing,
    /// Exists without this stack's ownership tags (or with another stack's).
    Conflict,
    /// Tagged as this stack's, but no longer in the file.
    Orphaned,
}

#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    /// The field for people (`global_secondary_indexes["by-group"].read_capacity`), without
    /// a set element's position (`managed_policies`).
    pub field: String,
    /// The same as segments, with the set element's position.
    pub path: crate::plan::Path,
    /// What the file says; `null` when the file does not set it, `"(known after apply)"`
    /// when it depends on something still to be made (then `expected_unknown` is set).
    pub expected: Value,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub expected_unknown: bool,
    /// What AWS has; `null` when absent there.
    pub actual: Value,
}

impl Difference {
    fn expected_text(&self) -> String {
        match self.expected_unknown {
            true => UNKNOWN_TEXT.to_string(),
            false => show(&self.expected),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourceDrift {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub physical_id: String,
    pub status: Status,
    pub differences: Vec<Difference>,
    /// Why (a replacement's reason, a conflict's owner) and warnings (a second trigger on
    /// the function, a disabled mapping).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentDrift {
    pub environment: String,
    /// `in-sync`, `drift` or `error`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub resources: Vec<ResourceDrift>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub format_version: &'static str,
    pub stack: String,
    pub environments: Vec<EnvironmentDrift>,
}

impl Report {
    pub fn has_drift(&self) -> bool {
        self.environments.iter().any(|e| e.status == "drift")
    }

    pub fn has_errors(&self) -> bool {
        self.environments.iter().any(|e| e.status == "error")
    }
}

/// The drift of one environment, from the plan an apply would make.
pub fn from_plan(plan: &Plan) -> EnvironmentDrift {
    let resources: Vec<ResourceDrift> = plan.resource_changes.iter().map(resource).collect();
    let drifted = resources
        .iter()
        .any(|r| r.status != Status::InSync || !r.notes.is_empty());
    EnvironmentDrift {
        environment: plan.environment.clone(),
        status: if drifted { "drift" } else { "in-sync" },
        error: None,
        resources,
    }
}

pub fn failed(environment: &str, error: &anyhow::Error) -> EnvironmentDrift {
    EnvironmentDrift {
        environment: environment.to_string(),
        status: "error",
        error: Some(format!("{error:#}")),
        resources: Vec::new(),
    }
}

fn resource(rc: &ResourceChange) -> ResourceDrift {
    let status = match rc.action {
        _ if rc.orphan => Status::Orphaned,
        Action::NoOp => Status::InSync,
        Action::Create => Status::Missing,
        Action::Conflict | Action::Adopt => Status::Conflict,
        Action::Update | Action::Replace | Action::Delete => Status::Drifted,
    };
    let differences = match status {
        // A missing resource has no actual values; listing the whole spec says nothing.
        Status::Missing => Vec::new(),
        _ => rc
            .changes
            .iter()
            .map(|c| Difference {
                field: c.path.field(),
                path: c.path.clone(),
                expected: if c.after_unknown() {
                    Value::String(UNKNOWN_TEXT.into())
                } else {
                    c.after.clone()
                },
                expected_unknown: c.after_unknown(),
                actual: c.before.clone(),
            })
            .collect(),
    };
    let mut notes = rc.reasons.clone();
    if status == Status::Missing {
        notes.insert(
            0,
            "not found in AWS: deleted out of band, or never applied".into(),
        );
    }
    ResourceDrift {
        name: rc.name.clone(),
        kind: rc.kind,
        physical_id: rc.physical_id.clone(),
        status,
        differences,
        notes,
    }
}

pub fn text(report: &Report) -> String {
    let mut out = String::new();
    for env in &report.environments {
        out.push_str(&format!(
            "Drift: stack {}, environment {}: {}\n",
            report.stack, env.environment, env.status
        ));
        if let Some(e) = &env.error {
            out.push_str(&format!("  error: {e}\n"));
        }
        for r in &env.resources {
            let status = match r.status {
                Status::InSync if r.notes.is_empty() => continue,
                Status::InSync => "warning",
                Status::Drifted => "drifted",
                Status::Missing => "missing",
                Status::Conflict => "conflict",
                Status::Orphaned => "orphaned",
            };
            out.push_str(&format!(
                "  {}.{} ({}): {status}\n",
                r.kind, r.name, r.physical_id
            ));
            for note in &r.notes {
                out.push_str(&format!("      # {note}\n"));
            }
            for d in &r.differences {
                out.push_str(&format!(
                    "      {}: expected {}, actual {}\n",
                    d.field,
                    d.expected_text(),
                    show(&d.actual)
                ));
            }
        }
        if env.status == "in-sync" {
            out.push_str("  No drift: every resource matches the stack file.\n");
        }
    }
    out
}

/// Escapes what would break a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(report: &Report) -> String {
    let mut out = format!("## Drift report: stack `{}`\n\n", report.stack);
    for env in &report.environments {
        let badge = match env.status {
            "in-sync" => "✅ in sync",
            "drift" => "⚠️ drift",
            _ => "❌ error",
        };
        out.push_str(&format!(
            "### Environment `{}`: {badge}\n\n",
            env.environment
        ));
        if let Some(e) = &env.error {
            out.push_str(&format!("```\n{e}\n```\n\n"));
            continue;
        }
        let rows: Vec<&ResourceDrift> = env
            .resources
            .iter()
            .filter(|r| r.status != Status::InSync || !r.notes.is_empty())
            .collect();
        if rows.is_empty() {
            out.push_str("Every resource matches the stack file.\n\n");
            continue;
        }
        out.push_str("| resource | status | field | expected | actual |\n|---|---|---|---|---|\n");
        for r in rows {
            let status = match r.status {
                Status::InSync => "warning",
                Status::Drifted => "drifted",
                Status::Missing => "missing",
                Status::Conflict => "conflict",
                Status::Orphaned => "orphaned",
            };
            let id = format!("`{}.{}` ({})", r.kind, r.name, cell(&r.physical_id));
            if r.differences.is_empty() {
                out.push_str(&format!("| {id} | {status} | | | |\n"));
            }
            for d in &r.differences {
                out.push_str(&format!(
                    "| {id} | {status} | `{}` | {} | {} |\n",
                    cell(&d.field),
                    cell(&d.expected_text()),
                    cell(&show(&d.actual))
                ));
            }
            for note in &r.notes {
                out.push_str(&format!("| {id} | note | | {} | |\n", cell(note)));
            }
        }
        out.push('\n');
    }
    out
}
