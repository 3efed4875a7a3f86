//! The stack file: reading, environment selection, validation, references.
//!
//! `load` turns `stack.yaml` plus an environment name into a [`Stack`]: resources in
//! dependency order, every value checked. Any problem becomes a [`SpecErrors`] naming
//! file, line, column and field path; nothing here talks to AWS.
//!
//! What a resource of each kind looks like is not known here: the loader is given the
//! kinds' [`Declaration`] (the raw form of any resource) and builds what it returns.

pub mod arn;
pub mod arn_checks;
pub mod condition;
pub mod diag;
pub mod environment;
pub mod fields;
pub mod network;
pub mod policy;
pub mod raw;
pub mod references;
pub mod release;
pub mod stack;
pub mod tags;
pub mod template;
pub mod yaml;

pub use stack::{Declaration, Resource, Stack, Validated};

use diag::{Diagnostic, Diags, SpecErrors};
use fields::ValidateCtx;
use raw::RawFile;
use serde_saphyr::Location;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use template::Context;

/// Loads `path` for environment `env`.
pub fn load<D: Declaration>(path: &Path, env: &str) -> Result<Stack<D::Resource>, SpecErrors> {
    let (file, text) = yaml::read_source(path)?;
    load_text::<D>(&file, &text, env, base_dir(path))
}

/// Loads the stack file `text` (named `file` in messages) for environment `env`; relative
/// paths in it start at `base_dir`. Reads no file but a function's sources.
///
/// The file is one configuration: an error in any environment it declares stops a run of
/// every environment (as Terraform refuses an invalid configuration wherever the error
/// is), so a typo in `prod` is found by the first `plan --env dev`, not by the deploy.
pub fn load_text<D: Declaration>(
    file: &str,
    text: &str,
    env: &str,
    base_dir: &Path,
) -> Result<Stack<D::Resource>, SpecErrors> {
    let raw = yaml::parse::<D>(file, text)?;
    let mut diags = Diags::default();
    let stack = build_stack(raw, env, file, base_dir, &mut diags);
    let failed = diags.has_errors();
    let report = yaml::errors(file, text, diags.0);
    match stack {
        Some(mut stack) if !failed => {
            check_all::<D>(file, text, base_dir)?;
            stack.warnings = report.render();
            Ok(stack)
        }
        _ => Err(report),
    }
}

/// Validates `path` for every environment it declares (patterns with a sample name), so
/// an override that only breaks `prod` is caught too.
pub fn validate_all<D: Declaration>(path: &Path) -> Result<Validated, SpecErrors> {
    let (file, text) = yaml::read_source(path)?;
    check_all::<D>(&file, &text, base_dir(path))
}

/// Every environment of the file built and checked; each problem once, with the
/// environments it shows up in when that is not all of them.
fn check_all<D: Declaration>(
    file: &str,
    text: &str,
    base_dir: &Path,
) -> Result<Validated, SpecErrors> {
    let first = yaml::parse::<D>(file, text)?;
    let names: Vec<String> = first
        .environments
        .as_ref()
        .map(|envs| {
            envs.iter()
                .map(|(k, _)| environment::sample_name(&k.value))
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        let loc = first.stack.referenced;
        let d = Diagnostic::new(&loc, "environments", "the file declares no environments")
            .hint("add `environments:` with at least one entry, e.g. `local: { emulator: http://127.0.0.1:5000 }`");
        return Err(yaml::errors(file, text, vec![d]));
    }
    let mut found: Vec<(Diagnostic, Vec<&str>)> = Vec::new();
    let mut raw = Some(first);
    for name in &names {
        // Building consumes the raw file, so each environment parses it afresh.
        let raw = match raw.take() {
            Some(r) => r,
            None => yaml::parse::<D>(file, text)?,
        };
        let mut diags = Diags::default();
        build_stack(raw, name, file, base_dir, &mut diags);
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
    let report = yaml::errors(file, text, all);
    if failed {
        return Err(report);
    }
    Ok(Validated {
        environments: names,
        warnings: report.render(),
    })
}

const MAX_STACK_NAME: usize = 64;
/// Names `${env}` / `${stack}` / `${aws.*}` stand for, so no resource may take them.
const RESERVED_RESOURCE_NAMES: &[&str] = &["env", "stack", "aws"];

/// The directory paths in the stack file (a function's `code`) are relative to.
fn base_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

fn build_stack<D: Declaration>(
    raw: RawFile<D>,
    env: &str,
    file: &str,
    base_dir: &Path,
    diags: &mut Diags,
) -> Option<Stack<D::Resource>> {
    let stack_name = raw.stack.value.clone();
    if !environment::valid_name(&stack_name, MAX_STACK_NAME) {
        diags.push(
            Diagnostic::new(
                &raw.stack.referenced,
                "stack",
                format!("invalid stack name `{stack_name}`"),
            )
            .hint("use 1-64 lower-case letters, digits and dashes, e.g. `cruddur`"),
        );
    }
    let (env_key, environment) = environment::select(raw.environments.as_ref(), env, diags)?;
    let template_ctx = Context {
        env: env.to_string(),
        stack: stack_name.clone(),
    };
    // Stack-wide tags, then the environment's; each resource's own come last.
    let mut base_tags = BTreeMap::new();
    if let Some(tags) = &raw.tags {
        base_tags.extend(tags::parse(tags, &template_ctx, "tags", diags));
    }
    if let Some(tags) = raw
        .environments
        .as_ref()
        .and_then(|envs| envs.get(&env_key))
        .and_then(|e| e.value.tags.as_ref())
    {
        let path = format!("environments.{env_key}.tags");
        base_tags.extend(tags::parse(tags, &template_ctx, &path, diags));
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
    let mut nodes: Vec<D::Resource> = Vec::new();
    let mut locations: Vec<Location> = Vec::new();
    let names_taken = RefCell::new(BTreeMap::new());
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
    references::check(&nodes, &names, diags);
    if !diags.has_errors() {
        arn_checks::check(&nodes, diags);
    }
    if diags.has_errors() {
        return None;
    }
    let order = references::order(&nodes, &locations, diags)?;
    let mut slots: Vec<Option<D::Resource>> = nodes.into_iter().map(Some).collect();
    let nodes = order.into_iter().filter_map(|i| slots[i].take()).collect();
    Some(Stack {
        file: file.to_string(),
        name: stack_name,
        env: environment,
        nodes,
        warnings: String::new(),
    })
}

fn valid_resource_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
