//! `environments:`: choosing the environment a run works in (an exact name, or the longest
//! `prefix*` pattern it matches) and checking its AWS settings.

use crate::aws::{Settings, check_url};
use crate::spec::diag::{self, Diagnostic, Diags, did_you_mean};
use crate::spec::raw::Spanned;
use crate::spec::raw::{RawEnvironment, SpannedMap};

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

impl Environment {
    /// Where its requests go, for `aws::Aws::connect`.
    pub fn settings(&self) -> Settings {
        Settings {
            environment: self.name.clone(),
            region: self.region.clone(),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
            emulator: self.emulator.clone(),
        }
    }
}

/// Checks names of stacks and environments: lower-case letters, digits and dashes, as
/// they end up in resource names and tags.
pub fn valid_name(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

const MAX_ENV_NAME: usize = 32;

/// Finds `env` among the declared environments: an exact name, or else the longest
/// `prefix*` pattern it matches. Returns the matching key and its settings.
pub fn select(
    envs: Option<&SpannedMap<Spanned<RawEnvironment>>>,
    env: &str,
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
        // The mistake is in the command line (or CRUDDUR_ENV), not in the file: no line
        // of the file is pointed at.
        let hint = match did_you_mean(env, envs.iter().map(|(k, _)| k.value.as_str())) {
            Some(h) => h,
            None if envs.0.is_empty() => "declare it under `environments:`".into(),
            None => format!("the file declares: {}", declared()),
        };
        diags.push(Diagnostic {
            severity: diag::Severity::Error,
            pos: None,
            path: "--env".into(),
            message: format!("environment `{env}` is not declared in the stack file"),
            hint: Some(hint),
        });
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

/// A sample concrete name for an environment key, so patterns can be validated too.
pub fn sample_name(key: &str) -> String {
    match key.strip_suffix('*') {
        Some(prefix) => format!("{prefix}sample"),
        None => key.to_string(),
    }
}
