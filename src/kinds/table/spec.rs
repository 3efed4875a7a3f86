//! A `dynamodb_table` as written in the stack file, and its validation.

use super::state::{
    AttrType, BillingMode, IndexState, Key, ProjectionType, StreamView, TableClass, TableState,
};
use crate::kinds::kind::Validate;
use crate::spec::diag::{Diagnostic, Diags};
use crate::spec::fields::{NameRules, ValidateCtx, physical_name};
use crate::spec::raw::Spanned;
use crate::spec::raw::{SpannedMap, raw_resource};
use serde::Deserialize;
use serde_saphyr::Location;
use std::collections::BTreeMap;

raw_resource! {
    /// A `dynamodb_table` as written in the stack file.
    #[schemars(rename = "DynamodbTable")]
    pub struct RawTable {
        /// The table's name (3-255 of letters, digits, `_.-`; `${env}` and `${stack}`
        /// allowed). Required. A new name is a new table.
        #[schemars(length(min = 3, max = 255))]
        name: Spanned<String>,
        /// Attribute name → type, exactly the attributes some key uses. Required.
        attributes: SpannedMap<Spanned<AttrType>>,
        /// The primary key (`hash`, optional `range`). Required; a change replaces the table.
        key: Spanned<RawKey>,
        /// `PAY_PER_REQUEST` (default) or `PROVISIONED` (then both capacities are required).
        billing_mode: Spanned<BillingMode>,
        /// Read capacity units (PROVISIONED only).
        #[schemars(range(min = 1, max = 40000))]
        read_capacity: Spanned<i64>,
        /// Write capacity units (PROVISIONED only).
        #[schemars(range(min = 1, max = 40000))]
        write_capacity: Spanned<i64>,
        /// Global secondary indexes; each added or removed in place.
        global_secondary_indexes: Spanned<Vec<Spanned<RawIndex>>>,
        /// The stream's view type (default `DISABLED`).
        stream: Spanned<StreamView>,
        /// Continuous backups (default false).
        point_in_time_recovery: Spanned<bool>,
        /// Refuse deletion in AWS too (default false).
        deletion_protection: Spanned<bool>,
        /// The attribute holding each item's expiry time (TTL off when absent).
        #[schemars(length(min = 1, max = 255))]
        ttl_attribute: Spanned<String>,
        /// `STANDARD` (default) or `STANDARD_INFREQUENT_ACCESS`.
        table_class: Spanned<TableClass>,
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Key")]
pub struct RawKey {
    /// The partition key attribute.
    hash: Spanned<String>,
    /// The sort key attribute, if any.
    #[serde(default)]
    range: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Index")]
pub struct RawIndex {
    /// The index's name (3-255 of letters, digits, `_.-`).
    #[schemars(length(min = 3, max = 255))]
    name: Spanned<String>,
    /// The index's key; a change rebuilds the index.
    key: Spanned<RawKey>,
    /// Which attributes the index holds (default `ALL`).
    #[serde(default)]
    projection: Option<Spanned<ProjectionType>>,
    /// With `INCLUDE` only: the attributes besides the keys.
    #[serde(default)]
    non_key_attributes: Option<Spanned<Vec<Spanned<String>>>>,
    /// Read capacity units (PROVISIONED tables only).
    #[serde(default)]
    #[schemars(range(min = 1, max = 40000))]
    read_capacity: Option<Spanned<i64>>,
    /// Write capacity units (PROVISIONED tables only).
    #[serde(default)]
    #[schemars(range(min = 1, max = 40000))]
    write_capacity: Option<Spanned<i64>>,
}

/// A validated `dynamodb_table` resource.
#[derive(Debug)]
pub struct Table {
    pub name: String,
    /// Everything but tags, which the engine supplies.
    pub state: TableState,
}

/// DynamoDB's default per-table (and per-index) quota for read or write capacity units.
const MAX_CAPACITY: i64 = 40_000;

const MAX_GSIS: usize = 20;

/// DynamoDB's rule for table and index names.
const TABLE_NAMES: NameRules =
    NameRules::letters_digits_and("table", 3..=255, "_-.").example("cruddur-messages-${env}");

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

fn index_of(
    raw: &Spanned<RawIndex>,
    billing: BillingMode,
    attributes: &BTreeMap<String, AttrType>,
    path: &str,
    diags: &mut Diags,
) -> IndexState {
    let r = &raw.value;
    if !TABLE_NAMES.allows(&r.name.value) {
        diags.push(
            Diagnostic::new(
                &r.name.referenced,
                format!("{path}.name"),
                format!("invalid index name `{}`", r.name.value),
            )
            .hint(TABLE_NAMES.says()),
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
            if list.value.is_empty() || list.value.len() > 20 {
                diags.push(
                    Diagnostic::new(
                        &list.referenced,
                        format!("{path}.non_key_attributes"),
                        format!("list 1 to 20 attributes (there are {})", list.value.len()),
                    )
                    .hint("an index projects 1 to 20 non-key attributes (DynamoDB's Projection), 100 across all indexes"),
                );
            }
            for attribute in &list.value {
                if !(1..=255).contains(&attribute.value.len()) {
                    diags.error(
                        &attribute.referenced,
                        format!("{path}.non_key_attributes"),
                        "an attribute name is 1-255 bytes",
                    );
                }
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

impl Validate<Table> for RawTable {
    fn validate(self, cx: &ValidateCtx, diags: &mut Diags) -> Option<Table> {
        let raw = self;
        let start = diags.mark();
        let name = physical_name(raw.name(), &TABLE_NAMES, cx, diags);

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

        let key = cx
            .require(
                raw.key(),
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

        diags.clean_since(start)?;
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
