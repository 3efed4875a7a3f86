//! Strings with `${...}` placeholders.
//!
//! - `${env}` and `${stack}` are the environment and stack names, filled in as the file is
//!   loaded (so physical names are known offline);
//! - `${<resource>.<attribute>}` is another resource's attribute (`${messages.stream_arn}`),
//!   known once that resource exists; these references are the edges of the dependency graph;
//! - `$$` is a literal `$`.

use crate::spec::diag::Diagnostic;
use crate::values::{Attributes, DeploymentContext, UNKNOWN};
use serde_saphyr::Location;
use std::collections::HashMap;

/// The diagnostic for a string whose placeholders do not parse.
pub fn syntax_error(loc: &Location, path: &str, message: String) -> Diagnostic {
    Diagnostic::new(loc, path, message).hint(
        "placeholders are ${env}, ${stack} and ${<resource>.<attribute>}; write $$ for a literal $",
    )
}

/// What a reference names: `${resource.attribute}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reference {
    pub resource: String,
    pub attribute: String,
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "${{{}.{}}}", self.resource, self.attribute)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Ref(Reference),
}

/// The names `${env}` and `${stack}` stand for.
#[derive(Debug, Clone)]
pub struct Context {
    pub env: String,
    pub stack: String,
}

/// A parsed string value from the stack file, with where it was written.
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
    pub loc: Location,
    pub path: String,
}

impl Template {
    /// Parses `text`, filling in `${env}` and `${stack}`; the error says what is wrong with
    /// the placeholder syntax.
    pub fn parse(
        text: &str,
        ctx: &Context,
        loc: Location,
        path: String,
    ) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(i) = rest.find('$') {
            literal.push_str(&rest[..i]);
            rest = &rest[i..];
            if let Some(after) = rest.strip_prefix("$$") {
                literal.push('$');
                rest = after;
            } else if let Some(after) = rest.strip_prefix("${") {
                let end = after.find('}').ok_or_else(|| {
                    format!("unterminated placeholder `{rest}`: a `${{` needs a closing `}}`")
                })?;
                match parse_placeholder(&after[..end])? {
                    Placeholder::Env => literal.push_str(&ctx.env),
                    Placeholder::Stack => literal.push_str(&ctx.stack),
                    Placeholder::Ref(r) => {
                        if !literal.is_empty() {
                            parts.push(Part::Literal(std::mem::take(&mut literal)));
                        }
                        parts.push(Part::Ref(r));
                    }
                }
                rest = &after[end + 1..];
            } else {
                literal.push('$');
                rest = &rest[1..];
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template { parts, loc, path })
    }

    /// Resource references in this string, in the order written.
    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        self.parts.iter().filter_map(|p| match p {
            Part::Ref(r) => Some(r),
            _ => None,
        })
    }

    pub fn has_references(&self) -> bool {
        self.references().next().is_some()
    }

    /// The string with every reference looked up; a reference not known yet becomes
    /// [`UNKNOWN`] in place, so the rest of the string stays readable.
    pub fn render(&self, lookup: &dyn Fn(&Reference) -> Option<String>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Ref(r) => match lookup(r) {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(UNKNOWN),
                },
            }
        }
        out
    }

    /// The value when it has no resource references (physical names, for example).
    pub fn literal(&self) -> Option<String> {
        (!self.has_references()).then(|| self.render(&|_| None))
    }
}

/// What references render from: the attributes of every resource planned or applied so
/// far, by logical name, and the deployment context as `aws`.
#[derive(Debug, Default, Clone)]
pub struct Inputs(HashMap<String, Attributes>);

impl Inputs {
    /// The starting inputs: only the deployment context, when it was read.
    pub fn new(context: Option<&DeploymentContext>) -> Inputs {
        let mut inputs = Inputs::default();
        if let Some(context) = context {
            inputs.insert(DeploymentContext::NAME, context.attributes());
        }
        inputs
    }

    pub fn insert(&mut self, resource: &str, attributes: Attributes) {
        self.0.insert(resource.to_string(), attributes);
    }

    pub fn lookup(&self, r: &Reference) -> Option<String> {
        self.0
            .get(&r.resource)?
            .get(r.attribute.as_str())
            .cloned()
            .flatten()
    }

    /// `t` with its references filled in, or [`UNKNOWN`].
    pub fn render(&self, t: &Template) -> String {
        t.render(&|r| self.lookup(r))
    }
}

enum Placeholder {
    Env,
    Stack,
    Ref(Reference),
}

fn parse_placeholder(inner: &str) -> Result<Placeholder, String> {
    match inner.trim() {
        "env" => return Ok(Placeholder::Env),
        "stack" => return Ok(Placeholder::Stack),
        _ => {}
    }
    let Some((resource, attribute)) = inner.split_once('.') else {
        return Err(format!(
            "`${{{inner}}}` is not a placeholder: use `${{env}}`, `${{stack}}` or `${{<resource>.<attribute>}}`"
        ));
    };
    let ident = |s: &str| {
        !s.is_empty()
            && s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    if !ident(resource) || !ident(attribute) {
        return Err(format!(
            "`${{{inner}}}` is not a valid reference: expected `${{<resource>.<attribute>}}` with lower-case names"
        ));
    }
    Ok(Placeholder::Ref(Reference {
        resource: resource.into(),
        attribute: attribute.into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Template, String> {
        let ctx = Context {
            env: "prod".into(),
            stack: "cruddur".into(),
        };
        Template::parse(s, &ctx, Location::UNKNOWN, "p".into())
    }

    #[test]
    fn context_names_are_filled_in() {
        let t = parse("${stack}-messages-${env}").unwrap();
        assert_eq!(t.literal().as_deref(), Some("cruddur-messages-prod"));
    }

    #[test]
    fn references_render_or_unknown() {
        let t = parse("arn=${messages.stream_arn}/x $$HOME").unwrap();
        let refs: Vec<_> = t.references().map(|r| r.to_string()).collect();
        assert_eq!(refs, ["${messages.stream_arn}"]);
        assert_eq!(t.render(&|_| Some("A".into())), "arn=A/x $HOME");
        assert_eq!(t.render(&|_| None), format!("arn={UNKNOWN}/x $HOME"));
        assert_eq!(t.literal(), None);
    }

    #[test]
    fn bad_placeholders() {
        assert!(parse("${messages").unwrap_err().contains("unterminated"));
        assert!(parse("${foo}").unwrap_err().contains("not a placeholder"));
        assert!(
            parse("${Messages.arn}")
                .unwrap_err()
                .contains("not a valid reference")
        );
        assert!(
            parse("${a.}")
                .unwrap_err()
                .contains("not a valid reference")
        );
        assert_eq!(
            parse("cost $5").unwrap().literal().as_deref(),
            Some("cost $5")
        );
    }
}
