//! Command-line interface.

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::engine::{ArgValueCompleter, CompletionCandidate};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Deploys the Cruddur messaging backend from one declarative stack file, reconciling it
/// against AWS. (What `--help` says is [`about`]: it names the kinds from their registry.)
#[derive(Debug, Parser)]
#[command(name = "cruddur-infra", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// The command line as parsed, helped and documented (completions, the manual page): the
/// derived definition, saying what the registries hold.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command().about(about())
}

/// What the tool is, naming every kind the stack file may declare (`kinds::TYPES`).
pub fn about() -> String {
    format!(
        "Deploys the Cruddur messaging backend from one declarative stack file, reconciling it \
         against AWS. Kinds: {}. No state file: ownership lives in AWS as tags.",
        crate::kinds::TYPES.join(", ")
    )
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options (every command)")]
pub struct Global {
    /// The stack file, e.g. `-f infra/stack.yaml`.
    #[arg(
        short = 'f',
        long = "file",
        global = true,
        default_value = "stack.yaml"
    )]
    pub file: PathBuf,
    /// Environment to work in (declared under `environments:` in the stack file), e.g.
    /// `--env dev`; a pattern's, e.g. `--env pr-42` for `pr-*`.
    #[arg(short = 'e', long = "env", global = true, env = "CRUDDUR_ENV",
          add = ArgValueCompleter::new(environments))]
    pub env: Option<String>,
    /// AWS profile (overrides the environment's `profile`).
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// AWS region (overrides the environment's `region`).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Send every AWS request to this URL (overrides AWS_ENDPOINT_URL* and the stack file).
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
    /// No colours, even on a terminal (NO_COLOR is honoured too).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Longest wait for one AWS step (table ACTIVE, index backfill, deletion), in seconds.
    #[arg(long, global = true, default_value_t = 1800, value_name = "SECONDS")]
    pub wait_timeout: u64,
    /// apply and destroy: how long to wait for another run's deploy lock of the same stack
    /// and environment, in seconds.
    #[arg(long, global = true, default_value_t = 600, value_name = "SECONDS")]
    pub lock_timeout: u64,
    /// Print AWS calls per service and operation, retries and wall time on stderr at the end.
    #[arg(long, global = true)]
    pub stats: bool,
    /// Look through every IAM role and event source mapping of the account for the stack's
    /// orphans, not only where the stack's index points (for roles and mappings made by an
    /// earlier version, or the index lost). One call per role and mapping in the account.
    #[arg(long, global = true)]
    pub deep_scan: bool,
    /// More detail on stderr (-v: tool, -vv: AWS SDK, -vvv: everything). RUST_LOG wins.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the stack file offline: every environment it declares (an error in any of them
    /// stops every command, as Terraform refuses an invalid configuration); with --env,
    /// also that it declares that one.
    Validate {
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Show what apply (or destroy) would change, field by field.
    Plan(PlanArgs),
    /// Make AWS match the stack file.
    Apply(ApplyArgs),
    /// Report what changed out of band, changing nothing. Exit 0: no drift, 2: drift,
    /// 1: error. `--env a,b,c` checks several environments at once, in one report.
    Drift {
        #[arg(long, value_enum, default_value_t = DriftOutput::Text)]
        output: DriftOutput,
    },
    /// Print the deployed stack's values (table and stream ARNs, function ARN, ...) for
    /// scripts and the app's configuration.
    Outputs {
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Build and zip every lambda_function's code (apply does this when the code changed).
    Build,
    /// Apply the stack to the emulator, then run each event source mapping on this machine
    /// as Lambda runs it (stream, filters, batching, retries), until Ctrl-C.
    Dev {
        /// Where the pollers keep their checkpoints (default: target/cruddur-dev next to
        /// the stack file).
        #[arg(long)]
        checkpoints: Option<std::path::PathBuf>,
    },
    /// Run one invocation of a function's bundle on this machine against the emulator
    /// (environment from the deployed stack), and print its response.
    Invoke {
        /// The function's name under `resources:`, e.g. `processor`.
        #[arg(add = ArgValueCompleter::new(functions))]
        function: String,
        /// The event: a JSON file, or `-` for stdin.
        #[arg(long)]
        event: std::path::PathBuf,
    },
    /// Move each released function's alias (`release:`) back, at once, to the version it
    /// pointed at before the last apply moved it: one that passed its check. The next
    /// plan shows the alias behind the code, and apply rolls forward again.
    Rollback {
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
    },
    /// Replay what Lambda gave up on: for each on-failure record in the queue of a mapping's
    /// `on_failure`, read its records again from the stream and invoke the mapping's
    /// function with them, as the mapping would (on an emulator environment, on this
    /// machine); the message is deleted once they are done. Shows what it will replay and
    /// asks first.
    Redrive {
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
        /// Show what would be replayed and change nothing: every message goes back to its
        /// queue.
        #[arg(long)]
        dry_run: bool,
        /// `json`: one event a line on stdout (`cruddur-infra schema redrive`); needs
        /// --auto-approve or --dry-run.
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Print a JSON Schema: of the stack file (`stack`, the default; for editors:
    /// stack.yaml names schema/stack.schema.json), of `plan --output json` (`plan`), of
    /// the events of `apply`/`destroy --output json` (`progress`), or of `redrive --output
    /// json`'s (`redrive`).
    Schema {
        #[arg(value_enum, default_value_t = SchemaOf::Stack)]
        of: SchemaOf,
    },
    /// Print the dependency graph: what apply starts at once and what waits for what
    /// (destroy runs it backwards). No AWS call.
    Graph {
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
    },
    /// Print the IAM policy a CI role needs to run plan, apply, drift, outputs, destroy and redrive
    /// of this stack and environment (or, `--for plan`, only plan, drift and outputs), for
    /// `aws iam put-role-policy --policy-document file://policy.json`. Every action is the
    /// tool's own, on the stack's own ARNs or on resources tagged as the stack's.
    Permissions {
        /// `plan`: the read-only policy of a pull request's plan job.
        #[arg(long = "for", value_enum, default_value_t = PermissionsFor::All)]
        scope: PermissionsFor,
        /// The account the ARNs name (default: the credentials' account, asked of STS,
        /// which needs no permission). With it, no AWS call is made.
        #[arg(long, value_name = "ID")]
        account: Option<String>,
    },
    /// Print the script that makes a shell complete cruddur-infra's commands and flags,
    /// and the environment and resource names of `./stack.yaml` (the shell asks the binary
    /// each time): `source <(cruddur-infra completions bash)`, or write it where the
    /// shell's completions live.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::aot::Shell,
    },
    /// Remove the deploy lock of the environment, for the day a runner died holding it:
    /// shows who holds it (host, process, command, since when) and asks first. Only that
    /// lease goes: if another run took the lock meanwhile, nothing is removed.
    #[command(name = "force-unlock")]
    ForceUnlock {
        /// The lease to remove, as force-unlock shows it (e.g.
        /// `runner-7:4242:1a2b3c4d`): then nothing is asked, and nothing is removed
        /// unless the lock is still that lease.
        #[arg(value_name = "LEASE")]
        lease: Option<String>,
        /// Remove the lease shown without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Print the manual page (roff): `cruddur-infra man > cruddur-infra.1; man ./cruddur-infra.1`.
    Man,
    /// Delete every resource of the stack that this stack created.
    Destroy {
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
        /// Delete tables even when they hold items or have deletion protection (which is
        /// turned off first). Without it, such a table stops destroy before anything changes.
        /// A table that holds items is backed up first (an on-demand backup, never deleted
        /// by the tool), unless --no-backup.
        #[arg(long)]
        allow_data_loss: bool,
        /// Delete a table that holds items without first keeping an on-demand backup of it.
        #[arg(long)]
        no_backup: bool,
        /// Destroy only this resource and what depends on it, e.g. `--target trigger`.
        /// Repeatable; orphans are left alone.
        #[arg(long, value_name = "NAME", add = ArgValueCompleter::new(resources))]
        target: Vec<String>,
        /// `json`: the plan, then one event a line on stdout, as for apply; needs
        /// --auto-approve.
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Exit 0 when there are no changes, 2 when there are, 1 on errors.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan as if apply --adopt: resources that exist without ownership tags are taken over.
    #[arg(long)]
    pub adopt: bool,
    /// Plan a destroy instead of an apply.
    #[arg(long)]
    pub destroy: bool,
    /// Plan as apply (or destroy) --allow-data-loss would.
    #[arg(long)]
    pub allow_data_loss: bool,
    /// Also save the plan to FILE, for `apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Plan as apply --replace NAME would.
    #[arg(long, value_name = "NAME", add = ArgValueCompleter::new(resources))]
    pub replace: Vec<String>,
    /// Plan only this resource and what it depends on (with --destroy: what depends on
    /// it), e.g. `--target processor`. Repeatable.
    #[arg(long, value_name = "NAME", add = ArgValueCompleter::new(resources))]
    pub target: Vec<String>,
    #[arg(long, value_enum, default_value_t = PlanOutput::Text)]
    pub output: PlanOutput,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanOutput {
    Text,
    Json,
    /// For a pull-request comment or $GITHUB_STEP_SUMMARY.
    Markdown,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved with `plan --out FILE`: carry out exactly that plan (no question
    /// asked), or refuse if the live state or the stack file changed since.
    #[arg(value_name = "PLAN_FILE")]
    pub plan_file: Option<PathBuf>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// Take over resources that exist but were not created by cruddur-infra: tag them as
    /// this stack's, then reconcile them.
    #[arg(long)]
    pub adopt: bool,
    /// Allow replacements (delete and re-create), which lose a table's items.
    #[arg(long)]
    pub allow_replace: bool,
    /// Replace this resource (by its name under `resources:`) even though nothing forces
    /// it: a stuck function, a mapping to make anew, e.g. `--replace trigger`. Repeatable.
    /// Guarded like every replacement: a table's items still need --allow-replace.
    #[arg(long, value_name = "NAME", add = ArgValueCompleter::new(resources))]
    pub replace: Vec<String>,
    /// Apply only this resource and what it depends on, leaving the rest of the stack
    /// and its orphans alone, e.g. `--target processor`. Repeatable; the result may be
    /// partial (plan warns).
    #[arg(long, value_name = "NAME", add = ArgValueCompleter::new(resources))]
    pub target: Vec<String>,
    /// Delete a table that is no longer in the stack file even if it holds items or has
    /// deletion protection.
    #[arg(long)]
    pub allow_data_loss: bool,
    /// Delete (or replace) a table that holds items without first keeping an on-demand
    /// backup of it (kept by default, and never deleted by the tool).
    #[arg(long)]
    pub no_backup: bool,
    /// Release a function's new version after its check only, without the canary and
    /// bake its `release:` asks for: to ship a fix while an alarm is in ALARM.
    #[arg(long)]
    pub no_bake: bool,
    /// `json`: the plan, then one event a line (started, state, done, failed, summary) on
    /// stdout, for CI systems that annotate runs; needs --auto-approve (or a plan file).
    /// Their schema: `cruddur-infra schema progress`.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DriftOutput {
    Text,
    Json,
    /// For a pull-request comment or $GITHUB_STEP_SUMMARY.
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaOf {
    /// The stack file (stack.yaml).
    Stack,
    /// A plan, as `plan --output json` prints it (format 2).
    Plan,
    /// The events of `apply --output json` and `destroy --output json`, one a line.
    Progress,
    /// The events of `redrive --output json`, one a line.
    Redrive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// For Markdown (GitHub renders it).
    Mermaid,
    /// Graphviz: `cruddur-infra graph --format dot | dot -Tsvg > stack.svg`.
    Dot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PermissionsFor {
    /// plan, apply, drift, outputs, destroy and redrive.
    All,
    /// plan, drift and outputs: reading only.
    Plan,
}

/// What completion needs of a stack file: its environments and its resources' types, read
/// leniently (a file being edited still completes).
#[derive(Debug, Default, serde::Deserialize)]
struct Outline {
    #[serde(default)]
    environments: BTreeMap<String, serde::de::IgnoredAny>,
    #[serde(default)]
    resources: BTreeMap<String, Typed>,
}

#[derive(Debug, serde::Deserialize)]
struct Typed {
    #[serde(rename = "type", default)]
    kind: String,
}

/// `./stack.yaml`'s outline; empty when there is none or it does not parse. (A completer
/// sees only the word being completed, not `-f`: the file in the current directory it is.)
fn outline() -> Outline {
    std::fs::read_to_string("stack.yaml")
        .ok()
        .and_then(|text| serde_saphyr::from_str(&text).ok())
        .unwrap_or_default()
}

fn candidates(
    names: impl Iterator<Item = String>,
    current: &std::ffi::OsStr,
) -> Vec<CompletionCandidate> {
    let current = current.to_string_lossy();
    names
        .filter(|n| n.starts_with(current.as_ref()))
        .map(CompletionCandidate::new)
        .collect()
}

/// The stack file's environments (patterns such as `pr-*` left out: a name is typed).
fn environments(current: &std::ffi::OsStr) -> Vec<CompletionCandidate> {
    let names = outline()
        .environments
        .into_keys()
        .filter(|e| !e.contains('*'));
    candidates(names, current)
}

/// The stack file's resources.
fn resources(current: &std::ffi::OsStr) -> Vec<CompletionCandidate> {
    candidates(outline().resources.into_keys(), current)
}

/// The stack file's functions.
fn functions(current: &std::ffi::OsStr) -> Vec<CompletionCandidate> {
    let resources = outline().resources.into_iter();
    let names = resources
        .filter(|(_, r)| r.kind == "lambda_function")
        .map(|(n, _)| n);
    candidates(names, current)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}
