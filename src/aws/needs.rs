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

/// The IAM actions a module calls on one resource type, by use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// The resource type AWS authorizes the actions on (AWS's Service Authorization
    /// Reference), by the name its kind gives it (`table`, `function`, `log-group`);
    /// `None` when they have no resource type, so that only `"*"` grants them.
    pub on: Option<&'static str>,
    /// `<use>: <actions>` groups separated by `;`, the actions (`service:Action`, as IAM
    /// spells them) by spaces. The uses: `read`, `change`, `delete`, and `create`: a
    /// change whose request carries the stack's tags, for which AWS evaluates
    /// `aws:RequestTag/...` (the policy may require them).
    pub uses: &'static str,
    /// A condition AWS must find true, as `(operator, key, values)`: e.g. iam:PassRole only
    /// to Lambda. `{owner}` in a value stands for `<stack>/<env>`.
    pub condition: Option<Condition>,
}

/// Some actions of one use, as the policy is built from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uses {
    pub actions: &'static str,
    pub usage: Use,
    /// The request carries the stack's ownership tags.
    pub tagged_request: bool,
    pub on: Option<&'static str>,
    pub condition: Option<Condition>,
}

impl Need {
    /// Actions on resources of type `on`.
    pub const fn on(on: &'static str, uses: &'static str) -> Need {
        Need {
            on: Some(on),
            uses,
            condition: None,
        }
    }
    /// Actions without a resource type: granted on `"*"` only.
    pub const fn anywhere(uses: &'static str) -> Need {
        Need {
            on: None,
            uses,
            condition: None,
        }
    }
    /// The same, granted only where `condition` holds.
    pub const fn when(self, condition: Condition) -> Need {
        Need {
            condition: Some(condition),
            ..self
        }
    }
    /// Its groups of actions, one use each. A use it does not know is a mistake in the
    /// list, said at once (every list is read by a test).
    pub fn each(&self) -> impl Iterator<Item = Uses> + '_ {
        self.uses.split(';').map(|group| {
            let (word, actions) = group
                .split_once(':')
                .unwrap_or_else(|| panic!("`{group}`: a group is `<use>: <actions>`"));
            let (usage, tagged_request) = match word.trim() {
                "read" => (Use::Read, false),
                "create" => (Use::Change, true),
                "change" => (Use::Change, false),
                "delete" => (Use::Delete, false),
                other => panic!("`{other}` is no use (read, create, change, delete)"),
            };
            Uses {
                actions: actions.trim(),
                usage,
                tagged_request,
                on: self.on,
                condition: self.condition,
            }
        })
    }
}

impl Uses {
    /// Its actions, one by one.
    pub fn actions(&self) -> impl Iterator<Item = &'static str> {
        self.actions.split_whitespace()
    }
}

/// `(operator, key, values)` of an IAM condition; `{owner}` in a value stands for
/// `<stack>/<env>`.
pub type Condition = (&'static str, &'static str, &'static [&'static str]);

/// Calls that need no permission: AWS allows them to every identity (STS's
/// GetCallerIdentity "works even when an explicit deny is in place").
pub const NEED_NO_PERMISSION: &[&str] = &["sts:GetCallerIdentity"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_need_reads_as_its_groups() {
        let need = Need::on("queue", "read: sqs:A sqs:B; create: sqs:C; delete: sqs:D");
        let each: Vec<(Use, bool, Vec<&str>)> = need
            .each()
            .map(|u| (u.usage, u.tagged_request, u.actions().collect()))
            .collect();
        assert_eq!(
            each,
            [
                (Use::Read, false, vec!["sqs:A", "sqs:B"]),
                (Use::Change, true, vec!["sqs:C"]),
                (Use::Delete, false, vec!["sqs:D"]),
            ]
        );
    }

    #[test]
    #[should_panic(expected = "`raed` is no use")]
    fn a_misspelt_use_is_said() {
        Need::anywhere("raed: sqs:A").each().for_each(drop);
    }
}
