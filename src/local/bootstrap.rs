//! A bundle's `bootstrap`, unzipped and started as Lambda starts it: a clean environment
//! with the Runtime API's address, the function's name, memory and version, a region and
//! credentials, then the function's own variables.

use super::logs;
use super::runtime_api::RuntimeApi;
use anyhow::{Context, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// Unzips the bundle's `bootstrap` into `dir` (which must exist): it must be the only
/// entry, and executable. Its path.
pub fn extract(zip: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    let file = std::fs::File::open(zip).with_context(|| format!("opening {}", zip.display()))?;
    let mut archive =
        zip::ZipArchive::new(file).with_context(|| format!("reading {}", zip.display()))?;
    if archive.len() != 1 {
        bail!(
            "{} holds {} entries; a bundle holds only bootstrap",
            zip.display(),
            archive.len()
        );
    }
    let mut entry = archive
        .by_name("bootstrap")
        .with_context(|| format!("{} has no bootstrap", zip.display()))?;
    if entry.unix_mode().map(|m| m & 0o777) != Some(0o755) {
        bail!(
            "the bootstrap in {} is not executable (mode 755)",
            zip.display()
        );
    }
    // Written beside and renamed over: a bootstrap still running from this path keeps its
    // file (writing into it would fail with "text file busy"). The file written is this
    // extraction's own: another process extracting the same bundle at once (tests, a
    // `dev` beside an `apply`) must not hold open for writing what this one renames into
    // place and starts, which fails with the same error.
    static EXTRACTIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = EXTRACTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join("bootstrap");
    let fresh = dir.join(format!(".bootstrap.{}.{n}", std::process::id()));
    let mut out =
        std::fs::File::create(&fresh).with_context(|| format!("writing {}", fresh.display()))?;
    std::io::copy(&mut entry, &mut out)?;
    drop(out);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o755))?;
    std::fs::rename(&fresh, &path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(path)
}

/// One build of a function, ready to start: its `bootstrap`, what Lambda tells it, and
/// its own environment variables.
pub struct Launch {
    pub executable: PathBuf,
    pub lambda: LambdaEnvironment,
    pub environment: BTreeMap<String, String>,
}

/// What Lambda's environment holds besides the function's own variables.
pub struct LambdaEnvironment {
    pub function_name: String,
    pub memory_mb: i64,
    pub region: String,
    /// Where the function's AWS calls go (the emulator), when not AWS itself.
    pub endpoint_url: Option<String>,
}

impl LambdaEnvironment {
    fn variables(&self, api: &RuntimeApi) -> Vec<(String, String)> {
        let mut v = vec![
            ("AWS_LAMBDA_RUNTIME_API".into(), api.address.clone()),
            (
                "AWS_LAMBDA_FUNCTION_NAME".into(),
                self.function_name.clone(),
            ),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
                self.memory_mb.to_string(),
            ),
            ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
            ("AWS_REGION".into(), self.region.clone()),
            ("AWS_DEFAULT_REGION".into(), self.region.clone()),
            // The emulator takes any credentials; these never reach AWS (the endpoint is
            // the emulator's).
            ("AWS_ACCESS_KEY_ID".into(), "test".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
        ];
        if let Some(url) = &self.endpoint_url {
            v.push(("AWS_ENDPOINT_URL".into(), url.clone()));
        }
        v
    }
}

/// A running bootstrap; killed when dropped.
pub struct Bootstrap {
    child: tokio::process::Child,
    /// Its last log lines.
    pub recent: logs::Recent,
}

impl Bootstrap {
    /// Starts the executable at `path` against `api`. Its stdout and stderr (the
    /// function's logs) go to this process's stderr, readably (`super::logs`).
    pub fn spawn(launch: &Launch, api: &RuntimeApi) -> anyhow::Result<Bootstrap> {
        let Launch {
            executable: path,
            lambda,
            environment,
        } = launch;
        let mut child = tokio::process::Command::new(path)
            .env_clear()
            .envs(lambda.variables(api))
            .envs(environment)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", path.display()))?;
        // Both to stderr: stdout is the command's own answer (invoke's response).
        let name = &lambda.function_name;
        let recent = logs::Recent::default();
        if let Some(out) = child.stdout.take() {
            tokio::spawn(logs::forward(name.clone(), out, recent.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(logs::forward(name.clone(), err, recent.clone()));
        }
        Ok(Bootstrap { child, recent })
    }

    /// Waits for the process to end (a crash: a bootstrap serves until it is killed).
    pub async fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        self.child.wait().await
    }

    /// Ends the process (to run a new build) and waits for it.
    pub async fn stop(&mut self) -> std::io::Result<()> {
        self.child.kill().await
    }
}
