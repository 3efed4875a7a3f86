//! `dynamodb_table`: a DynamoDB table — key schema, attribute definitions, billing mode and
//! capacity, global secondary indexes, stream, point-in-time recovery, deletion protection,
//! TTL, table class and tags.
//!
//! In place (UpdateTable and friends): capacity, billing mode, GSIs added or removed (one
//! per call, each waited for), stream view type (disable, then enable: the stream ARN
//! changes), PITR, deletion protection, TTL, table class, tags. A new key schema or key
//! attribute type cannot be made in place: that is a replacement, which loses every item.

use super::{Attributes, ExecCtx, Inputs, Kind, ValidateCtx};
use crate::aws::{Aws, describe_error, error_code};
use crate::plan::FieldChange;
use crate::spec::diag::{Diagnostic, Diags};
use crate::spec::raw::{SpannedMap, raw_resource};
use crate::spec::template::Template;
use crate::tags::same_owner;
use crate::wait::{self, Check};
use anyhow::{Context, bail};
use async_trait::async_trait;
use aws_sdk_dynamodb::types as ddb;
use serde::{Deserialize, Serialize};
use serde_saphyr::{Location, Spanned};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// The stack-file form.

raw_resource! {
    /// A `dynamodb_table` as written in the stack file.
    pub struct RawTable {
        name: Spanned<String>,
        attributes: SpannedMap<Spanned<AttrType>>,
        key: Spanned<RawKey>,
        billing_mode: Spanned<BillingMode>,
        read_capacity: Spanned<i64>,
        write_capacity: Spanned<i64>,
        global_secondary_indexes: Spanned<Vec<Spanned<RawIndex>>>,
        stream: Spanned<StreamView>,
        point_in_time_recovery: Spanned<bool>,
        deletion_protection: Spanned<bool>,
        ttl_attribute: Spanned<String>,
        table_class: Spanned<TableClass>,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKey {
    hash: Spanned<String>,
    #[serde(default)]
    range: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIndex {
    name: Spanned<String>,
    key: Spanned<RawKey>,
    #[serde(default)]
    projection: Option<Spanned<ProjectionType>>,
    #[serde(default)]
    non_key_attributes: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    read_capacity: Option<Spanned<i64>>,
    #[serde(default)]
    write_capacity: Option<Spanned<i64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttrType {
    S,
    N,
    B,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BillingMode {
    Provisioned,
    PayPerRequest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProjectionType {
    All,
    KeysOnly,
    Include,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StreamView {
    Disabled,
    NewImage,
    OldImage,
    NewAndOldImages,
    KeysOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TableClass {
    Standard,
    StandardInfrequentAccess,
}

// ---------------------------------------------------------------------------------------
// The comparable state: what the file asks for, or what DynamoDB reports.

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Key {
    pub hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
}

impl Key {
    fn names(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.hash).chain(self.range.as_ref())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexState {
    pub key: Key,
    pub projection: ProjectionType,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub non_key_attributes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_capacity: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_capacity: Option<i64>,
}

impl IndexState {
    /// Key and projection can only change by deleting and re-creating the index.
    fn same_shape(&self, other: &IndexState) -> bool {
        self.key == other.key
            && self.projection == other.projection
            && self.non_key_attributes == other.non_key_attributes
    }

    fn capacity(&self) -> Option<(i64, i64)> {
        self.read_capacity.zip(self.write_capacity)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableState {
    pub key: Key,
    pub attributes: BTreeMap<String, AttrType>,
    pub billing_mode: BillingMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_capacity: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_capacity: Option<i64>,
    pub global_secondary_indexes: BTreeMap<String, IndexState>,
    pub stream: StreamView,
    pub point_in_time_recovery: bool,
    pub deletion_protection: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_attribute: Option<String>,
    pub table_class: TableClass,
    pub tags: BTreeMap<String, String>,
}

impl TableState {
    fn capacity(&self) -> Option<(i64, i64)> {
        self.read_capacity.zip(self.write_capacity)
    }

    /// Attribute definitions DynamoDB needs for the table's key and the given indexes.
    fn definitions_for<'a>(
        &self,
        indexes: impl Iterator<Item = &'a IndexState>,
    ) -> Vec<(String, AttrType)> {
        let mut names: Vec<&String> = self.key.names().collect();
        for index in indexes {
            names.extend(index.key.names());
        }
        names.sort();
        names.dedup();
        names
            .into_iter()
            .filter_map(|n| self.attributes.get(n).map(|t| (n.clone(), *t)))
            .collect()
    }
}

/// A validated `dynamodb_table` resource.
#[derive(Debug)]
pub struct Table {
    name: String,
    /// Everything but tags, which the engine supplies.
    state: TableState,
}

/// A table as DynamoDB reports it.
#[derive(Debug)]
pub struct LiveTable {
    state: TableState,
    arn: String,
    stream_arn: Option<String>,
    item_count: i64,
    /// DynamoDB takes up to an hour to enable or disable TTL and refuses another TTL change
    /// meanwhile; `Some("DISABLING")` or `Some("ENABLING")` while it is at it.
    ttl_in_progress: Option<String>,
    /// False while a create or update (by us, interrupted, or by someone else) is still
    /// going on: DynamoDB refuses further changes until it is done.
    active: bool,
}

// ---------------------------------------------------------------------------------------
// Validation.

/// DynamoDB's default per-table (and per-index) quota for read or write capacity units.
const MAX_CAPACITY: i64 = 40_000;
const MAX_GSIS: usize = 20;

const TABLE_NAMES: super::NameRules = super::NameRules {
    what: "table",
    example: "cruddur-messages-${env}",
    valid: valid_table_name,
    rules: "3-255 characters: letters, digits, `_`, `-` and `.`",
};

fn valid_table_name(s: &str) -> bool {
    (3..=255).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

/// Reads the capacity pair for the billing mode, reporting what is missing or out of range.
fn capacity(
    mode: BillingMode,
    read: Option<&Spanned<i64>>,
    write: Option<&Spanned<i64>>,
    path: &str,
    at: &Location,
    diags: &mut Diags,
) -> (Option<i64>, Option<i64>) {
    let mut one = |value: Option<&Spanned<i64>>, field: &str| -> Option<i64> {
        let field_path = format!("{path}.{field}");
        match (mode, value) {
            (BillingMode::Provisioned, None) => {
                diags.push(
                    Diagnostic::new(at, &field_path, format!("`{field}` is required with billing_mode PROVISIONED"))
                        .hint("set read_capacity and write_capacity, or use billing_mode: PAY_PER_REQUEST"),
                );
                None
            }
            (BillingMode::Provisioned, Some(v)) if !(1..=MAX_CAPACITY).contains(&v.value) => {
                diags.push(
                    Diagnostic::new(
                        &v.referenced,
                        &field_path,
                        format!("capacity {} is out of range", v.value),
                    )
                    .hint(format!(
                        "use 1 to {MAX_CAPACITY} (DynamoDB's default per-table quota)"
                    )),
                );
                None
            }
            (BillingMode::Provisioned, Some(v)) => Some(v.value),
            (BillingMode::PayPerRequest, Some(v)) => {
                diags.push(
                    Diagnostic::new(
                        &v.referenced,
                        &field_path,
                        format!("`{field}` is only for billing_mode PROVISIONED"),
                    )
                    .hint("remove it, or set billing_mode: PROVISIONED"),
                );
                None
            }
            (BillingMode::PayPerRequest, None) => None,
        }
    };
    (one(read, "read_capacity"), one(write, "write_capacity"))
}

fn key_of(
    raw: &Spanned<RawKey>,
    attributes: &BTreeMap<String, AttrType>,
    path: &str,
    diags: &mut Diags,
) -> Key {
    for (part, name) in [
        ("hash", Some(&raw.value.hash)),
        ("range", raw.value.range.as_ref()),
    ] {
        if let Some(name) = name
            && !attributes.contains_key(&name.value)
        {
            diags.push(
                Diagnostic::new(
                    &name.referenced,
                    format!("{path}.{part}"),
                    format!(
                        "key attribute `{}` is not declared in `attributes`",
                        name.value
                    ),
                )
                .hint(format!(
                    "add `{}: S` (or N, B) under the table's `attributes`",
                    name.value
                )),
            );
        }
    }
    if let Some(range) = &raw.value.range
        && range.value == raw.value.hash.value
    {
        diags.push(
            Diagnostic::new(
                &range.referenced,
                format!("{path}.range"),
                format!("`{}` is both the hash and the range key", range.value),
            )
            .hint("a key's range attribute must differ from its hash attribute; drop `range` for a hash-only key"),
        );
    }
    Key {
        hash: raw.value.hash.value.clone(),
        range: raw.value.range.as_ref().map(|r| r.value.clone()),
    }
}

fn required<'a, T>(
    value: Option<&'a T>,
    cx: &ValidateCtx,
    field: &str,
    hint: &str,
    diags: &mut Diags,
) -> Option<&'a T> {
    if value.is_none() {
        diags.push(
            Diagnostic::new(&cx.loc, cx.field(field), format!("missing field `{field}`"))
                .hint(hint),
        );
    }
    value
}

fn index_of(
    raw: &Spanned<RawIndex>,
    billing: BillingMode,
    attributes: &BTreeMap<String, AttrType>,
    path: &str,
    diags: &mut Diags,
) -> IndexState {
    let r = &raw.value;
    if !valid_table_name(&r.name.value) {
        diags.push(
            Diagnostic::new(
                &r.name.referenced,
                format!("{path}.name"),
                format!("invalid index name `{}`", r.name.value),
            )
            .hint("3-255 characters: letters, digits, `_`, `-` and `.`"),
        );
    }
    let key = key_of(&r.key, attributes, &format!("{path}.key"), diags);
    let projection = r
        .projection
        .as_ref()
        .map_or(ProjectionType::All, |p| p.value);
    let mut non_key_attributes: Vec<String> = Vec::new();
    match (projection, &r.non_key_attributes) {
        (ProjectionType::Include, None) => diags.push(
            Diagnostic::new(
                &raw.referenced,
                format!("{path}.non_key_attributes"),
                "projection INCLUDE needs `non_key_attributes`",
            )
            .hint("list the attributes to copy into the index, or use projection ALL or KEYS_ONLY"),
        ),
        (ProjectionType::Include, Some(list)) => {
            if list.value.is_empty() || list.value.len() > 100 {
                diags.push(
                    Diagnostic::new(
                        &list.referenced,
                        format!("{path}.non_key_attributes"),
                        "list 1 to 100 attributes",
                    )
                    .hint("an index projects 1 to 100 non-key attributes"),
                );
            }
            non_key_attributes = list.value.iter().map(|a| a.value.clone()).collect();
            non_key_attributes.sort();
            non_key_attributes.dedup();
        }
        (_, Some(list)) => diags.push(
            Diagnostic::new(
                &list.referenced,
                format!("{path}.non_key_attributes"),
                "`non_key_attributes` is only for projection INCLUDE",
            )
            .hint("remove it, or set projection: INCLUDE"),
        ),
        (_, None) => {}
    }
    let (read_capacity, write_capacity) = capacity(
        billing,
        r.read_capacity.as_ref(),
        r.write_capacity.as_ref(),
        path,
        &raw.referenced,
        diags,
    );
    IndexState {
        key,
        projection,
        non_key_attributes,
        read_capacity,
        write_capacity,
    }
}

impl Table {
    fn validate_raw(raw: RawTable, cx: &ValidateCtx, diags: &mut Diags) -> Option<Table> {
        let errors_before = diags.error_count();
        let name = super::physical_name(raw.name(), &TABLE_NAMES, cx, diags);

        let mut attributes = BTreeMap::new();
        match raw.attributes() {
            None => diags.push(
                Diagnostic::new(&cx.loc, cx.field("attributes"), "missing field `attributes`")
                    .hint("declare the key attributes and their types, e.g. `attributes: { pk: S, sk: S }`"),
            ),
            Some(map) => {
                for (attr, ty) in map.iter() {
                    if attr.value.is_empty() || attr.value.len() > 255 {
                        diags.error(&attr.referenced, cx.field("attributes"), "attribute names are 1-255 bytes long");
                    }
                    attributes.insert(attr.value.clone(), ty.value);
                }
            }
        }

        let key = required(
            raw.key(),
            cx,
            "key",
            "e.g. `key: { hash: pk, range: sk }`",
            diags,
        )
        .map(|k| key_of(k, &attributes, &cx.field("key"), diags));

        let billing_mode = raw
            .billing_mode()
            .map_or(BillingMode::PayPerRequest, |b| b.value);
        let (read_capacity, write_capacity) = capacity(
            billing_mode,
            raw.read_capacity(),
            raw.write_capacity(),
            &cx.path,
            &cx.loc,
            diags,
        );

        let mut indexes = BTreeMap::new();
        if let Some(list) = raw.global_secondary_indexes() {
            if list.value.len() > MAX_GSIS {
                diags.push(
                    Diagnostic::new(
                        &list.referenced,
                        cx.field("global_secondary_indexes"),
                        format!(
                            "{} indexes; a table can have at most {MAX_GSIS}",
                            list.value.len()
                        ),
                    )
                    .hint("DynamoDB's default quota is 20 global secondary indexes per table"),
                );
            }
            for (i, raw_index) in list.value.iter().enumerate() {
                let path = format!("{}.global_secondary_indexes[{i}]", cx.path);
                let index = index_of(raw_index, billing_mode, &attributes, &path, diags);
                let name = raw_index.value.name.value.clone();
                if indexes.insert(name.clone(), index).is_some() {
                    diags.push(
                        Diagnostic::new(
                            &raw_index.value.name.referenced,
                            format!("{path}.name"),
                            format!("index `{name}` is declared twice"),
                        )
                        .hint("index names must be unique within a table"),
                    );
                }
            }
        }

        // The 100-attribute limit on projected non-key attributes is for the whole table,
        // counting an attribute again for every index that projects it.
        let projected: usize = indexes.values().map(|i| i.non_key_attributes.len()).sum();
        if projected > 100
            && let Some(list) = raw.global_secondary_indexes()
        {
            diags.push(
                Diagnostic::new(
                    &list.referenced,
                    cx.field("global_secondary_indexes"),
                    format!("the indexes project {projected} non-key attributes in all; DynamoDB allows at most 100 per table"),
                )
                .hint("project fewer attributes (INCLUDE lists are counted per index), or use projection ALL"),
            );
        }

        // DynamoDB accepts definitions only for attributes some key uses.
        if let Some(key) = &key
            && let Some(map) = raw.attributes()
        {
            for (attr, _) in map.iter() {
                let used = key.names().any(|n| *n == attr.value)
                    || indexes
                        .values()
                        .any(|i| i.key.names().any(|n| *n == attr.value));
                if !used {
                    diags.push(
                        Diagnostic::new(&attr.referenced, format!("{}.attributes.{}", cx.path, attr.value), format!("attribute `{}` is declared but no key uses it", attr.value))
                            .hint("declare only the attributes of the table's and indexes' keys; other attributes need no declaration"),
                    );
                }
            }
        }

        if let Some(ttl) = raw.ttl_attribute()
            && (ttl.value.is_empty() || ttl.value.len() > 255)
        {
            diags.error(
                &ttl.referenced,
                cx.field("ttl_attribute"),
                "the TTL attribute name must be 1-255 bytes long",
            );
        }

        if diags.error_count() > errors_before {
            return None;
        }
        Some(Table {
            name: name?,
            state: TableState {
                key: key?,
                attributes,
                billing_mode,
                read_capacity,
                write_capacity,
                global_secondary_indexes: indexes,
                stream: raw.stream().map_or(StreamView::Disabled, |s| s.value),
                point_in_time_recovery: raw.point_in_time_recovery().is_some_and(|p| p.value),
                deletion_protection: raw.deletion_protection().is_some_and(|p| p.value),
                ttl_attribute: raw.ttl_attribute().map(|t| t.value.clone()),
                table_class: raw.table_class().map_or(TableClass::Standard, |c| c.value),
                tags: BTreeMap::new(),
            },
        })
    }
}

// ---------------------------------------------------------------------------------------
// The kind: planning and AWS calls.

#[async_trait]
impl Kind for Table {
    const TYPE: &'static str = "dynamodb_table";
    const ATTRIBUTES: &'static [&'static str] = &["name", "arn", "stream_arn", "index_names"];
    type Raw = RawTable;
    type State = TableState;
    type Live = LiveTable;

    fn validate(raw: RawTable, cx: &ValidateCtx, diags: &mut Diags) -> Option<Table> {
        Table::validate_raw(raw, cx, diags)
    }

    fn known_name(&self) -> Option<String> {
        Some(self.name.clone())
    }

    fn physical_id(&self, _live: Option<&LiveTable>) -> String {
        self.name.clone()
    }

    fn templates(&self) -> Vec<&Template> {
        Vec::new()
    }

    fn check_attribute(&self, attribute: &str) -> Result<(), String> {
        match attribute {
            "stream_arn" if self.state.stream == StreamView::Disabled => Err(
                "the table has no stream in this environment (set `stream:` to a view type such as NEW_IMAGE)".into(),
            ),
            "name" | "arn" | "stream_arn" | "index_names" => Ok(()),
            other => Err(format!(
                "dynamodb_table has no attribute `{other}` (it has: {})",
                Self::ATTRIBUTES.join(", ")
            )),
        }
    }

    async fn read(
        &self,
        aws: &Aws,
        _me: &super::Identity<'_>,
    ) -> anyhow::Result<Option<LiveTable>> {
        read_table(aws, &self.name).await
    }

    const DELETE_ORDER: u8 = 50;

    async fn discover(
        aws: &Aws,
        owner: &str,
        skip: &BTreeSet<String>,
    ) -> anyhow::Result<Vec<LiveTable>> {
        let arns = super::orphan::tagged_arns(aws, "dynamodb:table", owner).await?;
        let tables = futures::future::try_join_all(
            arns.iter()
                .map(|arn| live_name(arn))
                .filter(|name| !skip.contains(name))
                .map(|name| async move { read_table(aws, &name).await }),
        )
        .await?;
        Ok(tables.into_iter().flatten().collect())
    }

    async fn delete_orphan(cx: &ExecCtx<'_>, live: &LiveTable) -> anyhow::Result<()> {
        delete_table(cx, &live_name(&live.arn), live).await
    }

    async fn orphan_data_at_risk(aws: &Aws, live: &LiveTable) -> anyhow::Result<Option<String>> {
        items_at_risk(aws, &live_name(&live.arn)).await
    }

    fn state(live: &LiveTable) -> &TableState {
        &live.state
    }

    fn tags(state: &TableState) -> &BTreeMap<String, String> {
        &state.tags
    }

    fn attributes(live: &LiveTable) -> Attributes {
        let stream_arn = match live.state.stream {
            StreamView::Disabled => None,
            _ => live.stream_arn.clone(),
        };
        BTreeMap::from([
            ("name", Some(live_name(&live.arn))),
            ("arn", Some(live.arn.clone())),
            ("stream_arn", stream_arn),
            ("index_names", Some(index_names(&live.state))),
        ])
    }

    fn desired(&self, _inputs: &Inputs, tags: BTreeMap<String, String>) -> TableState {
        TableState {
            tags,
            ..self.state.clone()
        }
    }

    fn replacement_reasons(&self, desired: &TableState, live: &LiveTable) -> Vec<String> {
        let live = &live.state;
        let mut reasons = Vec::new();
        if desired.key != live.key {
            reasons.push(format!(
                "the key schema changes ({} → {}); DynamoDB cannot change a table's key",
                show_key(&live.key),
                show_key(&desired.key)
            ));
        }
        for name in desired.key.names() {
            if let (Some(before), Some(after)) =
                (live.attributes.get(name), desired.attributes.get(name))
                && before != after
            {
                reasons.push(format!(
                    "key attribute `{name}` changes type ({before:?} → {after:?}); DynamoDB cannot change it in place"
                ));
            }
        }
        reasons
    }

    fn annotate(&self, change: &mut FieldChange, live: &LiveTable) {
        let field = change.field.as_str();
        let table_key: Vec<&String> = self
            .state
            .key
            .names()
            .chain(live.state.key.names())
            .collect();
        if field.starts_with("key.") {
            change.forces_replacement = true;
        } else if let Some(attr) = attribute_of_path(field) {
            if table_key.iter().any(|k| **k == attr) {
                change.forces_replacement = true;
            } else if !change.before.is_null() && !change.after.is_null() {
                change.note = Some("indexes keyed on it are deleted and rebuilt".into());
            }
        } else if field.starts_with("global_secondary_indexes[")
            && (field.contains("].key")
                || field.contains("].projection")
                || field.contains("].non_key_attributes"))
        {
            change.note = Some(
                "the index is deleted and rebuilt; queries on it fail until it is ACTIVE again"
                    .into(),
            );
        } else if field.starts_with("global_secondary_indexes[") && change.before.is_null() {
            change.note = Some("the index backfills before it can be queried".into());
        } else if field == "stream" {
            change.note = Some(stream_note(live.state.stream, self.state.stream).into());
        } else if field == "billing_mode" {
            change.note =
                Some("AWS allows switching a table's billing mode once per 24 hours".into());
        }
    }

    fn update_blocker(&self, desired: &TableState, live: &LiveTable) -> Option<String> {
        let (before, after) = (&live.state.ttl_attribute, &desired.ttl_attribute);
        if before == after {
            return None;
        }
        if let Some(status) = &live.ttl_in_progress {
            return Some(format!(
                "TTL is still changing on this table ({status}); DynamoDB refuses another TTL change until that \
                 is done (up to an hour): apply again later"
            ));
        }
        match (before, after) {
            (Some(old), Some(new)) => Some(format!(
                "moving TTL from `{old}` to `{new}` takes two applies, because DynamoDB refuses \
                 a second TTL change within an hour of the first: remove `ttl_attribute` and \
                 apply (TTL off), then set `ttl_attribute: {new}` and apply again once DynamoDB \
                 reports TTL DISABLED"
            )),
            _ => None,
        }
    }

    fn deletion_warning(live: &LiveTable) -> Option<String> {
        Some(match live.item_count {
            0 => "every item in the table is deleted with it (DynamoDB reports no items, but its count lags by up to six hours)".into(),
            n => format!("the table holds about {n} items; they are deleted with it"),
        })
    }

    fn deletion_blocker(live: &LiveTable) -> Option<String> {
        live.state.deletion_protection.then(|| {
            "deletion protection is enabled on the table (set `deletion_protection: false` and apply to lift it)".to_string()
        })
    }

    async fn data_at_risk(&self, aws: &Aws, _live: &LiveTable) -> anyhow::Result<Option<String>> {
        items_at_risk(aws, &self.name).await
    }

    fn attributes_after_update(live: &LiveTable, desired: &TableState) -> Attributes {
        let mut attributes = Self::attributes(live);
        if desired.stream != live.state.stream {
            // A new stream is made with a new ARN, known once apply has made it.
            attributes.insert("stream_arn", None);
        }
        attributes.insert("index_names", Some(index_names(desired)));
        attributes
    }

    async fn create(&self, cx: &ExecCtx<'_>, desired: &TableState) -> anyhow::Result<LiveTable> {
        cx.tracker.status("creating table");
        let definitions = desired.definitions_for(desired.global_secondary_indexes.values());
        let indexes = desired
            .global_secondary_indexes
            .iter()
            .map(|(name, index)| sdk_index(name, index))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut request = cx
            .aws
            .dynamodb
            .create_table()
            .table_name(&self.name)
            .set_attribute_definitions(Some(sdk_definitions(&definitions)?))
            .set_key_schema(Some(sdk_key(&desired.key)?))
            .billing_mode(sdk_billing(desired.billing_mode))
            .set_provisioned_throughput(desired.capacity().map(sdk_throughput).transpose()?)
            .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
            .table_class(sdk_class(desired.table_class))
            .deletion_protection_enabled(desired.deletion_protection)
            // Tags go on with the create, so there is never a moment when a table we made
            // is not recognisably ours.
            .set_tags(Some(sdk_tags(&desired.tags)?));
        if desired.stream != StreamView::Disabled {
            request = request.stream_specification(sdk_stream(desired.stream)?);
        }
        match request.clone().send().await {
            Ok(_) => {}
            // A table of this name is still being deleted (an earlier destroy or
            // replacement): wait for it to go, then create. Or this create was carried
            // out and its answer lost (the SDK sent it again): carry on with that table.
            Err(e) if error_code(&e) == Some("ResourceInUseException") => {
                match describe(cx.aws, &self.name).await? {
                    Some(desc) if desc.table_status() != Some(&ddb::TableStatus::Deleting) => {
                        let arn = desc.table_arn().unwrap_or_default();
                        if !same_owner(&desired.tags, &list_tags(cx.aws, arn).await?) {
                            bail!(
                                "{}; it is not this stack's: someone created it since plan ran (run plan again)",
                                describe_error("CreateTable", &e)
                            );
                        }
                    }
                    _ => {
                        self.wait_deleted(cx).await?;
                        crate::aws::sdk("CreateTable", request.send().await)?;
                    }
                }
            }
            Err(e) => bail!(describe_error("CreateTable", &e)),
        }
        wait_ready(cx, &self.name, "waiting for the table to become ACTIVE").await?;
        if desired.point_in_time_recovery {
            set_pitr(cx, &self.name, true).await?;
        }
        if let Some(attribute) = &desired.ttl_attribute {
            set_ttl(cx, &self.name, attribute, true).await?;
        }
        self.read_back(cx).await
    }

    async fn update(
        &self,
        cx: &ExecCtx<'_>,
        live: &LiveTable,
        desired: &TableState,
    ) -> anyhow::Result<LiveTable> {
        let name = self.name.as_str();
        let before = &live.state;
        if !live.active {
            wait_ready(cx, name, "waiting for an earlier change to finish").await?;
        }
        // Tags first: adopting a table makes it ours before anything else about it changes.
        sync_tags(cx, &live.arn, &before.tags, &desired.tags)
            .await
            .context("updating the table's tags")?;
        if before.deletion_protection != desired.deletion_protection {
            cx.tracker.status("setting deletion protection");
            let request = cx
                .aws
                .dynamodb
                .update_table()
                .table_name(name)
                .deletion_protection_enabled(desired.deletion_protection);
            update_table(cx, &request)
                .await
                .context("setting deletion protection")?;
            wait_ready(cx, name, "waiting for the table to become ACTIVE").await?;
        }
        update_indexes_and_capacity(cx, name, before, desired)
            .await
            .context("updating indexes, billing mode or capacity")?;
        if before.stream != desired.stream {
            update_stream(cx, name, before.stream, desired.stream).await?;
        }
        if before.table_class != desired.table_class {
            cx.tracker.status("changing the table class");
            let request = cx
                .aws
                .dynamodb
                .update_table()
                .table_name(name)
                .table_class(sdk_class(desired.table_class));
            update_table(cx, &request)
                .await
                .context("changing the table class")?;
            wait_ready(cx, name, "waiting for the table class change").await?;
        }
        if before.point_in_time_recovery != desired.point_in_time_recovery {
            set_pitr(cx, name, desired.point_in_time_recovery)
                .await
                .context("changing point-in-time recovery")?;
        }
        // At most one TTL change per apply (see `update_blocker`).
        match (&before.ttl_attribute, &desired.ttl_attribute) {
            (None, Some(new)) => set_ttl(cx, name, new, true).await.context("enabling TTL")?,
            (Some(old), None) => set_ttl(cx, name, old, false)
                .await
                .context("disabling TTL")?,
            (Some(old), Some(new)) if old != new => {
                bail!("TTL cannot move from `{old}` to `{new}` in one apply; run plan again")
            }
            _ => {}
        }
        self.read_back(cx).await
    }

    async fn delete(&self, cx: &ExecCtx<'_>, live: &LiveTable) -> anyhow::Result<()> {
        delete_table(cx, &self.name, live).await
    }
}

/// Waits until no table `name` exists any more.
async fn wait_deleted(cx: &ExecCtx<'_>, name: &str) -> anyhow::Result<()> {
    let aws = cx.aws;
    let started = Instant::now();
    wait::until(cx, "waiting for the table to be deleted", move || async move {
        Ok(match describe(aws, name).await? {
            None => Check::Done(()),
            Some(desc) if desc.table_status() == Some(&ddb::TableStatus::Deleting) => {
                Check::Waiting("DELETING".into())
            }
            Some(desc) if started.elapsed() < CONSISTENCY_GRACE => {
                Check::Waiting(status_text(desc.table_status()))
            }
            Some(desc) => bail!(
                "a table named {name} exists ({}); someone created it meanwhile: run plan again",
                status_text(desc.table_status())
            ),
        })
    })
    .await
}

/// Deletes the table (lifting deletion protection first: the plan blocks a protected
/// table's deletion unless destroy --allow-data-loss allowed it) and waits until it is gone.
async fn delete_table(cx: &ExecCtx<'_>, name: &str, live: &LiveTable) -> anyhow::Result<()> {
    if !live.active {
        wait_ready(cx, name, "waiting for an earlier change to finish").await?;
    }
    if live.state.deletion_protection {
        cx.tracker.status("turning deletion protection off");
        let request = cx
            .aws
            .dynamodb
            .update_table()
            .table_name(name)
            .deletion_protection_enabled(false);
        update_table(cx, &request)
            .await
            .context("turning deletion protection off")?;
        wait_ready(cx, name, "waiting for the table to become ACTIVE").await?;
    }
    cx.tracker.status("deleting table");
    let result = cx.aws.dynamodb.delete_table().table_name(name).send().await;
    match result {
        Ok(_) => {}
        Err(e) if error_code(&e) == Some("ResourceNotFoundException") => return Ok(()),
        // A resend after a lost answer finds the table already being deleted.
        Err(e)
            if error_code(&e) == Some("ResourceInUseException")
                && describe(cx.aws, name).await?.is_none_or(|desc| {
                    desc.table_status() == Some(&ddb::TableStatus::Deleting)
                }) => {}
        Err(e) => bail!(describe_error("DeleteTable", &e)),
    }
    wait_deleted(cx, name).await
}

impl Table {
    async fn wait_deleted(&self, cx: &ExecCtx<'_>) -> anyhow::Result<()> {
        wait_deleted(cx, &self.name).await
    }

    async fn read_back(&self, cx: &ExecCtx<'_>) -> anyhow::Result<LiveTable> {
        cx.tracker.status("reading the result");
        self.read(
            cx.aws,
            &super::Identity {
                owner: "",
                resource: "",
                names: &BTreeMap::new(),
            },
        )
        .await?
        .with_context(|| format!("table {} disappeared while it was being changed", self.name))
    }
}

/// Indexes and capacity, in the order DynamoDB accepts them: one index deletion or
/// creation per UpdateTable call, each waited for; deletions before the billing change (so
/// switching to PROVISIONED names throughput only for indexes that stay) and creations after.
async fn update_indexes_and_capacity(
    cx: &ExecCtx<'_>,
    name: &str,
    before: &TableState,
    desired: &TableState,
) -> anyhow::Result<()> {
    // An index whose key, projection or key attribute types change is deleted and made anew.
    let rebuilt = |old: &IndexState, new: &IndexState| {
        !old.same_shape(new)
            || old
                .key
                .names()
                .any(|a| before.attributes.get(a) != desired.attributes.get(a))
    };
    let mut present: BTreeMap<&String, &IndexState> = BTreeMap::new();
    for (index, old) in &before.global_secondary_indexes {
        match desired.global_secondary_indexes.get(index) {
            Some(new) if !rebuilt(old, new) => {
                present.insert(index, old);
            }
            _ => delete_index(cx, name, index).await?,
        }
    }

    let billing_changes = before.billing_mode != desired.billing_mode;
    let provisioned = desired.billing_mode == BillingMode::Provisioned;
    let table_capacity =
        provisioned && (billing_changes || before.capacity() != desired.capacity());
    let index_capacity: Vec<(&String, &IndexState)> = present
        .keys()
        .filter_map(|index| {
            let new = &desired.global_secondary_indexes[*index];
            let changed = billing_changes
                || before.global_secondary_indexes[*index].capacity() != new.capacity();
            (provisioned && changed).then_some((*index, new))
        })
        .collect();
    if billing_changes || table_capacity || !index_capacity.is_empty() {
        cx.tracker.status("updating billing mode and capacity");
        let mut request = cx.aws.dynamodb.update_table().table_name(name);
        if billing_changes {
            request = request.billing_mode(sdk_billing(desired.billing_mode));
        }
        if table_capacity {
            request = request
                .set_provisioned_throughput(desired.capacity().map(sdk_throughput).transpose()?);
        }
        for (index, new) in index_capacity {
            let throughput = new.capacity().map(sdk_throughput).transpose()?;
            let update = ddb::UpdateGlobalSecondaryIndexAction::builder()
                .index_name(index.as_str())
                .set_provisioned_throughput(throughput)
                .build()?;
            request = request.global_secondary_index_updates(
                ddb::GlobalSecondaryIndexUpdate::builder()
                    .update(update)
                    .build(),
            );
        }
        update_table(cx, &request).await?;
        wait_ready(cx, name, "waiting for the capacity change").await?;
    }

    for (index, new) in &desired.global_secondary_indexes {
        if present.contains_key(index) {
            continue;
        }
        cx.tracker.status(format!("creating index {index}"));
        let definitions = desired.definitions_for(present.values().copied().chain([new]));
        let create = ddb::CreateGlobalSecondaryIndexAction::builder()
            .index_name(index.as_str())
            .set_key_schema(Some(sdk_key(&new.key)?))
            .projection(sdk_projection(new))
            .set_provisioned_throughput(new.capacity().map(sdk_throughput).transpose()?)
            .build()?;
        let request = cx
            .aws
            .dynamodb
            .update_table()
            .table_name(name)
            .set_attribute_definitions(Some(sdk_definitions(&definitions)?))
            .global_secondary_index_updates(
                ddb::GlobalSecondaryIndexUpdate::builder()
                    .create(create)
                    .build(),
            );
        update_table(cx, &request).await?;
        wait_ready(cx, name, &format!("waiting for index {index} to backfill")).await?;
        present.insert(index, new);
    }
    Ok(())
}

async fn delete_index(cx: &ExecCtx<'_>, name: &str, index: &str) -> anyhow::Result<()> {
    cx.tracker.status(format!("deleting index {index}"));
    let delete = ddb::DeleteGlobalSecondaryIndexAction::builder()
        .index_name(index)
        .build()?;
    let request = cx
        .aws
        .dynamodb
        .update_table()
        .table_name(name)
        .global_secondary_index_updates(
            ddb::GlobalSecondaryIndexUpdate::builder()
                .delete(delete)
                .build(),
        );
    update_table(cx, &request).await?;
    let aws = cx.aws;
    wait::until(
        cx,
        &format!("waiting for index {index} to be deleted"),
        move || async move {
            let desc = describe(aws, name)
                .await?
                .context("the table disappeared")?;
            if let Some(gsi) = desc
                .global_secondary_indexes()
                .iter()
                .find(|g| g.index_name() == Some(index))
            {
                return Ok(Check::Waiting(format!(
                    "index {}",
                    status_text(gsi.index_status())
                )));
            }
            Ok(ready_state(&desc))
        },
    )
    .await
}

/// A stream's view type cannot change in place: the old stream is disabled, then a new one
/// enabled (with a new ARN).
async fn update_stream(
    cx: &ExecCtx<'_>,
    name: &str,
    before: StreamView,
    after: StreamView,
) -> anyhow::Result<()> {
    if before != StreamView::Disabled {
        cx.tracker.status("disabling the stream");
        let spec = ddb::StreamSpecification::builder()
            .stream_enabled(false)
            .build()?;
        let request = cx
            .aws
            .dynamodb
            .update_table()
            .table_name(name)
            .stream_specification(spec);
        update_table(cx, &request)
            .await
            .context("disabling the stream")?;
        wait_ready(cx, name, "waiting for the stream to be disabled").await?;
    }
    if after != StreamView::Disabled {
        cx.tracker.status("enabling the stream");
        let request = cx
            .aws
            .dynamodb
            .update_table()
            .table_name(name)
            .stream_specification(sdk_stream(after)?);
        // If this fails after the old stream was disabled, the table has no stream until
        // the next apply enables it: say so rather than leave the reader guessing.
        update_table(cx, &request).await.with_context(|| {
            "enabling the new stream (the table has no stream now; apply again to enable it)"
                .to_string()
        })?;
        wait_ready(cx, name, "waiting for the stream to be enabled").await?;
    }
    Ok(())
}

async fn set_pitr(cx: &ExecCtx<'_>, name: &str, enabled: bool) -> anyhow::Result<()> {
    cx.tracker.status(if enabled {
        "enabling point-in-time recovery"
    } else {
        "disabling point-in-time recovery"
    });
    let spec = ddb::PointInTimeRecoverySpecification::builder()
        .point_in_time_recovery_enabled(enabled)
        .build()?;
    let request = cx
        .aws
        .dynamodb
        .update_continuous_backups()
        .table_name(name)
        .point_in_time_recovery_specification(spec);
    // Right after a table is created its backups are not set up yet, and DynamoDB says so
    // with ContinuousBackupsUnavailableException: wait for them, as for any other state.
    wait::until(cx, "waiting for continuous backups", || async {
        match request.clone().send().await {
            Ok(_) => Ok(Check::Done(())),
            Err(e) if error_code(&e) == Some("ContinuousBackupsUnavailableException") => {
                Ok(Check::Waiting("backups not available yet".into()))
            }
            Err(e) => bail!(describe_error("UpdateContinuousBackups", &e)),
        }
    })
    .await
}

async fn set_ttl(
    cx: &ExecCtx<'_>,
    name: &str,
    attribute: &str,
    enabled: bool,
) -> anyhow::Result<()> {
    cx.tracker.status(format!(
        "{} TTL on {attribute}",
        if enabled { "enabling" } else { "disabling" }
    ));
    let spec = ddb::TimeToLiveSpecification::builder()
        .enabled(enabled)
        .attribute_name(attribute)
        .build()?;
    let request = cx
        .aws
        .dynamodb
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(spec);
    match request.send().await {
        Ok(_) => Ok(()),
        // DynamoDB refuses to set what is already set, which is what a resend after a lost
        // answer (or a change made meanwhile) finds: done if the table is as wanted.
        Err(e) if error_code(&e) == Some("ValidationException") => {
            let (in_effect, _) = read_ttl(cx.aws, name).await?;
            if (in_effect.as_deref() == Some(attribute)) == enabled {
                Ok(())
            } else {
                bail!(describe_error("UpdateTimeToLive", &e))
            }
        }
        Err(e) => bail!(describe_error("UpdateTimeToLive", &e)),
    }
}

async fn sync_tags(
    cx: &ExecCtx<'_>,
    arn: &str,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let (set, removed) = crate::tags::changes(before, after);
    if !set.is_empty() {
        cx.tracker.status("tagging");
        let request = cx
            .aws
            .dynamodb
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(sdk_tags(&set)?));
        crate::aws::sdk("TagResource", request.send().await)?;
    }
    if !removed.is_empty() {
        cx.tracker.status("removing tags");
        let request = cx
            .aws
            .dynamodb
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(removed));
        crate::aws::sdk("UntagResource", request.send().await)?;
    }
    Ok(())
}

/// Sends an UpdateTable, waiting out what DynamoDB says is only "not now": the table or an
/// index still being changed (ResourceInUseException: by an earlier step, an interrupted
/// run, or someone else), or too many index builds at once in the account
/// (LimitExceededException). Each retry shows with -v and counts in --stats.
async fn update_table(
    cx: &ExecCtx<'_>,
    request: &aws_sdk_dynamodb::operation::update_table::builders::UpdateTableFluentBuilder,
) -> anyhow::Result<aws_sdk_dynamodb::operation::update_table::UpdateTableOutput> {
    wait::until(cx, "waiting for DynamoDB to accept the change", || async {
        match request.clone().send().await {
            Ok(out) => Ok(Check::Done(out)),
            Err(e) => match error_code(&e) {
                Some(code @ ("ResourceInUseException" | "LimitExceededException")) => {
                    tracing::debug!(code, "UpdateTable refused for now; retrying");
                    Ok(Check::Waiting(code.to_string()))
                }
                _ => bail!(describe_error("UpdateTable", &e)),
            },
        }
    })
    .await
}

/// How long DescribeTable may still show the past right after a change: its reads are
/// eventually consistent, so a table just created can be "not found", and one just
/// deleted can still look ACTIVE, for a moment.
const CONSISTENCY_GRACE: Duration = Duration::from_secs(30);

async fn wait_ready(cx: &ExecCtx<'_>, name: &str, what: &str) -> anyhow::Result<()> {
    let aws = cx.aws;
    let started = Instant::now();
    wait::until(cx, what, move || async move {
        match describe(aws, name).await? {
            Some(desc) => Ok(ready_state(&desc)),
            None if started.elapsed() < CONSISTENCY_GRACE => {
                Ok(Check::Waiting("not visible yet".into()))
            }
            None => bail!("the table disappeared"),
        }
    })
    .await
}

/// Done when the table and every index are ACTIVE.
fn ready_state(desc: &ddb::TableDescription) -> Check<()> {
    if desc.table_status() != Some(&ddb::TableStatus::Active) {
        return Check::Waiting(format!("table {}", status_text(desc.table_status())));
    }
    for gsi in desc.global_secondary_indexes() {
        if gsi.index_status() != Some(&ddb::IndexStatus::Active) {
            return Check::Waiting(format!(
                "index {} {}",
                gsi.index_name().unwrap_or("?"),
                status_text(gsi.index_status())
            ));
        }
    }
    Check::Done(())
}

fn status_text<S: AsRef<str>>(status: Option<S>) -> String {
    status.map_or_else(
        || "in an unknown state".to_string(),
        |s| s.as_ref().to_string(),
    )
}

// ---------------------------------------------------------------------------------------
// Reading.

/// Everything about the table `name`; `None` when it does not exist (or is being deleted).
async fn read_table(aws: &Aws, name: &str) -> anyhow::Result<Option<LiveTable>> {
    let Some(desc) = describe(aws, name).await? else {
        return Ok(None);
    };
    // A table being deleted is as good as gone; `create` waits for it to finish.
    if desc.table_status() == Some(&ddb::TableStatus::Deleting) {
        return Ok(None);
    }
    let arn = desc
        .table_arn()
        .context("DescribeTable returned no table ARN")?
        .to_string();
    // The rest of the picture comes from three more reads; they do not depend on each
    // other, so they go out together.
    let (tags, (ttl, ttl_in_progress), pitr) = tokio::try_join!(
        list_tags(aws, &arn),
        read_ttl(aws, name),
        read_pitr(aws, name)
    )?;
    Ok(Some(LiveTable {
        state: state_from(&desc, tags, ttl, pitr)?,
        arn,
        stream_arn: desc.latest_stream_arn().map(str::to_string),
        item_count: desc.item_count().unwrap_or(0),
        ttl_in_progress,
        active: matches!(ready_state(&desc), Check::Done(())),
    }))
}

/// The items a deletion would lose, counted for real: DescribeTable's ItemCount lags by
/// hours, and a teardown is rare and deliberate (a count reads keys only).
async fn items_at_risk(aws: &Aws, name: &str) -> anyhow::Result<Option<String>> {
    Ok(match count_items(aws, name).await? {
        ItemCount::Exactly(0) => None,
        ItemCount::Exactly(n) => Some(format!(
            "the table still holds {n} item{}, which would be lost",
            if n == 1 { "" } else { "s" }
        )),
        ItemCount::AtLeast(n) => Some(format!(
            "the table still holds more than {n} items, which would be lost"
        )),
    })
}

enum ItemCount {
    Exactly(i64),
    AtLeast(i64),
}

/// Pages a table's Scan with Select=COUNT; stops after a bounded number of pages (each
/// reads up to 1 MB) and then says "more than".
async fn count_items(aws: &Aws, name: &str) -> anyhow::Result<ItemCount> {
    const MAX_PAGES: usize = 20;
    let mut count = 0;
    let mut start = None;
    for _ in 0..MAX_PAGES {
        let request = aws
            .dynamodb
            .scan()
            .table_name(name)
            .select(ddb::Select::Count)
            .set_exclusive_start_key(start);
        let out = crate::aws::sdk("Scan", request.send().await)?;
        count += i64::from(out.count);
        match out.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return Ok(ItemCount::Exactly(count)),
        }
    }
    Ok(ItemCount::AtLeast(count))
}

/// DescribeTable; `None` when the table does not exist.
async fn describe(aws: &Aws, name: &str) -> anyhow::Result<Option<ddb::TableDescription>> {
    match aws.dynamodb.describe_table().table_name(name).send().await {
        Ok(out) => Ok(out.table),
        Err(e) if error_code(&e) == Some("ResourceNotFoundException") => Ok(None),
        Err(e) => bail!(describe_error("DescribeTable", &e)),
    }
}

async fn list_tags(aws: &Aws, arn: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let mut tags = BTreeMap::new();
    let mut next = None;
    loop {
        let request = aws
            .dynamodb
            .list_tags_of_resource()
            .resource_arn(arn)
            .set_next_token(next);
        let out = crate::aws::sdk("ListTagsOfResource", request.send().await)?;
        tags.extend(
            out.tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string())),
        );
        match out.next_token {
            Some(token) => next = Some(token),
            None => return Ok(tags),
        }
    }
}

/// The TTL attribute in effect (or being enabled), and whether a TTL change is under way.
async fn read_ttl(aws: &Aws, name: &str) -> anyhow::Result<(Option<String>, Option<String>)> {
    let out = crate::aws::sdk(
        "DescribeTimeToLive",
        aws.dynamodb
            .describe_time_to_live()
            .table_name(name)
            .send()
            .await,
    )?;
    let Some(ttl) = out.time_to_live_description else {
        return Ok((None, None));
    };
    Ok(match ttl.time_to_live_status {
        Some(ddb::TimeToLiveStatus::Enabled) => (ttl.attribute_name, None),
        Some(ddb::TimeToLiveStatus::Enabling) => (ttl.attribute_name, Some("ENABLING".into())),
        // Being disabled counts as off: that is where it is going.
        Some(ddb::TimeToLiveStatus::Disabling) => (None, Some("DISABLING".into())),
        _ => (None, None),
    })
}

async fn read_pitr(aws: &Aws, name: &str) -> anyhow::Result<bool> {
    let out = crate::aws::sdk(
        "DescribeContinuousBackups",
        aws.dynamodb
            .describe_continuous_backups()
            .table_name(name)
            .send()
            .await,
    )?;
    Ok(out
        .continuous_backups_description
        .and_then(|c| c.point_in_time_recovery_description)
        .and_then(|p| p.point_in_time_recovery_status)
        == Some(ddb::PointInTimeRecoveryStatus::Enabled))
}

fn state_from(
    desc: &ddb::TableDescription,
    tags: BTreeMap<String, String>,
    ttl_attribute: Option<String>,
    point_in_time_recovery: bool,
) -> anyhow::Result<TableState> {
    let billing_mode = match desc.billing_mode_summary().and_then(|b| b.billing_mode()) {
        Some(ddb::BillingMode::PayPerRequest) => BillingMode::PayPerRequest,
        // Tables that were always provisioned carry no billing mode summary.
        _ => BillingMode::Provisioned,
    };
    let provisioned = billing_mode == BillingMode::Provisioned;
    // On-demand tables still report a throughput block (zeros); it means nothing there.
    let table_capacity = desc
        .provisioned_throughput()
        .filter(|_| provisioned)
        .map(|p| (p.read_capacity_units(), p.write_capacity_units()));
    // Only the definitions the table's key and its global indexes use: local secondary
    // indexes are not managed here, and their attributes must not show up as a difference
    // on a table that has them (an adopted one).
    let managed_keys: BTreeSet<&str> = desc
        .key_schema()
        .iter()
        .chain(
            desc.global_secondary_indexes()
                .iter()
                .flat_map(|g| g.key_schema()),
        )
        .map(|k| k.attribute_name())
        .collect();
    let mut attributes = BTreeMap::new();
    for definition in desc.attribute_definitions() {
        if managed_keys.contains(definition.attribute_name()) {
            attributes.insert(
                definition.attribute_name().to_string(),
                attr_type(definition.attribute_type())?,
            );
        }
    }
    let mut indexes = BTreeMap::new();
    for gsi in desc.global_secondary_indexes() {
        let name = gsi
            .index_name()
            .context("index without a name")?
            .to_string();
        let projection = gsi.projection();
        let mut non_key_attributes = projection
            .map(|p| p.non_key_attributes().to_vec())
            .unwrap_or_default();
        non_key_attributes.sort();
        let capacity = gsi
            .provisioned_throughput()
            .filter(|_| provisioned)
            .map(|p| (p.read_capacity_units(), p.write_capacity_units()));
        indexes.insert(
            name,
            IndexState {
                key: key_from(gsi.key_schema())?,
                projection: match projection.and_then(|p| p.projection_type()) {
                    Some(ddb::ProjectionType::KeysOnly) => ProjectionType::KeysOnly,
                    Some(ddb::ProjectionType::Include) => ProjectionType::Include,
                    _ => ProjectionType::All,
                },
                non_key_attributes,
                read_capacity: capacity.and_then(|c| c.0),
                write_capacity: capacity.and_then(|c| c.1),
            },
        );
    }
    let stream = match desc.stream_specification() {
        Some(spec) if spec.stream_enabled() => match spec.stream_view_type() {
            Some(ddb::StreamViewType::NewImage) => StreamView::NewImage,
            Some(ddb::StreamViewType::OldImage) => StreamView::OldImage,
            Some(ddb::StreamViewType::KeysOnly) => StreamView::KeysOnly,
            _ => StreamView::NewAndOldImages,
        },
        _ => StreamView::Disabled,
    };
    let table_class = match desc.table_class_summary().and_then(|c| c.table_class()) {
        Some(ddb::TableClass::StandardInfrequentAccess) => TableClass::StandardInfrequentAccess,
        _ => TableClass::Standard,
    };
    Ok(TableState {
        key: key_from(desc.key_schema())?,
        attributes,
        billing_mode,
        read_capacity: table_capacity.and_then(|c| c.0),
        write_capacity: table_capacity.and_then(|c| c.1),
        global_secondary_indexes: indexes,
        stream,
        point_in_time_recovery,
        deletion_protection: desc.deletion_protection_enabled().unwrap_or(false),
        ttl_attribute,
        table_class,
        tags,
    })
}

// ---------------------------------------------------------------------------------------
// Conversions to and from the SDK's types.

fn attr_type(t: &ddb::ScalarAttributeType) -> anyhow::Result<AttrType> {
    Ok(match t {
        ddb::ScalarAttributeType::S => AttrType::S,
        ddb::ScalarAttributeType::N => AttrType::N,
        ddb::ScalarAttributeType::B => AttrType::B,
        other => bail!("unknown attribute type {other:?}"),
    })
}

fn key_from(elements: &[ddb::KeySchemaElement]) -> anyhow::Result<Key> {
    let of = |kind: ddb::KeyType| {
        elements
            .iter()
            .find(|e| *e.key_type() == kind)
            .map(|e| e.attribute_name().to_string())
    };
    Ok(Key {
        hash: of(ddb::KeyType::Hash).context("key schema without a HASH key")?,
        range: of(ddb::KeyType::Range),
    })
}

fn sdk_key(key: &Key) -> anyhow::Result<Vec<ddb::KeySchemaElement>> {
    let mut elements = vec![
        ddb::KeySchemaElement::builder()
            .attribute_name(&key.hash)
            .key_type(ddb::KeyType::Hash)
            .build()?,
    ];
    if let Some(range) = &key.range {
        elements.push(
            ddb::KeySchemaElement::builder()
                .attribute_name(range)
                .key_type(ddb::KeyType::Range)
                .build()?,
        );
    }
    Ok(elements)
}

fn sdk_definitions(
    definitions: &[(String, AttrType)],
) -> anyhow::Result<Vec<ddb::AttributeDefinition>> {
    definitions
        .iter()
        .map(|(name, t)| {
            let t = match t {
                AttrType::S => ddb::ScalarAttributeType::S,
                AttrType::N => ddb::ScalarAttributeType::N,
                AttrType::B => ddb::ScalarAttributeType::B,
            };
            Ok(ddb::AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(t)
                .build()?)
        })
        .collect()
}

fn sdk_billing(mode: BillingMode) -> ddb::BillingMode {
    match mode {
        BillingMode::Provisioned => ddb::BillingMode::Provisioned,
        BillingMode::PayPerRequest => ddb::BillingMode::PayPerRequest,
    }
}

fn sdk_throughput((read, write): (i64, i64)) -> anyhow::Result<ddb::ProvisionedThroughput> {
    Ok(ddb::ProvisionedThroughput::builder()
        .read_capacity_units(read)
        .write_capacity_units(write)
        .build()?)
}

fn sdk_projection(index: &IndexState) -> ddb::Projection {
    let projection_type = match index.projection {
        ProjectionType::All => ddb::ProjectionType::All,
        ProjectionType::KeysOnly => ddb::ProjectionType::KeysOnly,
        ProjectionType::Include => ddb::ProjectionType::Include,
    };
    ddb::Projection::builder()
        .projection_type(projection_type)
        .set_non_key_attributes(
            (!index.non_key_attributes.is_empty()).then(|| index.non_key_attributes.clone()),
        )
        .build()
}

fn sdk_index(name: &str, index: &IndexState) -> anyhow::Result<ddb::GlobalSecondaryIndex> {
    Ok(ddb::GlobalSecondaryIndex::builder()
        .index_name(name)
        .set_key_schema(Some(sdk_key(&index.key)?))
        .projection(sdk_projection(index))
        .set_provisioned_throughput(index.capacity().map(sdk_throughput).transpose()?)
        .build()?)
}

fn sdk_stream(view: StreamView) -> anyhow::Result<ddb::StreamSpecification> {
    let view = match view {
        StreamView::NewImage => ddb::StreamViewType::NewImage,
        StreamView::OldImage => ddb::StreamViewType::OldImage,
        StreamView::NewAndOldImages => ddb::StreamViewType::NewAndOldImages,
        StreamView::KeysOnly => ddb::StreamViewType::KeysOnly,
        StreamView::Disabled => bail!("a disabled stream has no view type"),
    };
    Ok(ddb::StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(view)
        .build()?)
}

fn sdk_class(class: TableClass) -> ddb::TableClass {
    match class {
        TableClass::Standard => ddb::TableClass::Standard,
        TableClass::StandardInfrequentAccess => ddb::TableClass::StandardInfrequentAccess,
    }
}

fn sdk_tags(tags: &BTreeMap<String, String>) -> anyhow::Result<Vec<ddb::Tag>> {
    tags.iter()
        .map(|(k, v)| Ok(ddb::Tag::builder().key(k).value(v).build()?))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Plan helpers.

/// The table name from its ARN (`arn:aws:dynamodb:<region>:<account>:table/<name>`).
/// The global secondary indexes' names, comma-separated (for `outputs` and references).
fn index_names(state: &TableState) -> String {
    state
        .global_secondary_indexes
        .keys()
        .cloned()
        .collect::<Vec<_>>()
        .join(",")
}

fn live_name(arn: &str) -> String {
    arn.rsplit_once("table/")
        .map_or(arn, |(_, name)| name)
        .to_string()
}

fn show_key(key: &Key) -> String {
    match &key.range {
        Some(range) => format!("{} + {range}", key.hash),
        None => key.hash.clone(),
    }
}

/// The attribute a field path like `attributes.pk` or `attributes["a-b"]` is about.
fn attribute_of_path(field: &str) -> Option<String> {
    if let Some(name) = field.strip_prefix("attributes.") {
        return Some(name.to_string());
    }
    let quoted = field.strip_prefix("attributes[")?.strip_suffix(']')?;
    serde_json::from_str::<String>(quoted).ok()
}

fn stream_note(before: StreamView, after: StreamView) -> &'static str {
    match (before, after) {
        (StreamView::Disabled, _) => "a new stream is created; its ARN is known after apply",
        (_, StreamView::Disabled) => {
            "the stream is disabled; triggers reading it stop receiving records"
        }
        _ => {
            "the stream is disabled and a new one enabled: the stream ARN changes, so triggers on it must be replaced"
        }
    }
}
