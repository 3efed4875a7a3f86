//! A function's release: each change of its code or configuration is published as a
//! version, checked with a stream event before any traffic reaches it, then given the
//! live alias (after an optional canary), baked while the function's alarms are watched,
//! and rolled back when one goes to ALARM. Old versions are pruned; one an alias points at
//! is never deleted.
//!
//! Which version the alias should point at is decided without a request: Lambda numbers
//! versions in sequence and never reuses a number, and a version's configuration (its
//! CodeSha256 included) is compared with `$LATEST`'s. So a plan says `7 → 8` (a new
//! version) or `7 → 8` (back to the version `$LATEST` already is, after a rollback).
//!
//! Lambda's model: https://docs.aws.amazon.com/lambda/latest/dg/configuration-versions.html
//! ("Lambda doesn't create a new version if the code in the unpublished version is the same
//! as the previous published version") and configuration-aliases.html (weighted aliases).

use super::bake::{in_alarm, watch};
use super::read::{variables_of, vpc_of};
use super::state::{FunctionState, LiveFunction, VpcState};
use crate::aws::needs::Need;
use crate::aws::{absent_on, answered, sdk};
use crate::exec::ExecCtx;
use crate::spec::release::Release;
use crate::tags::STACK_TAG;
use anyhow::{Context, anyhow, bail};
use aws_sdk_lambda::operation::get_alias::GetAliasError;
use aws_sdk_lambda::operation::list_versions_by_function::ListVersionsByFunctionError;
use aws_sdk_lambda::types as lambda;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The IAM actions of releases (this file), on the function and its versions and aliases
/// (`function` covers `…:function:NAME:*`, see the kind's `arns`).
pub const NEEDS: &[Need] = &[Need::on(
    "function",
    "read: lambda:GetAlias lambda:ListVersionsByFunction lambda:ListAliases; change: lambda:PublishVersion lambda:CreateAlias lambda:UpdateAlias lambda:InvokeFunction; delete: lambda:DeleteFunction",
)];

/// The comparable form: the alias and the version it points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseState {
    pub alias: String,
    pub version: String,
    /// A canary left by an interrupted release: `8 at 10%`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<String>,
}

/// What a version runs: its code and the configuration a version freezes.
#[derive(Debug, Clone, PartialEq)]
pub struct Build {
    pub code_sha256: String,
    pub runtime: String,
    pub architecture: Option<String>,
    pub memory: i32,
    pub timeout: i32,
    pub role: String,
    pub environment: BTreeMap<String, String>,
    pub vpc: Option<VpcState>,
}

/// The alias as Lambda holds it.
#[derive(Debug, Clone)]
pub struct LiveAlias {
    pub version: String,
    /// The other version and its share, during a canary.
    pub routing: Option<(String, f64)>,
    pub description: String,
}

impl LiveAlias {
    /// Its canary, as people read it: `8 at 10%`.
    fn canary(&self) -> Option<String> {
        self.routing
            .as_ref()
            .map(|(v, w)| format!("{v} at {}%", (w * 100.0).round()))
    }
}

/// A function's versions and its alias, read when the file asks for a release.
#[derive(Debug, Clone, Default)]
pub struct LiveRelease {
    /// Published versions, oldest first.
    pub versions: Vec<(u64, Build)>,
    /// What `$LATEST` runs now.
    pub latest: Option<Build>,
    pub alias: Option<LiveAlias>,
}

pub fn build_of(config: &lambda::FunctionConfiguration) -> Build {
    Build {
        code_sha256: config.code_sha256().unwrap_or_default().to_string(),
        runtime: config
            .runtime()
            .map(|r| r.as_str().to_string())
            .unwrap_or_default(),
        architecture: config
            .architectures()
            .first()
            .map(|a| a.as_str().to_string()),
        memory: config.memory_size().unwrap_or(128),
        timeout: config.timeout().unwrap_or(3),
        role: config.role().unwrap_or_default().to_string(),
        environment: variables_of(config),
        vpc: vpc_of(config),
    }
}

/// The alias `alias` of function `name`; `None` when there is none.
async fn get_alias(
    aws: &crate::aws::Aws,
    name: &str,
    alias: &str,
) -> anyhow::Result<Option<LiveAlias>> {
    let request = aws.lambda.get_alias().function_name(name).name(alias);
    let found = absent_on(
        GetAliasError::is_resource_not_found_exception,
        "GetAlias",
        request.send().await,
    )?;
    Ok(found.map(|a| LiveAlias {
        version: a.function_version().unwrap_or_default().to_string(),
        routing: a
            .routing_config()
            .and_then(|r| r.additional_version_weights())
            .and_then(|w| w.iter().next())
            .map(|(v, w)| (v.clone(), *w)),
        description: a.description().unwrap_or_default().to_string(),
    }))
}

/// Reads the function's versions and `alias` (none of either when the function is gone).
pub async fn read(aws: &crate::aws::Aws, name: &str, alias: &str) -> anyhow::Result<LiveRelease> {
    let versions = async {
        let request = aws.lambda.list_versions_by_function().function_name(name);
        let all = request
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await;
        let mut configs = Vec::new();
        for item in all {
            match item {
                Ok(config) => configs.push(config),
                Err(e)
                    if answered(
                        &e,
                        ListVersionsByFunctionError::is_resource_not_found_exception,
                    ) =>
                {
                    return Ok(Vec::new());
                }
                Err(e) => return Err(crate::aws::errors::error("ListVersionsByFunction", &e)),
            }
        }
        Ok(configs)
    };
    let alias = get_alias(aws, name, alias);
    let (configs, alias) = tokio::try_join!(versions, alias)?;
    let mut live = LiveRelease::default();
    for config in &configs {
        match config.version() {
            Some("$LATEST") => live.latest = Some(build_of(config)),
            Some(v) => {
                if let Ok(n) = v.parse() {
                    live.versions.push((n, build_of(config)));
                }
            }
            None => {}
        }
    }
    live.versions.sort_by_key(|(n, _)| *n);
    live.alias = alias;
    Ok(live)
}

/// The live form of the release, for the function's state. An alias the stack `owner` did
/// not make is said as such: it never equals what the file asks for, so the plan shows the
/// function blocked (see [`taken`]) instead of using someone else's alias.
pub fn state_of(live: &LiveRelease, alias: &str, owner: &str) -> Option<ReleaseState> {
    let a = live.alias.as_ref()?;
    let version = match is_ours(&a.description, owner) {
        true => a.version.clone(),
        false => format!("{} (an alias this stack did not make)", a.version),
    };
    Some(ReleaseState {
        alias: alias.to_string(),
        version,
        canary: a.canary(),
    })
}

/// The desired form before anything is read: a new function's first version.
pub fn desired(release: &Release) -> ReleaseState {
    ReleaseState {
        alias: release.alias.clone(),
        version: "1".into(),
        canary: None,
    }
}

/// Whether `$LATEST` will differ from what it is now: then a new version is published.
fn latest_changes(live: &FunctionState, desired: &FunctionState) -> bool {
    live.code_hash != desired.code_hash
        || live.architecture != desired.architecture
        || super::ops::configuration_differs(live, desired)
}

/// The version the alias should point at: the published version that is what `$LATEST`
/// will be, if there is one, else the next number Lambda gives. Pure: plan's and apply's.
pub fn reconcile(desired: &mut FunctionState, live: &LiveFunction) {
    let Some(release) = live.release.as_ref() else {
        return;
    };
    let changes = latest_changes(&live.state, desired);
    let Some(wanted) = desired.release.as_mut() else {
        return;
    };
    let newest = release.versions.last().map_or(0, |(n, _)| *n);
    // PublishVersion answers with the newest version when `$LATEST` has not changed
    // since it; an older one that happens to match is not reused.
    let existing = match (changes, &release.latest, release.versions.last()) {
        (false, Some(latest), Some((n, build))) if build == latest => Some(*n),
        _ => None,
    };
    wanted.version = existing.unwrap_or(newest + 1).to_string();
}

/// What the alias's description says: whose it is, and the version before the last move
/// (what `rollback` moves back to). `cruddur-infra cruddur/prod; before: 7`.
pub fn alias_description(owner: &str, before: Option<&str>) -> String {
    match before {
        Some(v) => format!("cruddur-infra {owner}; before: {v}"),
        None => format!("cruddur-infra {owner}"),
    }
}

/// Whether the alias is the stack `owner`'s, by its description.
pub fn is_ours(description: &str, owner: &str) -> bool {
    let mark = format!("cruddur-infra {owner}");
    description == mark || description.starts_with(&format!("{mark};"))
}

/// The version the alias pointed at before the last move, by its description.
pub fn before_of(description: &str) -> Option<&str> {
    description
        .split("; ")
        .find_map(|part| part.strip_prefix("before: "))
}

/// Why the file's alias cannot be used, if it cannot: it exists and is not the stack's.
pub fn taken(live: &LiveFunction, desired: &FunctionState) -> Option<String> {
    let wanted = desired.release.as_ref()?;
    let alias = live.release.as_ref()?.alias.as_ref()?;
    let owner = desired.tags.get(STACK_TAG)?;
    (!is_ours(&alias.description, owner)).then(|| {
        format!(
            "the function already has an alias `{}` that this stack did not make (its description: {:?}); name another in `release.alias`, or delete that alias",
            wanted.alias, alias.description
        )
    })
}

/// Points `alias` at `version` alone (or with `canary`: another version and its share).
async fn point(
    aws: &crate::aws::Aws,
    name: &str,
    alias: &str,
    version: &str,
    canary: Option<(&str, u8)>,
    description: &str,
) -> anyhow::Result<()> {
    let weights: std::collections::HashMap<String, f64> = canary
        .map(|(v, w)| (v.to_string(), f64::from(w) / 100.0))
        .into_iter()
        .collect();
    let request = aws
        .lambda
        .update_alias()
        .function_name(name)
        .name(alias)
        .function_version(version)
        .description(description)
        // An empty map ends a canary.
        .routing_config(
            lambda::AliasRoutingConfiguration::builder()
                .set_additional_version_weights(Some(weights))
                .build(),
        );
    sdk("UpdateAlias", request.send().await)?;
    Ok(())
}

/// What a release runs through the engine's hooks: the check and the alarms.
pub struct Rollout<'a> {
    pub name: &'a str,
    pub release: &'a Release,
    /// The alias and versions as read before the change.
    pub live: Option<&'a LiveRelease>,
    pub owner: &'a str,
    pub built_from: &'a str,
    /// The execution role the new version runs with.
    pub role: &'a str,
}

/// The execution role of published version `version`, as read before the change.
fn role_of<'a>(live: Option<&'a LiveRelease>, version: &str) -> Option<&'a str> {
    let n: u64 = version.parse().ok()?;
    live?
        .versions
        .iter()
        .find(|(v, _)| *v == n)
        .map(|(_, build)| build.role.as_str())
}

/// Publishes `$LATEST` (Lambda answers with the existing version when nothing changed since
/// it), checks it, moves the alias to it (after the canary), bakes, and prunes. An error
/// leaves the alias where it was.
pub async fn roll_out(cx: &ExecCtx<'_>, r: Rollout<'_>) -> anyhow::Result<()> {
    let alias = r.release.alias.as_str();
    let request = cx
        .aws
        .lambda
        .publish_version()
        .function_name(r.name)
        .description(format!("built from {}", short(r.built_from)));
    let published =
        super::ops::retry_while_updating(cx, "publishing a version", "PublishVersion", || {
            request.clone().send()
        })
        .await?;
    let version = published
        .version()
        .context("PublishVersion returned no version")?
        .to_string();
    let current = r.live.and_then(|l| l.alias.as_ref());
    let stays = match current {
        Some(a) => format!("alias {alias} stays on version {}", a.version),
        None => format!("alias {alias} was not made"),
    };
    if let Some(check) = &r.release.check {
        let hooks = cx
            .replayer
            .context("nothing runs functions in this run (the check needs a runner)")?;
        cx.tracker.status(format!(
            "checking version {version} with {} before traffic",
            check.file
        ));
        let failed = hooks
            .check(cx, r.name, &version, &check.event)
            .await
            .with_context(|| {
                format!(
                    "checking version {version} with {} could not be done; {stays}",
                    check.file
                )
            })?;
        if let Some(why) = failed {
            bail!(
                "version {version} failed its check with {}; {stays}: {why}",
                check.file
            );
        }
    }
    let Some(current) = current else {
        cx.tracker
            .status(format!("making alias {alias} for version {version}"));
        let request = cx
            .aws
            .lambda
            .create_alias()
            .function_name(r.name)
            .name(alias)
            .function_version(&version)
            .description(alias_description(r.owner, None));
        sdk("CreateAlias", request.send().await)?;
        return prune(cx, &r, &version, None).await;
    };
    let old = current.version.clone();
    if old == version {
        // Only a canary left by an interrupted run to end, or nothing.
        if current.routing.is_some() {
            point(cx.aws, r.name, alias, &version, None, &current.description).await?;
        }
        return prune(cx, &r, &version, before_of(&current.description)).await;
    }
    let alarms = cx.replayer.map(|h| h.alarms_on(r.name)).unwrap_or_default();
    let (mut canary, bake) = match cx.bake {
        true => (r.release.canary, r.release.bake),
        false => (None, Duration::ZERO),
    };
    // Lambda routes an alias's weights only between versions with the same execution role
    // (configuration-aliases.html, "Weighted alias requirements").
    if canary.is_some() && role_of(r.live, &old) != Some(r.role) {
        cx.tracker.status(format!(
            "no canary: version {version} runs with another role than version {old}, and Lambda weights an alias only between versions of one role"
        ));
        canary = None;
    }
    // A canary or bake that starts with an alarm already in ALARM could not tell what the
    // new version does (nor would a re-run after a rollback, while the alarm lasts).
    let watches = canary.is_some() || !bake.is_zero();
    if watches && let Some(firing) = in_alarm(cx.aws, &alarms).await? {
        bail!(
            "{} before the canary and bake of version {version} began, so they could not tell what it does; {stays}: run apply again once the alarm is OK (or, to ship a fix now, with --no-bake: the check only)",
            firing.replace(" went to ALARM", " is in ALARM")
        );
    }
    // The alias back where it was, alone, whatever went wrong after it first moved: no
    // canary or new version is left behind.
    let back = |why: anyhow::Error| {
        let (old, description) = (old.clone(), current.description.clone());
        async move {
            cx.tracker
                .status(format!("rolling back: alias {alias} to version {old}"));
            point(cx.aws, r.name, alias, &old, None, &description)
                .await
                .with_context(|| {
                    format!("{why:#}; moving alias {alias} back to version {old} failed")
                })?;
            Err(anyhow!(
                "{why:#}; alias {alias} moved back to version {old}"
            ))
        }
    };
    if let Some(canary) = canary {
        cx.tracker.status(format!(
            "canary: {}% of invocations to version {version}",
            canary.weight
        ));
        let description = current.description.clone();
        point(
            cx.aws,
            r.name,
            alias,
            &old,
            Some((&version, canary.weight)),
            &description,
        )
        .await?;
        let what = format!("canary of version {version} at {}%", canary.weight);
        match watch(cx, &alarms, canary.duration, &what).await {
            Ok(None) => {}
            Ok(Some(fired)) => {
                let why = anyhow!("{fired} during the canary of version {version}");
                return back(why).await;
            }
            Err(e) => return back(e.context(format!("the canary of version {version}"))).await,
        }
    }
    cx.tracker.status(format!(
        "moving alias {alias} from version {old} to {version}"
    ));
    let moved = point(
        cx.aws,
        r.name,
        alias,
        &version,
        None,
        &alias_description(r.owner, Some(&old)),
    )
    .await;
    if let Err(e) = moved {
        return back(e).await;
    }
    let what = format!("baking version {version}");
    match watch(cx, &alarms, bake, &what).await {
        Ok(None) => {}
        Ok(Some(fired)) => {
            return back(anyhow!("{fired} during the bake of version {version}")).await;
        }
        Err(e) => return back(e.context(format!("the bake of version {version}"))).await,
    }
    prune(cx, &r, &version, Some(&old)).await
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// Deletes the versions past the newest `keep_versions`, but never one an alias points
/// at (Lambda refuses that too: ResourceConflictException), nor `rollback`'s: the version
/// the alias pointed at before.
async fn prune(
    cx: &ExecCtx<'_>,
    r: &Rollout<'_>,
    published: &str,
    before: Option<&str>,
) -> anyhow::Result<()> {
    let mut numbers: BTreeSet<u64> = r
        .live
        .map(|l| l.versions.iter().map(|(n, _)| *n).collect())
        .unwrap_or_default();
    numbers.extend(published.parse::<u64>().ok());
    let keep = r.release.keep_versions;
    if numbers.len() <= keep {
        return Ok(());
    }
    let request = cx.aws.lambda.list_aliases().function_name(r.name);
    let aliases: Vec<_> = request
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|e| crate::aws::errors::error("ListAliases", &e))?;
    let pointed: BTreeSet<String> = aliases
        .iter()
        .flat_map(|a| {
            let routed = a
                .routing_config()
                .and_then(|c| c.additional_version_weights())
                .map(|w| w.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default();
            a.function_version()
                .map(str::to_string)
                .into_iter()
                .chain(routed)
        })
        .chain(before.map(str::to_string))
        .collect();
    let old: Vec<u64> = numbers.iter().rev().skip(keep).copied().collect();
    for n in old {
        let version = n.to_string();
        if pointed.contains(&version) {
            continue;
        }
        cx.tracker
            .status(format!("deleting version {version} (keeping {keep})"));
        let request = cx
            .aws
            .lambda
            .delete_function()
            .function_name(r.name)
            .qualifier(&version);
        match request.send().await {
            Ok(_) => {}
            // Pointed at meanwhile, or already gone: kept, or nothing to do.
            Err(e)
                if answered(&e, |e| {
                    e.is_resource_conflict_exception() || e.is_resource_not_found_exception()
                }) => {}
            Err(e) => return Err(crate::aws::errors::error("DeleteFunction", &e)),
        }
    }
    Ok(())
}

/// What `rollback` does to an alias.
pub struct Rollback {
    /// The version the alias points at.
    pub from: String,
    /// The version it will point at, alone.
    pub to: String,
    /// A canary an interrupted release left on the alias: then rollback only ends it.
    pub canary: Option<String>,
    description: String,
}

impl Rollback {
    /// What it does, in a line.
    pub fn says(&self) -> String {
        match &self.canary {
            Some(canary) => format!(
                "stays on version {}; the canary an interrupted release left ({canary}) ends",
                self.from
            ),
            None => format!(
                "moves from version {} back to version {}",
                self.from, self.to
            ),
        }
    }
}

/// Where `rollback` would move `alias` of function `name`: back to the version it pointed
/// at before the last move, or, with a canary an interrupted release left, nowhere but off
/// the canary. An error when there is nothing to go back to, or the alias is not the stack
/// `owner`'s.
pub async fn rollback_target(
    aws: &crate::aws::Aws,
    name: &str,
    alias: &str,
    owner: &str,
) -> anyhow::Result<Rollback> {
    let Some(live) = get_alias(aws, name, alias).await? else {
        bail!(
            "function {name} has no alias `{alias}`: nothing was released, so there is nothing to roll back (run apply)"
        );
    };
    let description = live.description.as_str();
    if !is_ours(description, owner) {
        bail!(
            "alias `{alias}` of function {name} is not this stack's (its description: {description:?}): it is left alone"
        );
    }
    let from = live.version.clone();
    let canary = live.canary();
    if canary.is_some() {
        return Ok(Rollback {
            to: from.clone(),
            from,
            canary,
            description: description.to_string(),
        });
    }
    let Some(to) = before_of(description) else {
        bail!(
            "alias `{alias}` of function {name} names no earlier version: it was made with the function's first version, or was rolled back already"
        );
    };
    Ok(Rollback {
        to: to.to_string(),
        description: format!(
            "{}; rolled back from {from}",
            alias_description(owner, None)
        ),
        from,
        canary: None,
    })
}

/// `rollback`: `alias` pointed at `rollback.to`, alone. After a move back its description
/// keeps no earlier version, so a second rollback does not go further back than what was
/// checked and live.
pub async fn roll_back(
    aws: &crate::aws::Aws,
    name: &str,
    alias: &str,
    rollback: &Rollback,
) -> anyhow::Result<()> {
    point(aws, name, alias, &rollback.to, None, &rollback.description).await
}
