//! Finding a stack's resources by their tags, for the kinds the Resource Groups Tagging
//! API covers (tables, functions, queues, alarms): one call per run answers them all.

use crate::aws::{Aws, sdk};
use crate::tags::STACK_TAG;

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
    let all: Vec<String> = aws
        .reads
        .tagged_arns
        .get(owner.to_string(), || {
            get_resources(aws, TAGGED_TYPES, owner)
        })
        .await?;
    // arn:<partition>:<service>:<region>:<account>:<type>/<name> or ...:<type>:<name>
    let (service, resource_type) = kind.split_once(':').unwrap_or((kind, ""));
    Ok(all
        .into_iter()
        .filter(|arn| {
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            parts.len() == 6
                && parts[2] == service
                && (resource_type.is_empty()
                    || parts[5].starts_with(&format!("{resource_type}/"))
                    || parts[5].starts_with(&format!("{resource_type}:")))
        })
        .collect())
}

async fn get_resources(aws: &Aws, types: &[&str], owner: &str) -> anyhow::Result<Vec<String>> {
    let filter = aws_sdk_resourcegroupstagging::types::TagFilter::builder()
        .key(STACK_TAG)
        .values(owner)
        .build();
    let mut arns = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = aws
            .tagging
            .get_resources()
            .tag_filters(filter.clone())
            .set_pagination_token(token.clone());
        for t in types {
            request = request.resource_type_filters(*t);
        }
        let out = sdk("GetResources", request.send().await)?;
        arns.extend(
            out.resource_tag_mapping_list()
                .iter()
                .filter_map(|m| m.resource_arn().map(str::to_string)),
        );
        match out.pagination_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => return Ok(arns),
        }
    }
}
