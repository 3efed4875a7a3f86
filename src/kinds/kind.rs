//! What a resource kind is: [`Kind`] for the resource as the stack file declares it (its
//! validation, its reads, its desired state), [`Changes`] for how it is created and
//! changed, and [`Live`] for the resource as AWS holds it (its tags and attributes, what
//! deleting it means, and the deletion itself). Deleting needs only the live resource, so a declared resource and
//! an orphan (tagged as ours, no longer declared) are deleted by the same code.

use crate::aws::Aws;
use crate::aws::needs::Need;
use crate::bundle;
use crate::exec::ExecCtx;
use crate::kinds::tagged;
use crate::plan::FieldChange;
use crate::spec::arn::ArnField;
use crate::spec::diag::Diags;
use crate::spec::fields::ValidateCtx;
use crate::spec::policy::StatementSpec;
use crate::spec::raw::RawBody;
use crate::spec::template::{Inputs, Template};
use crate::values::{ArnFormat, Attributes, DeploymentContext};
use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

pub use crate::tags::Tags;

/// What a resource needs of another that it refers to before its change can start. Waiting
/// only for that is what keeps a deploy close to AWS's own time: a role's policy names a
/// table's ARNs, which are known before the table is ACTIVE, or even made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Needs {
    /// Only the values it names, once they are known (ARNs in a policy, which IAM stores
    /// without looking at them; a name in an environment variable).
    Values,
    /// That it exists (a function's role: Lambda looks it up, and waits out its
    /// propagation itself).
    Made,
    /// That it is ready (a mapping's stream enabled, its function Active). What
    /// `depends_on` names is always waited for until ready.
    Ready,
}

/// What a change of a resource of kind `K` leaves: the resource as AWS now holds it.
pub type Made<K> = anyhow::Result<<K as Kind>::Live>;

/// Which stack, environment and logical resource a read is for: the values of the
/// ownership tags it looks for.
pub struct Identity<'a> {
    /// `<stack>/<env>`.
    pub owner: &'a str,
    pub resource: &'a str,
    /// Physical names known from the file alone (tables, roles, functions), by logical
    /// name: a resource found through another one (a trigger through its function) looks
    /// it up here, as reads happen before anything is planned.
    pub names: &'a BTreeMap<String, String>,
}

/// What orphan discovery asks of a kind.
pub struct Discovery<'a> {
    /// `<stack>/<env>`: the value of the ownership tag that makes a resource ours.
    pub owner: &'a str,
    /// Physical names the declared resources of this kind read themselves.
    pub skip: &'a BTreeSet<String>,
    /// Look through the whole account instead of where the stack's index points, for
    /// resources made before there was an index (see `crate::index`).
    pub deep: bool,
}

/// What a read of a declared resource found: the resource, if it exists, and what the
/// spec's lookups came to (a VPC chosen by tags, its route tables). Planning needs both.
#[derive(Debug)]
pub struct Observation<K: Kind> {
    pub live: Option<K::Live>,
    pub resolved: K::Resolved,
}

/// What planning a resource needs besides its own spec and observation.
pub struct PlanCtx {
    /// `<stack>/<env>`: the value of the ownership tag this run manages.
    pub owner: String,
    /// `apply --adopt`: take over resources that exist without ownership tags.
    pub adopt: bool,
    /// The account and region, when observe read them: ARNs are known before anything
    /// is made.
    pub context: Option<DeploymentContext>,
}

/// What every live resource has, read from its fields: its kind, its comparable state
/// (`state`, with its `tags`) and what AWS identifies it by. [`live_of!`] writes it.
pub trait Held: Debug + Send + Sync + 'static {
    /// The `type:` of its kind.
    fn kind(&self) -> &'static str;
    fn tags(&self) -> &Tags;
    /// For tests that make a resource someone else's.
    #[cfg(test)]
    fn tags_mut(&mut self) -> &mut Tags;
    /// The comparable state as JSON: what plan compares with the file, field by field.
    fn state_json(&self) -> serde_json::Value;
    /// What AWS identifies it by: its ARN, or its id where AWS gives it no ARN (an
    /// endpoint).
    fn id(&self) -> &str;
    /// How its kind's ARNs are written.
    fn arn_format(&self) -> ArnFormat;
}

/// `live_of!(LiveQueue, Queue, arn)`: `LiveQueue` is a live resource of kind `Queue`, its
/// state in its `state` field (with the tags in `state.tags`), identified by its `arn`.
#[macro_export]
macro_rules! live_of {
    ($live:ty, $kind:ty, $id:ident) => {
        impl $crate::kinds::kind::Held for $live {
            fn kind(&self) -> &'static str {
                <$kind as $crate::kinds::kind::Kind>::TYPE
            }
            fn tags(&self) -> &$crate::tags::Tags {
                &self.state.tags
            }
            #[cfg(test)]
            fn tags_mut(&mut self) -> &mut $crate::tags::Tags {
                &mut self.state.tags
            }
            fn state_json(&self) -> serde_json::Value {
                // States are plain data (strings, numbers, maps): they always serialize.
                serde_json::to_value(&self.state).unwrap_or_default()
            }
            fn id(&self) -> &str {
                &self.$id
            }
            fn arn_format(&self) -> $crate::values::ArnFormat {
                <$kind as $crate::kinds::kind::Kind>::ARN
            }
        }
    };
}

/// A resource as AWS holds it: everything about it that needs no further call.
#[async_trait]
pub trait Live: Held {
    /// The name or id people know it by in AWS (a table's name, an endpoint's id): by
    /// default the name its ARN gives.
    fn physical_id(&self) -> String {
        let id = self.id();
        self.arn_format().name_in(id).unwrap_or(id).to_string()
    }
    /// What `${name.<attribute>}` renders to: by default its `name` and `arn`.
    fn attributes(&self) -> Attributes {
        BTreeMap::from([
            ("name", Some(self.physical_id())),
            ("arn", Some(self.id().to_string())),
        ])
    }
    /// Warnings about it that are not differences to fix (e.g. a trigger attached to the
    /// same function outside the stack); shown in plan.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
    /// What is lost when it is deleted, if anything (e.g. a table's items).
    fn deletion_warning(&self) -> Option<String> {
        None
    }
    /// Why deleting it would fail right now (e.g. deletion protection), if it would.
    fn deletion_blocker(&self) -> Option<String> {
        None
    }
    /// Its entry in the stack's index (see `crate::index`), for kinds AWS cannot list by
    /// tag; `None` for the others.
    fn index_key(&self) -> Option<String> {
        None
    }
    /// What deleting it would destroy that needs explicit consent (a table's items),
    /// counted now; `None` when nothing would be lost.
    async fn data_at_risk(&self, _aws: &Aws) -> anyhow::Result<Option<String>> {
        Ok(None)
    }
    /// Whether AWS has finished changing it (a table not CREATING, a function not
    /// Pending): a resource left mid-change by an interrupted run, or changed out of band.
    fn settled(&self) -> bool {
        true
    }
    /// Waits until AWS has finished changing it (see [`Live::settled`]): an apply leaves
    /// every resource of the stack ready, also those it had nothing to change in.
    async fn settle(&self, _cx: &ExecCtx<'_>) -> anyhow::Result<()> {
        Ok(())
    }
    /// Deletes it and waits until it is gone.
    async fn delete(&self, cx: &ExecCtx<'_>) -> anyhow::Result<()>;
}

/// A kind's stack-file form, checked into the kind (in its `spec.rs`).
pub trait Validate<K>: Sized {
    /// Checks meaning (names, ranges, cross-field rules), reporting every problem.
    fn validate(self, cx: &ValidateCtx, diags: &mut Diags) -> Option<K>;
}

/// One resource kind. `Self` is the validated spec of one resource of this kind.
#[async_trait]
pub trait Kind: Debug + Send + Sync + Sized + 'static {
    /// The `type:` in the stack file.
    const TYPE: &'static str;
    /// Replacing one loses nothing that the file does not recreate (so apply needs no
    /// --allow-replace for it).
    const SAFE_TO_REPLACE: bool = false;
    /// What `${name.<attribute>}` may name.
    const ATTRIBUTES: &'static [&'static str];
    /// How its ARN is written (built, read back and exemplified from this alone).
    const ARN: ArnFormat;
    /// Whether the Resource Groups Tagging API lists its resources: orphan discovery then
    /// finds them in its one answer for every such kind (see `kinds::tagged`).
    const LISTED_BY_TAG: bool = false;
    /// The kinds its resources may use (reference, send to, run as): when orphans of
    /// several kinds are deleted, its go before theirs (see `kinds::deletion_rank`).
    const USES: &'static [&'static str] = &[];

    /// The stack-file form, as written.
    type Raw: RawBody + Debug + DeserializeOwned + Validate<Self>;
    /// The comparable form: built from the spec (desired) or from AWS (live). Its JSON
    /// rendering is what plan shows, field by field.
    type State: Serialize + Debug + Send + Sync;
    type Live: Live;
    /// What its read looks up besides the resource itself; `()` for most kinds.
    type Resolved: Debug + Default + Send + Sync;

    // --- From the stack file -------------------------------------------------------------

    /// Checks meaning (names, ranges, cross-field rules), reporting every problem.
    fn validate(raw: Self::Raw, cx: &ValidateCtx, diags: &mut Diags) -> Option<Self> {
        raw.validate(cx, diags)
    }
    /// Strings in the spec that may reference other resources (besides tags).
    fn templates(&self) -> Vec<&Template> {
        Vec::new()
    }
    /// What it needs of the resource that a reference in `template` (one of
    /// [`Kind::templates`]) names, before it can start: by default, that it is ready.
    fn needs(&self, _template: &Template) -> Needs {
        Needs::Ready
    }
    /// Its policy statements, for the scoping lint.
    fn policies(&self) -> Vec<&StatementSpec> {
        Vec::new()
    }
    /// Its fields that take one kind of ARN.
    fn arn_fields(&self) -> Vec<ArnField<'_>> {
        Vec::new()
    }
    /// An example of each attribute that is an ARN, in the form AWS gives it: what load-time
    /// checks judge a reference by (see `spec::arn_checks`). By default its `arn`, if it
    /// has one.
    fn arn_samples() -> Vec<(&'static str, String)> {
        match Self::ATTRIBUTES.contains(&"arn") {
            true => vec![("arn", Self::ARN.sample())],
            false => Vec::new(),
        }
    }
    /// Refuses references to attributes this resource will not have.
    fn check_attribute(&self, attribute: &str) -> Result<(), String> {
        if Self::ATTRIBUTES.contains(&attribute) {
            Ok(())
        } else {
            Err(format!(
                "{} has no attribute `{attribute}` (it has: {})",
                Self::TYPE,
                Self::ATTRIBUTES.join(", ")
            ))
        }
    }
    /// The physical name, when the file alone determines it (see [`Identity::names`]).
    fn known_name(&self) -> Option<String> {
        None
    }
    /// What its ARN names after the resource type, when the file alone determines it: by
    /// default its known name (a role's path comes first).
    fn arn_name(&self) -> Option<String> {
        self.known_name()
    }
    /// The code this resource deploys, for `cruddur-infra build`.
    fn bundle_source(&self) -> Option<bundle::Source> {
        None
    }
    /// Whether carrying out `change` uploads a new build of [`Kind::bundle_source`]: the
    /// build then starts with the change, ahead of the resource (see `prebuild`).
    fn rebuilds(&self, _change: &crate::plan::ResourceChange) -> bool {
        false
    }

    // --- Reading -------------------------------------------------------------------------

    /// Reads the resource and resolves the spec's lookups. Kinds whose resources have no
    /// name of their own (an endpoint) find theirs by its ownership tags, from `me`. By
    /// default: [`Kind::read_named`] with its known name, nothing to look up.
    async fn read(&self, aws: &Aws, me: &Identity<'_>) -> anyhow::Result<Observation<Self>> {
        let live = match self.known_name() {
            Some(name) => Self::read_named(aws, &name, me.owner).await?,
            None => None,
        };
        Ok(Observation {
            live,
            resolved: Self::Resolved::default(),
        })
    }
    /// Every resource of this kind tagged as the stack's, read in full (orphan discovery),
    /// except those the declared resources read anyway. Its cost must grow with the
    /// stack, never with the account: a filter AWS applies (by tag), or the stack's index.
    /// By default, for kinds [`Kind::LISTED_BY_TAG`], the tagging API's answer.
    async fn discover(aws: &Aws, find: &Discovery<'_>) -> anyhow::Result<Vec<Self::Live>> {
        if !Self::LISTED_BY_TAG {
            return Ok(Vec::new());
        }
        let owner = find.owner;
        let read = |name: String| async move { Self::read_named(aws, &name, owner).await };
        tagged::read_each(aws, &Self::ARN, owner, find.skip, read).await
    }
    /// The resource named `name`, read in full (with its tags from the tagging API's
    /// answer for `owner` when that has it); `None` when there is none.
    async fn read_named(
        _aws: &Aws,
        _name: &str,
        _owner: &str,
    ) -> anyhow::Result<Option<Self::Live>> {
        Ok(None)
    }
    /// The key the stack's index keeps for the resource `desired` describes, written
    /// before it is made; `None` for kinds found by tag (see `crate::index`).
    fn index_key(&self, _desired: &Self::State) -> Option<String> {
        None
    }

    // --- Planning: pure ------------------------------------------------------------------

    /// The AWS name or id of a resource that does not exist yet (what it will be for): by
    /// default its known name.
    fn planned_id(&self, _resolved: &Self::Resolved) -> String {
        self.known_name()
            .unwrap_or_else(|| crate::values::UNKNOWN_TEXT.into())
    }
    /// The attributes it will have once made (or made anew), as far as the file and the
    /// account tell: names and ARNs are known at plan time. What only AWS assigns (a
    /// stream's timestamp, an endpoint's id, a mapping's UUID) is unknown: `None`, or
    /// [`crate::values::UNKNOWN`] in the part of a string it is.
    /// By default its `name` (known) and `arn` (from it and the account), the rest unknown.
    fn planned_attributes(
        &self,
        _resolved: &Self::Resolved,
        context: Option<&DeploymentContext>,
    ) -> Attributes {
        let name = self.known_name();
        Self::ATTRIBUTES
            .iter()
            .map(|attribute| {
                let value = match *attribute {
                    "name" => name.clone(),
                    "arn" => self
                        .arn_name()
                        .zip(context)
                        .map(|(n, at)| Self::ARN.of(at, &n)),
                    _ => None,
                };
                (*attribute, value)
            })
            .collect()
    }
    /// What the file asks for, with references rendered (or [`crate::values::UNKNOWN`])
    /// and `tags` the complete tag set (user tags plus ownership tags).
    fn desired(&self, resolved: &Self::Resolved, inputs: &Inputs, tags: Tags) -> Self::State;
    /// Fills in what the desired state can only take from what AWS holds (a function's next
    /// version number): planning stays a pure function of the spec and the observation.
    fn reconcile(&self, _desired: &mut Self::State, _live: &Self::Live) {}
    /// A function's release settings (versions and a live alias), for `rollback` and for
    /// apply's check that a bake fits in the wait timeout.
    fn release(&self) -> Option<&crate::spec::release::Release> {
        None
    }
    /// Whether a replacement makes the new resource before deleting `live`: possible where
    /// both may exist at once, and better where the resource must never be missing (a
    /// stream's trigger). By default the old one goes first.
    fn replaces_by_creating_first(&self, _live: &Self::Live, _desired: &Self::State) -> bool {
        false
    }
    /// In a replacement that makes the new one first, what `old` had not yet done, handed
    /// over before the new one is made (a trigger's closed stream, replayed). An error
    /// leaves everything as it was. Nothing by default.
    async fn hand_over(&self, _cx: &ExecCtx<'_>, _old: &Self::Live) -> anyhow::Result<()> {
        Ok(())
    }
    /// Why `change` (one field's) cannot be made in place, if it cannot: the resource is
    /// then replaced, and this is the reason the plan gives.
    fn replaces(&self, _change: &FieldChange, _live: &Self::Live) -> Option<String> {
        None
    }
    /// A note on a field's change about its side effects (a rebuild, a delay), if any.
    fn note(&self, _change: &FieldChange, _live: &Self::Live) -> Option<String> {
        None
    }
    /// Why an in-place update cannot be made in this apply (e.g. a second TTL change within
    /// the hour DynamoDB needs for the first), if it cannot.
    fn update_blocker(&self, _desired: &Self::State, _live: &Self::Live) -> Option<String> {
        None
    }
    /// What AWS would refuse in `desired` that the file alone could not show (a size that
    /// depends on rendered references), if anything: the plan blocks the change, so apply
    /// stops before any request instead of mid-apply. References still unknown count as
    /// their placeholder.
    fn refused(&self, _desired: &Self::State) -> Option<String> {
        None
    }
    /// Attributes after an in-place update; by default they do not change.
    fn attributes_after_update(live: &Self::Live, _desired: &Self::State) -> Attributes {
        live.attributes()
    }

    // --- Permissions (`cruddur-infra permissions`) ---------------------------------------

    /// The IAM actions this kind's code calls: its `ops.rs` list, and those of the shared
    /// code it calls (see `crate::aws::needs`).
    const NEEDS: &'static [&'static [Need]];
    /// This resource's ARNs by the resource types its needs name, from the file's names and
    /// the account. A type whose resources it cannot name before AWS does (an endpoint's
    /// id, a mapping's UUID) is left out: the policy then grants it only on resources
    /// tagged as the stack's. By default its own ARN, when the file names it.
    fn arns(&self, at: &DeploymentContext) -> Vec<(&'static str, String)> {
        let arn = |name: String| (Self::ARN.resource_type, Self::ARN.of(at, &name));
        self.arn_name().map(arn).into_iter().collect()
    }
    /// Patterns matching every resource of the kind, by resource type: where its orphans
    /// (tagged as the stack's) may be. By default its own ARN's.
    fn any_arns(at: &DeploymentContext) -> Vec<(&'static str, String)> {
        vec![(Self::ARN.resource_type, Self::ARN.of(at, "*"))]
    }

    /// For tests: the live resource an apply of `desired` would leave (names and ARNs
    /// made up in the emulator's style).
    #[cfg(test)]
    fn applied(&self, desired: Self::State, resolved: &Self::Resolved) -> Self::Live;
    /// For tests: what the lookups of `read` would find (by default, nothing).
    #[cfg(test)]
    fn resolved_for_tests(&self) -> Self::Resolved {
        Self::Resolved::default()
    }
}

/// How a kind's resources are made and changed in AWS: what its `ops.rs` implements, next
/// to the calls it makes. Deleting is [`Live::delete`], as orphans are deleted too.
#[async_trait]
pub trait Changes: Kind {
    /// Makes the resource `desired` describes.
    async fn create(&self, cx: &ExecCtx<'_>, desired: &Self::State) -> Made<Self>;
    /// Changes `live` in place until it is as described (`to`).
    async fn update(&self, cx: &ExecCtx<'_>, live: &Self::Live, to: &Self::State) -> Made<Self>;
}
