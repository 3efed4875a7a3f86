//! Finding, creating, changing and deleting an event source mapping.

use super::spec::Trigger;
use super::{
    LiveTrigger, Settings, StartingPosition, TriggerState, canonical_filters, function_name,
};
use crate::aws::needs::Need;
use crate::aws::{Aws, error_code, returned, sdk};
use crate::create_once::{self, Attempt};
use crate::exec::ExecCtx;
use crate::kinds::function::LambdaTags;
use crate::kinds::kind::{Changes, Identity, Kind, Made};
use crate::tags::{RESOURCE_TAG, STACK_TAG, same_owner};
use crate::wait::{self, Check};
use anyhow::Context;
use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_sdk_lambda::types as lambda;
use futures::future::try_join_all;
use serde_json::Value;
use std::collections::BTreeMap;

/// The IAM actions a trigger's code calls; see `crate::aws::needs`. Mappings are found
/// by their function, tagged with Lambda's tagging API (`LambdaTags`).
pub const NEEDS: &[Need] = &[
    // CreateEventSourceMapping has no resource type, but it carries the stack's tags.
    Need::anywhere("read: lambda:ListEventSourceMappings; create: lambda:CreateEventSourceMapping"),
    Need::on(
        "event-source-mapping",
        "read: lambda:GetEventSourceMapping lambda:ListTags; change: lambda:UpdateEventSourceMapping lambda:TagResource lambda:UntagResource; delete: lambda:DeleteEventSourceMapping",
    ),
];

/// The mapping among its function's mappings: ours by its ownership tags, or (to adopt)
/// the untagged one from the same source. The function's other mappings are noted: they
/// make it see records twice.
pub async fn read(
    trigger: &Trigger,
    aws: &Aws,
    me: &Identity<'_>,
) -> anyhow::Result<Option<LiveTrigger>> {
    let Some(function) = trigger.function_name_before_planning(me.names) else {
        // The function is not known before planning (e.g. an ARN from elsewhere):
        // there is nothing to find it by.
        return Ok(None);
    };
    let listed = function_mappings(aws, &function).await?;
    let mappings: Vec<_> = listed.iter().collect();
    // Tags are not in the listing: one ListTags per mapping, all at once.
    let tags = try_join_all(
        mappings
            .iter()
            .map(|m| observed_tags(aws, m.event_source_mapping_arn().unwrap_or_default())),
    )
    .await?;
    let is = |tags: &BTreeMap<String, String>, key: &str, value: &str| {
        tags.get(key).is_some_and(|v| v == value)
    };
    let ours = tags
        .iter()
        .position(|t| is(t, STACK_TAG, me.owner) && is(t, RESOURCE_TAG, me.resource))
        .or_else(|| {
            mappings.iter().zip(&tags).position(|(m, t)| {
                !t.contains_key(STACK_TAG)
                    && trigger.source_matches(m.event_source_arn().unwrap_or_default(), me.names)
            })
        });
    let others = mappings
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != ours)
        .map(|(_, m)| {
            format!(
                "{} ({}, {})",
                m.uuid().unwrap_or("?"),
                m.event_source_arn().unwrap_or("?"),
                m.state().unwrap_or("?")
            )
        })
        .collect();
    let Some(i) = ours else {
        return Ok(None);
    };
    let mut live = live_from(mappings[i], tags[i].clone())?;
    live.others = others;
    Ok(Some(live))
}

/// Sets the settings that CreateEventSourceMapping and UpdateEventSourceMapping both take.
/// Their builders share no trait, so one macro serves both: a setting added here reaches
/// both requests.
macro_rules! with_settings {
    ($request:expr, $settings:expr) => {{
        let s: &Settings = $settings;
        $request
            .batch_size(s.batch_size)
            .maximum_batching_window_in_seconds(s.batching_window_seconds)
            .maximum_retry_attempts(s.maximum_retry_attempts)
            .maximum_record_age_in_seconds(s.maximum_record_age_seconds)
            .bisect_batch_on_function_error(s.bisect_on_error)
            .set_function_response_types(Some(response_types(s)))
            .enabled(s.enabled)
    }};
}

#[async_trait]
impl Changes for Trigger {
    /// Creates the mapping (tagged as ours from the start) exactly once, and waits until it
    /// settles.
    async fn create(&self, cx: &ExecCtx<'_>, desired: &Self::State) -> Made<Self> {
        cx.tracker.status("creating the mapping");
        let s = &desired.settings;
        let request = cx
            .aws
            .lambda
            .create_event_source_mapping()
            .function_name(&desired.function)
            .event_source_arn(&desired.source)
            .starting_position(match s.starting_position {
                StartingPosition::Latest => lambda::EventSourcePosition::Latest,
                StartingPosition::TrimHorizon => lambda::EventSourcePosition::TrimHorizon,
            })
            .set_filter_criteria(filter_criteria(s))
            .set_destination_config(destination(desired));
        let mut request = with_settings!(request, s);
        // Tags go on with the create, so the mapping is recognisably ours at once.
        for (k, v) in &desired.tags {
            request = request.tags(k, v);
        }
        // The SDK does not resend it (a resent create makes a second mapping on the
        // emulator); `create_once` looks for it by its tags first.
        let send = || async {
            let sent = request
                .clone()
                .customize()
                .config_override(
                    aws_sdk_lambda::Config::builder().retry_config(RetryConfig::disabled()),
                )
                .send()
                .await;
            match sent {
                // The function is still being created or updated, or (on AWS) a resent
                // create found the mapping its lost answer made: look, then send again.
                Err(e) if error_code(&e) == Some("ResourceConflictException") => Ok(
                    Attempt::Unknown(create_once::brief("CreateEventSourceMapping", &e)),
                ),
                sent => create_once::attempt("CreateEventSourceMapping", sent)?
                    .map(|out| returned(out.uuid, "CreateEventSourceMapping", "UUID")),
            }
        };
        let find = || find_tagged(cx.aws, &desired.function, &desired.tags);
        let uuid = create_once::create_once(cx, "creating the mapping", send, find).await?;
        wait_settled(cx, &uuid).await
    }

    /// Changes the mapping's settings in place (tags first).
    async fn update(&self, cx: &ExecCtx<'_>, live: &Self::Live, to: &Self::State) -> Made<Self> {
        if !settled(&live.status) {
            wait_settled(cx, &live.uuid).await?;
        }
        crate::tags::sync(cx, &LambdaTags(&live.arn), &live.state.tags, &to.tags).await?;
        let before = &live.state;
        let changed = before.settings != to.settings
            || before.function != to.function
            || before.on_failure != to.on_failure;
        if changed {
            cx.tracker.status("updating the mapping");
            let s = &to.settings;
            let request = cx
                .aws
                .lambda
                .update_event_source_mapping()
                .uuid(&live.uuid)
                .function_name(&to.function)
                // An empty criteria object removes the filters.
                .filter_criteria(filter_criteria(s).unwrap_or_else(|| {
                    lambda::FilterCriteria::builder()
                        .set_filters(Some(Vec::new()))
                        .build()
                }))
                .destination_config(destination(to).unwrap_or_else(|| {
                    lambda::DestinationConfig::builder()
                        .on_failure(lambda::OnFailure::builder().destination("").build())
                        .build()
                }));
            let request = with_settings!(request, s);
            wait::until(cx, "updating the mapping", || async {
                match request.clone().send().await {
                    Ok(_) => Ok(Check::Done(())),
                    Err(e) if in_progress(&e) => {
                        Ok(Check::Waiting("another change is in progress".into()))
                    }
                    Err(e) => Err(crate::aws::errors::error("UpdateEventSourceMapping", &e)),
                }
            })
            .await?;
        }
        wait_settled(cx, &live.uuid).await
    }
}

/// The mappings tagged as `owner`'s on the functions the stack's index names (each
/// function's listing and each mapping's tags are shared with the declared triggers'
/// reads, so a declared trigger's costs nothing more).
pub async fn discover_indexed(aws: &Aws, owner: &str) -> anyhow::Result<Vec<LiveTrigger>> {
    let Some(keys) = crate::index::keys(aws, owner, super::Trigger::TYPE).await? else {
        return Ok(Vec::new());
    };
    let functions: std::collections::BTreeSet<&str> =
        keys.iter().map(|k| super::indexed_function(k)).collect();
    let listed = try_join_all(functions.into_iter().map(|f| function_mappings(aws, f))).await?;
    let found = try_join_all(listed.into_iter().flatten().map(|m| async move {
        let tags = observed_tags(aws, m.event_source_mapping_arn().unwrap_or_default()).await?;
        match tags.get(STACK_TAG).map(String::as_str) == Some(owner) {
            true => live_from(&m, tags).map(Some),
            false => Ok(None),
        }
    }))
    .await?;
    Ok(found.into_iter().flatten().collect())
}

/// Every mapping of the account tagged as `owner`'s, for an account whose stacks were made
/// before the index existed: the listing has no tags, so each mapping's are read (at most
/// eight at a time). Costs a call per mapping in the account.
pub async fn discover_deep(aws: &Aws, owner: &str) -> anyhow::Result<Vec<LiveTrigger>> {
    use futures::StreamExt;
    futures::stream::iter(all_mappings(aws).await?.to_vec())
        .map(|m| async move {
            let arn = m.event_source_mapping_arn().unwrap_or_default();
            let tags = observed_tags(aws, arn).await?;
            if tags.get(STACK_TAG).map(String::as_str) == Some(owner) {
                Ok(Some(live_from(&m, tags)?))
            } else {
                Ok(None)
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<anyhow::Result<Option<LiveTrigger>>>>()
        .await
        .into_iter()
        .filter_map(|r| r.transpose())
        .collect()
}

/// Deletes the mapping and waits until it is gone.
pub async fn delete_mapping(cx: &ExecCtx<'_>, live: &LiveTrigger) -> anyhow::Result<()> {
    cx.tracker.status("deleting the mapping");
    let request = cx.aws.lambda.delete_event_source_mapping().uuid(&live.uuid);
    wait::until(cx, "deleting the mapping", || async {
        match request.clone().send().await {
            Ok(_) => Ok(Check::Done(())),
            Err(e) if error_code(&e) == Some("ResourceNotFoundException") => Ok(Check::Done(())),
            Err(e) if in_progress(&e) => Ok(Check::Waiting("another change is in progress".into())),
            Err(e) => Err(crate::aws::errors::error("DeleteEventSourceMapping", &e)),
        }
    })
    .await?;
    let aws = cx.aws;
    let uuid = live.uuid.as_str();
    // Deleting takes a moment; a mapping still Deleting would make a re-created one
    // with the same source fail.
    wait::until(
        cx,
        "waiting for the mapping to be deleted",
        move || async move {
            match aws
                .lambda
                .get_event_source_mapping()
                .uuid(uuid)
                .send()
                .await
            {
                Ok(m) => Ok(Check::Waiting(m.state().unwrap_or("?").to_string())),
                Err(e) if error_code(&e) == Some("ResourceNotFoundException") => {
                    Ok(Check::Done(()))
                }
                Err(e) => Err(crate::aws::errors::error("GetEventSourceMapping", &e)),
            }
        },
    )
    .await
}

fn in_progress<E, R>(e: &aws_sdk_lambda::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_lambda::error::ProvideErrorMetadata,
{
    matches!(
        error_code(e),
        Some("ResourceInUseException") | Some("ResourceConflictException")
    )
}

fn settled(status: &str) -> bool {
    matches!(status, "Enabled" | "Disabled")
}

async fn wait_settled(cx: &ExecCtx<'_>, uuid: &str) -> anyhow::Result<LiveTrigger> {
    let aws = cx.aws;
    let mapping = wait::until(
        cx,
        "waiting for the mapping to settle",
        move || async move {
            let out = sdk(
                "GetEventSourceMapping",
                aws.lambda
                    .get_event_source_mapping()
                    .uuid(uuid)
                    .send()
                    .await,
            )?;
            let state = out.state().unwrap_or_default().to_string();
            Ok(if settled(&state) {
                Check::Done(out)
            } else {
                Check::Waiting(state)
            })
        },
    )
    .await?;
    // GetEventSourceMapping's output has the listing's fields; rebuild the same shape.
    let config = lambda::EventSourceMappingConfiguration::builder()
        .set_uuid(mapping.uuid)
        .set_starting_position(mapping.starting_position)
        .set_batch_size(mapping.batch_size)
        .set_maximum_batching_window_in_seconds(mapping.maximum_batching_window_in_seconds)
        .set_event_source_arn(mapping.event_source_arn)
        .set_filter_criteria(mapping.filter_criteria)
        .set_function_arn(mapping.function_arn)
        .set_state(mapping.state)
        .set_destination_config(mapping.destination_config)
        .set_maximum_record_age_in_seconds(mapping.maximum_record_age_in_seconds)
        .set_bisect_batch_on_function_error(mapping.bisect_batch_on_function_error)
        .set_maximum_retry_attempts(mapping.maximum_retry_attempts)
        .set_function_response_types(mapping.function_response_types)
        .set_event_source_mapping_arn(mapping.event_source_mapping_arn)
        .build();
    let arn = config.event_source_mapping_arn().unwrap_or_default();
    let tags = read_tags(cx.aws, arn).await?;
    live_from(&config, tags)
}

/// A mapping's tags as observed for planning: the trigger's read and orphan discovery
/// both ask, and one call answers both. (Lambda is not in the tagging API's list for
/// mappings, so each mapping found costs one read.)
async fn observed_tags(aws: &Aws, arn: &str) -> anyhow::Result<BTreeMap<String, String>> {
    aws.reads
        .mapping_tags
        .get(arn.to_string(), || read_tags(aws, arn))
        .await
}

/// A function's mappings (Lambda filters them by function), listed once per run: the
/// trigger's read and indexed discovery share it.
async fn function_mappings(
    aws: &Aws,
    function: &str,
) -> anyhow::Result<Vec<lambda::EventSourceMappingConfiguration>> {
    aws.reads
        .function_mappings
        .get(function.to_string(), || list_mappings(aws, function))
        .await
}

/// Every mapping in the account and region, listed once per run (a deep discovery only).
async fn all_mappings(aws: &Aws) -> anyhow::Result<&[lambda::EventSourceMappingConfiguration]> {
    let all = aws
        .reads
        .mappings
        .get_or_try_init(|| async {
            let pages = aws.lambda.list_event_source_mappings().into_paginator();
            sdk(
                "ListEventSourceMappings",
                pages.items().send().collect().await,
            )
        })
        .await?;
    Ok(all)
}

/// The UUID of `function`'s mapping carrying the stack and resource tags in `tags`, read
/// afresh (not the plan's cached listing).
async fn find_tagged(
    aws: &Aws,
    function: &str,
    tags: &BTreeMap<String, String>,
) -> anyhow::Result<Option<String>> {
    let mappings = list_mappings(aws, function).await?;
    let found = try_join_all(
        mappings
            .iter()
            .map(|m| read_tags(aws, m.event_source_mapping_arn().unwrap_or_default())),
    )
    .await?;
    Ok(mappings
        .iter()
        .zip(&found)
        .find(|(_, live)| same_owner(tags, live))
        .and_then(|(m, _)| m.uuid.clone()))
}

async fn read_tags(aws: &Aws, arn: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let out = sdk(
        "ListTags",
        aws.lambda.list_tags().resource(arn).send().await,
    )?;
    Ok(out
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default())
}

async fn list_mappings(
    aws: &Aws,
    function: &str,
) -> anyhow::Result<Vec<lambda::EventSourceMappingConfiguration>> {
    let request = aws
        .lambda
        .list_event_source_mappings()
        .function_name(function);
    match request.into_paginator().items().send().collect().await {
        Ok(all) => Ok(all),
        // No function, no mappings.
        Err(e) if error_code(&e) == Some("ResourceNotFoundException") => Ok(Vec::new()),
        Err(e) => Err(crate::aws::errors::error("ListEventSourceMappings", &e)),
    }
}

fn live_from(
    m: &lambda::EventSourceMappingConfiguration,
    tags: BTreeMap<String, String>,
) -> anyhow::Result<LiveTrigger> {
    let status = m.state().unwrap_or_default().to_string();
    let filters = m
        .filter_criteria()
        .map(|c| {
            c.filters()
                .iter()
                .filter_map(|f| f.pattern())
                .map(|p| serde_json::from_str(p).unwrap_or(Value::String(p.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Ok(LiveTrigger {
        state: TriggerState {
            function: function_name(m.function_arn().unwrap_or_default()),
            source: m.event_source_arn().unwrap_or_default().to_string(),
            settings: Settings {
                batch_size: m.batch_size().unwrap_or(100),
                batching_window_seconds: m.maximum_batching_window_in_seconds().unwrap_or(0),
                starting_position: match m.starting_position() {
                    Some(lambda::EventSourcePosition::TrimHorizon) => StartingPosition::TrimHorizon,
                    _ => StartingPosition::Latest,
                },
                maximum_retry_attempts: m.maximum_retry_attempts().unwrap_or(-1),
                maximum_record_age_seconds: m.maximum_record_age_in_seconds().unwrap_or(-1),
                bisect_on_error: m.bisect_batch_on_function_error().unwrap_or(false),
                report_batch_item_failures: m
                    .function_response_types()
                    .contains(&lambda::FunctionResponseType::ReportBatchItemFailures),
                filters: canonical_filters(filters),
                enabled: !matches!(status.as_str(), "Disabled" | "Disabling"),
            },
            on_failure: m
                .destination_config()
                .and_then(|d| d.on_failure())
                .and_then(|o| o.destination())
                .filter(|d| !d.is_empty())
                .map(str::to_string),
            tags,
        },
        uuid: m.uuid().context("a mapping without a UUID")?.to_string(),
        arn: m.event_source_mapping_arn().unwrap_or_default().to_string(),
        status,
        others: Vec::new(),
    })
}

fn response_types(s: &Settings) -> Vec<lambda::FunctionResponseType> {
    if s.report_batch_item_failures {
        vec![lambda::FunctionResponseType::ReportBatchItemFailures]
    } else {
        Vec::new()
    }
}

fn filter_criteria(s: &Settings) -> Option<lambda::FilterCriteria> {
    (!s.filters.is_empty()).then(|| {
        lambda::FilterCriteria::builder()
            .set_filters(Some(
                s.filters
                    .iter()
                    .map(|f| lambda::Filter::builder().pattern(f.to_string()).build())
                    .collect(),
            ))
            .build()
    })
}

fn destination(desired: &TriggerState) -> Option<lambda::DestinationConfig> {
    desired.on_failure.as_ref().map(|arn| {
        lambda::DestinationConfig::builder()
            .on_failure(lambda::OnFailure::builder().destination(arn).build())
            .build()
    })
}
