//! An `event_source_mapping` as written in the stack file, and its validation.

use super::{Settings, StartingPosition, canonical_filters, function_name};
use crate::kinds::kind::Validate;
use crate::spec::diag::{Diagnostic, Diags};
use crate::spec::fields::{IntRule, ValidateCtx, template_field};
use crate::spec::raw::Spanned;
use crate::spec::raw::raw_resource;
use crate::spec::template::Template;
use serde_json::Value;
use std::collections::BTreeMap;

raw_resource! {
    /// An `event_source_mapping` as written in the stack file.
    #[schemars(rename = "EventSourceMapping")]
    pub struct RawTrigger {
        /// The function to invoke: `${<function>.name}` or its ARN. Required.
        function: Spanned<String>,
        /// The stream: `${<table>.stream_arn}`. Required.
        source: Spanned<String>,
        /// Most records per invocation (default 100).
        #[schemars(range(min = 1, max = 10000))]
        batch_size: Spanned<i64>,
        /// Seconds to gather records before invoking (default 0).
        #[schemars(range(min = 0, max = 300))]
        batching_window_seconds: Spanned<i64>,
        /// Where a new mapping starts reading (default `TRIM_HORIZON`: from the stream's
        /// start, so that no record written before the mapping exists is skipped; `LATEST`
        /// reads only what is written once it is Enabled).
        starting_position: Spanned<StartingPosition>,
        /// Retries of a failing batch; -1 retries until the records expire (default -1).
        #[schemars(range(min = -1, max = 10000))]
        maximum_retry_attempts: Spanned<i64>,
        /// Oldest record sent, in seconds: -1 (no limit) or 60-604800 (default -1).
        #[schemars(range(min = -1, max = 604800))]
        maximum_record_age_seconds: Spanned<i64>,
        /// Split a failing batch in two and retry each half (default false).
        bisect_on_error: Spanned<bool>,
        /// ARN of an SQS queue or SNS topic for records given up on.
        on_failure: Spanned<String>,
        /// The function reports which records failed (default false).
        report_batch_item_failures: Spanned<bool>,
        /// Event filter patterns (up to 5): only matching records are sent.
        #[schemars(length(max = 5))]
        filters: Spanned<Vec<Spanned<Value>>>,
        /// Whether the mapping sends records (default true).
        enabled: Spanned<bool>,
    }
}

/// Lambda's limits on a stream mapping.
const BATCH_SIZE: IntRule = IntRule::range(1..=10_000, 100, "1 to 10000 records per batch");
const BATCHING_WINDOW: IntRule = IntRule::range(0..=300, 0, "0 to 300 seconds");
const RETRY_ATTEMPTS: IntRule = IntRule::other(
    |v| (-1..=10_000).contains(&v),
    "-1 or 0-10000",
    -1,
    "-1 (retry until the record expires) or 0 to 10000",
);
const RECORD_AGE: IntRule = IntRule::other(
    |v| v == -1 || (60..=604_800).contains(&v),
    "-1 or 60-604800",
    -1,
    "-1 (no limit) or 60 to 604800 seconds",
);

/// A validated `event_source_mapping`.
#[derive(Debug)]
pub struct Trigger {
    pub function: Template,
    pub source: Template,
    pub settings: Settings,
    pub on_failure: Option<Template>,
}

impl Validate<Trigger> for RawTrigger {
    fn validate(self, cx: &ValidateCtx, diags: &mut Diags) -> Option<Trigger> {
        let raw = self;
        let start = diags.mark();
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
        // A function's name (up to 64), its ARN, or a partial ARN: 1-140 characters.
        if let Some(f) = raw.function()
            && f.value.chars().count() > 140
        {
            diags.push(
                Diagnostic::new(&f.referenced, cx.field("function"), "a function is named in at most 140 characters")
                    .hint("its name (up to 64 characters) or its ARN, usually `${processor.name}` (CreateEventSourceMapping)"),
            );
        }
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
        let batch_size = BATCH_SIZE.read(raw.batch_size(), cx.field("batch_size"), diags);
        let window = raw.batching_window_seconds();
        let window = BATCHING_WINDOW.read(window, cx.field("batching_window_seconds"), diags);
        let retries = raw.maximum_retry_attempts();
        let retries = RETRY_ATTEMPTS.read(retries, cx.field("maximum_retry_attempts"), diags);
        let age = raw.maximum_record_age_seconds();
        let age = RECORD_AGE.read(age, cx.field("maximum_record_age_seconds"), diags);
        let mut filters = Vec::new();
        for (i, f) in raw
            .filters()
            .iter()
            .flat_map(|l| l.value.iter())
            .enumerate()
        {
            if let Some(problem) = crate::event_filter::check(&f.value) {
                diags.push(
                    Diagnostic::new(&f.referenced, format!("{}.filters[{i}]", cx.path), problem)
                        .hint("an event pattern as Lambda's filters take it, e.g. `{ eventName: [INSERT], dynamodb: { Keys: { pk: { S: [{ prefix: \"MSG#\" }] } } } }`"),
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
        diags.clean_since(start)?;
        Some(Trigger {
            function: function?,
            source: source?,
            // The rules keep each value within an i32, the SDK's type for these.
            settings: Settings {
                batch_size: batch_size as i32,
                batching_window_seconds: window as i32,
                starting_position: raw
                    .starting_position()
                    .map_or(StartingPosition::TrimHorizon, |p| p.value),
                maximum_retry_attempts: retries as i32,
                maximum_record_age_seconds: age as i32,
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
}

impl Trigger {
    /// The function's name as known before anything is read: a literal, or the physical
    /// name of the referenced function resource.
    pub fn function_name_before_planning(
        &self,
        names: &BTreeMap<String, String>,
    ) -> Option<String> {
        if let Some(literal) = self.function.literal() {
            return Some(function_name(&literal));
        }
        let reference = self.function.references().next()?;
        names
            .get(&format!("{}.{}", reference.resource, reference.attribute))
            .or_else(|| names.get(&reference.resource))
            .cloned()
    }

    /// What an adoptable mapping's source looks like: the stream of the referenced table
    /// (`…:table/<name>/stream/…`), or the literal ARN.
    pub fn source_matches(&self, source: &str, names: &BTreeMap<String, String>) -> bool {
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
