//! Finding a stack's resources by their tags, for the kinds the Resource Groups Tagging
//! API covers (those whose `LISTED_BY_TAG` says so): one call per run answers them all,
//! tags included, so a declared resource it lists needs no tag read of its own (DynamoDB
//! allows 10 ListTagsOfResource a second per account, CloudWatch 10 ListTagsForResource:
//! a stack of twenty tables would be throttled by its own plan). One it does not list
//! (not ours, or tagged a moment ago) is read directly.

use crate::aws::needs::Need;
use crate::aws::{Aws, sdk};
use crate::tags::{STACK_TAG, Tags};
use crate::values::ArnFormat;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The IAM action of the tagging API; it has no resource type.
pub const NEEDS: &[Need] = &[Need::anywhere("read: tag:GetResources")];

/// Every resource whose ARN is of `format` tagged as `owner`'s, read in full by the name
/// its ARN gives, all at once, except those named in `skip`; one that is gone by the time
/// it is read is left out.
pub async fn read_each<L, Read, Reading>(
    aws: &Aws,
    format: &ArnFormat,
    owner: &str,
    skip: &std::collections::BTreeSet<String>,
    read: Read,
) -> anyhow::Result<Vec<L>>
where
    Read: Fn(String) -> Reading,
    Reading: std::future::Future<Output = anyhow::Result<Option<L>>>,
{
    let all = tagged(aws, owner).await?;
    let names = all
        .keys()
        .filter_map(|arn| format.name_in(arn))
        .filter(|name| !skip.contains(*name))
        .map(str::to_string);
    let read = futures::future::try_join_all(names.map(read)).await?;
    Ok(read.into_iter().flatten().collect())
}

/// The tags of the resource `arn` if the tagging API lists it as `owner`'s; `None` when it
/// does not (read its tags directly then: it may be someone else's, or untagged).
async fn tags_of(aws: &Aws, owner: &str, arn: &str) -> anyhow::Result<Option<Tags>> {
    Ok(tagged(aws, owner).await?.get(arn).cloned())
}

/// The tags of the resource `arn`: as the tagging API listed them for `owner` (what a
/// plan reads), or read by `direct` (the service's own tag read) when it did not list it
/// or when there is no owner to ask for (a change's own reads, which must see its
/// result).
pub async fn tags_or<F, Fut>(
    aws: &Aws,
    owner: Option<&str>,
    arn: &str,
    direct: F,
) -> anyhow::Result<Tags>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Tags>>,
{
    if let Some(owner) = owner
        && let Some(tags) = tags_of(aws, owner, arn).await?
    {
        return Ok(tags);
    }
    direct().await
}

/// Every resource tagged as `owner`'s, of any type, with its tags: one call (a page holds
/// 100) per run, shared by the kinds. No type filter: every resource it lists is the
/// stack's already, so the answer grows with the stack alone, and a new kind needs no
/// list here.
async fn tagged(aws: &Aws, owner: &str) -> anyhow::Result<Arc<BTreeMap<String, Tags>>> {
    aws.reads
        .tagged
        .get(owner.to_string(), || async {
            get_resources(aws, owner).await.map(Arc::new)
        })
        .await
}

async fn get_resources(aws: &Aws, owner: &str) -> anyhow::Result<BTreeMap<String, Tags>> {
    let filter = aws_sdk_resourcegroupstagging::types::TagFilter::builder()
        .key(STACK_TAG)
        .values(owner)
        .build();
    let request = aws
        .tagging
        .get_resources()
        .resources_per_page(100)
        .tag_filters(filter);
    let mappings: Result<Vec<_>, _> = request.into_paginator().items().send().collect().await;
    let mappings = sdk("GetResources", mappings)?;
    Ok(mappings
        .into_iter()
        .filter_map(|m| {
            let tags = m
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            Some((m.resource_arn?, tags))
        })
        .collect())
}
