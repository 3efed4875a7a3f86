//! What every resource kind's validation shares: where the resource is declared, the
//! fields every kind has (`overrides`, `depends_on`, `tags`), and checks of common field
//! shapes (names, integers in a range, strings with references).

use crate::spec::diag::{Diagnostic, Diags, did_you_mean};
use crate::spec::raw::RawBody;
use crate::spec::raw::Spanned;
use crate::spec::template::{Context, Template, syntax_error};
use serde_saphyr::Location;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::Path;

/// Where a resource is declared, for the kind's validation messages.
pub struct ValidateCtx<'a> {
    pub template: &'a Context,
    /// Field path of the resource, e.g. `resources.messages`.
    pub path: String,
    pub loc: Location,
    /// Every resource's logical name, for `depends_on` checks.
    pub resource_names: &'a [String],
    /// The `environments:` key selected (`prod`, or the pattern `pr-*`).
    pub environment: &'a str,
    pub declared_environments: &'a [String],
    /// Physical names claimed so far, by kind of name (`table`, `role`, ...): two logical
    /// resources with one AWS name would fight over one resource.
    pub names_taken: &'a RefCell<BTreeMap<(&'static str, String), String>>,
    /// The stack file's directory: relative paths in it (a function's `code`) start here.
    pub base_dir: &'a Path,
}

impl ValidateCtx<'_> {
    pub fn field(&self, name: &str) -> String {
        format!("{}.{name}", self.path)
    }

    /// The logical name: the last part of the path.
    pub fn name(&self) -> String {
        self.path.rsplit('.').next().unwrap_or_default().to_string()
    }

    /// Reports a required field that is missing, with what to write.
    pub fn require<'v, T>(
        &self,
        value: Option<&'v T>,
        field: &str,
        hint: &str,
        diags: &mut Diags,
    ) -> Option<&'v T> {
        if value.is_none() {
            diags.push(
                Diagnostic::new(
                    &self.loc,
                    self.field(field),
                    format!("missing field `{field}`"),
                )
                .hint(hint),
            );
        }
        value
    }
}

/// What the loader reads from every resource, whatever its kind.
pub struct Common {
    /// Logical names it depends on besides its references (`depends_on`).
    pub depends_on: Vec<String>,
    /// Its own `tags:` (the stack's and the environment's come first).
    pub tags: BTreeMap<String, Template>,
}

/// Applies the environment's override to `raw` and reads the fields every kind has;
/// problems go to `diags`.
pub fn common<R: RawBody>(mut raw: R, cx: &ValidateCtx, diags: &mut Diags) -> (R, Common) {
    if let Some(mut overrides) = raw.take_overrides() {
        for (key, _) in overrides.iter() {
            if !cx.declared_environments.contains(&key.value) {
                let d = Diagnostic::new(
                    &key.referenced,
                    format!("{}.overrides.{}", cx.path, key.value),
                    format!(
                        "override for environment `{}`, which is not declared",
                        key.value
                    ),
                );
                let hint = did_you_mean(
                    &key.value,
                    cx.declared_environments.iter().map(String::as_str),
                )
                .unwrap_or_else(|| {
                    format!(
                        "declared environments: {}",
                        cx.declared_environments.join(", ")
                    )
                });
                diags.push(d.hint(hint));
            }
        }
        if let Some(mut patch) = overrides.remove(cx.environment) {
            let path = format!("{}.overrides.{}", cx.path, cx.environment);
            if patch.value.take_overrides().is_some() {
                diags.error(
                    &patch.referenced,
                    &path,
                    "an override cannot have overrides of its own",
                );
            }
            if let Some(deps) = patch.value.depends_on() {
                diags.push(
                    Diagnostic::new(
                        &deps.referenced,
                        format!("{path}.depends_on"),
                        "depends_on cannot be overridden per environment",
                    )
                    .hint("declare depends_on on the resource itself"),
                );
            }
            raw = raw.overlay(patch.value);
        }
    }
    let mut depends_on = Vec::new();
    if let Some(deps) = raw.depends_on() {
        for dep in &deps.value {
            if cx.resource_names.contains(&dep.value) {
                depends_on.push(dep.value.clone());
            } else {
                let hint = did_you_mean(&dep.value, cx.resource_names.iter().map(String::as_str))
                    .unwrap_or_else(|| "list logical names of resources in this file".into());
                diags.push(
                    Diagnostic::new(
                        &dep.referenced,
                        cx.field("depends_on"),
                        format!("`{}` is not a declared resource", dep.value),
                    )
                    .hint(hint),
                );
            }
        }
    }
    let tags = match raw.take_tags() {
        Some(map) => crate::spec::tags::parse(&map, cx.template, &cx.field("tags"), diags),
        None => BTreeMap::new(),
    };
    (raw, Common { depends_on, tags })
}

/// A string field that may hold references (`${messages.arn}`), parsed; a placeholder
/// syntax error is reported in `diags`.
pub fn template_field(
    s: &Spanned<String>,
    cx: &ValidateCtx,
    field: String,
    diags: &mut Diags,
) -> Option<Template> {
    Template::parse(&s.value, cx.template, s.referenced, field.clone())
        .map_err(|e| diags.push(syntax_error(&s.referenced, &field, e)))
        .ok()
}

/// An integer field's rule: the values AWS takes (said in the message as they are
/// checked), the value when the field is left out, and what the values mean.
pub struct IntRule {
    allowed: Allowed,
    default: i64,
    hint: &'static str,
}

enum Allowed {
    Range(RangeInclusive<i64>),
    /// Any other rule, and how it is said.
    Other(fn(i64) -> bool, &'static str),
}

impl IntRule {
    pub const fn range(allowed: RangeInclusive<i64>, default: i64, hint: &'static str) -> Self {
        Self {
            allowed: Allowed::Range(allowed),
            default,
            hint,
        }
    }

    /// A rule that is not one range: `ok` checks it, `says` says it.
    pub const fn other(
        ok: fn(i64) -> bool,
        says: &'static str,
        default: i64,
        hint: &'static str,
    ) -> Self {
        Self {
            allowed: Allowed::Other(ok, says),
            default,
            hint,
        }
    }

    /// The field's value, or the default when it is left out or refused (then reported in
    /// `diags` at `field`).
    pub fn read(&self, value: Option<&Spanned<i64>>, field: String, diags: &mut Diags) -> i64 {
        let Some(v) = value else {
            return self.default;
        };
        let (ok, says) = match &self.allowed {
            Allowed::Range(range) => (
                range.contains(&v.value),
                format!("{}-{}", range.start(), range.end()),
            ),
            Allowed::Other(ok, says) => (ok(v.value), says.to_string()),
        };
        if ok {
            return v.value;
        }
        diags.push(
            Diagnostic::new(
                &v.referenced,
                field,
                format!("{} is out of range ({says})", v.value),
            )
            .hint(self.hint),
        );
        self.default
    }
}

/// How a kind names its resources in AWS, for [`physical_name`]: AWS's rule as data, so
/// the check and the hint that states it are made from one description and cannot disagree.
pub struct NameRules {
    /// `table`, `role`: used in messages.
    pub what: &'static str,
    /// A name to show when none is given.
    example: Option<&'static str>,
    /// How many characters a name has.
    length: RangeInclusive<usize>,
    chars: NameChars,
    /// What the rule leaves out, said after it (e.g. FIFO queues).
    note: Option<&'static str>,
    /// Whether AWS takes `Foo` and `foo` for one name (IAM does).
    pub ignores_case: bool,
}

/// The characters a name may use.
enum NameChars {
    /// ASCII letters and digits, and these.
    LettersDigitsAnd(&'static str),
    /// Anything printable (no control characters).
    Printable,
}

impl NameRules {
    /// Names of `length` characters among ASCII letters, digits and those in `others`.
    pub const fn letters_digits_and(
        what: &'static str,
        length: RangeInclusive<usize>,
        others: &'static str,
    ) -> Self {
        Self::new(what, length, NameChars::LettersDigitsAnd(others))
    }

    /// Names of `length` characters, any but control characters.
    pub const fn printable(what: &'static str, length: RangeInclusive<usize>) -> Self {
        Self::new(what, length, NameChars::Printable)
    }

    const fn new(what: &'static str, length: RangeInclusive<usize>, chars: NameChars) -> Self {
        Self {
            what,
            example: None,
            length,
            chars,
            note: None,
            ignores_case: false,
        }
    }

    pub const fn example(self, example: &'static str) -> Self {
        Self {
            example: Some(example),
            ..self
        }
    }

    pub const fn note(self, note: &'static str) -> Self {
        Self {
            note: Some(note),
            ..self
        }
    }

    pub const fn ignoring_case(self) -> Self {
        Self {
            ignores_case: true,
            ..self
        }
    }

    /// Whether AWS takes `name`.
    pub fn allows(&self, name: &str) -> bool {
        let chars_ok = match self.chars {
            NameChars::LettersDigitsAnd(others) => name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || others.contains(c)),
            NameChars::Printable => !name.chars().any(char::is_control),
        };
        chars_ok && self.length.contains(&name.chars().count())
    }

    /// The rule, said plainly: `1-80 characters: letters, digits, `-` and `_``.
    pub fn says(&self) -> String {
        let length = format!("{}-{} characters", self.length.start(), self.length.end());
        let chars = match self.chars {
            NameChars::LettersDigitsAnd(others) => {
                let quoted: Vec<String> = others.chars().map(|c| format!("`{c}`")).collect();
                match quoted.split_last() {
                    Some((last, [])) => format!(": letters, digits and {last}"),
                    Some((last, rest)) => {
                        format!(": letters, digits, {} and {last}", rest.join(", "))
                    }
                    None => ": letters and digits".into(),
                }
            }
            NameChars::Printable => ", no control characters".into(),
        };
        match self.note {
            Some(note) => format!("{length}{chars} ({note})"),
            None => format!("{length}{chars}"),
        }
    }
}

/// The resource's `name:`: required; `${env}` and `${stack}` allowed, references not (a name
/// must be known before anything exists); checked against AWS's rules.
pub fn physical_name(
    name: Option<&Spanned<String>>,
    rules: &NameRules,
    cx: &ValidateCtx,
    diags: &mut Diags,
) -> Option<String> {
    let field = cx.field("name");
    let Some(n) = name else {
        diags.push(
            Diagnostic::new(&cx.loc, &field, "missing field `name`").hint(match rules.example {
                Some(example) => format!("the {}'s name in AWS, e.g. `{example}`", rules.what),
                None => format!("the {}'s name in AWS", rules.what),
            }),
        );
        return None;
    };
    let template = match Template::parse(&n.value, cx.template, n.referenced, field.clone()) {
        Ok(t) => t,
        Err(e) => {
            diags.push(syntax_error(&n.referenced, &field, e));
            return None;
        }
    };
    match template.literal() {
        None => {
            diags.push(
                Diagnostic::new(&n.referenced, &field, format!("a {} name cannot reference another resource", rules.what))
                    .hint("names may use ${env} and ${stack} only, so they are known before anything exists"),
            );
            None
        }
        Some(name) if !rules.allows(&name) => {
            diags.push(
                Diagnostic::new(
                    &n.referenced,
                    &field,
                    format!("invalid {} name `{name}`", rules.what),
                )
                .hint(rules.says()),
            );
            None
        }
        Some(name) => {
            let mut taken = cx.names_taken.borrow_mut();
            let key = if rules.ignores_case {
                name.to_lowercase()
            } else {
                name.clone()
            };
            if let Some(other) = taken.get(&(rules.what, key.clone())) {
                diags.push(
                    Diagnostic::new(
                        &n.referenced,
                        &field,
                        format!(
                            "{} name `{name}` is also the name of {other}{}",
                            rules.what,
                            if rules.ignores_case { " (AWS ignores case in these names)" } else { "" }
                        ),
                    )
                    .hint("each resource needs its own name in AWS; two resources with one name would fight over it"),
                );
                return None;
            }
            taken.insert((rules.what, key), cx.path.clone());
            Some(name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{IntRule, NameRules};
    use crate::spec::diag::Diags;
    use crate::spec::raw::Spanned;
    use serde_saphyr::Location;

    #[test]
    fn an_integer_rule_takes_what_it_allows_and_says_its_range_when_it_refuses() {
        let rule = IntRule::range(1..=900, 3, "seconds");
        let written = |value| Spanned {
            value,
            referenced: Location::UNKNOWN,
        };
        let mut diags = Diags::default();
        assert_eq!(rule.read(None, "f.timeout".into(), &mut diags), 3);
        assert_eq!(
            rule.read(Some(&written(900)), "f.timeout".into(), &mut diags),
            900
        );
        assert!(!diags.has_errors());
        assert_eq!(
            rule.read(Some(&written(901)), "f.timeout".into(), &mut diags),
            3
        );
        let said = &diags.0[0];
        assert_eq!(said.path, "f.timeout");
        assert_eq!(said.message, "901 is out of range (1-900)");
        assert_eq!(said.hint.as_deref(), Some("seconds"));
        let other = IntRule::other(|n| n % 60 == 0, "a multiple of 60", 60, "seconds");
        assert_eq!(other.read(Some(&written(61)), "p".into(), &mut diags), 60);
        assert_eq!(diags.0[1].message, "61 is out of range (a multiple of 60)");
    }

    #[test]
    fn a_name_rule_checks_and_says_the_same_limits() {
        let queues = NameRules::letters_digits_and("queue", 1..=80, "-_").note("no FIFO");
        assert!(queues.allows("cruddur-failures_dev"));
        assert!(!queues.allows("cruddur.fifo"));
        assert!(!queues.allows(""));
        assert!(!queues.allows(&"q".repeat(81)));
        assert_eq!(
            queues.says(),
            "1-80 characters: letters, digits, `-` and `_` (no FIFO)"
        );
        let alarms = NameRules::printable("alarm", 1..=255);
        assert!(alarms.allows("Errors > 0 (processor)"));
        assert!(!alarms.allows("tab\there"));
        assert_eq!(alarms.says(), "1-255 characters, no control characters");
        let one = NameRules::letters_digits_and("thing", 3..=5, "_");
        assert_eq!(one.says(), "3-5 characters: letters, digits and `_`");
    }
}
