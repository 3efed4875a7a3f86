//! Finding a stack's resources by their tags, for the kinds the Resource Groups Tagging
//! API covers (tables, functions, queues, alarms): one call per run answers them all,
//! tags included, so a declared resource it lists needs no tag read of its own (DynamoDB
//! allows 10 ListTagsOfResource a second per account, CloudWatch 10 ListTagsForResource:
//! a stack of twenty tables would be throttled by its own plan). One it does not list
//! (not ours, or tagged a moment ago) is read directly.

use crate::aws::needs::{Need, Use};
use crate::aws::{Aws, sdk};
use crate::kinds::kind::Tags;
use crate::tags::STACK_TAG;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The IAM action of the tagging API; it has no resource type.
pub const NEEDS: &[Need] = &[Need::anywhere("tag:GetResources", Use::Read)];

/// The resource types the tagging API finds for discovery; one call covers them all.
const TAGGED_TYPES: &[&str] = &[
    "dynamodb:table",
    "lambda:function",
    "sqs",
    "cloudwatch:alarm",
];

/// Every resource of `kind` tagged as `owner`'s (see [`arns`]), read in full by the name
/// its ARN gives (`name_of`), all at once, except those named in `skip`; one that is gone
/// by the time it is read is left out.
pub async fn read_each<L, Read, Reading>(
    aws: &Aws,
    kind: &str,
    owner: &str,
    skip: &std::collections::BTreeSet<String>,
    name_of: fn(&str) -> String,
    read: Read,
) -> anyhow::Result<Vec<L>>
where
    Read: Fn(String) -> Reading,
    Reading: std::future::Future<Output = anyhow::Result<Option<L>>>,
{
    let names = arns(aws, kind, owner)
        .await?
        .into_iter()
        .map(|arn| name_of(&arn))
        .filter(|name| !skip.contains(name));
    let read = futures::future::try_join_all(names.map(read)).await?;
    Ok(read.into_iter().flatten().collect())
}

/// The ARNs of resources of `kind` (one of [`TAGGED_TYPES`]: `<service>:<type>`, or the
/// service alone where its ARNs name no type, as SQS's) tagged as `owner`'s, through
/// the Resource Groups Tagging API: one call per run, shared by the kinds.
pub async fn arns(aws: &Aws, kind: &str, owner: &str) -> anyhow::Result<Vec<String>> {
    let all = tagged(aws, owner).await?;
    // arn:<partition>:<service>:<region>:<account>:<type>/<name> or ...:<type>:<name>
    let (service, resource_type) = kind.split_once(':').unwrap_or((kind, ""));
    Ok(all
        .keys()
        .filter(|arn| {
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            parts.len() == 6
                && parts[2] == service
                && (resource_type.is_empty()
                    || parts[5].starts_with(&format!("{resource_type}/"))
                    || parts[5].starts_with(&format!("{resource_type}:")))
        })
        .cloned()
        .collect())
}

/// The tags of the resource `arn` if the tagging API lists it as `owner`'s; `None` when it
/// does not (read its tags directly then: it may be someone else's, or untagged).
pub async fn tags_of(aws: &Aws, owner: &str, arn: &str) -> anyhow::Result<Option<Tags>> {
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

/// Every resource of [`TAGGED_TYPES`] tagged as `owner`'s, with its tags: one call (a page
/// holds 100) per run, shared by the kinds.
async fn tagged(aws: &Aws, owner: &str) -> anyhow::Result<Arc<BTreeMap<String, Tags>>> {
    aws.reads
        .tagged
        .get(owner.to_string(), || async {
            get_resources(aws, TAGGED_TYPES, owner).await.map(Arc::new)
        })
        .await
}

async fn get_resources(
    aws: &Aws,
    types: &[&str],
    owner: &str,
) -> anyhow::Result<BTreeMap<String, Tags>> {
    let filter = aws_sdk_resourcegroupstagging::types::TagFilter::builder()
        .key(STACK_TAG)
        .values(owner)
        .build();
    let mut arns = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = aws
            .tagging
            .get_resources()
            .resources_per_page(100)
            .tag_filters(filter.clone())
            .set_pagination_token(token.clone());
        for t in types {
            request = request.resource_type_filters(*t);
        }
        let out = sdk("GetResources", request.send().await)?;
        arns.extend(out.resource_tag_mapping_list().iter().filter_map(|m| {
            let tags = m
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            Some((m.resource_arn()?.to_string(), tags))
        }));
        match out.pagination_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => return Ok(arns),
        }
    }
}
