//! A running `cruddur-infra dev`, its output read line by line, for the tests of the
//! local pipeline. The waits only bound a hung run; nothing is timed.

use super::cli_command;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::Child;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

/// Starting includes building the functions' bundles: on a fresh clone a cold release
/// build (minutes, and longer while other tests build too).
const STARTING: Duration = Duration::from_secs(40 * 60);
/// Any other line a test waits for.
const NEXT_LINE: Duration = Duration::from_secs(120);

pub struct Dev {
    child: Child,
    lines: Receiver<String>,
    /// Every line read so far, stdout and stderr interleaved as they arrived.
    pub seen: Vec<String>,
}

impl Dev {
    /// Runs `cruddur-infra <args> dev <dev_args>` in `cwd` and waits until it says its
    /// pollers run.
    pub fn start(args: &[&str], dev_args: &[&str], cwd: &Path) -> Dev {
        let mut all = args.to_vec();
        all.push("dev");
        all.extend_from_slice(dev_args);
        let mut child = cli_command(&all, cwd).spawn().unwrap();
        let (send, lines) = channel();
        forward(child.stdout.take().unwrap(), send.clone());
        forward(child.stderr.take().unwrap(), send);
        let mut dev = Dev {
            child,
            lines,
            seen: Vec::new(),
        };
        dev.wait_longer_for(STARTING, |l| {
            l.starts_with("dev: ") && l.contains(" running")
        });
        dev
    }

    /// The next line that `matches`, waiting up to two minutes for each line.
    pub fn wait_for(&mut self, matches: impl Fn(&str) -> bool) -> String {
        self.wait_longer_for(NEXT_LINE, matches)
    }

    /// A line that `matches`, among those already read or the next ones: for lines whose
    /// order against others is not fixed (the function's logs come on stderr, dev's
    /// batch lines on stdout).
    pub fn saw_or_wait_for(&mut self, matches: impl Fn(&str) -> bool) -> String {
        match self.seen.iter().find(|l| matches(l)) {
            Some(line) => line.clone(),
            None => self.wait_for(matches),
        }
    }

    /// The next line that `matches`, waiting up to `patience` for each line.
    pub fn wait_longer_for(
        &mut self,
        patience: Duration,
        matches: impl Fn(&str) -> bool,
    ) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(patience)
                .unwrap_or_else(|_| panic!("no such line; saw:\n{}", self.seen.join("\n")));
            self.seen.push(line.clone());
            if matches(&line) {
                return line;
            }
        }
    }

    /// Ctrl-C, as a user presses it.
    pub fn interrupt(&self) {
        let pid = self.child.id().to_string();
        let status = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Ctrl-C, as a user stops it; it must end cleanly.
    pub fn stop(self) {
        self.interrupt();
        self.ended();
    }

    /// Ctrl-C, and waits for dev to end cleanly, keeping the lines it printed.
    pub fn stop_in_place(&mut self) {
        self.interrupt();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "dev ended with {status}");
    }

    /// Waits for dev to end (after an `interrupt`); it must end cleanly.
    pub fn ended(mut self) {
        let status = self.child.wait().unwrap();
        assert!(status.success(), "dev ended with {status}");
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        // A failed test must not leave dev (and its bootstraps) running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends each line of `from` to `to` until either end closes.
fn forward(from: impl Read + Send + 'static, to: Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            if to.send(line).is_err() {
                return;
            }
        }
    });
}
