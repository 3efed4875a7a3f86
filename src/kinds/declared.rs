//! A declared resource of any kind, as the engine sees it: [`Resource`], implemented once
//! for every kind by [`Declared`]. Here live the rules every kind shares: ownership (a
//! resource is changed only if its tags say it is this stack's, or the user adopts it),
//! conflicts, replacement, and what a deletion must say before it happens.
//!
//! What observe found is kept outside the resource, in `O` (the registry's
//! `Observations`), which has a typed place for every kind ([`Keeps`]): planning is a
//! function of the spec and that value.

use crate::aws::Aws;
use crate::bundle;
use crate::exec::ExecCtx;
use crate::index::{self, Entry};
use crate::kinds::kind::{Identity, Kind, Live, Observation, PlanCtx, Tags};
use crate::plan::{Action, ResourceChange, States, all_fields, contains_unknown, diff_values};
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
    /// The code carrying out `change` builds and uploads, if any.
    fn bundle_needed(&self, change: &ResourceChange) -> Option<bundle::Source>;
    /// Reads the live resource (and the spec's lookups) from AWS.
    async fn observe(&self, aws: &Aws, me: &Identity<'_>) -> anyhow::Result<Reading<O>>;
    /// What observe found, whatever its owner.
    fn live<'o>(&self, observations: &'o O) -> Option<&'o dyn Live>;
    /// The change apply would make, and the attributes others will see afterwards.
    fn plan_apply(
        &self,
        observations: &O,
        cx: &PlanCtx,
        inputs: &Inputs,
    ) -> (ResourceChange, Attributes);
    fn plan_destroy(&self, observations: &O, cx: &PlanCtx) -> ResourceChange;
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
}

/// Builds a resource of kind `K` from its raw form: the environment's override, the fields
/// every kind has, then the kind's own validation. `None` when there were errors.
pub fn build<K: Kind, O: Keeps<K>>(
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
    let mut dependencies: BTreeSet<String> = common.depends_on.into_iter().collect();
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

    fn change(&self, action: Action, seen: &Observation<K>) -> ResourceChange {
        ResourceChange {
            name: self.name.clone(),
            kind: K::TYPE,
            physical_id: match &seen.live {
                Some(live) => live.physical_id(),
                None => self.spec.planned_id(&seen.resolved),
            },
            action,
            reasons: vec![],
            changes: vec![],
            states: States {
                before: seen
                    .live
                    .as_ref()
                    .map_or(serde_json::Value::Null, |l| l.state_json()),
                after: serde_json::Value::Null,
            },
            blocked: None,
            safe_to_replace: K::SAFE_TO_REPLACE,
            orphan: false,
        }
    }

    /// The change of a resource observe did not read: a conflict, so that nothing is done.
    fn unread(&self) -> ResourceChange {
        ResourceChange {
            name: self.name.clone(),
            kind: K::TYPE,
            physical_id: self.name.clone(),
            action: Action::Conflict,
            reasons: vec![
                "it was not read from AWS, so nothing is known about it; run plan again".into(),
            ],
            changes: vec![],
            states: States::default(),
            blocked: None,
            safe_to_replace: false,
            orphan: false,
        }
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

    fn sample_arn(&self, attribute: &str) -> Option<&'static str> {
        K::ARN_SAMPLES
            .iter()
            .find(|(a, _)| *a == attribute)
            .map(|(_, sample)| *sample)
    }

    fn policies(&self) -> Vec<&crate::spec::policy::StatementSpec> {
        self.spec.policies()
    }

    fn arn_fields(&self) -> Vec<crate::spec::arn::ArnField<'_>> {
        self.spec.arn_fields()
    }
}

#[async_trait]
impl<K: Kind, O: Keeps<K>> Resource<O> for Declared<K> {
    fn known_name(&self) -> Option<String> {
        self.spec.known_name()
    }

    fn arns(&self, at: &DeploymentContext) -> Vec<(&'static str, String)> {
        self.spec.arns(at)
    }

    fn bundle_source(&self) -> Option<bundle::Source> {
        self.spec.bundle_source()
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

    fn plan_apply(
        &self,
        observations: &O,
        cx: &PlanCtx,
        inputs: &Inputs,
    ) -> (ResourceChange, Attributes) {
        let Some(seen) = self.observation(observations) else {
            return (self.unread(), unknown_attributes::<K>());
        };
        let desired = self.desired(&seen.resolved, &cx.owner, inputs);
        let refused = self
            .spec
            .refused(&desired)
            .or_else(|| self.rendered_tag_problem(inputs));
        let Some(live) = &seen.live else {
            let mut rc = self.change(Action::Create, seen);
            rc.blocked = refused;
            rc.states.after = to_json(&desired);
            rc.changes = all_fields(&rc.states.after);
            return (rc, planned(&self.spec, seen, cx));
        };
        let adopting = match tags::owner_of(live.tags()) {
            tags::Owner::Stack(o) if o == cx.owner => false,
            tags::Owner::Stack(other) => {
                let mut rc = self.change(Action::Conflict, seen);
                rc.states.after = to_json(&desired);
                rc.reasons.push(format!(
                    "it exists and belongs to stack/environment `{other}`; it is left alone \
                     (remove its `{}` tag in AWS to release it)",
                    tags::STACK_TAG
                ));
                return (rc, live.attributes());
            }
            tags::Owner::Nobody if !cx.adopt => {
                let mut rc = self.change(Action::Conflict, seen);
                rc.states.after = to_json(&desired);
                rc.reasons.push(
                    "it exists but was not created by cruddur-infra (no ownership tags); \
                     it is left alone unless you run apply with --adopt to take it over"
                        .to_string(),
                );
                return (rc, live.attributes());
            }
            tags::Owner::Nobody => true,
        };
        let mut changes = diff_values(&live.state_json(), &to_json(&desired));
        for change in &mut changes {
            self.spec.annotate(change, live);
        }
        let reasons = self.spec.replacement_reasons(&desired, live);
        let (action, attributes) = if !reasons.is_empty() {
            (Action::Replace, planned(&self.spec, seen, cx))
        } else if adopting {
            (Action::Adopt, K::attributes_after_update(live, &desired))
        } else if changes.is_empty() {
            (Action::NoOp, live.attributes())
        } else {
            (Action::Update, K::attributes_after_update(live, &desired))
        };
        let mut rc = self.change(action, seen);
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
                rc.reasons.extend(live.deletion_warning());
                rc.blocked = live.deletion_blocker();
            }
            Action::Update | Action::Adopt => {
                rc.blocked = self.spec.update_blocker(&desired, live);
            }
            _ => {}
        }
        if matches!(action, Action::Update | Action::Adopt | Action::Replace) && refused.is_some() {
            rc.blocked = refused;
        }
        rc.reasons.extend(live.warnings());
        rc.changes = changes;
        rc.states.after = to_json(&desired);
        (rc, attributes)
    }

    fn plan_destroy(&self, observations: &O, cx: &PlanCtx) -> ResourceChange {
        let Some(seen) = self.observation(observations) else {
            return self.unread();
        };
        let Some(live) = &seen.live else {
            let mut rc = self.change(Action::NoOp, seen);
            rc.reasons.push("does not exist".into());
            return rc;
        };
        match tags::owner_of(live.tags()) {
            tags::Owner::Stack(o) if o == cx.owner => {
                let mut rc = self.change(Action::Delete, seen);
                rc.reasons.extend(live.deletion_warning());
                rc.blocked = live.deletion_blocker();
                rc
            }
            tags::Owner::Stack(other) => {
                let mut rc = self.change(Action::NoOp, seen);
                rc.reasons.push(format!(
                    "belongs to `{other}`, not to this stack: left alone"
                ));
                rc
            }
            tags::Owner::Nobody => {
                let mut rc = self.change(Action::NoOp, seen);
                rc.reasons
                    .push("not created by cruddur-infra (no ownership tags): left alone".into());
                rc
            }
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
            let desired = self.desired(&seen.resolved, owner, inputs);
            if contains_unknown(&to_json(&desired)) {
                bail!("a value this resource needs is still unknown; run plan again");
            }
            Ok(desired)
        };
        let live_or_gone =
            || live.ok_or_else(|| anyhow::anyhow!("it no longer exists; run plan again"));
        let result: anyhow::Result<Attributes> = match action {
            Action::NoOp => Ok(live.map(Live::attributes).unwrap_or_default()),
            Action::Create => {
                let desired = desired()?;
                self.index(cx, owner, &desired).await?;
                Ok(self.spec.create(cx, &desired).await?.attributes())
            }
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
                // An adopted resource becomes the stack's: it gets its entry before it is
                // tagged. A change of where it is found (a mapping moved to another
                // function) moves its entry: the new one before, the old one after.
                let moved = live.index_key() != self.spec.index_key(&desired);
                if moved || action == Action::Adopt {
                    self.index(cx, owner, &desired).await?;
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
                live.delete(cx).await?;
                if moved {
                    forget(cx, owner, live).await?;
                }
                Ok(self.spec.create(cx, &desired).await?.attributes())
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
