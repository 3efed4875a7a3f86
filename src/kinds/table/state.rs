//! A table's comparable state (what the file asks for, or what DynamoDB reports), its live
//! form, and conversions to the SDK's types.

use anyhow::{Context, bail};
use aws_sdk_dynamodb::types as ddb;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum AttrType {
    S,
    N,
    B,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BillingMode {
    Provisioned,
    PayPerRequest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProjectionType {
    All,
    KeysOnly,
    Include,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StreamView {
    Disabled,
    NewImage,
    OldImage,
    NewAndOldImages,
    KeysOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TableClass {
    Standard,
    StandardInfrequentAccess,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Key {
    pub hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
}

impl Key {
    pub fn names(&self) -> impl Iterator<Item = &String> {
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
    pub fn same_shape(&self, other: &IndexState) -> bool {
        self.key == other.key
            && self.projection == other.projection
            && self.non_key_attributes == other.non_key_attributes
    }

    pub fn capacity(&self) -> Option<(i64, i64)> {
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
    pub fn capacity(&self) -> Option<(i64, i64)> {
        self.read_capacity.zip(self.write_capacity)
    }

    /// Attribute definitions DynamoDB needs for the table's key and the given indexes.
    pub fn definitions_for<'a>(
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

/// A table as DynamoDB reports it.
#[derive(Debug)]
pub struct LiveTable {
    pub state: TableState,
    pub arn: String,
    pub stream_arn: Option<String>,
    pub item_count: i64,
    /// DynamoDB takes up to an hour to enable or disable TTL and refuses another TTL change
    /// meanwhile; `Some("DISABLING")` or `Some("ENABLING")` while it is at it.
    pub ttl_in_progress: Option<String>,
    /// False while a create or update (by us, interrupted, or by someone else) is still
    /// going on: DynamoDB refuses further changes until it is done.
    pub active: bool,
}

// ---------------------------------------------------------------------------------------
// Conversions to and from the SDK's types.

pub fn attr_type(t: &ddb::ScalarAttributeType) -> anyhow::Result<AttrType> {
    Ok(match t {
        ddb::ScalarAttributeType::S => AttrType::S,
        ddb::ScalarAttributeType::N => AttrType::N,
        ddb::ScalarAttributeType::B => AttrType::B,
        other => bail!("unknown attribute type {other:?}"),
    })
}

pub fn key_from(elements: &[ddb::KeySchemaElement]) -> anyhow::Result<Key> {
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

pub fn sdk_key(key: &Key) -> anyhow::Result<Vec<ddb::KeySchemaElement>> {
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

pub fn sdk_definitions(
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

pub fn sdk_billing(mode: BillingMode) -> ddb::BillingMode {
    match mode {
        BillingMode::Provisioned => ddb::BillingMode::Provisioned,
        BillingMode::PayPerRequest => ddb::BillingMode::PayPerRequest,
    }
}

pub fn sdk_throughput((read, write): (i64, i64)) -> anyhow::Result<ddb::ProvisionedThroughput> {
    Ok(ddb::ProvisionedThroughput::builder()
        .read_capacity_units(read)
        .write_capacity_units(write)
        .build()?)
}

pub fn sdk_projection(index: &IndexState) -> ddb::Projection {
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

pub fn sdk_index(name: &str, index: &IndexState) -> anyhow::Result<ddb::GlobalSecondaryIndex> {
    Ok(ddb::GlobalSecondaryIndex::builder()
        .index_name(name)
        .set_key_schema(Some(sdk_key(&index.key)?))
        .projection(sdk_projection(index))
        .set_provisioned_throughput(index.capacity().map(sdk_throughput).transpose()?)
        .build()?)
}

pub fn sdk_stream(view: StreamView) -> anyhow::Result<ddb::StreamSpecification> {
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

pub fn sdk_class(class: TableClass) -> ddb::TableClass {
    match class {
        TableClass::Standard => ddb::TableClass::Standard,
        TableClass::StandardInfrequentAccess => ddb::TableClass::StandardInfrequentAccess,
    }
}

pub fn sdk_tags(tags: &BTreeMap<String, String>) -> anyhow::Result<Vec<ddb::Tag>> {
    tags.iter()
        .map(|(k, v)| Ok(ddb::Tag::builder().key(k).value(v).build()?))
        .collect()
}
