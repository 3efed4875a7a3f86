//! Observing: every declared resource, the account's tagged orphans and (only if some value
//! references it) the deployment context are read at once; the result is a value that
//! planning takes, never state written back into the spec.

use super::observed::{Observed, PlanRequest};
use super::plan::plan;
use crate::aws::Aws;
use crate::aws::errors::access_of;
use crate::kinds::{self, Identity, Live, Stack};
use crate::plan::{Deletion, Plan};
use anyhow::Context as _;
use futures::future::{join_all, try_join_all};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// Reads every declared resource concurrently, the orphans, and (unless no value references
/// anything) the account and region the stack deploys to.
pub async fn observe(stack: &Stack, aws: &Aws) -> anyhow::Result<Observed> {
    // The account and region make `${aws.*}` and every ARN known before anything is made;
    // only a stack whose values reference nothing can do without them.
    let needs_context = stack
        .nodes
        .iter()
        .any(|node| node.templates().iter().any(|t| t.has_references()));
    let owner = stack.owner();
    // And what a function's `live_arn` names, `<function>:<alias>`, under `<name>.live_arn`:
    // mappings on the alias are listed by it.
    let names: BTreeMap<String, String> = stack
        .nodes
        .iter()
        .filter_map(|n| Some((n.name().to_string(), n.known_name()?)))
        .chain(stack.nodes.iter().filter_map(|n| {
            let alias = &n.release()?.alias;
            Some((
                format!("{}.live_arn", n.name()),
                format!("{}:{alias}", n.known_name()?),
            ))
        }))
        .collect();
    let context = async {
        match needs_context {
            true => aws.deployment_context().await.map(Some),
            false => Ok(None),
        }
    };
    // Resources whose names the file gives are read by their nodes; discovery skips them.
    let declared_names: BTreeSet<(&'static str, String)> = stack
        .nodes
        .iter()
        .filter_map(|n| Some((n.kind(), n.known_name()?)))
        .collect();
    let reads = stack.nodes.iter().map(|node| {
        let me = Identity {
            owner: &owner,
            resource: node.name(),
            names: &names,
        };
        async move { node.observe(aws, &me).await }
    });
    let (readings, context, tagged, index) = tokio::join!(
        join_all(reads),
        context,
        kinds::discover_tagged(aws, &owner, &declared_names, false),
        crate::index::read(aws, &owner)
    );
    let mut errors: Vec<anyhow::Error> = Vec::new();
    let mut observed = Observed::default();
    for reading in readings {
        match reading {
            Ok(reading) => reading.keep(&mut observed.resources),
            Err(e) => errors.push(e),
        }
    }
    match context {
        Ok(context) => observed.context = context,
        Err(e) => errors.push(e),
    }
    // AWS out of reach, or the credentials refused, is one problem, however many reads
    // ran into it: said once (see `aws::errors::explain`).
    if let Some(at) = errors.iter().position(|e| access_of(e).is_some()) {
        return Err(errors.swap_remove(at));
    }
    if !errors.is_empty() {
        let all: Vec<String> = errors.iter().map(|e| format!("{e:#}")).collect();
        anyhow::bail!(all.join("\n"));
    }
    let tagged = tagged.context("looking for this stack's resources by their tags")?;
    observed.index = index.context("reading the stack's index")?;
    // What a declared resource found is not an orphan, whatever its resource tag says.
    let declared: BTreeSet<(&str, String)> = stack
        .nodes
        .iter()
        .filter_map(|n| {
            let live = n.live(&observed.resources)?;
            Some((n.kind(), live.physical_id()))
        })
        .collect();
    let not_declared = |found: Vec<Box<dyn Live>>| -> Vec<Box<dyn Live>> {
        found
            .into_iter()
            .filter(|o| !declared.contains(&(o.kind(), o.physical_id())))
            .collect()
    };
    observed.orphans = not_declared(tagged);
    // Something of the stack exists but it has no index: it was made by a version of the
    // tool from before the index, and its roles and mappings can only be found by looking
    // through the whole account. Once: the next apply or destroy writes the index. Or the
    // user asked for it (--deep-scan).
    let unindexed = observed.index.is_none() && observed.holds_anything_of(stack);
    if aws.deep_scan || unindexed {
        if unindexed {
            eprintln!(
                "Note: {owner} has no index of its roles and event source mappings yet (it was applied by an earlier version of cruddur-infra), so every role and mapping in the account is read once to find its own. The next apply or destroy writes the index."
            );
        }
        let deep = kinds::discover_tagged(aws, &owner, &declared_names, true)
            .await
            .context("looking through the account for this stack's resources")?;
        observed.orphans = not_declared(deep);
    }
    Ok(observed)
}

/// Observes, then plans `request`. When the plan deletes something, what each deletion
/// would lose is read now (a table's items, counted) and the plan is made again with it,
/// so its guards know.
pub async fn prepare(
    stack: &Stack,
    aws: &Aws,
    request: &PlanRequest,
) -> anyhow::Result<(Observed, Plan)> {
    let started = Instant::now();
    let mut observed = observe(stack, aws).await?;
    let mut planned = plan(stack, &observed, request);
    let deletions: Vec<Deletion> = planned.deletions().collect();
    if !deletions.is_empty() {
        observed.at_risk = at_risk(stack, &observed, aws, deletions).await?;
        planned = plan(stack, &observed, request);
    }
    crate::stats::step(PLAN_STEP, &[], started, Instant::now());
    Ok((observed, planned))
}

/// The step of `--stats`' critical path that observes and plans; all others come after it.
pub const PLAN_STEP: &str = "plan";

/// What each deletion would lose, read at once; only those that would lose something.
async fn at_risk(
    stack: &Stack,
    observed: &Observed,
    aws: &Aws,
    deletions: Vec<Deletion>,
) -> anyhow::Result<BTreeMap<Deletion, String>> {
    let live_of = |deletion: &Deletion| -> Option<(&dyn Live, String)> {
        match deletion {
            Deletion::Declared(name) => {
                let node = stack.nodes.iter().find(|n| n.name() == name)?;
                let live = node.live(&observed.resources)?;
                Some((live, format!("{}.{}", node.kind(), name)))
            }
            Deletion::Orphan { kind, physical_id } => {
                let live = observed
                    .orphans
                    .iter()
                    .find(|o| o.kind() == *kind && o.physical_id() == *physical_id)?;
                Some((live.as_ref(), format!("{kind} {physical_id}")))
            }
        }
    };
    let risks = try_join_all(deletions.into_iter().filter_map(|deletion| {
        let (live, label) = live_of(&deletion)?;
        Some(async move {
            let risk = live
                .data_at_risk(aws)
                .await
                .with_context(|| format!("checking {label} before deleting it"))?;
            anyhow::Ok(risk.map(|r| (deletion, r)))
        })
    }))
    .await?;
    Ok(risks.into_iter().flatten().collect())
}
