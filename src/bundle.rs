//! Building and zipping a Rust Lambda function for the `provided.*` runtimes.
//!
//! The zip holds one entry, the executable, named `bootstrap`, with a fixed timestamp, fixed
//! permissions and fixed compression, so the same executable always gives the same zip and
//! so the same CodeSha256 (cargo-lambda's zips record file mtimes, so every build of theirs
//! redeploys). Before zipping, the executable's glibc symbol versions are checked against
//! the runtime's glibc: a binary linked on a newer system fails at start-up on Lambda with
//! a loader error nobody sees until the first invocation.
//!
//! Whether the code changed is decided without building: [`input_hash`] hashes what the
//! build reads (the package's files, the workspace's Cargo.lock and Cargo.toml, the target
//! and the profile) and the deployed function carries that hash as a tag.

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Lambda's instruction set architectures and the Rust targets that build for them.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    X86_64,
    Arm64,
}

impl Architecture {
    pub fn rust_target(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64-unknown-linux-gnu",
            Architecture::Arm64 => "aarch64-unknown-linux-gnu",
        }
    }

    pub fn lambda_name(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }

    fn elf_machine(self) -> object::elf::Machine {
        match self {
            Architecture::X86_64 => object::elf::EM_X86_64,
            Architecture::Arm64 => object::elf::EM_AARCH64,
        }
    }
}

/// The newest glibc each OS-only runtime ships (AWS's runtime documentation): an executable
/// may need no newer symbol version than this.
pub fn runtime_glibc(runtime: &str) -> Option<(u32, u32)> {
    match runtime {
        "provided.al2023" => Some((2, 34)),
        "provided.al2" => Some((2, 26)),
        _ => None,
    }
}

/// The cargo profile the function is built with; with [`PROFILE_SETTINGS`], part of the
/// input hash.
const PROFILE: &str = "lambda";

/// The profile's settings, given to cargo as `--config`, so any package builds small
/// whatever its own manifest says (a workspace's `[profile.lambda]`, if any, is
/// overridden). Measured on `lambda/` (docs/measured.md): a whole-program LTO in one
/// codegen unit, stripped symbols and `opt-level = "z"` halve the executable; `panic =
/// "abort"` drops the unwinding tables (a panic then ends the process: Lambda reports the
/// invocation as failed and starts a new one, as for any crash).
const PROFILE_SETTINGS: &[&str] = &[
    "profile.lambda.inherits=\"release\"",
    "profile.lambda.lto=\"fat\"",
    "profile.lambda.codegen-units=1",
    "profile.lambda.strip=true",
    "profile.lambda.opt-level=\"z\"",
    "profile.lambda.panic=\"abort\"",
];
/// Bumped when the way a bundle is made changes, so old hashes no longer match.
const BUNDLE_FORMAT: &str = "cruddur-infra bundle 2";
/// The tag on the deployed function that carries [`input_hash`].
pub const CODE_HASH_TAG: &str = "cruddur-infra:code-hash";
/// The tag carrying the CodeSha256 of the code the tool uploaded: when Lambda reports
/// another, the code was changed outside the tool.
pub const CODE_SHA_TAG: &str = "cruddur-infra:code-sha256";

/// What `cruddur-infra build` builds for one function resource.
#[derive(Debug, Clone)]
pub struct Source {
    pub package: PathBuf,
    pub architecture: Architecture,
    pub runtime: String,
}

/// A built function, ready to upload.
#[derive(Debug)]
pub struct Bundle {
    pub zip: Vec<u8>,
    /// Base64 SHA-256 of the zip, as Lambda reports it in CodeSha256.
    pub code_sha256: String,
    pub zip_path: PathBuf,
    /// The newest glibc version the executable needs, if it links glibc at all.
    pub glibc: Option<(u32, u32)>,
}

/// SHA-256 (hex) of everything the build of `package_dir` reads that can change the
/// executable: every file of the package (but `target/` and hidden entries), the
/// workspace's Cargo.lock and root Cargo.toml (dependency versions, profiles), the target
/// triple and the profile. Cheap enough to run on every plan; needs no Rust toolchain.
pub fn input_hash(package_dir: &Path, architecture: Architecture) -> anyhow::Result<String> {
    let mut hasher = Sha256::new();
    each_input(package_dir, architecture, |label, bytes| {
        // Length-prefixed, so no two different inputs hash the same stream of bytes.
        hasher.update((label.len() as u64).to_le_bytes());
        hasher.update(label.as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    })?;
    Ok(hex(&hasher.finalize()))
}

/// The same inputs as [`input_hash`], one SHA-256 (hex) each, by name: `src/main.rs` for
/// a file of the package, `Cargo.lock (workspace)` for the workspace's files, and the
/// build settings under their own names. Two of these tell which inputs a change touched.
pub fn input_digests(
    package_dir: &Path,
    architecture: Architecture,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut digests = BTreeMap::new();
    each_input(package_dir, architecture, |label, bytes| {
        let name = match label.split_once(':') {
            Some(("file", relative)) => relative.to_string(),
            Some(("workspace", file)) => format!("{file} (workspace)"),
            _ => format!("({label})"),
        };
        digests.insert(name, hex(&Sha256::digest(bytes)));
    })?;
    Ok(digests)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hands each input of the build to `feed` as (label, bytes), always in the same order.
fn each_input(
    package_dir: &Path,
    architecture: Architecture,
    mut feed: impl FnMut(&str, &[u8]),
) -> anyhow::Result<()> {
    let manifest = package_dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!(
            "{} is not a cargo package (no Cargo.toml there)",
            package_dir.display()
        );
    }
    let mut files = Vec::new();
    collect_files(package_dir, package_dir, &mut files)?;
    files.sort();
    feed("format", BUNDLE_FORMAT.as_bytes());
    feed("target", architecture.rust_target().as_bytes());
    feed("profile", PROFILE.as_bytes());
    for setting in PROFILE_SETTINGS {
        feed("profile setting", setting.as_bytes());
    }
    for relative in &files {
        let bytes = std::fs::read(package_dir.join(relative))
            .with_context(|| format!("reading {}", package_dir.join(relative).display()))?;
        feed(&format!("file:{relative}"), &bytes);
    }
    if let Some(root) = workspace_root(package_dir) {
        for name in ["Cargo.lock", "Cargo.toml"] {
            let path = root.join(name);
            if path != manifest && path.is_file() {
                feed(&format!("workspace:{name}"), &std::fs::read(&path)?);
            }
        }
    }
    Ok(())
}

/// Whether `path`, in the package at `package`, can be an input of its build: not under
/// its `target/` (the build's output) and not a hidden entry (`.git`, editor files).
pub fn is_input(package: &Path, path: &Path) -> bool {
    let relative = path.strip_prefix(package).unwrap_or(path);
    let mut parts = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy());
    !(parts.clone().any(|p| p.starts_with('.'))
        || parts.next().is_some_and(|first| first == "target"))
}

/// Relative paths (with `/`) of the files under `dir`, skipping build output and hidden
/// entries (`.git`, editor files), which do not change the executable.
fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        if !is_input(root, &path) {
            continue;
        }
        if entry.file_type()?.is_dir() {
            collect_files(root, &path, out)?;
        } else {
            let relative = path.strip_prefix(root).expect("under root");
            out.push(
                relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/"),
            );
        }
    }
    Ok(())
}

/// The nearest directory at or above `package_dir` holding a Cargo.lock: the workspace
/// root for a member package.
fn workspace_root(package_dir: &Path) -> Option<PathBuf> {
    let start = package_dir.canonicalize().ok()?;
    start
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .map(Path::to_path_buf)
}

/// What becomes of cargo's own output while it builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CargoOutput {
    /// On the tool's stderr (`build`, `invoke`: the build is what the user is waiting on).
    Shown,
    /// Kept, and shown only if the build fails (`apply`: its progress lines are the
    /// user's view, and cargo's would be mixed into them).
    Kept,
}

/// Builds `package_dir` with the `lambda` profile for `architecture`, checks the executable fits
/// `runtime`, and zips it as `bootstrap` next to the build output.
pub async fn build(
    package_dir: &Path,
    architecture: Architecture,
    runtime: &str,
    cargo_output: CargoOutput,
) -> anyhow::Result<Bundle> {
    let target = architecture.rust_target();
    check_target_installed(target).await?;
    let (binary_name, target_dir) = locate_binary(package_dir).await?;
    let mut command = tokio::process::Command::new(cargo());
    command
        .arg("build")
        .args(["--profile", PROFILE])
        .args(
            PROFILE_SETTINGS
                .iter()
                .flat_map(|setting| ["--config", setting]),
        )
        .arg("--locked")
        .arg("--manifest-path")
        .arg(package_dir.join("Cargo.toml"))
        .args(["--bin", &binary_name, "--target", target])
        .stdout(std::process::Stdio::null())
        .stderr(match cargo_output {
            CargoOutput::Shown => std::process::Stdio::inherit(),
            CargoOutput::Kept => std::process::Stdio::piped(),
        })
        // A run that stops (a failure elsewhere, Ctrl-C) stops its build with it.
        .kill_on_drop(true);
    let out = command
        .output()
        .await
        .context("running cargo (is the Rust toolchain installed?)")?;
    let said = String::from_utf8_lossy(&out.stderr);
    tracing::debug!(cargo = %said, "cargo build");
    if !out.status.success() {
        match cargo_output {
            CargoOutput::Shown => bail!(
                "cargo build of {} failed ({}); its errors are above",
                package_dir.display(),
                out.status
            ),
            CargoOutput::Kept => bail!(
                "cargo build of {} failed ({}):\n{}",
                package_dir.display(),
                out.status,
                said.trim_end()
            ),
        }
    }
    let binary = target_dir.join(target).join(PROFILE).join(&binary_name);
    let executable =
        std::fs::read(&binary).with_context(|| format!("reading {}", binary.display()))?;
    let glibc = check_executable(&executable, architecture, runtime)
        .with_context(|| format!("checking {}", binary.display()))?;
    let zip = zip_bootstrap(&executable)?;
    if let Some(problem) = package_size_problem(zip.len(), executable.len()) {
        bail!("{}: {problem}", binary.display());
    }
    let zip_path = target_dir
        .join("lambda")
        .join(format!("{binary_name}-{}.zip", architecture.lambda_name()));
    std::fs::create_dir_all(zip_path.parent().expect("has a parent"))?;
    // Written aside, then renamed: another run reading the zip (`dev`, a parallel apply of
    // the same package) sees the old one or the new one, never half of one.
    let partial = zip_path.with_extension(format!("zip.{}.partial", std::process::id()));
    std::fs::write(&partial, &zip).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, &zip_path)
        .with_context(|| format!("moving the zip to {}", zip_path.display()))?;
    Ok(Bundle {
        code_sha256: code_sha256(&zip),
        zip,
        zip_path,
        glibc,
    })
}

/// Lambda's quotas on a deployment package uploaded through the API: 50 MB zipped,
/// 250 MB unzipped (Lambda quotas). Known only once built, so checked before the upload
/// rather than at load.
const MAX_ZIPPED: usize = 50 * 1024 * 1024;
const MAX_UNZIPPED: usize = 250 * 1024 * 1024;

/// Why Lambda would refuse a package of `zipped` bytes holding `unzipped` bytes, if it would.
fn package_size_problem(zipped: usize, unzipped: usize) -> Option<String> {
    if zipped > MAX_ZIPPED {
        Some(format!(
            "the zip is {zipped} bytes and Lambda takes at most {MAX_ZIPPED} through its API; \
             trim dependencies or features"
        ))
    } else if unzipped > MAX_UNZIPPED {
        Some(format!(
            "the bootstrap is {unzipped} bytes unzipped and Lambda allows {MAX_UNZIPPED}; \
             trim dependencies or features"
        ))
    } else {
        None
    }
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Refuses early, with the commands that fix it, when the Rust standard library for the
/// target is missing (rustup installs only the host's by default).
async fn check_target_installed(target: &str) -> anyhow::Result<()> {
    let out = tokio::process::Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .await
        .context("running rustc (is the Rust toolchain installed?)")?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if sysroot.join("lib/rustlib").join(target).is_dir() {
        return Ok(());
    }
    let arm = target.starts_with("aarch64");
    bail!(
        "the Rust target {target} is not installed in this toolchain ({}). Add it with \
         `rustup target add {target}`{}; or build for the other architecture",
        sysroot.display(),
        if arm {
            ", and a linker for it (e.g. Debian's gcc-aarch64-linux-gnu, with \
             CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc)"
        } else {
            ""
        }
    )
}

/// The package's executable name and the target directory cargo builds into.
async fn locate_binary(package_dir: &Path) -> anyhow::Result<(String, PathBuf)> {
    let manifest = package_dir.join("Cargo.toml");
    let manifest_for_task = manifest.clone();
    let metadata = tokio::task::spawn_blocking(move || {
        cargo_metadata::MetadataCommand::new()
            .manifest_path(&manifest_for_task)
            .no_deps()
            .exec()
    })
    .await?
    .with_context(|| format!("reading the cargo metadata of {}", manifest.display()))?;
    let manifest = manifest.canonicalize()?;
    let package = metadata
        .packages
        .iter()
        .find(|p| p.manifest_path.as_std_path() == manifest)
        .with_context(|| format!("no package at {}", manifest.display()))?;
    let bins: Vec<&str> = package
        .targets
        .iter()
        .filter(|t| t.is_bin())
        .map(|t| t.name.as_str())
        .collect();
    match bins.as_slice() {
        [bin] => Ok((
            bin.to_string(),
            metadata.target_directory.clone().into_std_path_buf(),
        )),
        [] => bail!(
            "package {} has no binary target; a Lambda function needs a `main`",
            package.name
        ),
        _ => bail!(
            "package {} has several binaries ({}); keep the function in a package of its own",
            package.name,
            bins.join(", ")
        ),
    }
}

/// Checks that `executable` is an ELF for `architecture` and that the glibc versions it
/// needs exist on `runtime`. Returns the newest glibc version it needs.
pub fn check_executable(
    executable: &[u8],
    architecture: Architecture,
    runtime: &str,
) -> anyhow::Result<Option<(u32, u32)>> {
    use object::elf::FileHeader64;
    use object::read::elf::FileHeader;
    let header = FileHeader64::<object::Endianness>::parse(executable)
        .map_err(|e| anyhow::anyhow!("not a 64-bit ELF executable: {e}"))?;
    let endian = header
        .endian()
        .map_err(|e| anyhow::anyhow!("bad ELF header: {e}"))?;
    let machine = header.e_machine(endian);
    if machine != architecture.elf_machine() {
        bail!(
            "the executable is built for another machine (ELF e_machine {machine:?}) than {}",
            architecture.lambda_name()
        );
    }
    let needed = glibc_versions(header, endian, executable)
        .map_err(|e| anyhow::anyhow!("reading the ELF version needs: {e}"))?;
    let newest = needed.iter().max().copied();
    if let (Some(newest), Some(limit)) = (newest, runtime_glibc(runtime))
        && newest > limit
    {
        let symbols: Vec<String> = needed
            .iter()
            .filter(|v| **v > limit)
            .map(|(a, b)| format!("GLIBC_{a}.{b}"))
            .collect();
        bail!(
            "the executable needs glibc {}.{} ({}), but {runtime} has glibc {}.{}: it would \
             fail to start on Lambda. Build on a system with glibc {}.{} or older (e.g. an \
             Amazon Linux 2023 container), or link statically (target x86_64-unknown-linux-musl)",
            newest.0,
            newest.1,
            symbols.join(", "),
            limit.0,
            limit.1,
            limit.0,
            limit.1
        );
    }
    Ok(newest)
}

/// The `GLIBC_x.y` versions in the executable's version-needs section.
fn glibc_versions(
    header: &object::elf::FileHeader64<object::Endianness>,
    endian: object::Endianness,
    data: &[u8],
) -> object::read::Result<Vec<(u32, u32)>> {
    use object::read::elf::FileHeader;
    let sections = header.sections(endian, data)?;
    let mut versions = Vec::new();
    let Some((mut needs, link)) = sections.gnu_verneed(endian, data)? else {
        return Ok(versions); // static, or no versioned symbols
    };
    let strings = sections.strings(endian, data, link)?;
    while let Some((_, mut aux)) = needs.next()? {
        while let Some(version) = aux.next()? {
            let name = String::from_utf8_lossy(version.name(endian, strings)?).into_owned();
            if let Some(v) = parse_glibc_version(&name) {
                versions.push(v);
            }
        }
    }
    versions.sort();
    versions.dedup();
    Ok(versions)
}

/// `GLIBC_2.34` → (2, 34); `GLIBC_2.2.5` → (2, 2); other names (`GLIBC_PRIVATE`) → None.
fn parse_glibc_version(name: &str) -> Option<(u32, u32)> {
    let mut parts = name.strip_prefix("GLIBC_")?.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The zip Lambda expects: one entry `bootstrap`, executable. Everything that could vary
/// between two runs (timestamp, permissions, compression level, extra fields) is fixed.
pub fn zip_bootstrap(executable: &[u8]) -> anyhow::Result<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o755);
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer.start_file("bootstrap", options)?;
    writer.write_all(executable)?;
    Ok(writer.finish()?.into_inner())
}

/// Base64 SHA-256, the form of Lambda's CodeSha256.
pub fn code_sha256(zip: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(zip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_output_and_hidden_entries_are_not_inputs() {
        let package = Path::new("/work/fn");
        let input = |path: &str| is_input(package, Path::new(path));
        assert!(!input("/work/fn/target/release/fn"));
        assert!(!input("/work/fn/src/.main.rs.swp"));
        assert!(!input("/work/fn/.git/index"));
        assert!(input("/work/fn/src/main.rs"));
        assert!(input("/work/fn/src/target.rs"));
        assert!(input("/work/fn/Cargo.toml"));
    }

    #[test]
    fn packages_over_lambdas_quotas_are_refused() {
        assert_eq!(package_size_problem(2_500_000, 6_000_000), None);
        assert!(
            package_size_problem(MAX_ZIPPED + 1, MAX_ZIPPED + 1)
                .unwrap()
                .contains("Lambda takes at most 52428800")
        );
        assert!(
            package_size_problem(MAX_ZIPPED, MAX_UNZIPPED + 1)
                .unwrap()
                .contains("Lambda allows 262144000")
        );
        assert_eq!(package_size_problem(MAX_ZIPPED, MAX_UNZIPPED), None);
    }

    #[test]
    fn glibc_version_names() {
        assert_eq!(parse_glibc_version("GLIBC_2.34"), Some((2, 34)));
        assert_eq!(parse_glibc_version("GLIBC_2.2.5"), Some((2, 2)));
        assert_eq!(parse_glibc_version("GLIBC_PRIVATE"), None);
        assert_eq!(parse_glibc_version("GCC_3.0"), None);
    }

    #[test]
    fn the_zip_is_reproducible_and_holds_an_executable_bootstrap() {
        let a = zip_bootstrap(b"\x7fELF pretend executable").unwrap();
        let b = zip_bootstrap(b"\x7fELF pretend executable").unwrap();
        assert_eq!(a, b, "two zips of one executable differ");
        assert_eq!(code_sha256(&a), code_sha256(&b));
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(a)).unwrap();
        assert_eq!(archive.len(), 1);
        let entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name().unwrap(), "bootstrap");
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
        // Not the time of the build: the same executable must zip the same tomorrow.
        assert_eq!(entry.last_modified(), Some(zip::DateTime::default()));
    }

    #[test]
    fn this_test_binary_is_checked_against_glibc_limits() {
        // The test executable itself is a real glibc-linked ELF for this machine.
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let newest = check_executable(&exe, Architecture::X86_64, "provided.unknown")
            .unwrap()
            .expect("links glibc");
        assert!(newest >= (2, 2));
        let err = check_executable(&exe, Architecture::Arm64, "provided.al2023").unwrap_err();
        assert!(err.to_string().contains("another machine"), "{err}");
        // provided.al2 has glibc 2.26; anything built here needs newer.
        if newest > (2, 26) {
            let err = check_executable(&exe, Architecture::X86_64, "provided.al2").unwrap_err();
            assert!(err.to_string().contains("has glibc 2.26"), "{err}");
        }
    }

    #[test]
    fn the_input_hash_follows_sources_but_not_build_output() {
        let dir = tempfile::tempdir().unwrap();
        let pkg = dir.path();
        std::fs::write(pkg.join("Cargo.toml"), "[package]\nname = \"f\"\n").unwrap();
        std::fs::create_dir_all(pkg.join("src")).unwrap();
        std::fs::write(pkg.join("src/main.rs"), "fn main() {}\n").unwrap();
        let first = input_hash(pkg, Architecture::X86_64).unwrap();
        std::fs::create_dir_all(pkg.join("target/release")).unwrap();
        std::fs::write(pkg.join("target/release/f"), "binary").unwrap();
        std::fs::write(pkg.join(".hidden"), "editor state").unwrap();
        assert_eq!(input_hash(pkg, Architecture::X86_64).unwrap(), first);
        assert_ne!(input_hash(pkg, Architecture::Arm64).unwrap(), first);
        std::fs::write(pkg.join("src/main.rs"), "fn main() { }\n").unwrap();
        assert_ne!(input_hash(pkg, Architecture::X86_64).unwrap(), first);
        std::fs::write(pkg.join("Cargo.lock"), "# lock\n").unwrap();
        let locked = input_hash(pkg, Architecture::X86_64).unwrap();
        std::fs::write(pkg.join("Cargo.lock"), "# lock 2\n").unwrap();
        assert_ne!(input_hash(pkg, Architecture::X86_64).unwrap(), locked);
    }
}
