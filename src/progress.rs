//! Progress of apply and destroy: on stderr, an indicatif spinner per resource with its
//! state and elapsed time on a terminal, plain timestamped lines otherwise (CI logs); or,
//! with `--output json`, one JSON [`Event`] a line on stdout, for CI systems that
//! annotate runs (`cruddur-infra schema progress` is their schema).

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// Spinners, on a terminal.
    Spinners,
    /// A line per change of state (CI logs).
    Lines,
    /// JSON events on stdout.
    Json,
}

/// One thing that happened during apply or destroy, as `--output json` prints it: a line
/// of JSON, `event` first. Times are milliseconds since the resource's step began (for
/// `plan` and `summary`: since the run began).
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// What is about to be carried out: the plan, as `plan --output json` prints it.
    Plan { plan: serde_json::Value },
    /// A resource's step began: `resource` is `<type>.<name>` (an orphan's, with
    /// ` (orphan)`), `action` what it does (creating, updating, destroying, ...).
    Started {
        resource: String,
        action: String,
        elapsed_ms: u64,
    },
    /// It moved on to another state (waiting for ACTIVE, tagging, ...).
    State {
        resource: String,
        state: String,
        elapsed_ms: u64,
    },
    /// It is done: `message` says how (created, updated, destroyed).
    Done {
        resource: String,
        message: String,
        elapsed_ms: u64,
    },
    /// A backup was kept of it before it was deleted (a table holding items): its ARN.
    Kept {
        resource: String,
        backup_arn: String,
        elapsed_ms: u64,
    },
    /// It failed; `error` says why.
    Failed {
        resource: String,
        error: String,
        elapsed_ms: u64,
    },
    /// The run ended: what was done, and what failed or did not start.
    Summary {
        operation: String,
        added: usize,
        changed: usize,
        replaced: usize,
        destroyed: usize,
        failed: Vec<String>,
        not_started: Vec<String>,
        /// The backups kept before tables were deleted (their ARNs); empty when none was.
        backups_kept: Vec<String>,
        elapsed_ms: u64,
    },
}

impl Event {
    /// Prints it, a line of JSON on stdout (one write, so concurrent steps never mix).
    pub fn print(&self) {
        // Plain data: it always serializes.
        println!("{}", serde_json::to_string(self).unwrap_or_default());
    }
}

/// The JSON Schema of `--output json`'s events.
pub fn schema() -> schemars::Schema {
    schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<Event>()
}

fn millis(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

pub struct Progress {
    /// `None` when stderr is not a terminal: plain lines instead of spinners.
    multi: Option<MultiProgress>,
    json: bool,
    /// The backups kept so far (see [`Tracker::kept`]), shared with the trackers.
    kept: std::sync::Arc<Mutex<Vec<String>>>,
}

impl Progress {
    pub fn new(display: Display) -> Progress {
        Progress {
            multi: (display == Display::Spinners)
                .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            json: display == Display::Json,
            kept: Default::default(),
        }
    }

    /// The backups kept in this run, by ARN.
    pub fn backups_kept(&self) -> Vec<String> {
        self.kept.lock().expect("progress lock").clone()
    }

    /// Starts tracking one resource's change, e.g. `dynamodb_table.messages`, `creating`.
    pub fn start(&self, label: String, doing: &str) -> Tracker {
        let bar = self.multi.as_ref().map(|multi| {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner:.cyan} {prefix:.bold} {wide_msg} [{elapsed}]",
                )
                .expect("valid template"),
            );
            bar.set_prefix(label.clone());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let tracker = Tracker {
            bar,
            label,
            started: Instant::now(),
            last: Mutex::new(String::new()),
            json: self.json,
            kept: self.kept.clone(),
        };
        if self.json {
            Event::Started {
                resource: tracker.label.clone(),
                action: doing.to_string(),
                elapsed_ms: 0,
            }
            .print();
            *tracker.last.lock().expect("progress lock") = doing.to_string();
        } else {
            tracker.status(doing);
        }
        tracker
    }
}

/// One resource's line of progress.
pub struct Tracker {
    bar: Option<ProgressBar>,
    label: String,
    started: Instant,
    /// Last status printed, so plain output gets a line per change of state, not per poll.
    last: Mutex<String>,
    json: bool,
    kept: std::sync::Arc<Mutex<Vec<String>>>,
}

impl Tracker {
    /// A tracker that shows nothing (for callers without a terminal or log to report to).
    pub fn quiet() -> Tracker {
        Tracker {
            bar: Some(ProgressBar::hidden()),
            label: String::new(),
            started: Instant::now(),
            last: Mutex::new(String::new()),
            json: false,
            kept: Default::default(),
        }
    }

    /// Says that a backup `arn` was kept of this resource before it was deleted.
    pub fn kept(&self, arn: &str) {
        self.kept
            .lock()
            .expect("progress lock")
            .push(arn.to_string());
        match self.json {
            true => self.emit(|resource, elapsed_ms| Event::Kept {
                resource,
                backup_arn: arn.to_string(),
                elapsed_ms,
            }),
            false => self.status(format!("kept a backup: {arn}")),
        }
    }

    pub fn status(&self, message: impl AsRef<str>) {
        let message = message.as_ref();
        if let Some(bar) = &self.bar {
            return bar.set_message(message.to_string());
        }
        // Lines and events: one per change of state, not per poll.
        let mut last = self.last.lock().expect("progress lock");
        if *last == message {
            return;
        }
        *last = message.to_string();
        match self.json {
            true => self.emit(|resource, elapsed_ms| Event::State {
                resource,
                state: message.to_string(),
                elapsed_ms,
            }),
            false => eprintln!("{}: {message} [{}]", self.label, elapsed(self.started)),
        }
    }

    pub fn finish(&self, message: &str) {
        if self.json {
            return self.emit(|resource, elapsed_ms| Event::Done {
                resource,
                message: message.to_string(),
                elapsed_ms,
            });
        }
        self.end(format!("✓ {message} in {}", elapsed(self.started)));
    }

    pub fn fail(&self, error: &str) {
        if self.json {
            return self.emit(|resource, elapsed_ms| Event::Failed {
                resource,
                error: error.to_string(),
                elapsed_ms,
            });
        }
        self.end(format!("✗ failed after {}: {error}", elapsed(self.started)));
    }

    /// Prints the event `make` builds from this resource's label and elapsed time.
    fn emit(&self, make: impl FnOnce(String, u64) -> Event) {
        make(self.label.clone(), millis(self.started)).print();
    }

    fn end(&self, line: String) {
        match &self.bar {
            Some(bar) => {
                bar.set_style(
                    ProgressStyle::with_template("{prefix:.bold} {wide_msg}")
                        .expect("valid template"),
                );
                bar.finish_with_message(line);
            }
            None => eprintln!("{}: {line}", self.label),
        }
    }
}

fn elapsed(since: Instant) -> String {
    format!("{:.1}s", since.elapsed().as_secs_f64())
}
