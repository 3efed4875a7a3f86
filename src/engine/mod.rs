//! The engine: observe every resource (all reads at once) into an [`Observed`] value, plan
//! against the spec (a pure function of the stack, that value and the [`PlanRequest`]),
//! and execute the plan along the dependency graph, independent resources in parallel.

mod decide;
#[cfg(test)]
mod decide_tests;
mod execute;
mod observe;
mod observed;
pub mod permissions;
mod plan;
#[cfg(test)]
mod plan_tests;

pub use execute::{Outcome, drop_index, execute, repair_index};
pub use observe::{observe, prepare};
pub use observed::{Observed, PlanRequest};
pub use plan::plan;
