//! The IAM actions the tool calls, each listed next to the code that calls it (every
//! kind's `ops.rs`, the deploy lock, the stack's index, the lookups, the tagging API):
//! what `cruddur-infra permissions` turns into the deployer's own least-privilege policy.
//! A test scans the source for SDK calls and fails on one whose action is not listed in
//! its module's list (`tests/it/permissions.rs`), so the lists cannot fall behind the code.

/// What a run does with an action: `permissions --for plan` grants only [`Use::Read`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Use {
    /// plan, drift and outputs: reading what is there.
    Read,
    /// apply: creating and changing.
    Change,
    /// apply and destroy: deleting, declared resources and orphans alike.
    Delete,
}

/// IAM actions a module calls, of one use on one resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// `service:Action`s, as IAM spells them, separated by spaces.
    pub actions: &'static str,
    pub usage: Use,
    /// The resource type AWS authorizes the action on (AWS's Service Authorization
    /// Reference), by the name its kind gives it (`table`, `function`, `log-group`);
    /// `None` when the action has no resource type, so that only `"*"` grants it.
    pub on: Option<&'static str>,
    /// The request carries the stack's ownership tags, and AWS evaluates
    /// `aws:RequestTag/...` for the action: the policy may require them.
    pub tagged_request: bool,
    /// A condition AWS must find true, as `(operator, key, values)`: e.g. iam:PassRole only
    /// to Lambda. `{owner}` in a value stands for `<stack>/<env>`.
    pub condition: Option<Condition>,
}

impl Need {
    /// Its actions, one by one.
    pub fn actions(&self) -> impl Iterator<Item = &'static str> {
        self.actions.split_whitespace()
    }
    pub const fn read(action: &'static str, on: &'static str) -> Need {
        Need::new(action, Use::Read, Some(on))
    }
    pub const fn change(action: &'static str, on: &'static str) -> Need {
        Need::new(action, Use::Change, Some(on))
    }
    pub const fn delete(action: &'static str, on: &'static str) -> Need {
        Need::new(action, Use::Delete, Some(on))
    }
    /// A create whose request carries the stack's tags (see [`Need::tagged_request`]).
    pub const fn create(action: &'static str, on: &'static str) -> Need {
        Need {
            tagged_request: true,
            ..Need::new(action, Use::Change, Some(on))
        }
    }
    /// A need granted only where `condition` holds.
    pub const fn when(self, condition: Condition) -> Need {
        Need {
            condition: Some(condition),
            ..self
        }
    }
    /// An action without a resource type: granted on `"*"` only.
    pub const fn anywhere(action: &'static str, usage: Use) -> Need {
        Need::new(action, usage, None)
    }
    const fn new(actions: &'static str, usage: Use, on: Option<&'static str>) -> Need {
        Need {
            actions,
            usage,
            on,
            tagged_request: false,
            condition: None,
        }
    }
}

/// `(operator, key, values)` of an IAM condition; `{owner}` in a value stands for
/// `<stack>/<env>`.
pub type Condition = (&'static str, &'static str, &'static [&'static str]);

/// Calls that need no permission: AWS allows them to every identity (STS's
/// GetCallerIdentity "works even when an explicit deny is in place").
pub const NEED_NO_PERMISSION: &[&str] = &["sts:GetCallerIdentity"];
