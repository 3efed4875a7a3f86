//! A function's log lines, printed readably. Functions log JSON when
//! `AWS_LAMBDA_LOG_FORMAT` is `JSON` (for CloudWatch Logs Insights); on a terminal that is
//! hard to read, so each JSON line becomes `LEVEL message key=value …`, dropping what
//! only a log store needs (timestamp, target, spans). Other lines are kept as they are.
//! Every line is prefixed with the function's name, as several may run at once.

use serde_json::{Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Fields a log store needs and a reader does not.
const DROPPED: [&str; 6] = ["timestamp", "time", "target", "span", "spans", "threadName"];

/// `line` as it is printed for `function`.
pub fn readable(function: &str, line: &str) -> String {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(entry)) if is_log_entry(&entry) => {
            format!("{function}: {}", json_entry(entry))
        }
        _ => format!("{function}: {line}"),
    }
}

/// A JSON object is a log entry when it says its level or carries a message; anything
/// else (a function printing its own JSON data) is printed as it is.
fn is_log_entry(entry: &Map<String, Value>) -> bool {
    entry.contains_key("level") || entry.contains_key("message") || entry.contains_key("msg")
}

fn json_entry(mut entry: Map<String, Value>) -> String {
    // tracing's JSON format nests the event's fields; AWS's own format and
    // `flatten_event` put them at the top.
    if let Some(Value::Object(fields)) = entry.remove("fields") {
        for (key, value) in fields {
            entry.entry(key).or_insert(value);
        }
    }
    let mut out = Vec::new();
    if let Some(level) = entry.remove("level") {
        out.push(text(&level).to_uppercase());
    }
    if let Some(message) = entry.remove("message").or_else(|| entry.remove("msg")) {
        out.push(text(&message));
    }
    for (key, value) in entry {
        if !DROPPED.contains(&key.as_str()) {
            out.push(format!("{key}={}", quoted(&value)));
        }
    }
    out.join(" ")
}

/// A string as it is; anything else as JSON.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A value after `key=`: bare when that stays unambiguous, else as JSON.
fn quoted(value: &Value) -> String {
    match value {
        Value::String(s) if !s.is_empty() && !s.contains([' ', '"', '=']) => s.clone(),
        other => other.to_string(),
    }
}

/// A function's last log lines, as printed: what an error about it shows.
#[derive(Clone, Default)]
pub struct Recent(std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<String>>>);

/// How many lines [`Recent`] keeps (about what Lambda's Invoke gives back with its log
/// tail, 4 KB).
const RECENT_LINES: usize = 20;

impl Recent {
    fn push(&self, line: String) {
        let mut lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if lines.len() == RECENT_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// The lines kept, oldest first, and forgets them.
    pub fn take(&self) -> Vec<String> {
        let mut lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        lines.drain(..).collect()
    }
}

/// Prints each line of `from` (a function's stdout or stderr) on this process's stderr,
/// readably, until it closes; `recent` keeps the last of them.
pub async fn forward(function: String, from: impl AsyncRead + Unpin, recent: Recent) {
    let mut lines = BufReader::new(from).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = readable(&function, &line);
        eprintln!("{line}");
        recent.push(line);
    }
}

#[cfg(test)]
mod tests {
    use super::readable;

    #[test]
    fn tracing_json_lines_become_level_message_and_fields() {
        let line = r#"{"timestamp":"2026-12-02T10:00:00.000Z","level":"INFO","fields":{"message":"moved","group":"g1","users":2},"target":"cruddur_stream_processor","span":{"requestId":"r-1","name":"Lambda runtime invoke"},"spans":[]}"#;
        assert_eq!(
            readable("processor", line),
            "processor: INFO moved group=g1 users=2"
        );
    }

    #[test]
    fn flat_json_lines_as_aws_writes_them() {
        let line = r#"{"time":"2026-12-02T10:00:00Z","level":"warn","msg":"slow","requestId":"abc","note":"two words"}"#;
        assert_eq!(
            readable("f", line),
            r#"f: WARN slow note="two words" requestId=abc"#
        );
    }

    #[test]
    fn other_lines_are_kept_as_they_are() {
        assert_eq!(readable("f", "plain text"), "f: plain text");
        assert_eq!(readable("f", r#"{"rows":3}"#), r#"f: {"rows":3}"#);
        assert_eq!(readable("f", "[1,2]"), "f: [1,2]");
        assert_eq!(readable("f", ""), "f: ");
    }
}
