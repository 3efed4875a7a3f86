//! Bundles built ahead of the resources that upload them. A cold build of a function takes
//! minutes, and the function can only be created once its role (and network) exist; so
//! every build a plan needs starts as soon as the plan is carried out, beside the table,
//! role and endpoint, and the function picks its bundle up when it gets there.

use crate::bundle::{self, Bundle, Source};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;
use tokio::task::JoinHandle;

/// A finished build: the bundle, and the input hash it was built from (taken before the
/// build started, so a file saved during the build makes the next plan build again).
pub type Built = anyhow::Result<(Bundle, String)>;

/// One build started ahead.
struct Started {
    /// The `--stats` step it is reported as (see [`crate::stats::step`]).
    step: String,
    task: JoinHandle<Built>,
}

/// The builds started ahead, by package and architecture.
#[derive(Default)]
pub struct Prebuilds {
    started: Mutex<HashMap<(PathBuf, bundle::Architecture), Started>>,
}

impl Prebuilds {
    /// Starts building `source` in the background, once per package and architecture;
    /// `after` is the step it waits for in `--stats`' critical path.
    pub fn start(&self, source: &Source, after: &str) {
        let key = (source.package.clone(), source.architecture);
        let mut started = self.started.lock().unwrap();
        if started.contains_key(&key) {
            return;
        }
        let step = format!("build {}", source.package.display());
        let (source, recorded, after) = (source.clone(), step.clone(), after.to_string());
        let task = tokio::spawn(async move {
            let began = Instant::now();
            let built = build(&source).await;
            crate::stats::step(&recorded, &[after], began, Instant::now());
            built
        });
        started.insert(key, Started { step, task });
    }

    /// The build of `source` started ahead, if any, with its step's name: the caller awaits
    /// it. Taken once; a second function on the same package builds again (cargo finds
    /// nothing to do).
    pub fn take(&self, source: &Source) -> Option<(String, JoinHandle<Built>)> {
        let key = (source.package.clone(), source.architecture);
        let started = self.started.lock().unwrap().remove(&key)?;
        Some((started.step, started.task))
    }

    /// The step name of the build of `source` started ahead, if any.
    pub fn step_of(&self, source: &Source) -> Option<String> {
        let key = (source.package.clone(), source.architecture);
        let started = self.started.lock().unwrap();
        started.get(&key).map(|s| s.step.clone())
    }
}

impl Drop for Prebuilds {
    /// A build nobody took (its function's dependency failed) is stopped with the run.
    fn drop(&mut self) {
        for (_, started) in self.started.get_mut().unwrap().drain() {
            started.task.abort();
        }
    }
}

/// Builds `source` now: the input hash, then the bundle.
pub async fn build(source: &Source) -> Built {
    let hash = bundle::input_hash(&source.package, source.architecture)?;
    let built = bundle::build(
        &source.package,
        source.architecture,
        &source.runtime,
        bundle::CargoOutput::Kept,
    )
    .await?;
    Ok((built, hash))
}
