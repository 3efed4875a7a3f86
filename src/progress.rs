//! Progress of apply and destroy, on stderr: an indicatif spinner per resource with its
//! state and elapsed time on a terminal, plain timestamped lines otherwise (CI logs).

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Progress {
    /// `None` when stderr is not a terminal: plain lines instead of spinners.
    multi: Option<MultiProgress>,
}

impl Progress {
    pub fn new(interactive: bool) -> Progress {
        Progress {
            multi: interactive
                .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
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
        };
        tracker.status(doing);
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
}

impl Tracker {
    /// A tracker that shows nothing (for callers without a terminal or log to report to).
    pub fn quiet() -> Tracker {
        Tracker {
            bar: Some(ProgressBar::hidden()),
            label: String::new(),
            started: Instant::now(),
            last: Mutex::new(String::new()),
        }
    }

    pub fn status(&self, message: impl AsRef<str>) {
        let message = message.as_ref();
        match &self.bar {
            Some(bar) => bar.set_message(message.to_string()),
            None => {
                let mut last = self.last.lock().expect("progress lock");
                if *last != message {
                    eprintln!("{}: {message} [{}]", self.label, elapsed(self.started));
                    *last = message.to_string();
                }
            }
        }
    }

    pub fn finish(&self, message: &str) {
        self.end(format!("✓ {message} in {}", elapsed(self.started)));
    }

    pub fn fail(&self, error: &str) {
        self.end(format!("✗ failed after {}: {error}", elapsed(self.started)));
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
