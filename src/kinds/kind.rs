//! What a resource kind is: [`Kind`] for the resource as the stack file declares it (its
//! validation, its reads, its desired state, how it is created and changed), and [`Live`]
//! for the resource as AWS holds it (its tags and attributes, what deleting it means, and
//! the deletion itself). Deleting needs only the live resource, so a declared resource and
//! an orphan (tagged as ours, no longer declared) are deleted by the same code.

use crate::aws::Aws;
use crate::aws::needs::Need;
use crate::bundle;
use crate::exec::ExecCtx;
use crate::plan::FieldChange;
use crate::spec::arn::ArnField;
use crate::spec::diag::Diags;
use crate::spec::fields::ValidateCtx;
use crate::spec::policy::StatementSpec;
use crate::spec::raw::RawBody;
use crate::spec::template::{Inputs, Template};
use crate::values::{Attributes, DeploymentContext};
use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

pub type Tags = BTreeMap<String, String>;

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

/// A resource as AWS holds it: everything about it that needs no further call.
#[async_trait]
pub trait Live: Debug + Send + Sync + 'static {
    /// The `type:` of its kind.
    fn kind(&self) -> &'static str;
    /// The name or id people know it by in AWS (a table's name, an endpoint's id).
    fn physical_id(&self) -> String;
    fn tags(&self) -> &Tags;
    /// What `${name.<attribute>}` renders to.
    fn attributes(&self) -> Attributes;
    /// The comparable state as JSON: what plan compares with the file, field by field.
    fn state_json(&self) -> serde_json::Value;
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
    /// When it is deleted among orphans: lower first (a trigger before its function, a
    /// function before its role).
    fn delete_order(&self) -> u8 {
        50
    }
    /// What deleting it would destroy that needs explicit consent (a table's items),
    /// counted now; `None` when nothing would be lost.
    async fn data_at_risk(&self, _aws: &Aws) -> anyhow::Result<Option<String>> {
        Ok(None)
    }
    /// Deletes it and waits until it is gone.
    async fn delete(&self, cx: &ExecCtx<'_>) -> anyhow::Result<()>;
    /// For tests that make a resource someone else's.
    #[cfg(test)]
    fn tags_mut(&mut self) -> &mut Tags;
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
    /// An example of each attribute that is an ARN, in the form AWS gives it: what load-time
    /// checks judge a reference by (see `spec::arn_checks`).
    const ARN_SAMPLES: &'static [(&'static str, &'static str)] = &[];
    /// The stack-file form, as written.
    type Raw: RawBody + Debug + DeserializeOwned;
    /// The comparable form: built from the spec (desired) or from AWS (live). Its JSON
    /// rendering is what plan shows, field by field.
    type State: Serialize + Debug + Send + Sync;
    type Live: Live;
    /// What its read looks up besides the resource itself; `()` for most kinds.
    type Resolved: Debug + Send + Sync;

    // --- From the stack file -------------------------------------------------------------

    /// Checks meaning (names, ranges, cross-field rules), reporting every problem.
    fn validate(raw: Self::Raw, cx: &ValidateCtx, diags: &mut Diags) -> Option<Self>;
    /// Strings in the spec that may reference other resources (besides tags).
    fn templates(&self) -> Vec<&Template>;
    /// Its policy statements, for the scoping lint.
    fn policies(&self) -> Vec<&StatementSpec> {
        Vec::new()
    }
    /// Its fields that take one kind of ARN.
    fn arn_fields(&self) -> Vec<ArnField<'_>> {
        Vec::new()
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
    /// name of their own (an endpoint) find theirs by its ownership tags, from `me`.
    async fn read(&self, aws: &Aws, me: &Identity<'_>) -> anyhow::Result<Observation<Self>>;
    /// Every resource of this kind tagged as the stack's, read in full (orphan discovery),
    /// except those the declared resources read anyway. Its cost must grow with the
    /// stack, never with the account: a filter AWS applies (by tag), or the stack's index.
    async fn discover(_aws: &Aws, _find: &Discovery<'_>) -> anyhow::Result<Vec<Self::Live>> {
        Ok(Vec::new())
    }
    /// The key the stack's index keeps for the resource `desired` describes, written
    /// before it is made; `None` for kinds found by tag (see `crate::index`).
    fn index_key(&self, _desired: &Self::State) -> Option<String> {
        None
    }

    // --- Planning: pure ------------------------------------------------------------------

    /// The AWS name or id of a resource that does not exist yet (what it will be for).
    fn planned_id(&self, resolved: &Self::Resolved) -> String;
    /// The attributes it will have once made (or made anew), as far as the file and the
    /// account tell: names and ARNs are known at plan time. What only AWS assigns (a
    /// stream's timestamp, an endpoint's id, a mapping's UUID) is unknown: `None`, or
    /// [`crate::values::UNKNOWN`] in the part of a string it is.
    fn planned_attributes(
        &self,
        resolved: &Self::Resolved,
        context: Option<&DeploymentContext>,
    ) -> Attributes;
    /// What the file asks for, with references rendered (or [`crate::values::UNKNOWN`])
    /// and `tags` the complete tag set (user tags plus ownership tags).
    fn desired(&self, resolved: &Self::Resolved, inputs: &Inputs, tags: Tags) -> Self::State;
    /// Why `desired` cannot be reached in place; empty when it can.
    fn replacement_reasons(&self, desired: &Self::State, live: &Self::Live) -> Vec<String>;
    /// Marks fields that force replacement and adds notes about side effects.
    fn annotate(&self, _change: &mut FieldChange, _live: &Self::Live) {}
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
    fn needs() -> Vec<Need>;
    /// This resource's ARNs by the resource types its needs name, from the file's names and
    /// the account. A type whose resources it cannot name before AWS does (an endpoint's
    /// id, a mapping's UUID) is left out: the policy then grants it only on resources
    /// tagged as the stack's.
    fn arns(&self, at: &DeploymentContext) -> Vec<(&'static str, String)>;
    /// Patterns matching every resource of the kind, by resource type: where its orphans
    /// (tagged as the stack's) may be.
    fn any_arns(at: &DeploymentContext) -> Vec<(&'static str, String)>;

    // --- Changing (deleting is [`Live::delete`]) -----------------------------------------

    async fn create(&self, cx: &ExecCtx<'_>, desired: &Self::State) -> anyhow::Result<Self::Live>;
    async fn update(
        &self,
        cx: &ExecCtx<'_>,
        live: &Self::Live,
        desired: &Self::State,
    ) -> anyhow::Result<Self::Live>;

    /// For tests: the live resource an apply of `desired` would leave (names and ARNs
    /// made up in the emulator's style).
    #[cfg(test)]
    fn applied(&self, desired: Self::State, resolved: &Self::Resolved) -> Self::Live;
    /// For tests: what the lookups of `read` would find.
    #[cfg(test)]
    fn resolved_for_tests(&self) -> Self::Resolved;
}
