//! The deployer's own least-privilege policy (`cruddur-infra permissions`): what a CI role
//! needs to plan, apply, check drift of, read the outputs of and destroy one stack and
//! environment, built from the IAM actions each module lists next to its calls
//! (`crate::aws::needs`) and the ARNs the stack file's names give, in one account and
//! region. A pure function of the stack: no AWS call.
//!
//! How an action is granted:
//! - on the stack's own ARNs, where the file names the resource (a table, a role);
//! - a create that carries the stack's tags, only with them (`aws:RequestTag`);
//! - where AWS chooses the name (an endpoint's id, a mapping's UUID), and for orphans
//!   (resources tagged as the stack's that the file no longer declares), only on resources
//!   tagged as the stack's (`aws:ResourceTag`): reads and deletes of every kind, since
//!   orphans of any kind are found and deleted;
//! - `"*"` only for actions without a resource type, in statements whose Sid says so.

use crate::aws::needs::{Condition, Need, Use, Uses};
use crate::kinds::{Stack, all_needs};
use crate::policy::Statement;
use crate::tags::STACK_TAG;
use crate::values::DeploymentContext;
use std::collections::{BTreeMap, BTreeSet};

/// What the policy is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// plan, apply, drift, outputs, destroy and redrive.
    Everything,
    /// plan, drift and outputs: reading only (a pull request's plan job).
    Plan,
}

/// How a statement scopes its resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Scoping {
    /// The ARNs listed, by name.
    Named,
    /// Only requests that tag what they make as the stack's.
    CreatedAsOurs,
    /// Only resources tagged as the stack's.
    TaggedAsOurs,
}

/// A statement's identity: its resource type (`None`: no resource type, `"*"`), how it is
/// scoped, and a condition of the action's own.
type Key = (Option<&'static str>, Scoping, Option<Condition>);

#[derive(Default)]
struct Grants(BTreeMap<Key, (BTreeSet<&'static str>, BTreeSet<String>)>);

impl Grants {
    fn add(
        &mut self,
        key: Key,
        actions: impl IntoIterator<Item = &'static str>,
        resources: &BTreeSet<String>,
    ) {
        let (granted, all) = self.0.entry(key).or_default();
        granted.extend(actions);
        all.extend(resources.iter().cloned());
    }
}

/// ARNs by resource type.
type Arns = BTreeMap<&'static str, BTreeSet<String>>;

fn by_type(arns: impl IntoIterator<Item = (&'static str, String)>) -> Arns {
    let mut all = Arns::new();
    for (on, arn) in arns {
        all.entry(on).or_default().insert(arn);
    }
    all
}

/// The policy's statements for `stack` in the account and region of `at`, with `commands`:
/// the actions of commands that are no kind's (redrive's), granted for a change on the
/// stack's own resources of their types.
pub fn policy(
    stack: &Stack,
    at: &DeploymentContext,
    scope: Scope,
    commands: &[&[Need]],
) -> Vec<Statement> {
    let wanted = |uses: &Uses| scope == Scope::Everything || uses.usage == Use::Read;
    let declared = by_type(stack.nodes.iter().flat_map(|node| node.arns(at)));
    let present: BTreeSet<&str> = stack.nodes.iter().map(|n| n.kind()).collect();
    let kinds = all_needs(at);
    let anywhere = by_type(kinds.iter().flat_map(|kind| kind.anywhere.iter().cloned()));
    let star = BTreeSet::from(["*".to_string()]);
    let nowhere = BTreeSet::new();
    let mut grants = Grants::default();
    for kind in &kinds {
        let declares = present.contains(kind.kind);
        for need in kind.needs.iter().flat_map(Need::each).filter(wanted) {
            let Some(on) = need.on else {
                // Reads find orphans of kinds the file no longer declares, too.
                if declares || need.usage == Use::Read {
                    let scoping = if need.tagged_request {
                        Scoping::CreatedAsOurs
                    } else {
                        Scoping::Named
                    };
                    grants.add((None, scoping, need.condition), need.actions(), &star);
                }
                continue;
            };
            let any = anywhere.get(on).unwrap_or(&nowhere);
            if declares {
                let named = declared.get(on);
                let (scoping, resources) = match named {
                    _ if need.tagged_request => (Scoping::CreatedAsOurs, named.unwrap_or(any)),
                    Some(named) => (Scoping::Named, named),
                    None => (Scoping::TaggedAsOurs, any),
                };
                grants.add(
                    (Some(on), scoping, need.condition),
                    need.actions(),
                    resources,
                );
            }
            // Orphans: read to be found and shown, then deleted.
            if need.usage != Use::Change && need.condition.is_none() && !any.is_empty() {
                let key = (Some(on), Scoping::TaggedAsOurs, None);
                grants.add(key, need.actions(), any);
            }
        }
    }
    for need in commands
        .iter()
        .flat_map(|needs| needs.iter().flat_map(Need::each))
        .filter(wanted)
    {
        let Some(named) = need.on.and_then(|on| declared.get(on)) else {
            continue;
        };
        grants.add(
            (need.on, Scoping::Named, need.condition),
            need.actions(),
            named,
        );
    }
    // The deploy lock and the stack's index: items of one shared table.
    let lock_table =
        BTreeSet::from([at.arn("dynamodb", true, &format!("table/{}", crate::lock::TABLE))]);
    let shared = [
        crate::lock::NEEDS,
        crate::index::NEEDS,
        crate::kinds::tagged::NEEDS,
    ];
    for need in shared
        .iter()
        .flat_map(|needs| needs.iter().flat_map(Need::each))
        .filter(wanted)
    {
        let resources = if need.on.is_some() {
            &lock_table
        } else {
            &star
        };
        grants.add(
            (need.on, Scoping::Named, need.condition),
            need.actions(),
            resources,
        );
    }
    let owner = stack.owner();
    grants
        .0
        .into_iter()
        .map(
            |((on, scoping, condition), (actions, resources))| Statement {
                sid: Some(sid(on, scoping, condition)),
                effect: "Allow".into(),
                principal: None,
                action: actions.into_iter().map(String::from).collect(),
                not_action: BTreeSet::new(),
                resource: resources,
                not_resource: BTreeSet::new(),
                condition: conditions(scoping, condition, &owner),
            },
        )
        .collect()
}

/// The statement's name: what it grants on, and how (IAM allows letters and digits only).
fn sid(on: Option<&str>, scoping: Scoping, condition: Option<Condition>) -> String {
    let mut sid = match on {
        Some(on) => format!("{}s", camel(on)),
        None => "ActionsWithoutResourceTypeHenceStar".to_string(),
    };
    sid.push_str(match scoping {
        Scoping::Named => "",
        Scoping::CreatedAsOurs => "CreatedTaggedAsThisStack",
        Scoping::TaggedAsOurs => "TaggedAsThisStack",
    });
    if let Some((_, key, _)) = condition {
        sid.push_str("With");
        sid.push_str(&camel(key.rsplit(':').next().unwrap_or(key)));
    }
    sid
}

/// `event-source-mapping` → `EventSourceMapping`.
fn camel(words: &str) -> String {
    words
        .split(|c: char| !c.is_ascii_alphanumeric())
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

type Conditions = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

fn conditions(scoping: Scoping, own: Option<Condition>, owner: &str) -> Conditions {
    let mut all = Conditions::new();
    let mut add = |op: &str, key: String, values: BTreeSet<String>| {
        all.entry(op.to_string()).or_default().insert(key, values);
    };
    let ours = BTreeSet::from([owner.to_string()]);
    match scoping {
        Scoping::Named => {}
        Scoping::CreatedAsOurs => add("StringEquals", format!("aws:RequestTag/{STACK_TAG}"), ours),
        Scoping::TaggedAsOurs => add("StringEquals", format!("aws:ResourceTag/{STACK_TAG}"), ours),
    }
    if let Some((op, key, values)) = own {
        let values = values.iter().map(|v| v.replace("{owner}", owner)).collect();
        add(op, key.to_string(), values);
    }
    all
}

/// The policy as `aws iam put-role-policy --policy-document` takes it.
pub fn document(statements: &[Statement]) -> String {
    let document =
        serde_json::json!({ "Version": crate::policy::VERSION, "Statement": statements });
    serde_json::to_string_pretty(&document).unwrap_or_default()
}

/// Every action the policy grants.
pub fn actions(statements: &[Statement]) -> BTreeSet<String> {
    statements
        .iter()
        .flat_map(|s| s.action.iter().cloned())
        .collect()
}
