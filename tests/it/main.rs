//! Every integration test, in one test binary: linking the AWS SDKs once instead of once
//! per area keeps a fresh build fast and small. Each area is a module; those that need the
//! emulator start their own (`support::Emulator`) on a free loopback port.
//!
//! Run one area with `cargo test --test it <module>::`, e.g. `cargo test --test it table::`.

mod support;

mod alarm;
mod architecture;
mod aws_time;
mod backup;
mod bad_input;
mod bad_limits;
mod busy_account;
mod ci;
mod conformance;
mod cutover;
mod dev;
mod dev_rules;
mod drift;
mod e2e;
mod environments;
mod error_codes;
mod faults;
mod first_contact;
mod function;
mod graph;
mod interrupted;
mod invoke;
mod lock;
mod main_job;
mod one_mistake;
mod orphans;
mod permissions;
mod processor;
mod queue;
mod reach;
mod readme;
mod real_account;
mod redrive;
mod release;
mod role_endpoint;
mod saved_plan;
mod schema;
mod shell;
mod stats;
mod table;
mod teardown;
mod terminal;
mod topic;
mod verbs;
