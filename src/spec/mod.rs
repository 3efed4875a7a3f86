//! The stack file: reading, environment selection, validation, references.
//!
//! `load` turns `stack.yaml` plus an environment name into a [`Stack`]: resources in
//! dependency order, every value checked. Any problem becomes a [`SpecErrors`] naming
//! file, line, column and field path; nothing here talks to AWS.

pub mod diag;
pub mod raw;
pub mod template;

use crate::graph::topological_order;
use crate::kinds::{AWS_CONTEXT, AWS_CONTEXT_ATTRIBUTES, Node, ValidateCtx};
use diag::{Diagnostic, Diags, SpecErrors, did_you_mean};
use raw::{RawEnvironment, RawFile, SpannedMap};
use serde_saphyr::{Location, Spanned};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use template::{Context, Template};

/// Stack files are small; anything bigger is a mistake (or an attack on the parser).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The environment a run works in, with its AWS settings from the stack file.
#[derive(Debug, Clone)]
pub struct Environment {
    pub name: String,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    /// A local emulator's URL (loopback): test credentials, never real ones.
    pub emulator: Option<String>,
}

/// A loaded stack: one environment's view of the file.
pub struct Stack {
    pub file: String,
    pub name: String,
    pub env: Environment,
    /// Resources in dependency order: each after everything it references.
    pub nodes: Vec<Box<dyn Node>>,
    /// Rendered warnings (wildcards in policies, ...); empty when there are none.
    pub warnings: String,
    /// Resources tagged as this stack's and environment's that no declared resource
    /// describes; found by `engine::observe`.
    pub orphans: std::sync::OnceLock<Vec<Box<dyn crate::kinds::orphan::OrphanNode>>>,
}

/// What `validate_all` checked, and what it would warn about.
pub struct Validated {
    pub environments: Vec<String>,
    pub warnings: String,
}

impl Stack {
    /// The value of the ownership tag for this stack and environment.
    pub fn owner(&self) -> String {
        format!("{}/{}", self.name, self.env.name)
    }
}

/// Loads `path` for environment `env`.
pub fn load(path: &Path, env: &str) -> Result<Stack, SpecErrors> {
    let (file, text) = read_source(path)?;
    let raw = parse(&file, &text)?;
    let mut diags = Diags::default();
    let stack = build_stack(raw, env, &file, base_dir(path), &mut diags);
    let failed = diags.has_errors();
    let report = errors(&file, &text, diags.0);
    match stack {
        Some(mut stack) if !failed => {
            stack.warnings = report.render();
            Ok(stack)
        }
        _ => Err(report),
    }
}

/// Validates `path` for every environment it declares (patterns with a sample name), so
/// an override that only breaks `prod` is caught too.
pub fn validate_all(path: &Path) -> Result<Validated, SpecErrors> {
    let (file, text) = read_source(path)?;
    let first = parse(&file, &text)?;
    let names: Vec<String> = first
        .environments
        .as_ref()
        .map(|envs| {
            envs.iter()
                .map(|(k, _)| sample_env_name(&k.value))
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        let loc = first.stack.referenced;
        let d = Diagnostic::new(&loc, "environments", "the file declares no environments")
            .hint("add `environments:` with at least one entry, e.g. `local: { emulator: http://127.0.0.1:5000 }`");
        return Err(errors(&file, &text, vec![d]));
    }
    // Each problem once, with the environments it shows up in when that is not all of them.
    let mut found: Vec<(Diagnostic, Vec<&str>)> = Vec::new();
    let mut raw = Some(first);
    for name in &names {
        // Building consumes the raw file, so each environment parses it afresh.
        let raw = match raw.take() {
            Some(r) => r,
            None => parse(&file, &text)?,
        };
        let mut diags = Diags::default();
        build_stack(raw, name, &file, base_dir(path), &mut diags);
        for d in diags.0 {
            match found
                .iter_mut()
                .find(|(e, _)| e.pos == d.pos && e.path == d.path && e.message == d.message)
            {
                Some((_, envs)) => envs.push(name),
                None => found.push((d, vec![name])),
            }
        }
    }
    let failed = found
        .iter()
        .any(|(d, _)| d.severity == diag::Severity::Error);
    let all = found
        .into_iter()
        .map(|(d, envs)| match envs.len() == names.len() {
            true => d,
            false => Diagnostic {
                message: format!("{} (environment {})", d.message, envs.join(", ")),
                ..d
            },
        })
        .collect();
    let report = errors(&file, &text, all);
    if failed {
        return Err(report);
    }
    Ok(Validated {
        environments: names,
        warnings: report.render(),
    })
}

fn errors(file: &str, text: &str, diagnostics: Vec<Diagnostic>) -> SpecErrors {
    SpecErrors {
        file: file.to_string(),
        source_text: text.to_string(),
        diagnostics,
    }
}

fn read_source(path: &Path) -> Result<(String, String), SpecErrors> {
    let file = path.display().to_string();
    let fail = |message: String, hint: &str| {
        let d = Diagnostic {
            severity: diag::Severity::Error,
            pos: None,
            path: String::new(),
            message,
            hint: Some(hint.to_string()),
        };
        errors(&file, "", vec![d])
    };
    let meta = std::fs::metadata(path).map_err(|e| {
        fail(
            format!("cannot read the stack file: {e}"),
            "pass the stack file with -f FILE (default: ./stack.yaml)",
        )
    })?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(fail(
            format!(
                "the stack file is {} bytes; the limit is {MAX_FILE_BYTES}",
                meta.len()
            ),
            "a stack file describes a handful of resources; check you passed the right file",
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        fail(
            format!("cannot read the stack file: {e}"),
            "check its permissions",
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        fail(
            format!(
                "the stack file is not UTF-8 (byte {})",
                e.utf8_error().valid_up_to()
            ),
            "save it as UTF-8",
        )
    })?;
    Ok((file, text))
}

/// YAML to the raw model, with duplicate keys and unknown fields rejected and input
/// budgets that keep a hostile file from exhausting memory or time.
fn parse(file: &str, text: &str) -> Result<RawFile, SpecErrors> {
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_documents: 1,
            max_depth: 32,
            max_nodes: 50_000,
            max_events: 200_000,
            max_aliases: 1_000,
            max_anchors: 1_000,
            max_total_scalar_bytes: MAX_FILE_BYTES as usize,
        },
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        strict_booleans: true,
        with_snippet: false,
    };
    let mut path = String::new();
    raw::reset_error_keys();
    let result = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = e.path().to_string();
            e.into_inner()
        })
    });
    result.map_err(|e| errors(file, text, vec![yaml_diagnostic(&e, &path)]))
}

fn yaml_diagnostic(e: &serde_saphyr::Error, path: &str) -> Diagnostic {
    use serde_saphyr::MessageFormatter;
    let message = diag::sanitize(&serde_saphyr::UserMessageFormatter.format_message(e));
    // serde_path_to_error records the `value` field of the position-keeping wrapper, which
    // is not part of the user's path, and `?` for map keys it could not see, which the map
    // reader kept for us.
    let mut keys = raw::error_keys().into_iter();
    let path = path
        .replace(".value[", "[")
        .split('.')
        .filter(|seg| *seg != "value")
        .filter_map(|seg| match seg {
            "?" => keys.next(),
            other => Some(other.to_string()),
        })
        .collect::<Vec<_>>()
        .join(".");
    let hint = yaml_hint(&message);
    Diagnostic {
        severity: diag::Severity::Error,
        pos: e.location().as_ref().and_then(diag::Pos::of),
        path,
        message,
        hint,
    }
}

fn yaml_hint(message: &str) -> Option<String> {
    let hint = if message.contains("unknown field") {
        "remove the field or fix its spelling; the README lists every field of each resource type"
    } else if message.contains("unknown variant") {
        "use one of the listed values (they are case-sensitive)"
    } else if message.contains("duplicate") {
        "each key may appear once in a mapping"
    } else if message.contains("missing field") {
        "add the field"
    } else if message.contains("budget") || message.contains("limit") {
        "the file is deeper or larger than a stack file needs to be"
    } else if message.contains("u64") || message.contains("i64") || message.contains("integer") {
        "expected a whole number"
    } else if message.contains("bool") {
        "expected true or false"
    } else {
        "check the YAML syntax and the value's type"
    };
    Some(hint.to_string())
}

/// Checks names of stacks and environments: lower-case letters, digits and dashes, as
/// they end up in resource names and tags.
fn valid_name(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

const MAX_STACK_NAME: usize = 64;
const MAX_ENV_NAME: usize = 32;
/// Names `${env}` / `${stack}` stand for, so no resource may take them.
const RESERVED_RESOURCE_NAMES: &[&str] = &["env", "stack", "aws"];

/// The directory paths in the stack file (a function's `code`) are relative to.
fn base_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

fn build_stack(
    raw: RawFile,
    env: &str,
    file: &str,
    base_dir: &Path,
    diags: &mut Diags,
) -> Option<Stack> {
    let stack_name = raw.stack.value.clone();
    if !valid_name(&stack_name, MAX_STACK_NAME) {
        diags.push(
            Diagnostic::new(
                &raw.stack.referenced,
                "stack",
                format!("invalid stack name `{stack_name}`"),
            )
            .hint("use 1-64 lower-case letters, digits and dashes, e.g. `cruddur`"),
        );
    }
    let (env_key, environment) =
        select_environment(raw.environments.as_ref(), env, &raw.stack, diags)?;
    let template_ctx = Context {
        env: env.to_string(),
        stack: stack_name.clone(),
    };
    // Stack-wide tags, then the environment's; each resource's own come last.
    let mut base_tags = BTreeMap::new();
    if let Some(tags) = &raw.tags {
        base_tags.extend(crate::tags::parse_user_tags(
            tags,
            &template_ctx,
            "tags",
            diags,
        ));
    }
    if let Some(tags) = raw
        .environments
        .as_ref()
        .and_then(|envs| envs.get(&env_key))
        .and_then(|e| e.value.tags.as_ref())
    {
        let path = format!("environments.{env_key}.tags");
        base_tags.extend(crate::tags::parse_user_tags(
            tags,
            &template_ctx,
            &path,
            diags,
        ));
    }
    let declared_envs: Vec<String> = raw
        .environments
        .as_ref()
        .map(|envs| envs.iter().map(|(k, _)| k.value.clone()).collect())
        .unwrap_or_default();

    let resources = raw.resources.value;
    let names: Vec<String> = resources.iter().map(|(k, _)| k.value.clone()).collect();
    if names.is_empty() {
        diags.error(
            &raw.resources.referenced,
            "resources",
            "the stack declares no resources",
        );
    }
    let mut nodes: Vec<Box<dyn Node>> = Vec::new();
    let mut locations: Vec<Location> = Vec::new();
    let names_taken = std::cell::RefCell::new(BTreeMap::new());
    for (key, resource) in resources.0 {
        let path = format!("resources.{}", key.value);
        if !valid_resource_name(&key.value) {
            diags.push(
                Diagnostic::new(&key.referenced, &path, format!("invalid resource name `{}`", key.value))
                    .hint("use lower-case letters, digits and underscores, starting with a letter (it is used in `${name.attribute}` references)"),
            );
            continue;
        }
        if RESERVED_RESOURCE_NAMES.contains(&key.value.as_str()) {
            diags.push(
                Diagnostic::new(
                    &key.referenced,
                    &path,
                    format!("`{}` is a reserved name", key.value),
                )
                .hint("`${env}` and `${stack}` are placeholders; pick another resource name"),
            );
            continue;
        }
        let cx = ValidateCtx {
            template: &template_ctx,
            path,
            loc: resource.referenced,
            resource_names: &names,
            environment: &env_key,
            declared_environments: &declared_envs,
            names_taken: &names_taken,
            base_dir,
        };
        if let Some(node) = resource.value.build(&cx, &base_tags, diags) {
            nodes.push(node);
            locations.push(key.referenced);
        }
    }
    check_references(&nodes, diags);
    if diags.has_errors() {
        return None;
    }
    let order = order_nodes(&nodes, &locations, diags)?;
    let mut slots: Vec<Option<Box<dyn Node>>> = nodes.into_iter().map(Some).collect();
    let nodes = order.into_iter().filter_map(|i| slots[i].take()).collect();
    Some(Stack {
        file: file.to_string(),
        name: stack_name,
        env: environment,
        nodes,
        warnings: String::new(),
        orphans: std::sync::OnceLock::new(),
    })
}

fn valid_resource_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Finds `env` among the declared environments: an exact name, or else the longest
/// `prefix*` pattern it matches. Returns the matching key and its settings.
fn select_environment(
    envs: Option<&SpannedMap<Spanned<RawEnvironment>>>,
    env: &str,
    stack: &Spanned<String>,
    diags: &mut Diags,
) -> Option<(String, Environment)> {
    let empty = SpannedMap::default();
    let envs = envs.unwrap_or(&empty);
    let mut keys_ok = true;
    for (key, _) in envs.iter() {
        let name = key.value.strip_suffix('*').unwrap_or(&key.value);
        if !valid_name(name, MAX_ENV_NAME) {
            keys_ok = false;
            diags.push(
                Diagnostic::new(&key.referenced, format!("environments.{}", key.value), format!("invalid environment name `{}`", key.value))
                    .hint("use 1-32 lower-case letters, digits and dashes, or a prefix pattern such as `pr-*`"),
            );
        }
    }
    let declared = || {
        envs.iter()
            .map(|(k, _)| k.value.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !valid_name(env, MAX_ENV_NAME) {
        diags.push(Diagnostic {
            severity: diag::Severity::Error,
            pos: None,
            path: "--env".into(),
            message: format!("invalid environment name `{env}`"),
            hint: Some("use 1-32 lower-case letters, digits and dashes".into()),
        });
        return None;
    }
    let chosen = envs.get(env).map(|e| (env.to_string(), e)).or_else(|| {
        envs.iter()
            .filter_map(|(k, e)| {
                let prefix = k.value.strip_suffix('*')?;
                (env.len() > prefix.len() && env.starts_with(prefix)).then_some((
                    prefix.len(),
                    k,
                    e,
                ))
            })
            .max_by_key(|(len, _, _)| *len)
            .map(|(_, k, e)| (k.value.clone(), e))
    });
    let Some((key, raw_env)) = chosen else {
        let loc = envs
            .0
            .first()
            .map(|(k, _)| k.referenced)
            .unwrap_or(stack.referenced);
        let mut d = Diagnostic::new(
            &loc,
            "environments",
            format!("environment `{env}` is not declared"),
        );
        d = match did_you_mean(env, envs.iter().map(|(k, _)| k.value.as_str())) {
            Some(h) => d.hint(h),
            None if envs.0.is_empty() => d.hint("declare it under `environments:`"),
            None => d.hint(format!("declared environments: {}", declared())),
        };
        diags.push(d);
        return None;
    };
    if !keys_ok {
        return None;
    }
    let path = format!("environments.{key}");
    let environment = environment_settings(env, &path, &raw_env.value, diags);
    Some((key, environment))
}

fn environment_settings(
    name: &str,
    path: &str,
    raw: &RawEnvironment,
    diags: &mut Diags,
) -> Environment {
    let field = |f: &str| format!("{path}.{f}");
    if let Some(region) = &raw.region
        && !valid_region(&region.value)
    {
        diags.push(
            Diagnostic::new(
                &region.referenced,
                field("region"),
                format!("invalid region `{}`", region.value),
            )
            .hint("an AWS region code such as us-east-1 or eu-west-2"),
        );
    }
    if let Some(url) = &raw.endpoint_url
        && let Err(e) = check_url(&url.value, false)
    {
        diags.push(
            Diagnostic::new(&url.referenced, field("endpoint_url"), e)
                .hint("e.g. https://dynamodb.us-east-1.amazonaws.com"),
        );
    }
    if let Some(url) = &raw.emulator {
        if let Err(e) = check_url(&url.value, true) {
            diags.push(
                Diagnostic::new(&url.referenced, field("emulator"), e)
                    .hint("the emulator runs on this machine, e.g. http://127.0.0.1:5000"),
            );
        }
        for (other, set) in [
            ("endpoint_url", raw.endpoint_url.is_some()),
            ("profile", raw.profile.is_some()),
        ] {
            if set {
                diags.push(
                    Diagnostic::new(
                        &url.referenced,
                        field("emulator"),
                        format!("`emulator` cannot be combined with `{other}`"),
                    )
                    .hint("an emulator environment uses the emulator's URL and test credentials"),
                );
            }
        }
    }
    let value = |s: &Option<Spanned<String>>| s.as_ref().map(|s| s.value.clone());
    Environment {
        name: name.to_string(),
        region: value(&raw.region),
        profile: value(&raw.profile),
        endpoint_url: value(&raw.endpoint_url),
        emulator: value(&raw.emulator),
    }
}

/// `us-east-1`, `ap-southeast-2`, `us-gov-west-1`: letters, dash-separated, then a number.
pub fn valid_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// An http(s) URL with a host; with `loopback_only`, the host must be this machine.
pub fn check_url(s: &str, loopback_only: bool) -> Result<(), String> {
    let uri: http::Uri = s.parse().map_err(|e| format!("`{s}` is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err(format!("`{s}` must start with http:// or https://")),
    }
    let host = uri.host().ok_or_else(|| format!("`{s}` has no host"))?;
    if loopback_only && !is_loopback(host) {
        return Err(format!(
            "`{s}` is not a loopback address; an emulator must run on 127.0.0.1, ::1 or localhost"
        ));
    }
    Ok(())
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A sample concrete name for an environment key, so patterns can be validated too.
fn sample_env_name(key: &str) -> String {
    match key.strip_suffix('*') {
        Some(prefix) => format!("{prefix}sample"),
        None => key.to_string(),
    }
}

/// Every `${resource.attribute}` must name a declared resource and an attribute it has.
fn check_references(nodes: &[Box<dyn Node>], diags: &mut Diags) {
    for node in nodes {
        for template in node.templates() {
            for r in template.references() {
                if r.resource == AWS_CONTEXT {
                    if !AWS_CONTEXT_ATTRIBUTES.contains(&r.attribute.as_str()) {
                        diags.push(
                            Diagnostic::new(
                                &template.loc,
                                &template.path,
                                format!("`{r}` is not a deployment value"),
                            )
                            .hint(format!(
                                "`${{aws.…}}` offers: {}",
                                AWS_CONTEXT_ATTRIBUTES.join(", ")
                            )),
                        );
                    }
                    continue;
                }
                match nodes.iter().find(|n| n.name() == r.resource) {
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
                                "references take the form ${<resource>.<attribute>}; the README lists each type's attributes",
                            ));
                        }
                    }
                }
            }
        }
    }
}

/// Dependency order; a cycle is an error pointing at a reference that closes it.
fn order_nodes(
    nodes: &[Box<dyn Node>],
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
