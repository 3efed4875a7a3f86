//! `event_source_mapping`: the trigger that feeds a table's stream to a function, with its
//! batching, retry, failure and filter settings.
//!
//! A mapping has no name: it is found among the function's mappings by its ownership tags
//! (or, for adoption, as the untagged mapping from the same table's stream). Any other
//! mapping on the function, made out of band, is shown in plan (it would process the
//! stream a second time) but left alone. Settings change in place; a new source (the
//! table's stream was replaced, so it has a new ARN) or a new starting position makes a
//! new mapping, which loses nothing: the mapping holds no data.

use super::function::sync_tags;
use super::{Attributes, ExecCtx, Identity, Inputs, Kind, ValidateCtx, int_field, template_field};
use crate::aws::{Aws, describe_error, error_code, sdk};
use crate::create_once::{self, Attempt};
use crate::plan::FieldChange;
use crate::spec::diag::{Diagnostic, Diags};
use crate::spec::raw::raw_resource;
use crate::spec::template::{Template, UNKNOWN};
use crate::tags::{RESOURCE_TAG, STACK_TAG, same_owner};
use crate::wait::{self, Check};
use anyhow::{Context, bail};
use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_sdk_lambda::types as lambda;
use futures::future::try_join_all;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StartingPosition {
    Latest,
    TrimHorizon,
}

raw_resource! {
    /// An `event_source_mapping` as written in the stack file.
    pub struct RawTrigger {
        function: Spanned<String>,
        source: Spanned<String>,
        batch_size: Spanned<i64>,
        batching_window_seconds: Spanned<i64>,
        starting_position: Spanned<StartingPosition>,
        maximum_retry_attempts: Spanned<i64>,
        maximum_record_age_seconds: Spanned<i64>,
        bisect_on_error: Spanned<bool>,
        on_failure: Spanned<String>,
        report_batch_item_failures: Spanned<bool>,
        filters: Spanned<Vec<Spanned<Value>>>,
        enabled: Spanned<bool>,
    }
}

/// A validated `event_source_mapping`.
#[derive(Debug)]
pub struct Trigger {
    function: Template,
    source: Template,
    settings: Settings,
    on_failure: Option<Template>,
}

/// The settings that need no rendering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settings {
    pub batch_size: i32,
    pub batching_window_seconds: i32,
    pub starting_position: StartingPosition,
    pub maximum_retry_attempts: i32,
    pub maximum_record_age_seconds: i32,
    pub bisect_on_error: bool,
    pub report_batch_item_failures: bool,
    /// Event patterns, sorted by their JSON text (Lambda keeps no order).
    pub filters: Vec<Value>,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TriggerState {
    /// The function's name (an ARN in the file is compared by its name).
    pub function: String,
    pub source: String,
    #[serde(flatten)]
    pub settings: Settings,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug)]
pub struct LiveTrigger {
    state: TriggerState,
    uuid: String,
    arn: String,
    /// Lambda's own word: Enabled, Disabled, Creating, Updating, ...
    status: String,
    /// Other mappings on the same function: `uuid (source, state)`.
    others: Vec<String>,
}

/// The function's name from a name or an ARN (`arn:aws:lambda:r:a:function:NAME[:qualifier]`).
fn function_name(s: &str) -> String {
    let parts: Vec<&str> = s.split(':').collect();
    match parts.iter().position(|p| *p == "function") {
        Some(i) if s.starts_with("arn:") && i + 1 < parts.len() => parts[i + 1].to_string(),
        _ => s.to_string(),
    }
}

fn canonical_filters(mut filters: Vec<Value>) -> Vec<Value> {
    filters.sort_by_key(|v| v.to_string());
    filters
}

impl Trigger {
    fn validate_raw(raw: RawTrigger, cx: &ValidateCtx, diags: &mut Diags) -> Option<Trigger> {
        let errors_before = diags.error_count();
        let required =
            |value: Option<&Spanned<String>>, field: &str, hint: &str, diags: &mut Diags| {
                match value {
                    None => {
                        diags.push(
                            Diagnostic::new(
                                &cx.loc,
                                cx.field(field),
                                format!("missing field `{field}`"),
                            )
                            .hint(hint),
                        );
                        None
                    }
                    Some(s) => template_field(s, cx, cx.field(field), diags),
                }
            };
        let function = required(
            raw.function(),
            "function",
            "the function to trigger, usually a reference: `function: ${processor.name}`",
            diags,
        );
        let source = required(
            raw.source(),
            "source",
            "the stream, usually a reference: `source: ${messages.stream_arn}`",
            diags,
        );
        let batch_size = int_field(
            raw.batch_size(),
            100,
            |v| (1..=10_000).contains(&v),
            "1-10000",
            cx.field("batch_size"),
            "1 to 10000 records per batch",
            diags,
        ) as i32;
        let batching_window_seconds = int_field(
            raw.batching_window_seconds(),
            0,
            |v| (0..=300).contains(&v),
            "0-300",
            cx.field("batching_window_seconds"),
            "0 to 300 seconds",
            diags,
        ) as i32;
        let maximum_retry_attempts = int_field(
            raw.maximum_retry_attempts(),
            -1,
            |v| (-1..=10_000).contains(&v),
            "-1-10000",
            cx.field("maximum_retry_attempts"),
            "-1 (retry until the record expires) or 0 to 10000",
            diags,
        ) as i32;
        let maximum_record_age_seconds = int_field(
            raw.maximum_record_age_seconds(),
            -1,
            |v| v == -1 || (60..=604_800).contains(&v),
            "-1 or 60-604800",
            cx.field("maximum_record_age_seconds"),
            "-1 (no limit) or 60 to 604800 seconds",
            diags,
        ) as i32;
        let mut filters = Vec::new();
        for (i, f) in raw
            .filters()
            .iter()
            .flat_map(|l| l.value.iter())
            .enumerate()
        {
            if !f.value.is_object() {
                diags.push(
                    Diagnostic::new(&f.referenced, format!("{}.filters[{i}]", cx.path), "a filter is an event pattern (a mapping)")
                        .hint("e.g. `{ eventName: [INSERT], dynamodb: { Keys: { pk: { S: [{ prefix: \"MSG#\" }] } } } }`"),
                );
            }
            filters.push(f.value.clone());
        }
        if filters.len() > 5
            && let Some(list) = raw.filters()
        {
            diags.push(
                Diagnostic::new(
                    &list.referenced,
                    cx.field("filters"),
                    format!("{} filters; Lambda allows 5 per mapping", filters.len()),
                )
                .hint("combine patterns, or ask AWS for a higher quota"),
            );
        }
        let on_failure = raw
            .on_failure()
            .and_then(|s| template_field(s, cx, cx.field("on_failure"), diags));
        if diags.error_count() > errors_before {
            return None;
        }
        Some(Trigger {
            function: function?,
            source: source?,
            settings: Settings {
                batch_size,
                batching_window_seconds,
                starting_position: raw
                    .starting_position()
                    .map_or(StartingPosition::Latest, |p| p.value),
                maximum_retry_attempts,
                maximum_record_age_seconds,
                bisect_on_error: raw.bisect_on_error().is_some_and(|b| b.value),
                report_batch_item_failures: raw
                    .report_batch_item_failures()
                    .is_some_and(|b| b.value),
                filters: canonical_filters(filters),
                enabled: raw.enabled().is_none_or(|b| b.value),
            },
            on_failure,
        })
    }

    /// The function's name as known before anything is read: a literal, or the physical
    /// name of the referenced function resource.
    fn function_name_before_planning(&self, names: &BTreeMap<String, String>) -> Option<String> {
        if let Some(literal) = self.function.literal() {
            return Some(function_name(&literal));
        }
        let reference = self.function.references().next()?;
        names.get(&reference.resource).cloned()
    }

    /// What an adoptable mapping's source looks like: the stream of the referenced table
    /// (`…:table/<name>/stream/…`), or the literal ARN.
    fn source_matches(&self, source: &str, names: &BTreeMap<String, String>) -> bool {
        if let Some(literal) = self.source.literal() {
            return literal == source;
        }
        self.source
            .references()
            .next()
            .and_then(|r| names.get(&r.resource))
            .is_some_and(|table| source.contains(&format!(":table/{table}/stream/")))
    }
}

#[async_trait]
impl Kind for Trigger {
    const TYPE: &'static str = "event_source_mapping";
    const ATTRIBUTES: &'static [&'static str] = &["uuid", "arn"];
    const SAFE_TO_REPLACE: bool = true;
    type Raw = RawTrigger;
    type State = TriggerState;
    type Live = LiveTrigger;

    fn validate(raw: RawTrigger, cx: &ValidateCtx, diags: &mut Diags) -> Option<Trigger> {
        Trigger::validate_raw(raw, cx, diags)
    }

    fn physical_id(&self, live: Option<&LiveTrigger>) -> String {
        match live {
            Some(live) => live.uuid.clone(),
            None => "new mapping".into(),
        }
    }

    fn templates(&self) -> Vec<&Template> {
        [&self.function, &self.source]
            .into_iter()
            .chain(self.on_failure.as_ref())
            .collect()
    }

    async fn read(&self, aws: &Aws, me: &Identity<'_>) -> anyhow::Result<Option<LiveTrigger>> {
        let Some(function) = self.function_name_before_planning(me.names) else {
            // The function is not known before planning (e.g. an ARN from elsewhere):
            // there is nothing to find it by.
            return Ok(None);
        };
        let mappings: Vec<_> = all_mappings(aws)
            .await?
            .into_iter()
            .filter(|m| {
                m.function_arn()
                    .is_some_and(|arn| function_name(arn) == function)
            })
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
                        && self.source_matches(m.event_source_arn().unwrap_or_default(), me.names)
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
        let mut live = live_from(&mappings[i], tags[i].clone())?;
        live.others = others;
        Ok(Some(live))
    }

    fn state(live: &LiveTrigger) -> &TriggerState {
        &live.state
    }

    fn tags(state: &TriggerState) -> &BTreeMap<String, String> {
        &state.tags
    }

    fn attributes(live: &LiveTrigger) -> Attributes {
        BTreeMap::from([
            ("uuid", Some(live.uuid.clone())),
            ("arn", Some(live.arn.clone())),
        ])
    }

    fn warnings(live: &LiveTrigger) -> Vec<String> {
        let mut warnings: Vec<String> = live
            .others
            .iter()
            .map(|other| {
                format!(
                    "another event source mapping on function {} was made outside this stack: {other}; \
                     it is left alone, but it makes the function see records twice",
                    live.state.function
                )
            })
            .collect();
        if !live.state.settings.enabled && live.status == "Disabled" {
            warnings.push(
                "the mapping is Disabled: the function gets no records until it is enabled".into(),
            );
        }
        warnings
    }

    fn desired(&self, inputs: &Inputs, tags: BTreeMap<String, String>) -> TriggerState {
        let function = inputs.render(&self.function);
        TriggerState {
            function: if function == UNKNOWN {
                function
            } else {
                function_name(&function)
            },
            source: inputs.render(&self.source),
            settings: self.settings.clone(),
            on_failure: self.on_failure.as_ref().map(|t| inputs.render(t)),
            tags,
        }
    }

    fn replacement_reasons(&self, desired: &TriggerState, live: &LiveTrigger) -> Vec<String> {
        let mut reasons = Vec::new();
        if desired.source == UNKNOWN {
            reasons.push(
                "the source stream is being replaced (it gets a new ARN), so the mapping is made anew for it"
                    .to_string(),
            );
        } else if desired.source != live.state.source {
            reasons.push(format!(
                "the source changes ({} → {}); a mapping cannot move to another stream",
                live.state.source, desired.source
            ));
        }
        if desired.settings.starting_position != live.state.settings.starting_position {
            reasons.push("the starting position of a mapping cannot change".to_string());
        }
        reasons
    }

    fn annotate(&self, change: &mut FieldChange, _live: &LiveTrigger) {
        if change.field == "source" || change.field == "starting_position" {
            change.forces_replacement = true;
        }
    }

    async fn create(
        &self,
        cx: &ExecCtx<'_>,
        desired: &TriggerState,
    ) -> anyhow::Result<LiveTrigger> {
        cx.tracker.status("creating the mapping");
        let s = &desired.settings;
        let mut request = cx
            .aws
            .lambda
            .create_event_source_mapping()
            .function_name(&desired.function)
            .event_source_arn(&desired.source)
            .starting_position(match s.starting_position {
                StartingPosition::Latest => lambda::EventSourcePosition::Latest,
                StartingPosition::TrimHorizon => lambda::EventSourcePosition::TrimHorizon,
            })
            .batch_size(s.batch_size)
            .maximum_batching_window_in_seconds(s.batching_window_seconds)
            .maximum_retry_attempts(s.maximum_retry_attempts)
            .maximum_record_age_in_seconds(s.maximum_record_age_seconds)
            .bisect_batch_on_function_error(s.bisect_on_error)
            .set_function_response_types(Some(response_types(s)))
            .set_filter_criteria(filter_criteria(s))
            .set_destination_config(destination(desired))
            .enabled(s.enabled);
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
                sent => create_once::attempt("CreateEventSourceMapping", sent)?.map(|out| {
                    out.uuid
                        .context("CreateEventSourceMapping returned no UUID")
                }),
            }
        };
        let find = || find_tagged(cx.aws, &desired.function, &desired.tags);
        let uuid = create_once::create_once(cx, "creating the mapping", send, find).await?;
        wait_settled(cx, &uuid).await
    }

    async fn update(
        &self,
        cx: &ExecCtx<'_>,
        live: &LiveTrigger,
        desired: &TriggerState,
    ) -> anyhow::Result<LiveTrigger> {
        if !settled(&live.status) {
            wait_settled(cx, &live.uuid).await?;
        }
        sync_tags(cx, &live.arn, &live.state.tags, &desired.tags).await?;
        let before = &live.state;
        let changed = before.settings != desired.settings
            || before.function != desired.function
            || before.on_failure != desired.on_failure;
        if changed {
            cx.tracker.status("updating the mapping");
            let s = &desired.settings;
            let request = cx
                .aws
                .lambda
                .update_event_source_mapping()
                .uuid(&live.uuid)
                .function_name(&desired.function)
                .batch_size(s.batch_size)
                .maximum_batching_window_in_seconds(s.batching_window_seconds)
                .maximum_retry_attempts(s.maximum_retry_attempts)
                .maximum_record_age_in_seconds(s.maximum_record_age_seconds)
                .bisect_batch_on_function_error(s.bisect_on_error)
                .set_function_response_types(Some(response_types(s)))
                // An empty criteria object removes the filters.
                .filter_criteria(filter_criteria(s).unwrap_or_else(|| {
                    lambda::FilterCriteria::builder()
                        .set_filters(Some(Vec::new()))
                        .build()
                }))
                .destination_config(destination(desired).unwrap_or_else(|| {
                    lambda::DestinationConfig::builder()
                        .on_failure(lambda::OnFailure::builder().destination("").build())
                        .build()
                }))
                .enabled(s.enabled);
            wait::until(cx, "updating the mapping", || async {
                match request.clone().send().await {
                    Ok(_) => Ok(Check::Done(())),
                    Err(e) if in_progress(&e) => {
                        Ok(Check::Waiting("another change is in progress".into()))
                    }
                    Err(e) => bail!(describe_error("UpdateEventSourceMapping", &e)),
                }
            })
            .await?;
        }
        wait_settled(cx, &live.uuid).await
    }

    async fn delete(&self, cx: &ExecCtx<'_>, live: &LiveTrigger) -> anyhow::Result<()> {
        delete_mapping(cx, live).await
    }

    const DELETE_ORDER: u8 = 10;

    /// Every mapping of the account (the listing has no tags: each mapping's are read, at
    /// most eight at a time).
    async fn discover(
        aws: &Aws,
        owner: &str,
        _skip: &std::collections::BTreeSet<String>,
    ) -> anyhow::Result<Vec<LiveTrigger>> {
        use futures::StreamExt;
        futures::stream::iter(all_mappings(aws).await?)
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

    async fn delete_orphan(cx: &ExecCtx<'_>, live: &LiveTrigger) -> anyhow::Result<()> {
        delete_mapping(cx, live).await
    }
}

/// Deletes the mapping and waits until it is gone.
async fn delete_mapping(cx: &ExecCtx<'_>, live: &LiveTrigger) -> anyhow::Result<()> {
    cx.tracker.status("deleting the mapping");
    let request = cx.aws.lambda.delete_event_source_mapping().uuid(&live.uuid);
    wait::until(cx, "deleting the mapping", || async {
        match request.clone().send().await {
            Ok(_) => Ok(Check::Done(())),
            Err(e) if error_code(&e) == Some("ResourceNotFoundException") => Ok(Check::Done(())),
            Err(e) if in_progress(&e) => Ok(Check::Waiting("another change is in progress".into())),
            Err(e) => bail!(describe_error("DeleteEventSourceMapping", &e)),
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
                Err(e) => bail!(describe_error("GetEventSourceMapping", &e)),
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
/// both ask, and one call answers both.
async fn observed_tags(aws: &Aws, arn: &str) -> anyhow::Result<BTreeMap<String, String>> {
    aws.reads
        .once(format!("ListTags {arn}"), || read_tags(aws, arn))
        .await
}

/// Every mapping in the account and region, listed once per run: the trigger's read picks
/// its function's, orphan discovery the stack's.
async fn all_mappings(aws: &Aws) -> anyhow::Result<Vec<lambda::EventSourceMappingConfiguration>> {
    aws.reads
        .once("ListEventSourceMappings".into(), || async {
            let mut all = Vec::new();
            let mut marker = None;
            loop {
                let request = aws.lambda.list_event_source_mappings().set_marker(marker);
                let out = sdk("ListEventSourceMappings", request.send().await)?;
                all.extend(out.event_source_mappings.unwrap_or_default());
                match out.next_marker {
                    Some(m) if !m.is_empty() => marker = Some(m),
                    _ => return Ok(all),
                }
            }
        })
        .await
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
    let mut all = Vec::new();
    let mut marker = None;
    loop {
        let request = aws
            .lambda
            .list_event_source_mappings()
            .function_name(function)
            .set_marker(marker);
        let out = match request.send().await {
            Ok(out) => out,
            // No function, no mappings.
            Err(e) if error_code(&e) == Some("ResourceNotFoundException") => return Ok(all),
            Err(e) => bail!(describe_error("ListEventSourceMappings", &e)),
        };
        all.extend(out.event_source_mappings.unwrap_or_default());
        match out.next_marker {
            Some(m) if !m.is_empty() => marker = Some(m),
            _ => return Ok(all),
        }
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
