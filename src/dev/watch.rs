//! `dev` watching each function's package: a save that changes what the build reads
//! (the same inputs as the plan's code hash, `bundle::input_hash`) is reported once,
//! debounced, naming the inputs whose content changed; saves that change nothing (a
//! `touch`, an editor's swap file, the build's own output under `target/`) are not.

use crate::bundle::{self, Source};
use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// How long the files must be quiet before a change counts: an editor's save, or a
/// `git checkout`, is one change.
const QUIET: Duration = Duration::from_millis(300);

/// A function whose package is watched.
struct Watched {
    /// Its name under `resources:`.
    name: String,
    source: Source,
    /// Each input's digest at the last change reported (or at the start).
    digests: BTreeMap<String, String>,
}

pub struct Watcher {
    watched: Vec<Watched>,
    debouncers: Vec<Debouncer<RecommendedWatcher>>,
    /// The index into `watched` of a package where files changed. The sender is kept so
    /// that `changed` waits (rather than ends) when nothing is watched.
    send: UnboundedSender<usize>,
    events: UnboundedReceiver<usize>,
}

/// One change to a function's package.
pub struct Change {
    /// The function's name under `resources:`.
    pub name: String,
    /// The inputs whose content changed, appeared or went: files relative to the package.
    pub inputs: Vec<String>,
}

impl Default for Watcher {
    fn default() -> Self {
        let (send, events) = unbounded_channel();
        Watcher {
            watched: Vec::new(),
            debouncers: Vec::new(),
            send,
            events,
        }
    }
}

impl Watcher {
    /// Starts watching the package of function `name`.
    pub fn add(&mut self, name: &str, source: Source) -> anyhow::Result<()> {
        let index = self.watched.len();
        let digests = bundle::input_digests(&source.package, source.architecture)?;
        let send = self.send.clone();
        let package = source.package.clone();
        let mut debouncer = new_debouncer(QUIET, move |events: DebounceEventResult| {
            match events {
                // The build's own writes alone are not worth reading the package for.
                Ok(events) if !events.iter().any(|e| bundle::is_input(&package, &e.path)) => {}
                Ok(_) => {
                    let _ = send.send(index);
                }
                Err(e) => eprintln!("dev: watching {}: {e}", package.display()),
            }
        })?;
        debouncer
            .watcher()
            .watch(&source.package, RecursiveMode::Recursive)?;
        self.debouncers.push(debouncer);
        self.watched.push(Watched {
            name: name.to_string(),
            source,
            digests,
        });
        Ok(())
    }

    /// The next change that alters a function's build inputs.
    pub async fn changed(&mut self) -> Change {
        loop {
            let Some(index) = self.events.recv().await else {
                return std::future::pending().await;
            };
            let watched = &mut self.watched[index];
            let source = &watched.source;
            let digests = match bundle::input_digests(&source.package, source.architecture) {
                Ok(digests) => digests,
                // Mid-save (a file renamed away for a moment): the next event tells.
                Err(_) => continue,
            };
            let inputs = changed_inputs(&watched.digests, &digests);
            if inputs.is_empty() {
                continue;
            }
            watched.digests = digests;
            return Change {
                name: watched.name.clone(),
                inputs,
            };
        }
    }
}

/// The inputs whose digest differs between `before` and `after`, or that are in only one.
fn changed_inputs(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Vec<String> {
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    names
        .into_iter()
        .filter(|name| before.get(*name) != after.get(*name))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::changed_inputs;
    use std::collections::BTreeMap;

    #[test]
    fn changed_inputs_are_those_edited_added_or_removed() {
        let map = |entries: &[(&str, &str)]| -> BTreeMap<String, String> {
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let before = map(&[
            ("Cargo.toml", "1"),
            ("src/main.rs", "2"),
            ("src/old.rs", "3"),
        ]);
        let after = map(&[
            ("Cargo.toml", "1"),
            ("src/main.rs", "9"),
            ("src/new.rs", "4"),
        ]);
        assert_eq!(
            changed_inputs(&before, &after),
            ["src/main.rs", "src/new.rs", "src/old.rs"]
        );
        assert!(changed_inputs(&before, &before).is_empty());
    }
}
