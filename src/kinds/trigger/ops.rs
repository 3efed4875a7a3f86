//! Finding, creating, changing and deleting an event source mapping.

use super::spec::Trigger;
use super::{
    LiveTrigger, Settings, StartingPosition, TriggerState, bare, canonical_filters, function_name,
};
use crate::aws::needs::Need;
use crate::aws::{Aws, answered, returned, sdk};
use crate::create_once::{self, Attempt};
use crate::exec::ExecCtx;
use crate::kinds::function::LambdaTags;
use crate::kinds::kind::{Changes, Identity, Kind, Made};
use crate::tags::{RESOURCE_TAG, STACK_TAG, same_owner};
use crate::wait::{Check, Service::Lambda, propagating, until};
use anyhow::Context;
use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_sdk_lambda::operation::create_event_source_mapping::CreateEventSourceMappingError;
use aws_sdk_lambda::operation::delete_event_source_mapping::DeleteEventSourceMappingError;
use aws_sdk_lambda::operation::get_event_source_mapping::GetEventSourceMappingError;
use aws_sdk_lambda::operation::list_event_source_mappings::ListEventSourceMappingsError;
use aws_sdk_lambda::operation::update_event_source_mapping::UpdateEventSourceMappingError;
use aws_sdk_lambda::types as lambda;
use futures::future::try_join_all;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Mutex;

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
    // Lambda lists a function's mappings by the qualifier they invoke: on an alias, the
    // unqualified ones too (where a stack deployed before releases has its mapping).
    let (listed, unqualified) = tokio::try_join!(function_mappings(aws, &function), async {
        match bare(&function) == function {
            true => Ok(Vec::new()),
            false => function_mappings(aws, bare(&function)).await,
        }
    })?;
    let mut seen = std::collections::BTreeSet::new();
    let mappings: Vec<_> = listed
        .iter()
        .chain(unqualified.iter())
        .filter(|m| seen.insert(m.uuid().unwrap_or_default().to_string()))
        .collect();
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
        let refused = Mutex::new(None);
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
                // create found the mapping its lost answer made ("provided mapping already
                // exists"): look, then send again.
                Err(e)
                    if answered(
                        &e,
                        CreateEventSourceMappingError::is_resource_conflict_exception,
                    ) =>
                {
                    Ok(Attempt::Unknown(create_once::brief(
                        "CreateEventSourceMapping",
                        &e,
                    )))
                }
                // The role's policy for this stream (or queue) has not reached Lambda yet.
                Err(e) if policy_not_visible(&e) => {
                    propagating(&refused, || {
                        crate::aws::errors::error("CreateEventSourceMapping", &e)
                    })?;
                    Ok(Attempt::NotYet(POLICY_PROPAGATING.into()))
                }
                sent => create_once::attempt("CreateEventSourceMapping", sent)?
                    .map(|out| returned(out.uuid, "CreateEventSourceMapping", "UUID")),
            }
        };
        let find = || find_tagged(cx.aws, desired);
        let wait = cx.wait("creating the mapping", Lambda);
        let uuid = create_once::create_once(wait, send, find).await?;
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
            until(cx.wait("updating the mapping", Lambda), || async {
                match request.clone().send().await {
                    Ok(_) => Ok(Check::Done(())),
                    Err(e)
                        if answered(
                            &e,
                            UpdateEventSourceMappingError::is_resource_in_use_exception,
                        ) || answered(
                            &e,
                            UpdateEventSourceMappingError::is_resource_conflict_exception,
                        ) =>
                    {
                        Ok(Check::Waiting(IN_USE.into()))
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
    until(cx.wait("deleting the mapping", Lambda), || async {
        match request.clone().send().await {
            Ok(_) => Ok(Check::Done(())),
            Err(e)
                if answered(
                    &e,
                    DeleteEventSourceMappingError::is_resource_not_found_exception,
                ) =>
            {
                Ok(Check::Done(()))
            }
            Err(e)
                if answered(
                    &e,
                    DeleteEventSourceMappingError::is_resource_in_use_exception,
                ) || answered(
                    &e,
                    DeleteEventSourceMappingError::is_resource_conflict_exception,
                ) =>
            {
                Ok(Check::Waiting(IN_USE.into()))
            }
            Err(e) => Err(crate::aws::errors::error("DeleteEventSourceMapping", &e)),
        }
    })
    .await?;
    let aws = cx.aws;
    let uuid = live.uuid.as_str();
    // https://docs.aws.amazon.com/lambda/latest/api/API_DeleteEventSourceMapping.html: "When
    // you delete an event source mapping, it enters a Deleting state and might not be
    // completely deleted for several seconds"; meanwhile a new mapping of the same function
    // and stream is refused.
    until(
        cx.wait("waiting for the mapping to be deleted", Lambda),
        move || async move {
            match aws
                .lambda
                .get_event_source_mapping()
                .uuid(uuid)
                .send()
                .await
            {
                Ok(m) => Ok(Check::Waiting(m.state().unwrap_or("?").to_string())),
                Err(e)
                    if answered(
                        &e,
                        GetEventSourceMappingError::is_resource_not_found_exception,
                    ) =>
                {
                    Ok(Check::Done(()))
                }
                Err(e) => Err(crate::aws::errors::error("GetEventSourceMapping", &e)),
            }
        },
    )
    .await
}

/// How progress says that Lambda refuses to change a mapping that is still changing
/// (ResourceInUseException: "you tried to update an event source mapping in the CREATING
/// state, or you tried to delete an event source mapping currently UPDATING",
/// UpdateEventSourceMapping's API reference).
const IN_USE: &str = "Lambda is still applying an earlier change of the mapping";

/// How progress says that Lambda waits for the role's policy to propagate.
const POLICY_PROPAGATING: &str =
    "IAM has not yet propagated the role's policy for the stream or the queue to Lambda";

/// Lambda cannot yet read the stream (or send to the on-failure queue) with the function's
/// role: a new or changed policy reaches Lambda seconds after IAM accepted it. Lambda
/// answers InvalidParameterValueException, "Cannot access stream <arn>. Please ensure the
/// role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams
/// Actions on your stream in IAM." (or "... does not have permissions to call SendMessage
/// on SQS").
fn policy_not_visible<R>(
    e: &aws_sdk_lambda::error::SdkError<CreateEventSourceMappingError, R>,
) -> bool {
    e.as_service_error()
        .filter(|e| e.is_invalid_parameter_value_exception())
        .and_then(aws_sdk_lambda::error::ProvideErrorMetadata::message)
        .is_some_and(|m| {
            m.starts_with("Cannot access stream") || m.contains("does not have permissions to call")
        })
}

pub fn settled(status: &str) -> bool {
    matches!(status, "Enabled" | "Disabled")
}

pub async fn wait_settled(cx: &ExecCtx<'_>, uuid: &str) -> anyhow::Result<LiveTrigger> {
    let aws = cx.aws;
    let mapping = until(
        cx.wait("waiting for the mapping to settle", Lambda),
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
            .map(without_deleting)
        })
        .await?;
    Ok(all)
}

/// The UUID of the mapping `desired` describes, if one exists: of its function, on its
/// source, carrying its stack and resource tags; read afresh (not the plan's cached
/// listing). The source counts: while a mapping is replaced, the old one (on the old
/// stream) carries the same tags.
async fn find_tagged(aws: &Aws, desired: &TriggerState) -> anyhow::Result<Option<String>> {
    let mappings = list_mappings(aws, &desired.function).await?;
    let mappings: Vec<_> = mappings
        .iter()
        .filter(|m| m.event_source_arn() == Some(desired.source.as_str()))
        .collect();
    let found = try_join_all(
        mappings
            .iter()
            .map(|m| read_tags(aws, m.event_source_mapping_arn().unwrap_or_default())),
    )
    .await?;
    Ok(mappings
        .iter()
        .zip(&found)
        .find(|(_, live)| same_owner(&desired.tags, live))
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
        Ok(all) => Ok(without_deleting(all)),
        // No function, no mappings.
        Err(e)
            if answered(
                &e,
                ListEventSourceMappingsError::is_resource_not_found_exception,
            ) =>
        {
            Ok(Vec::new())
        }
        Err(e) => Err(crate::aws::errors::error("ListEventSourceMappings", &e)),
    }
}

/// A mapping being deleted is as good as gone (as a DELETING table is): it is never
/// planned for, adopted or found as made.
fn without_deleting(
    all: Vec<lambda::EventSourceMappingConfiguration>,
) -> Vec<lambda::EventSourceMappingConfiguration> {
    all.into_iter()
        .filter(|m| m.state() != Some("Deleting"))
        .collect()
}

/// Every mapping of `function` as Lambda lists it now, read afresh (not this run's cached
/// listing), without tags (the listing has none): what `dev` follows.
pub async fn listed_now(aws: &Aws, function: &str) -> anyhow::Result<Vec<LiveTrigger>> {
    let listed = list_mappings(aws, function).await?;
    listed
        .iter()
        .map(|m| live_from(m, BTreeMap::new()))
        .collect()
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
