//! cruddur-infra: a declarative deployer for the Cruddur messaging backend.
//!
//! `stack.yaml` → [`kinds::load`] (validated, no AWS) → [`engine::observe`] (every read at
//! once, into a value) → [`engine::plan`] (pure) → [`render`] → [`engine::execute`] (along
//! the dependency graph). See the README for the commands and docs/ for the stack file.
//!
//! The modules form layers; each uses only its own layer and those above it in this list
//! (`tests/it/architecture.rs` checks it, and that no two files import each other in a
//! circle):

// Leaves: values every layer shares, AWS clients, and tools with no knowledge of stacks.
pub mod aws;
pub mod bundle;
pub mod create_once;
pub mod event_filter;
pub mod exec;
pub mod graph;
pub mod index;
pub mod local;
pub mod lock;
pub mod plan;
pub mod policy;
pub mod prebuild;
pub mod progress;
pub mod render;
pub mod retry;
pub mod stats;
pub mod tags;
pub mod values;
pub mod wait;

// The stack file: reading, validation, environments, references. No AWS call.
pub mod spec;

// One folder per resource kind, and the registry that lists them.
pub mod kinds;

// Observe, plan (pure), execute.
pub mod engine;

// Layer: the local pipeline (`dev`) and the replay of what Lambda gave up on (`redrive`),
// over the engine.
pub mod dev;
pub mod redrive;

// The command line and one file per command.
pub mod cli;
pub mod commands;

pub use commands::{EXIT_CHANGES, run};
