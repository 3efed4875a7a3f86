//! `release:` of a `lambda_function` (see `kinds::function::release`), as written and
//! validated: the live alias its mappings invoke, how many versions are kept, the check a
//! new version passes before traffic, and the canary and bake that follow.

use crate::spec::diag::{Diagnostic, Diags};
use crate::spec::fields::{IntRule, ValidateCtx};
use crate::spec::raw::Spanned;
use serde::Deserialize;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

/// `release:` as written.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Release")]
pub struct RawRelease {
    /// The alias the stack's mappings invoke (default `live`): letters, digits, `-`, `_`,
    /// not only digits.
    #[serde(default)]
    alias: Option<Spanned<String>>,
    /// Published versions kept (default 3); one an alias points at is always kept.
    #[serde(default)]
    #[schemars(range(min = 1, max = 100))]
    keep_versions: Option<Spanned<i64>>,
    /// A DynamoDB stream event (a JSON file, relative to the stack file) the new version
    /// must process, within its timeout and with no batch item failures, before the alias
    /// moves to it.
    #[serde(default)]
    check: Option<Spanned<String>>,
    /// Send part of the traffic to the new version first: `{ weight: 10%, for: 5m }`.
    #[serde(default)]
    canary: Option<Spanned<RawCanary>>,
    /// After the alias moved, watch the function's alarms this long (`30s`, `5m`, `1h`):
    /// one that goes to ALARM moves the alias back.
    #[serde(default)]
    bake: Option<Spanned<String>>,
}

/// `canary:` as written.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Canary")]
pub struct RawCanary {
    /// The new version's share of invocations, `1%` to `99%`.
    #[serde(default)]
    weight: Option<Spanned<String>>,
    /// How long, watching the alarms, before all traffic moves (`30s`, `5m`).
    #[serde(default, rename = "for")]
    for_: Option<Spanned<String>>,
}

/// A validated `release:`.
#[derive(Debug, Clone)]
pub struct Release {
    pub alias: String,
    pub keep_versions: usize,
    pub check: Option<CheckEvent>,
    pub canary: Option<Canary>,
    /// Zero: no bake.
    pub bake: Duration,
}

/// The event a new version is checked with.
#[derive(Debug, Clone)]
pub struct CheckEvent {
    /// As written in the file, for messages.
    pub file: String,
    pub event: Value,
}

#[derive(Debug, Clone, Copy)]
pub struct Canary {
    /// Percent of invocations, 1 to 99.
    pub weight: u8,
    pub duration: Duration,
}

impl Release {
    /// The longest the release waits by design after the alias first moves: what must fit
    /// in one step's wait timeout.
    pub fn watched_for(&self) -> Duration {
        self.canary.map_or(Duration::ZERO, |c| c.duration) + self.bake
    }
}

pub const DEFAULT_ALIAS: &str = "live";
const KEEP_VERSIONS: IntRule = IntRule::range(
    1..=100,
    3,
    "how many published versions are kept (one an alias points at is always kept)",
);
/// A bake or canary of more than a day is a deploy nobody waits for.
const LONGEST_WATCH: Duration = Duration::from_secs(24 * 3600);

/// `30s`, `5m`, `1h` (a number and its unit).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    Some(Duration::from_secs(seconds))
}

/// Lambda's alias names: 1-128 of letters, digits, `-` and `_`, not only digits (those
/// name versions); `$LATEST` is not an alias.
fn alias_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > 128 {
        return Some("an alias name is 1 to 128 characters");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Some("an alias name is letters, digits, `-` and `_`");
    }
    if name.chars().all(|c| c.is_ascii_digit()) {
        return Some("a name of only digits is a version number, not an alias");
    }
    None
}

/// What is wrong with `event` as a DynamoDB stream event as Lambda delivers one, if
/// anything.
pub fn stream_event_problem(event: &Value) -> Option<String> {
    let Some(records) = event.get("Records").and_then(Value::as_array) else {
        return Some("it has no `Records` array".into());
    };
    if records.is_empty() {
        return Some("its `Records` array is empty".into());
    }
    for (i, record) in records.iter().enumerate() {
        let n = i + 1;
        if record.get("eventSource").and_then(Value::as_str) != Some("aws:dynamodb") {
            return Some(format!(
                "record {n} is not from DynamoDB (`eventSource` is not `aws:dynamodb`)"
            ));
        }
        let name = record.get("eventName").and_then(Value::as_str);
        if !matches!(name, Some("INSERT" | "MODIFY" | "REMOVE")) {
            return Some(format!(
                "record {n}'s `eventName` is not INSERT, MODIFY or REMOVE"
            ));
        }
        if !record
            .get("dynamodb")
            .and_then(|d| d.get("Keys"))
            .is_some_and(Value::is_object)
        {
            return Some(format!("record {n} has no `dynamodb.Keys` object"));
        }
    }
    None
}

fn duration_field(
    value: &Spanned<String>,
    field: String,
    range: (Duration, Duration),
    diags: &mut Diags,
) -> Option<Duration> {
    let hint = "a number and its unit: `30s`, `5m` or `1h`";
    match parse_duration(&value.value) {
        None => {
            diags.push(
                Diagnostic::new(
                    &value.referenced,
                    field,
                    format!("`{}` is not a duration", value.value),
                )
                .hint(hint),
            );
            None
        }
        Some(d) if d < range.0 || d > range.1 => {
            diags.push(
                Diagnostic::new(
                    &value.referenced,
                    field,
                    format!(
                        "{} is out of range ({}s to {}h)",
                        value.value,
                        range.0.as_secs(),
                        range.1.as_secs() / 3600
                    ),
                )
                .hint(hint),
            );
            None
        }
        Some(d) => Some(d),
    }
}

fn canary(raw: &Spanned<RawCanary>, cx: &ValidateCtx, diags: &mut Diags) -> Option<Canary> {
    let field = |name: &str| format!("{}.release.canary.{name}", cx.path);
    let weight = match &raw.value.weight {
        None => {
            diags.push(
                Diagnostic::new(&raw.referenced, field("weight"), "missing field `weight`")
                    .hint("the new version's share of invocations, e.g. `weight: 10%`"),
            );
            None
        }
        Some(w) => {
            let number = w.value.trim().strip_suffix('%').unwrap_or(w.value.trim());
            match number.parse::<u8>() {
                Ok(n) if (1..=99).contains(&n) => Some(n),
                _ => {
                    diags.push(
                        Diagnostic::new(
                            &w.referenced,
                            field("weight"),
                            format!("weight `{}` is out of range (1% to 99%)", w.value),
                        )
                        .hint("a whole percent of invocations for the new version, e.g. `10%`; 100% is what the release does after the canary"),
                    );
                    None
                }
            }
        }
    };
    let duration = match &raw.value.for_ {
        None => {
            diags.push(
                Diagnostic::new(&raw.referenced, field("for"), "missing field `for`")
                    .hint("how long the canary runs, e.g. `for: 5m`"),
            );
            None
        }
        Some(d) => duration_field(
            d,
            field("for"),
            (Duration::from_secs(1), LONGEST_WATCH),
            diags,
        ),
    };
    Some(Canary {
        weight: weight?,
        duration: duration?,
    })
}

fn check(raw: &Spanned<String>, cx: &ValidateCtx, diags: &mut Diags) -> Option<CheckEvent> {
    let field = format!("{}.release.check", cx.path);
    let path: PathBuf = cx.base_dir.join(&raw.value);
    let problem = match std::fs::read_to_string(&path) {
        Err(e) => format!("cannot read {}: {e}", raw.value),
        Ok(text) => match serde_json::from_str::<Value>(&text) {
            Err(e) => format!("{} is not JSON: {e}", raw.value),
            Ok(event) => match stream_event_problem(&event) {
                None => {
                    return Some(CheckEvent {
                        file: raw.value.clone(),
                        event,
                    });
                }
                Some(why) => format!("{} is not a DynamoDB stream event: {why}", raw.value),
            },
        },
    };
    diags.push(
        Diagnostic::new(&raw.referenced, field, problem).hint(
            "a JSON file, relative to the stack file, shaped as Lambda delivers stream records: \
             {\"Records\": [{\"eventSource\": \"aws:dynamodb\", \"eventName\": \"INSERT\", \"dynamodb\": {\"Keys\": …}}]}",
        ),
    );
    None
}

impl RawRelease {
    pub fn validate(&self, cx: &ValidateCtx, diags: &mut Diags) -> Option<Release> {
        let start = diags.mark();
        let alias = match &self.alias {
            None => DEFAULT_ALIAS.to_string(),
            Some(a) => {
                if let Some(problem) = alias_problem(&a.value) {
                    diags.push(
                        Diagnostic::new(
                            &a.referenced,
                            format!("{}.release.alias", cx.path),
                            format!("invalid alias name `{}`: {problem}", a.value),
                        )
                        .hint("e.g. `alias: live`"),
                    );
                }
                a.value.clone()
            }
        };
        let keep = KEEP_VERSIONS.read(
            self.keep_versions.as_ref(),
            format!("{}.release.keep_versions", cx.path),
            diags,
        );
        let check = self.check.as_ref().and_then(|c| check(c, cx, diags));
        let canary = self.canary.as_ref().and_then(|c| canary(c, cx, diags));
        let bake = match &self.bake {
            None => Some(Duration::ZERO),
            Some(b) => duration_field(
                b,
                format!("{}.release.bake", cx.path),
                (Duration::ZERO, LONGEST_WATCH),
                diags,
            ),
        };
        diags.clean_since(start)?;
        Some(Release {
            alias,
            keep_versions: keep as usize,
            check,
            canary,
            bake: bake?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations_are_a_number_and_a_unit() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration("5 minutes"), None);
    }

    #[test]
    fn alias_names_follow_lambdas_rule() {
        assert_eq!(alias_problem("live"), None);
        assert_eq!(alias_problem("blue-green_2"), None);
        assert!(alias_problem("7").is_some());
        assert!(alias_problem("$LATEST").is_some());
        assert!(alias_problem("").is_some());
        assert!(alias_problem(&"a".repeat(129)).is_some());
    }

    #[test]
    fn a_stream_event_has_dynamodb_records_with_keys() {
        let record =
            json!({"eventSource": "aws:dynamodb", "eventName": "INSERT", "dynamodb": {"Keys": {}}});
        assert_eq!(stream_event_problem(&json!({"Records": [record]})), None);
        assert!(stream_event_problem(&json!({"Records": []})).is_some());
        assert!(stream_event_problem(&json!({"detail": {}})).is_some());
        let sqs = json!({"Records": [{"eventSource": "aws:sqs", "body": "x"}]});
        assert!(
            stream_event_problem(&sqs)
                .unwrap()
                .contains("not from DynamoDB")
        );
    }
}
