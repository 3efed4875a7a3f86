//! What observing found, and what planning is asked for: the two values planning is a
//! function of (with the stack).

use crate::index::{Entry, Index, Repair};
use crate::kinds::{Live, Observations, Stack};
use crate::plan::{Deletion, Operation};
use crate::tags::{Owner, owner_of};
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
    /// The stack's index as read (`None`: there is none yet; see `crate::index`).
    pub index: Option<Index>,
}

impl Observed {
    /// What the stack's index lacks or has in excess, against everything observed as the
    /// stack's (declared resources and orphans alike).
    pub fn index_repair(&self, stack: &Stack) -> Repair {
        let found = self
            .ours(stack)
            .filter_map(|live| Some(Entry::new(live.kind(), live.index_key()?)))
            .collect();
        Repair::of(self.index.as_ref(), &found)
    }

    /// The stack's declared resources that AWS has not finished changing (a table CREATING,
    /// a mapping Creating: an interrupted run's, or a change made out of band), as
    /// `<type>.<name>`.
    pub fn unsettled(&self, stack: &Stack) -> Vec<String> {
        stack
            .nodes
            .iter()
            .filter(|n| n.live(&self.resources).is_some_and(|l| !l.settled()))
            .map(|n| format!("{}.{}", n.kind(), n.name()))
            .collect()
    }

    /// Whether anything observed is the stack's: its declared resources or orphans.
    pub fn holds_anything_of(&self, stack: &Stack) -> bool {
        self.ours(stack).next().is_some()
    }

    /// Everything observed that the stack's tags say is its own: declared resources and
    /// orphans (which are the stack's by definition).
    fn ours<'a>(&'a self, stack: &Stack) -> impl Iterator<Item = &'a dyn Live> {
        let owner = stack.owner();
        let declared: Vec<&dyn Live> = stack
            .nodes
            .iter()
            .filter_map(|n| n.live(&self.resources))
            .collect();
        declared
            .into_iter()
            .chain(self.orphans.iter().map(|o| o.as_ref()))
            .filter(move |live| owner_of(live.tags()) == Owner::Stack(&owner))
    }
}

/// What to plan for, and what the user allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRequest {
    pub operation: Operation,
    /// Take over resources that exist without ownership tags.
    pub adopt: bool,
    /// Replacements that lose data may go ahead.
    pub allow_replace: bool,
    /// Deletions that lose data (or need deletion protection lifted) may go ahead.
    pub allow_data_loss: bool,
    /// Resources to replace even though they could be left or changed in place
    /// (`--replace NAME`), by logical name.
    pub replace: std::collections::BTreeSet<String>,
    /// `--target NAME`: plan only these resources and what they depend on (destroy: what
    /// depends on them), no orphans; empty: everything.
    pub targets: std::collections::BTreeSet<String>,
}

impl PlanRequest {
    pub fn apply() -> PlanRequest {
        PlanRequest {
            operation: Operation::Apply,
            adopt: false,
            allow_replace: false,
            allow_data_loss: false,
            replace: Default::default(),
            targets: Default::default(),
        }
    }

    pub fn destroy() -> PlanRequest {
        PlanRequest {
            operation: Operation::Destroy,
            ..PlanRequest::apply()
        }
    }
}
