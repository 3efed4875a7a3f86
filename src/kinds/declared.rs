//! A declared resource of any kind, as the engine sees it: [`Resource`], implemented once
//! for every kind by [`Declared`]. It gathers what planning needs into an [`Assessment`]
//! (the desired state, the live one, the kind's word on each difference); the engine
//! decides (`engine::decide`), the same way for every kind. It also carries a planned
//! action out.
//!
//! What observe found is kept outside the resource, in `O` (the registry's
//! `Observations`), which has a typed place for every kind ([`Keeps`]): planning is a
//! function of the spec and that value.

use crate::aws::Aws;
use crate::bundle;
use crate::exec::ExecCtx;
use crate::index::{self, Entry};
use crate::kinds::kind::{Changes, Held, Identity, Kind, Live, Needs, Observation, PlanCtx, Tags};
use crate::plan::{
    Action, Assessment, Existing, FieldChange, ResourceChange, Wanted, contains_unknown,
    diff_values,
};
use crate::spec::diag::{Diagnostic, Diags};
use crate::spec::fields::{ValidateCtx, common};
use crate::spec::template::{Inputs, Template};
use crate::tags::{self, MAX_USER_TAGS};
use crate::values::{Attributes, DeploymentContext};
use anyhow::{Context as _, bail};
use async_trait::async_trait;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Where the observations of kind `K` are kept, by logical name.
pub trait Keeps<K: Kind>: Send + Sync + 'static {
    fn observations(&self) -> &BTreeMap<String, Observation<K>>;
    fn observations_mut(&mut self) -> &mut BTreeMap<String, Observation<K>>;
}

/// A read's result, waiting to be kept in `O` (reads run concurrently; keeping them is
/// one at a time).
pub struct Reading<O>(Box<dyn FnOnce(&mut O) + Send>);

impl<O> Reading<O> {
    pub fn keep(self, observations: &mut O) {
        (self.0)(observations)
    }
}

/// A declared resource as the engine sees it, whatever its kind.
#[async_trait]
pub trait Resource<O>: crate::spec::Resource + Send + Sync {
    /// The resource's physical name, when the file alone determines it.
    fn known_name(&self) -> Option<String>;
    /// Its ARNs by resource type, for the deployer's policy (see [`Kind::arns`]).
    fn arns(&self, at: &DeploymentContext) -> Vec<(&'static str, String)>;
    fn bundle_source(&self) -> Option<bundle::Source>;
    /// A function's release settings (see [`Kind::release`]).
    fn release(&self) -> Option<&crate::spec::release::Release>;
    /// The code carrying out `change` builds and uploads, if any.
    fn bundle_needed(&self, change: &ResourceChange) -> Option<bundle::Source>;
    /// What it needs of `dependency` before it starts (see [`Needs`]), and which of its
    /// attributes it refers to.
    fn needs_of(&self, dependency: &str) -> (Needs, BTreeSet<String>);
    /// The attributes it will have once made, as far as they are known before (names and
    /// ARNs: see [`Kind::planned_attributes`]).
    fn planned_attributes(
        &self,
        observations: &O,
        context: Option<&DeploymentContext>,
    ) -> Attributes;
    /// Reads the live resource (and the spec's lookups) from AWS.
    async fn observe(&self, aws: &Aws, me: &Identity<'_>) -> anyhow::Result<Reading<O>>;
    /// What observe found, whatever its owner.
    fn live<'o>(&self, observations: &'o O) -> Option<&'o dyn Live>;
    /// What planning needs to decide its change: what AWS has, and (given `inputs`, the
    /// attributes of what it references; none when destroying) what the file asks for and
    /// what the kind says about each difference.
    fn assess(&self, observations: &O, cx: &PlanCtx, inputs: Option<&Inputs>) -> Assessment;
    /// Carries out `action` (as planned) and returns the resulting attributes.
    async fn execute(
        &self,
        cx: &ExecCtx<'_>,
        observations: &O,
        action: Action,
        owner: &str,
        inputs: &Inputs,
    ) -> anyhow::Result<Attributes>;
    /// For tests: records the resource as an apply by `owner` would leave it.
    #[cfg(test)]
    fn assume_applied(&self, observations: &mut O, owner: &str, inputs: &Inputs) -> Attributes;
    /// For tests: records that the resource does not exist.
    #[cfg(test)]
    fn assume_missing(&self, observations: &mut O);
}

/// A resource of kind `K` as declared in the stack file.
#[derive(Debug)]
pub struct Declared<K: Kind> {
    name: String,
    spec: K,
    /// User tags: stack-wide, then environment, then the resource's own (later wins).
    tags: BTreeMap<String, Template>,
    dependencies: BTreeSet<String>,
    /// Those named by `depends_on`: always waited for until ready.
    explicit: BTreeSet<String>,
}

/// Builds a resource of kind `K` from its raw form: the environment's override, the fields
/// every kind has, then the kind's own validation. `None` when there were errors.
pub fn build<K: Changes, O: Keeps<K>>(
    raw: K::Raw,
    cx: &ValidateCtx,
    base_tags: &BTreeMap<String, Template>,
    diags: &mut Diags,
) -> Option<Box<dyn Resource<O>>> {
    let (raw, common) = common(raw, cx, diags);
    let spec = K::validate(raw, cx, diags)?;
    let mut tags = base_tags.clone();
    tags.extend(common.tags);
    // Each map is within the limit alone; together they may not be.
    if tags.len() > MAX_USER_TAGS {
        diags.push(
            Diagnostic::new(
                &cx.loc,
                cx.field("tags"),
                format!(
                    "{} tags with the stack's and the environment's; at most {MAX_USER_TAGS} are allowed",
                    tags.len()
                ),
            )
            .hint("AWS allows 50 tags per resource and cruddur-infra uses 3 for ownership"),
        );
        return None;
    }
    let explicit: BTreeSet<String> = common.depends_on.into_iter().collect();
    let mut dependencies = explicit.clone();
    // `${aws.*}` is the account and region, not a resource.
    dependencies.extend(
        spec.templates()
            .into_iter()
            .chain(tags.values())
            .flat_map(|t| t.references().map(|r| r.resource.clone()))
            .filter(|r| r != DeploymentContext::NAME),
    );
    Some(Box::new(Declared {
        name: cx.name(),
        spec,
        tags,
        dependencies,
        explicit,
    }))
}

fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    // Resource states are plain data (strings, numbers, maps): they always serialize.
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

fn unknown_attributes<K: Kind>() -> Attributes {
    K::ATTRIBUTES.iter().map(|a| (*a, None)).collect()
}

/// The attributes a resource about to be made will have (see [`Kind::planned_attributes`]).
fn planned<K: Kind>(spec: &K, seen: &Observation<K>, cx: &PlanCtx) -> Attributes {
    spec.planned_attributes(&seen.resolved, cx.context.as_ref())
}

/// Removes a deleted resource's entry from the stack's index (kinds found by tag have
/// none).
pub async fn forget(cx: &ExecCtx<'_>, owner: &str, live: &dyn Live) -> anyhow::Result<()> {
    match live.index_key() {
        Some(key) => index::remove(cx.aws, owner, &[Entry::new(live.kind(), key)]).await,
        None => Ok(()),
    }
}

impl<K: Kind> Declared<K> {
    /// Writes the entry of the resource `desired` describes in the stack's index before it
    /// is made (kinds found by tag have none): a run killed right after the create still
    /// leaves it findable.
    async fn index(&self, cx: &ExecCtx<'_>, owner: &str, desired: &K::State) -> anyhow::Result<()> {
        match self.spec.index_key(desired) {
            Some(key) => index::add(cx.aws, owner, &[Entry::new(K::TYPE, key)]).await,
            None => Ok(()),
        }
    }

    fn observation<'o, O: Keeps<K>>(&self, observations: &'o O) -> Option<&'o Observation<K>> {
        observations.observations().get(&self.name)
    }

    fn desired(&self, resolved: &K::Resolved, owner: &str, inputs: &Inputs) -> K::State {
        let mut tags: Tags = self
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), inputs.render(v)))
            .collect();
        tags.extend(tags::ownership(owner, &self.name));
        self.spec.desired(resolved, inputs, tags)
    }

    /// A tag value made from references is checked once they are filled in (literal ones
    /// were checked at load); one still unknown is left for the next plan.
    fn rendered_tag_problem(&self, inputs: &Inputs) -> Option<String> {
        self.tags
            .iter()
            .filter(|(_, template)| template.has_references())
            .find_map(|(key, template)| {
                let value = inputs.render(template);
                if value.contains(crate::values::UNKNOWN) {
                    return None;
                }
                crate::spec::tags::value_problem(&value).map(|p| format!("tag `{key}`: {p}"))
            })
    }

    /// The differences from `live` to `desired`, field by field, each marked and noted by
    /// the kind, and the reasons they cannot be made in place (each said once).
    fn differences(
        &self,
        live: &K::Live,
        desired: &serde_json::Value,
    ) -> (Vec<FieldChange>, Vec<String>) {
        let mut changes = diff_values(&live.state_json(), desired);
        let mut reasons: Vec<String> = Vec::new();
        for change in &mut changes {
            if let Some(reason) = self.spec.replaces(change, live) {
                change.forces_replacement = true;
                if !reasons.contains(&reason) {
                    reasons.push(reason);
                }
            }
            change.note = self.spec.note(change, live);
        }
        (changes, reasons)
    }

    /// What the file asks for, rendered with `inputs`, and how it differs from what
    /// exists.
    fn wanted(&self, seen: &Observation<K>, cx: &PlanCtx, inputs: &Inputs) -> Wanted {
        let mut desired = self.desired(&seen.resolved, &cx.owner, inputs);
        if let Some(live) = &seen.live {
            self.spec.reconcile(&mut desired, live);
        }
        let state = to_json(&desired);
        let mut wanted = Wanted {
            refused: self
                .spec
                .refused(&desired)
                .or_else(|| self.rendered_tag_problem(inputs)),
            planned_attributes: planned(&self.spec, seen, cx),
            ..Wanted::default()
        };
        if let Some(live) = &seen.live {
            (wanted.changes, wanted.replacement_reasons) = self.differences(live, &state);
            wanted.update_blocker = self.spec.update_blocker(&desired, live);
            wanted.attributes_after_update = K::attributes_after_update(live, &desired);
        }
        wanted.state = state;
        wanted
    }
}

impl<K: Kind> crate::spec::Resource for Declared<K> {
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

    fn sample_arn(&self, attribute: &str) -> Option<String> {
        K::arn_samples()
            .into_iter()
            .find(|(a, _)| *a == attribute)
            .map(|(_, sample)| sample)
    }

    fn policies(&self) -> Vec<&crate::spec::policy::StatementSpec> {
        self.spec.policies()
    }

    fn arn_fields(&self) -> Vec<crate::spec::arn::ArnField<'_>> {
        self.spec.arn_fields()
    }
}

#[async_trait]
impl<K: Changes, O: Keeps<K>> Resource<O> for Declared<K> {
    fn known_name(&self) -> Option<String> {
        self.spec.known_name()
    }

    fn arns(&self, at: &DeploymentContext) -> Vec<(&'static str, String)> {
        self.spec.arns(at)
    }

    fn bundle_source(&self) -> Option<bundle::Source> {
        self.spec.bundle_source()
    }

    fn release(&self) -> Option<&crate::spec::release::Release> {
        self.spec.release()
    }

    fn needs_of(&self, dependency: &str) -> (Needs, BTreeSet<String>) {
        let mut needs = match self.explicit.contains(dependency) {
            true => Needs::Ready,
            false => Needs::Values,
        };
        let mut attributes = BTreeSet::new();
        let spec = self
            .spec
            .templates()
            .into_iter()
            .map(|t| (t, self.spec.needs(t)));
        // A tag's value is only a value.
        let tags = self.tags.values().map(|t| (t, Needs::Values));
        for (template, need) in spec.chain(tags) {
            for reference in template.references().filter(|r| r.resource == dependency) {
                needs = needs.max(need);
                attributes.insert(reference.attribute.clone());
            }
        }
        (needs, attributes)
    }

    fn planned_attributes(
        &self,
        observations: &O,
        context: Option<&DeploymentContext>,
    ) -> Attributes {
        match self.observation(observations) {
            Some(seen) => self.spec.planned_attributes(&seen.resolved, context),
            None => unknown_attributes::<K>(),
        }
    }

    fn bundle_needed(&self, change: &ResourceChange) -> Option<bundle::Source> {
        self.spec
            .rebuilds(change)
            .then(|| self.spec.bundle_source())
            .flatten()
    }

    async fn observe(&self, aws: &Aws, me: &Identity<'_>) -> anyhow::Result<Reading<O>> {
        let started = std::time::Instant::now();
        let seen = self
            .spec
            .read(aws, me)
            .await
            .with_context(|| format!("reading {}.{}", K::TYPE, self.name))?;
        tracing::debug!(
            resource = %format!("{}.{}", K::TYPE, self.name),
            exists = seen.live.is_some(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "observed"
        );
        let name = self.name.clone();
        Ok(Reading(Box::new(move |observations: &mut O| {
            observations.observations_mut().insert(name, seen);
        })))
    }

    fn live<'o>(&self, observations: &'o O) -> Option<&'o dyn Live> {
        let live = self.observation(observations)?.live.as_ref()?;
        Some(live)
    }

    fn assess(&self, observations: &O, cx: &PlanCtx, inputs: Option<&Inputs>) -> Assessment {
        let Some(seen) = self.observation(observations) else {
            return Assessment {
                name: self.name.clone(),
                kind: K::TYPE,
                physical_id: self.name.clone(),
                wanted: Some(Wanted {
                    planned_attributes: unknown_attributes::<K>(),
                    ..Wanted::default()
                }),
                ..Assessment::default()
            };
        };
        let live = seen.live.as_ref();
        Assessment {
            name: self.name.clone(),
            kind: K::TYPE,
            physical_id: live
                .map_or_else(|| self.spec.planned_id(&seen.resolved), |l| l.physical_id()),
            safe_to_replace: K::SAFE_TO_REPLACE,
            observed: true,
            existing: live.map(|live| Existing {
                owner: live.tags().get(tags::STACK_TAG).cloned(),
                state: live.state_json(),
                attributes: live.attributes(),
                deletion_warning: live.deletion_warning(),
                deletion_blocker: live.deletion_blocker(),
                warnings: live.warnings(),
            }),
            wanted: inputs.map(|inputs| self.wanted(seen, cx, inputs)),
        }
    }

    async fn execute(
        &self,
        cx: &ExecCtx<'_>,
        observations: &O,
        action: Action,
        owner: &str,
        inputs: &Inputs,
    ) -> anyhow::Result<Attributes> {
        let seen = self.observation(observations);
        let live = seen.and_then(|s| s.live.as_ref());
        let desired = || -> anyhow::Result<K::State> {
            let seen = seen.context("it was not read from AWS; run plan again")?;
            let mut desired = self.desired(&seen.resolved, owner, inputs);
            if let Some(live) = &seen.live {
                self.spec.reconcile(&mut desired, live);
            }
            if contains_unknown(&to_json(&desired)) {
                bail!("a value this resource needs is still unknown; run plan again");
            }
            Ok(desired)
        };
        let live_or_gone =
            || live.ok_or_else(|| anyhow::anyhow!("it no longer exists; run plan again"));
        let result: anyhow::Result<Attributes> = match action {
            Action::NoOp => match live {
                Some(live) => {
                    // Left mid-change (an interrupted run, a change out of band): ready it
                    // is when apply ends, as what depends on it expects.
                    if !live.settled() {
                        live.settle(cx).await?;
                    }
                    Ok(live.attributes())
                }
                None => Ok(Attributes::new()),
            },
            Action::Create => {
                let desired = desired()?;
                self.index(cx, owner, &desired).await?;
                Ok(self.spec.create(cx, &desired).await?.attributes())
            }
            Action::Update | Action::Adopt => {
                let live = live_or_gone()?;
                let desired = desired()?;
                let (_, reasons) = self.differences(live, &to_json(&desired));
                if !reasons.is_empty() {
                    bail!(
                        "it now needs replacement ({}); run plan again",
                        reasons.join("; ")
                    );
                }
                // An adopted resource becomes the stack's: it gets its entry before it is
                // tagged. A change of where it is found (a mapping moved to another
                // function) moves its entry: the new one before, the old one after.
                let moved = live.index_key() != self.spec.index_key(&desired);
                if moved || action == Action::Adopt {
                    self.index(cx, owner, &desired).await?;
                }
                // What it will be referred to by is known already (unless the update makes
                // a new ARN): what needs only that starts now.
                let after = K::attributes_after_update(live, &desired);
                if !after
                    .values()
                    .flatten()
                    .any(|v| v.contains(crate::values::UNKNOWN))
                {
                    cx.publish(after);
                }
                let updated = self.spec.update(cx, live, &desired).await?;
                if moved && tags::owner_of(live.tags()) == tags::Owner::Stack(owner) {
                    forget(cx, owner, live).await?;
                }
                Ok(updated.attributes())
            }
            Action::Replace => {
                let desired = desired()?;
                let live = live_or_gone()?;
                // Where the new one is found differs (rarely): its entry first, the old
                // one's once that is gone. Otherwise the entry (written by the plan's
                // repair, if it was missing) serves both.
                let moved = live.index_key() != self.spec.index_key(&desired);
                if moved {
                    self.index(cx, owner, &desired).await?;
                }
                // The new one first where both may exist at once and the resource must
                // never be missing (a stream's trigger); otherwise the old one goes first.
                let made = if self.spec.replaces_by_creating_first(live, &desired) {
                    // What the old one left undone is handed over first: when that fails,
                    // nothing was made and the old one goes on.
                    self.spec.hand_over(cx, live).await?;
                    let made = self.spec.create(cx, &desired).await?;
                    live.delete(cx).await?;
                    made
                } else {
                    live.delete(cx).await?;
                    self.spec.create(cx, &desired).await?
                };
                if moved {
                    forget(cx, owner, live).await?;
                }
                Ok(made.attributes())
            }
            Action::Delete => {
                let live = live_or_gone()?;
                live.delete(cx).await?;
                forget(cx, owner, live).await?;
                Ok(Attributes::new())
            }
            Action::Conflict => bail!("conflicting resources are never changed"),
        };
        let physical_id = match (live, seen) {
            (Some(live), _) => live.physical_id(),
            (None, Some(seen)) => self.spec.planned_id(&seen.resolved),
            (None, None) => self.name.clone(),
        };
        result.with_context(|| format!("{}.{} ({physical_id})", K::TYPE, self.name))
    }

    #[cfg(test)]
    fn assume_applied(&self, observations: &mut O, owner: &str, inputs: &Inputs) -> Attributes {
        let resolved = self.spec.resolved_for_tests();
        let live = self
            .spec
            .applied(self.desired(&resolved, owner, inputs), &resolved);
        let attributes = live.attributes();
        observations.observations_mut().insert(
            self.name.clone(),
            Observation {
                live: Some(live),
                resolved,
            },
        );
        attributes
    }

    #[cfg(test)]
    fn assume_missing(&self, observations: &mut O) {
        observations.observations_mut().insert(
            self.name.clone(),
            Observation {
                live: None,
                resolved: self.spec.resolved_for_tests(),
            },
        );
    }
}
