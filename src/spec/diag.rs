//! Diagnostics for the stack file: what is wrong, where (file:line:column and the field
//! path), and what to do about it. Every invalid input ends up here, before any AWS call.

use serde_saphyr::Location;
use std::fmt;

/// A point in the stack file. Line and column are 1-based; `None` when the problem is about
/// the file as a whole (or a value whose position YAML could not give us).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: u64,
    pub column: u64,
}

impl Pos {
    pub fn of(loc: &Location) -> Option<Pos> {
        (loc.line() > 0).then(|| Pos {
            line: loc.line(),
            column: loc.column().max(1),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The file cannot be used.
    Error,
    /// Allowed, but probably not what you want (a wildcard in a policy, say).
    Warning,
}

/// One problem in the stack file.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub severity: Severity,
    pub pos: Option<Pos>,
    /// Field path in the file, e.g. `resources.messages.read_capacity`.
    pub path: String,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(loc: &Location, path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            pos: Pos::of(loc),
            path: path.into(),
            message: message.into(),
            hint: None,
        }
    }

    pub fn warning(loc: &Location, path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::new(loc, path, message)
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Every problem found in one stack file, with the text needed to show them.
#[derive(Debug, thiserror::Error)]
pub struct SpecErrors {
    pub file: String,
    pub source_text: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl SpecErrors {
    /// Renders each diagnostic as `file:line:col: path: message`, the offending line with a
    /// caret under the column, and the hint. The first line of each is grep- and CI-friendly.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for d in &self.diagnostics {
            out.push_str(&self.render_one(d));
        }
        let n = self
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        if n > 1 {
            out.push_str(&format!("{n} errors in {}\n", self.file));
        }
        out
    }

    fn render_one(&self, d: &Diagnostic) -> String {
        let place = match d.pos {
            Some(p) => format!("{}:{}:{}", self.file, p.line, p.column),
            None => self.file.clone(),
        };
        let path = if d.path.is_empty() {
            String::new()
        } else {
            format!("{}: ", d.path)
        };
        let label = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut out = format!("{label}: {place}: {path}{}\n", d.message);
        if let Some(p) = d.pos
            && let Some(line) = self.source_text.lines().nth(p.line as usize - 1)
        {
            let gutter = p.line.to_string().len();
            let caret_pad: String = line
                .chars()
                .take(p.column as usize - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            out.push_str(&format!("{:gutter$} |\n", ""));
            out.push_str(&format!("{} | {}\n", p.line, sanitize(line)));
            out.push_str(&format!("{:gutter$} | {caret_pad}^\n", ""));
        }
        if let Some(h) = &d.hint {
            out.push_str(&format!("  = hint: {h}\n"));
        }
        out
    }
}

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

/// Drops terminal control characters so a hostile stack file cannot drive the terminal.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\t')
        .collect()
}

/// The closest of `candidates` to `word`, when it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

/// Collects diagnostics while validating, so one run reports every problem at once.
#[derive(Debug, Default)]
pub struct Diags(pub Vec<Diagnostic>);

impl Diags {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn error(&mut self, loc: &Location, path: impl Into<String>, message: impl Into<String>) {
        self.push(Diagnostic::new(loc, path, message));
    }

    pub fn error_count(&self) -> usize {
        self.0
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub fn has_errors(&self) -> bool {
        self.error_count() > 0
    }

    /// Where validation of one thing starts: [`Diags::clean_since`] then tells whether it
    /// found an error.
    pub fn mark(&self) -> Mark {
        Mark(self.error_count())
    }

    /// `Some(())` when no error was reported since `mark`: `diags.clean_since(start)?` ends a
    /// validation that found one, after every check has had its say.
    pub fn clean_since(&self, mark: Mark) -> Option<()> {
        (self.error_count() == mark.0).then_some(())
    }
}

/// The count of errors when a validation started (see [`Diags::mark`]).
#[derive(Debug, Clone, Copy)]
pub struct Mark(usize);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_place_path_caret_and_hint() {
        let errs = SpecErrors {
            file: "stack.yaml".into(),
            source_text: "a: 1\n  bad: x\n".into(),
            diagnostics: vec![Diagnostic {
                severity: Severity::Error,
                pos: Some(Pos { line: 2, column: 3 }),
                path: "a.bad".into(),
                message: "nope".into(),
                hint: Some("do this".into()),
            }],
        };
        let text = errs.render();
        assert!(
            text.starts_with("error: stack.yaml:2:3: a.bad: nope\n"),
            "{text}"
        );
        assert!(text.contains("2 |   bad: x\n  |   ^\n"), "{text}");
        assert!(text.contains("= hint: do this"), "{text}");
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("mesages", ["messages", "processor"]).as_deref(),
            Some("did you mean `messages`?")
        );
        assert_eq!(did_you_mean("zzz", ["messages"]), None);
    }
}
