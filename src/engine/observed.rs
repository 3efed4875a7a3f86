//! What observing found, and what planning is asked for: the two values planning is a
//! function of (with the stack).

use crate::kinds::{Live, Observations};
use crate::plan::{Deletion, Operation};
use crate::values::DeploymentContext;
use std::collections::BTreeMap;

/// What a run saw in AWS: every declared resource (and the spec's lookups), the orphans,
/// the account it deploys to and, for the deletions a plan makes, what they would lose.
#[derive(Debug, Default)]
pub struct Observed {
    pub resources: Observations,
    /// Resources tagged as this stack's and environment's that no declared resource
    /// describes.
    pub orphans: Vec<Box<dyn Live>>,
    /// Read only when some value references `${aws.*}`.
    pub context: Option<DeploymentContext>,
    /// What a deletion would lose that needs consent (a table's items), by deletion; read
    /// for the deletions planned (see [`prepare`]).
    pub at_risk: BTreeMap<Deletion, String>,
}

/// What to plan for, and what the user allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanRequest {
    pub operation: Operation,
    /// Take over resources that exist without ownership tags.
    pub adopt: bool,
    /// Replacements that lose data may go ahead.
    pub allow_replace: bool,
    /// Deletions that lose data (or need deletion protection lifted) may go ahead.
    pub allow_data_loss: bool,
}

impl PlanRequest {
    pub fn apply() -> PlanRequest {
        PlanRequest {
            operation: Operation::Apply,
            adopt: false,
            allow_replace: false,
            allow_data_loss: false,
        }
    }

    pub fn destroy() -> PlanRequest {
        PlanRequest {
            operation: Operation::Destroy,
            ..PlanRequest::apply()
        }
    }
}
