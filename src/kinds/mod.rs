//! Resource kinds. Each kind is one module implementing [`Kind`]: its stack-file form, how
//! to read it from AWS, how to compare, create, update and delete it. The engine only sees
//! [`Node`], which [`Declared`] implements for every kind, so a new kind is a new module
//! plus one line in [`kinds!`] below.

pub mod endpoint;
pub mod function;
pub mod orphan;
pub mod role;
pub mod table;
pub mod trigger;
pub mod vpc;

use crate::aws::Aws;
use crate::plan::{Action, FieldChange, ResourceChange, all_fields, contains_unknown, diff_values};
use crate::progress::Tracker;
use crate::spec::diag::{Diagnostic, Diags, did_you_mean};
use crate::spec::raw::RawBody;
use crate::spec::template::{Context, Reference, Template};
use crate::tags;
use anyhow::{Context as _, bail};
use async_trait::async_trait;
use serde::Serialize;
use serde_saphyr::Location;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;
use std::sync::OnceLock;
use std::time::Duration;

/// A resource's attributes others can reference; `None` = only known after apply.
pub type Attributes = BTreeMap<&'static str, Option<String>>;

/// `${aws.account_id}`, `${aws.region}`, `${aws.partition}`: where the stack is deployed,
/// read from the live account (STS) so no account id or region is written in the file.
pub const AWS_CONTEXT: &str = "aws";
pub const AWS_CONTEXT_ATTRIBUTES: &[&str] = &["account_id", "region", "partition"];

/// The attributes of every resource planned or applied so far, by logical name.
#[derive(Debug, Default, Clone)]
pub struct Inputs(pub HashMap<String, Attributes>);

impl Inputs {
    pub fn lookup(&self, r: &Reference) -> Option<String> {
        self.0
            .get(&r.resource)?
            .get(r.attribute.as_str())
            .cloned()
            .flatten()
    }

    pub fn render(&self, t: &Template) -> String {
        t.render(&|r| self.lookup(r))
    }
}

/// Where a resource is declared, for the kind's validation messages.
pub struct ValidateCtx<'a> {
    pub template: &'a Context,
    /// Field path of the resource, e.g. `resources.messages`.
    pub path: String,
    pub loc: Location,
    /// Every resource's logical name, for `depends_on` checks.
    pub resource_names: &'a [String],
    /// The `environments:` key selected (`prod`, or the pattern `pr-*`).
    pub environment: &'a str,
    pub declared_environments: &'a [String],
    /// Physical names claimed so far, by kind of name (`table`, `role`, ...): two logical
    /// resources with one AWS name would fight over one resource.
    pub names_taken: &'a std::cell::RefCell<BTreeMap<(&'static str, String), String>>,
    /// The stack file's directory: relative paths in it (a function's `code`) start here.
    pub base_dir: &'a std::path::Path,
}

impl ValidateCtx<'_> {
    pub fn field(&self, name: &str) -> String {
        format!("{}.{name}", self.path)
    }
}

/// Which stack, environment and logical resource a resource belongs to: the values of its
/// ownership tags.
pub struct Identity<'a> {
    /// `<stack>/<env>`.
    pub owner: &'a str,
    pub resource: &'a str,
    /// Physical names known from the file alone (tables, roles, functions), by logical
    /// name: a resource found through another one (a trigger through its function) looks
    /// it up here, as reads happen before anything is planned.
    pub names: &'a BTreeMap<String, String>,
}

/// What planning a resource needs besides its own spec.
pub struct PlanCtx {
    /// `<stack>/<env>`: the value of the ownership tag this run manages.
    pub owner: String,
    /// `apply --adopt`: take over resources that exist without ownership tags.
    pub adopt: bool,
}

/// What executing a change needs.
pub struct ExecCtx<'a> {
    pub aws: &'a Aws,
    pub tracker: &'a Tracker,
    /// Longest wait for AWS to finish one step (table ACTIVE, deletion, ...).
    pub wait_timeout: Duration,
}

/// One resource kind. `Self` is the validated spec of one resource of this kind.
#[async_trait]
pub trait Kind: Debug + Send + Sync + Sized + 'static {
    /// The `type:` in the stack file.
    const TYPE: &'static str;
    /// Replacing one loses nothing that the file does not recreate (so apply needs no
    /// --allow-replace for it).
    const SAFE_TO_REPLACE: bool = false;
    /// When an orphan of this kind is deleted among orphans: lower first (a trigger before
    /// its function, a function before its role).
    const DELETE_ORDER: u8 = 50;
    /// What `${name.<attribute>}` may name.
    const ATTRIBUTES: &'static [&'static str];
    /// The stack-file form, as written.
    type Raw: RawBody + Debug + for<'de> serde::Deserialize<'de>;
    /// The comparable form: built from the spec (desired) or from AWS (live). Its JSON
    /// rendering is what plan shows, field by field.
    type State: Serialize + Debug + Send + Sync;
    /// What a read of AWS returns: the state plus ids and status.
    type Live: Debug + Send + Sync;

    /// Checks meaning (names, ranges, cross-field rules), reporting every problem.
    fn validate(raw: Self::Raw, cx: &ValidateCtx, diags: &mut Diags) -> Option<Self>;
    /// The AWS name or id of the resource, for people: a table's name, an endpoint's id
    /// (or what it will be for, before it exists).
    fn physical_id(&self, live: Option<&Self::Live>) -> String;
    /// Strings in the spec that may reference other resources (besides tags).
    fn templates(&self) -> Vec<&Template>;
    /// Refuses references to attributes this resource will not have (e.g. a stream ARN
    /// without a stream).
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
    /// Every resource of this kind tagged as `owner`'s, read in full (orphan discovery),
    /// except those named in `skip` (declared resources, read anyway).
    async fn discover(
        _aws: &Aws,
        _owner: &str,
        _skip: &BTreeSet<String>,
    ) -> anyhow::Result<Vec<Self::Live>> {
        Ok(Vec::new())
    }
    /// Deletes a live resource that no declared resource describes any more.
    async fn delete_orphan(_cx: &ExecCtx<'_>, _live: &Self::Live) -> anyhow::Result<()> {
        bail!("{} orphans cannot be deleted by cruddur-infra", Self::TYPE)
    }
    /// [`Kind::data_at_risk`] for an orphan.
    async fn orphan_data_at_risk(_aws: &Aws, _live: &Self::Live) -> anyhow::Result<Option<String>> {
        Ok(None)
    }
    /// The code this resource deploys, for `cruddur-infra build`.
    fn bundle_source(&self) -> Option<crate::bundle::Source> {
        None
    }
    /// Warnings about the live resource that are not differences to fix (e.g. a trigger
    /// attached to the same function outside the stack); shown in plan.
    fn warnings(_live: &Self::Live) -> Vec<String> {
        Vec::new()
    }
    /// Reads the resource; `None` when it does not exist. Kinds whose resources have no
    /// name of their own (an endpoint) find theirs by its ownership tags, from `me`.
    async fn read(&self, aws: &Aws, me: &Identity<'_>) -> anyhow::Result<Option<Self::Live>>;
    fn state(live: &Self::Live) -> &Self::State;
    fn tags(state: &Self::State) -> &BTreeMap<String, String>;
    fn attributes(live: &Self::Live) -> Attributes;

    /// What the file asks for, with references rendered (or [`UNKNOWN`]) and `tags` the
    /// complete tag set (user tags plus ownership tags).
    fn desired(&self, inputs: &Inputs, tags: BTreeMap<String, String>) -> Self::State;
    /// Why `desired` cannot be reached in place; empty when it can.
    fn replacement_reasons(&self, desired: &Self::State, live: &Self::Live) -> Vec<String>;
    /// Marks fields that force replacement and adds notes about side effects.
    fn annotate(&self, _change: &mut FieldChange, _live: &Self::Live) {}
    /// What is lost when this resource is deleted, if anything (e.g. a table's items).
    fn deletion_warning(_live: &Self::Live) -> Option<String> {
        None
    }
    /// Why deleting it would fail right now (e.g. deletion protection), if it would.
    fn deletion_blocker(_live: &Self::Live) -> Option<String> {
        None
    }
    /// What a deletion would destroy that needs explicit consent (a table's items), read
    /// from AWS just before a destroy; `None` when nothing would be lost.
    async fn data_at_risk(&self, _aws: &Aws, _live: &Self::Live) -> anyhow::Result<Option<String>> {
        Ok(None)
    }
    /// Why an in-place update cannot be made in this apply (e.g. a second TTL change within
    /// the hour DynamoDB needs for the first), if it cannot.
    fn update_blocker(&self, _desired: &Self::State, _live: &Self::Live) -> Option<String> {
        None
    }
    /// Attributes after an in-place update; by default they do not change.
    fn attributes_after_update(live: &Self::Live, _desired: &Self::State) -> Attributes {
        Self::attributes(live)
    }

    async fn create(&self, cx: &ExecCtx<'_>, desired: &Self::State) -> anyhow::Result<Self::Live>;
    async fn update(
        &self,
        cx: &ExecCtx<'_>,
        live: &Self::Live,
        desired: &Self::State,
    ) -> anyhow::Result<Self::Live>;
    async fn delete(&self, cx: &ExecCtx<'_>, live: &Self::Live) -> anyhow::Result<()>;
}

/// A declared resource as the engine sees it, whatever its kind.
#[async_trait]
pub trait Node: Send + Sync {
    fn name(&self) -> &str;
    fn kind(&self) -> &'static str;
    /// Logical names this resource depends on (references and `depends_on`).
    fn dependencies(&self) -> &BTreeSet<String>;
    /// Every reference-capable string, tags included, for load-time checks.
    fn templates(&self) -> Vec<&Template>;
    fn check_attribute(&self, attribute: &str) -> Result<(), String>;

    /// Reads the live resource from AWS and keeps it for planning; `owner` is the value of
    /// this run's ownership tag.
    async fn observe(
        &self,
        aws: &Aws,
        owner: &str,
        names: &BTreeMap<String, String>,
    ) -> anyhow::Result<()>;
    /// The resource's physical name, when the file alone determines it.
    fn known_name(&self) -> Option<String>;
    fn bundle_source(&self) -> Option<crate::bundle::Source>;
    /// What `observe` saw, as JSON (`null`: nothing), for saved plans' fingerprint.
    fn observed(&self) -> serde_json::Value;
    /// The observed resource's name or id in AWS (see [`orphan::physical_of`]).
    fn live_physical(&self) -> Option<String>;
    /// The live resource's attributes (after `observe`); `None` when it does not exist or
    /// is not this stack's (`owner`).
    fn live_attributes(&self, owner: &str) -> Option<Attributes>;
    /// The change apply would make, and the attributes others will see afterwards.
    fn plan_apply(&self, cx: &PlanCtx, inputs: &Inputs) -> (ResourceChange, Attributes);
    fn plan_destroy(&self, cx: &PlanCtx) -> ResourceChange;
    /// Before a destroy: what deleting it would lose (see [`Kind::data_at_risk`]).
    async fn data_at_risk(&self, aws: &Aws) -> anyhow::Result<Option<String>>;
    /// Carries out `action` (as planned) and returns the resulting attributes.
    async fn execute(
        &self,
        cx: &ExecCtx<'_>,
        action: Action,
        owner: &str,
        inputs: &Inputs,
    ) -> anyhow::Result<Attributes>;
}

/// A resource of kind `K` as declared in the stack file, plus what was observed of it.
#[derive(Debug)]
pub struct Declared<K: Kind> {
    name: String,
    spec: K,
    /// User tags: stack-wide, then environment, then the resource's own (later wins).
    tags: BTreeMap<String, Template>,
    dependencies: BTreeSet<String>,
    live: OnceLock<Option<K::Live>>,
}

impl<K: Kind> Declared<K> {
    pub fn new(
        name: String,
        spec: K,
        tags: BTreeMap<String, Template>,
        explicit_dependencies: Vec<String>,
    ) -> Self {
        let mut dependencies: BTreeSet<String> = explicit_dependencies.into_iter().collect();
        // `${aws.*}` is the account and region, not a resource.
        let refs = spec
            .templates()
            .into_iter()
            .chain(tags.values())
            .flat_map(|t| t.references().map(|r| r.resource.clone()))
            .filter(|r| r != AWS_CONTEXT)
            .collect::<Vec<_>>();
        dependencies.extend(refs);
        Declared {
            name,
            spec,
            tags,
            dependencies,
            live: OnceLock::new(),
        }
    }

    fn live(&self) -> Option<&K::Live> {
        self.live.get().and_then(Option::as_ref)
    }

    fn desired(&self, owner: &str, inputs: &Inputs) -> K::State {
        let mut tags: BTreeMap<String, String> = self
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), inputs.render(v)))
            .collect();
        tags.extend(tags::ownership(owner, &self.name));
        self.spec.desired(inputs, tags)
    }

    fn change(&self, action: Action) -> ResourceChange {
        ResourceChange {
            name: self.name.clone(),
            kind: K::TYPE,
            physical_id: self.spec.physical_id(self.live()),
            action,
            reasons: vec![],
            changes: vec![],
            blocked: None,
            safe_to_replace: K::SAFE_TO_REPLACE,
            orphan: false,
        }
    }
}

fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).expect("resource states serialize to JSON")
}

fn unknown_attributes<K: Kind>() -> Attributes {
    K::ATTRIBUTES.iter().map(|a| (*a, None)).collect()
}

#[async_trait]
impl<K: Kind> Node for Declared<K> {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        K::TYPE
    }

    fn dependencies(&self) -> &BTreeSet<String> {
        &self.dependencies
    }

    fn templates(&self) -> Vec<&Template> {
        let mut all = self.spec.templates();
        all.extend(self.tags.values());
        all
    }

    fn check_attribute(&self, attribute: &str) -> Result<(), String> {
        self.spec.check_attribute(attribute)
    }

    fn known_name(&self) -> Option<String> {
        self.spec.known_name()
    }

    fn bundle_source(&self) -> Option<crate::bundle::Source> {
        self.spec.bundle_source()
    }

    async fn data_at_risk(&self, aws: &Aws) -> anyhow::Result<Option<String>> {
        match self.live() {
            Some(live) => {
                self.spec.data_at_risk(aws, live).await.with_context(|| {
                    format!("checking {}.{} before deleting it", K::TYPE, self.name)
                })
            }
            None => Ok(None),
        }
    }

    fn live_physical(&self) -> Option<String> {
        self.live().map(|l| orphan::physical_of(&K::attributes(l)))
    }

    fn observed(&self) -> serde_json::Value {
        match self.live() {
            Some(live) => serde_json::json!({
                "state": to_json(K::state(live)),
                "attributes": to_json(&K::attributes(live)),
            }),
            None => serde_json::Value::Null,
        }
    }

    fn live_attributes(&self, owner: &str) -> Option<Attributes> {
        let live = self.live()?;
        match tags::owner_of(K::tags(K::state(live))) {
            tags::Owner::Stack(o) if o == owner => Some(K::attributes(live)),
            _ => None,
        }
    }

    async fn observe(
        &self,
        aws: &Aws,
        owner: &str,
        names: &BTreeMap<String, String>,
    ) -> anyhow::Result<()> {
        let me = Identity {
            owner,
            resource: &self.name,
            names,
        };
        let started = std::time::Instant::now();
        let live = self
            .spec
            .read(aws, &me)
            .await
            .with_context(|| format!("reading {}.{}", K::TYPE, self.name))?;
        tracing::debug!(
            resource = %format!("{}.{}", K::TYPE, self.name),
            exists = live.is_some(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "observed"
        );
        // A second observe of the same node keeps the first reading.
        let _ = self.live.set(live);
        Ok(())
    }

    fn plan_apply(&self, cx: &PlanCtx, inputs: &Inputs) -> (ResourceChange, Attributes) {
        let desired = self.desired(&cx.owner, inputs);
        let Some(live) = self.live() else {
            let mut rc = self.change(Action::Create);
            rc.changes = all_fields(&to_json(&desired));
            return (rc, unknown_attributes::<K>());
        };
        let live_tags = K::tags(K::state(live));
        match tags::owner_of(live_tags) {
            tags::Owner::Stack(o) if o == cx.owner => {}
            tags::Owner::Stack(other) => {
                let mut rc = self.change(Action::Conflict);
                rc.reasons.push(format!(
                    "it exists and belongs to stack/environment `{other}`; it is left alone \
                     (remove its `{}` tag in AWS to release it)",
                    tags::STACK_TAG
                ));
                return (rc, K::attributes(live));
            }
            tags::Owner::Nobody if !cx.adopt => {
                let mut rc = self.change(Action::Conflict);
                rc.reasons.push(
                    "it exists but was not created by cruddur-infra (no ownership tags); \
                     it is left alone unless you run apply with --adopt to take it over"
                        .to_string(),
                );
                return (rc, K::attributes(live));
            }
            tags::Owner::Nobody => {}
        }
        let mut changes = diff_values(&to_json(K::state(live)), &to_json(&desired));
        for change in &mut changes {
            self.spec.annotate(change, live);
        }
        let reasons = self.spec.replacement_reasons(&desired, live);
        let adopting = matches!(tags::owner_of(live_tags), tags::Owner::Nobody);
        let (action, attributes) = if !reasons.is_empty() {
            (Action::Replace, unknown_attributes::<K>())
        } else if adopting {
            (Action::Adopt, K::attributes_after_update(live, &desired))
        } else if changes.is_empty() {
            (Action::NoOp, K::attributes(live))
        } else {
            (Action::Update, K::attributes_after_update(live, &desired))
        };
        let mut rc = self.change(action);
        rc.reasons = reasons;
        match action {
            // Replacing deletes; a resource being adopted is not ours to delete yet, even
            // with --allow-replace.
            Action::Replace if adopting => {
                rc.blocked = Some(
                    "it was not created by cruddur-infra and adopting it would mean deleting it; \
                     cruddur-infra never deletes what it does not own. Change the file so it \
                     matches the resource's key, adopt it, then change it"
                        .into(),
                );
            }
            Action::Replace => {
                rc.reasons.extend(K::deletion_warning(live));
                rc.blocked = K::deletion_blocker(live);
            }
            Action::Update | Action::Adopt => {
                rc.blocked = self.spec.update_blocker(&desired, live);
            }
            _ => {}
        }
        rc.reasons.extend(K::warnings(live));
        rc.changes = changes;
        (rc, attributes)
    }

    fn plan_destroy(&self, cx: &PlanCtx) -> ResourceChange {
        let Some(live) = self.live() else {
            let mut rc = self.change(Action::NoOp);
            rc.reasons.push("does not exist".into());
            return rc;
        };
        match tags::owner_of(K::tags(K::state(live))) {
            tags::Owner::Stack(o) if o == cx.owner => {
                let mut rc = self.change(Action::Delete);
                rc.reasons.extend(K::deletion_warning(live));
                rc.blocked = K::deletion_blocker(live);
                rc
            }
            tags::Owner::Stack(other) => {
                let mut rc = self.change(Action::NoOp);
                rc.reasons.push(format!(
                    "belongs to `{other}`, not to this stack: left alone"
                ));
                rc
            }
            tags::Owner::Nobody => {
                let mut rc = self.change(Action::NoOp);
                rc.reasons
                    .push("not created by cruddur-infra (no ownership tags): left alone".into());
                rc
            }
        }
    }

    async fn execute(
        &self,
        cx: &ExecCtx<'_>,
        action: Action,
        owner: &str,
        inputs: &Inputs,
    ) -> anyhow::Result<Attributes> {
        let live = self.live();
        let desired = || -> anyhow::Result<K::State> {
            let desired = self.desired(owner, inputs);
            if contains_unknown(&to_json(&desired)) {
                bail!("a value this resource needs is still unknown; run plan again");
            }
            Ok(desired)
        };
        let live_or_gone =
            || live.ok_or_else(|| anyhow::anyhow!("it no longer exists; run plan again"));
        let result: anyhow::Result<Attributes> = match action {
            Action::NoOp => Ok(live.map(K::attributes).unwrap_or_default()),
            Action::Create => Ok(K::attributes(&self.spec.create(cx, &desired()?).await?)),
            Action::Update | Action::Adopt => {
                let live = live_or_gone()?;
                let desired = desired()?;
                let reasons = self.spec.replacement_reasons(&desired, live);
                if !reasons.is_empty() {
                    bail!(
                        "it now needs replacement ({}); run plan again",
                        reasons.join("; ")
                    );
                }
                Ok(K::attributes(&self.spec.update(cx, live, &desired).await?))
            }
            Action::Replace => {
                let desired = desired()?;
                self.spec.delete(cx, live_or_gone()?).await?;
                Ok(K::attributes(&self.spec.create(cx, &desired).await?))
            }
            Action::Delete => {
                self.spec.delete(cx, live_or_gone()?).await?;
                Ok(Attributes::new())
            }
            Action::Conflict => bail!("conflicting resources are never changed"),
        };
        result.with_context(|| {
            format!(
                "{}.{} ({})",
                K::TYPE,
                self.name,
                self.spec.physical_id(live)
            )
        })
    }
}

/// A string field that may hold references (`${messages.arn}`), parsed; a placeholder
/// syntax error is reported in `diags`.
pub fn template_field(
    s: &serde_saphyr::Spanned<String>,
    cx: &ValidateCtx,
    field: String,
    diags: &mut Diags,
) -> Option<Template> {
    Template::parse(&s.value, cx.template, s.referenced, field.clone())
        .map_err(|e| {
            diags.push(crate::spec::template::syntax_error(
                &s.referenced,
                &field,
                e,
            ))
        })
        .ok()
}

/// An integer field that `ok` accepts (`allowed` says which values, for the message), or
/// `default` when it is absent or refused (then reported in `diags`).
pub fn int_field(
    value: Option<&serde_saphyr::Spanned<i64>>,
    default: i64,
    ok: impl Fn(i64) -> bool,
    allowed: &str,
    field: String,
    hint: &str,
    diags: &mut Diags,
) -> i64 {
    match value {
        Some(v) if !ok(v.value) => {
            diags.push(
                Diagnostic::new(
                    &v.referenced,
                    field,
                    format!("{} is out of range ({allowed})", v.value),
                )
                .hint(hint),
            );
            default
        }
        Some(v) => v.value,
        None => default,
    }
}

/// How a kind names its resources in AWS, for [`physical_name`].
pub struct NameRules {
    /// `table`, `role`: used in messages.
    pub what: &'static str,
    pub example: &'static str,
    pub valid: fn(&str) -> bool,
    /// AWS's rules, said plainly, for the hint.
    pub rules: &'static str,
}

/// The resource's `name:`: required; `${env}` and `${stack}` allowed, references not (a name
/// must be known before anything exists); checked against AWS's rules.
pub fn physical_name(
    name: Option<&serde_saphyr::Spanned<String>>,
    rules: &NameRules,
    cx: &ValidateCtx,
    diags: &mut Diags,
) -> Option<String> {
    let field = cx.field("name");
    let Some(n) = name else {
        diags.push(
            Diagnostic::new(&cx.loc, &field, "missing field `name`").hint(format!(
                "the {}'s name in AWS, e.g. `{}`",
                rules.what, rules.example
            )),
        );
        return None;
    };
    let template = match Template::parse(&n.value, cx.template, n.referenced, field.clone()) {
        Ok(t) => t,
        Err(e) => {
            diags.push(crate::spec::template::syntax_error(
                &n.referenced,
                &field,
                e,
            ));
            return None;
        }
    };
    match template.literal() {
        None => {
            diags.push(
                Diagnostic::new(&n.referenced, &field, format!("a {} name cannot reference another resource", rules.what))
                    .hint("names may use ${env} and ${stack} only, so they are known before anything exists"),
            );
            None
        }
        Some(name) if !(rules.valid)(&name) => {
            diags.push(
                Diagnostic::new(
                    &n.referenced,
                    &field,
                    format!("invalid {} name `{name}`", rules.what),
                )
                .hint(rules.rules),
            );
            None
        }
        Some(name) => {
            let mut taken = cx.names_taken.borrow_mut();
            if let Some(other) = taken.get(&(rules.what, name.clone())) {
                diags.push(
                    Diagnostic::new(
                        &n.referenced,
                        &field,
                        format!("{} name `{name}` is also the name of {other}", rules.what),
                    )
                    .hint("each resource needs its own name in AWS; two resources with one name would fight over it"),
                );
                return None;
            }
            taken.insert((rules.what, name.clone()), cx.path.clone());
            Some(name)
        }
    }
}

/// Builds a node of kind `K` from its raw form: applies the environment's override,
/// validates, and collects dependencies. `None` when there were errors (in `diags`).
pub fn build<K: Kind>(
    mut raw: K::Raw,
    cx: &ValidateCtx,
    base_tags: &BTreeMap<String, Template>,
    diags: &mut Diags,
) -> Option<Box<dyn Node>> {
    let name = cx.path.rsplit('.').next().unwrap_or_default().to_string();
    if let Some(mut overrides) = raw.take_overrides() {
        for (key, _) in overrides.iter() {
            if !cx.declared_environments.contains(&key.value) {
                let d = Diagnostic::new(
                    &key.referenced,
                    format!("{}.overrides.{}", cx.path, key.value),
                    format!(
                        "override for environment `{}`, which is not declared",
                        key.value
                    ),
                );
                let hint = did_you_mean(
                    &key.value,
                    cx.declared_environments.iter().map(String::as_str),
                )
                .unwrap_or_else(|| {
                    format!(
                        "declared environments: {}",
                        cx.declared_environments.join(", ")
                    )
                });
                diags.push(d.hint(hint));
            }
        }
        if let Some(mut patch) = overrides.remove(cx.environment) {
            let path = format!("{}.overrides.{}", cx.path, cx.environment);
            if patch.value.take_overrides().is_some() {
                diags.error(
                    &patch.referenced,
                    &path,
                    "an override cannot have overrides of its own",
                );
            }
            if let Some(deps) = patch.value.depends_on() {
                diags.push(
                    Diagnostic::new(
                        &deps.referenced,
                        format!("{path}.depends_on"),
                        "depends_on cannot be overridden per environment",
                    )
                    .hint("declare depends_on on the resource itself"),
                );
            }
            raw = raw.overlay(patch.value);
        }
    }
    let mut explicit = Vec::new();
    if let Some(deps) = raw.depends_on() {
        for dep in &deps.value {
            if cx.resource_names.contains(&dep.value) {
                explicit.push(dep.value.clone());
            } else {
                let hint = did_you_mean(&dep.value, cx.resource_names.iter().map(String::as_str))
                    .unwrap_or_else(|| "list logical names of resources in this file".into());
                diags.push(
                    Diagnostic::new(
                        &dep.referenced,
                        cx.field("depends_on"),
                        format!("`{}` is not a declared resource", dep.value),
                    )
                    .hint(hint),
                );
            }
        }
    }
    let own_tags = match raw.take_tags() {
        Some(map) => tags::parse_user_tags(&map, cx.template, &cx.field("tags"), diags),
        None => BTreeMap::new(),
    };
    let spec = K::validate(raw, cx, diags)?;
    let mut tags = base_tags.clone();
    tags.extend(own_tags);
    Some(Box::new(Declared::new(name, spec, tags, explicit)))
}

/// Declares the kinds the stack file may use. Generates [`RawResource`] (the raw form of
/// any resource, read with `type` as its first key) and its dispatch to [`build`].
macro_rules! kinds {
    ($( $variant:ident => $kind:ty ),* $(,)?) => {
        #[derive(Debug)]
        pub enum RawResource {
            $( $variant(Box<<$kind as Kind>::Raw>), )*
        }

        /// Every `type:` the stack file accepts.
        pub const TYPES: &[&str] = &[$( <$kind as Kind>::TYPE ),*];

        /// Every resource of every kind tagged as `owner`'s, all kinds at once.
        pub async fn discover_tagged<'a>(
            aws: &'a Aws,
            owner: &'a str,
            declared: &'a BTreeSet<(&'static str, String)>,
        ) -> anyhow::Result<Vec<Box<dyn orphan::OrphanNode>>> {
            let kinds: Vec<
                futures::future::BoxFuture<'a, anyhow::Result<Vec<Box<dyn orphan::OrphanNode>>>>,
            > = vec![$( Box::pin(orphan::discover_kind::<$kind>(aws, owner, declared)) ),*];
            Ok(futures::future::try_join_all(kinds).await?.into_iter().flatten().collect())
        }

        impl RawResource {
            fn from_map<'de, A: serde::de::MapAccess<'de>>(
                type_name: &str,
                map: A,
            ) -> Result<Self, A::Error> {
                use serde::Deserialize;
                use serde::de::value::MapAccessDeserializer;
                $(
                    if type_name == <$kind as Kind>::TYPE {
                        return Ok(RawResource::$variant(Box::new(
                            <$kind as Kind>::Raw::deserialize(MapAccessDeserializer::new(map))?,
                        )));
                    }
                )*
                Err(serde::de::Error::unknown_variant(type_name, TYPES))
            }

            pub fn build(
                self,
                cx: &ValidateCtx,
                base_tags: &BTreeMap<String, Template>,
                diags: &mut Diags,
            ) -> Option<Box<dyn Node>> {
                match self {
                    $( RawResource::$variant(raw) => build::<$kind>(*raw, cx, base_tags, diags), )*
                }
            }
        }
    };
}

kinds! {
    DynamodbTable => table::Table,
    IamRole => role::Role,
    VpcGatewayEndpoint => endpoint::Endpoint,
    LambdaFunction => function::Function,
    EventSourceMapping => trigger::Trigger,
}

/// A resource is a mapping whose first key is `type`; the rest is read as that kind's
/// fields without buffering, so every error keeps its line and column.
impl<'de> serde::Deserialize<'de> for RawResource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ResourceVisitor;
        impl<'de> serde::de::Visitor<'de> for ResourceVisitor {
            type Value = RawResource;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(
                    f,
                    "a resource: a mapping starting with `type: <{}>`",
                    TYPES.join("|")
                )
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawResource, A::Error> {
                match map.next_key::<String>()?.as_deref() {
                    Some("type") => {}
                    Some(other) => {
                        return Err(serde::de::Error::custom(format!(
                            "`type` must be the first key of a resource (found `{other}` first)"
                        )));
                    }
                    None => return Err(serde::de::Error::missing_field("type")),
                }
                let type_name: String = map.next_value()?;
                RawResource::from_map(&type_name, map)
            }
        }
        d.deserialize_map(ResourceVisitor)
    }
}
