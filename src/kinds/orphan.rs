//! Orphans: resources tagged as this stack's and environment's that the file no longer
//! declares (removed, or renamed so the declared resource now points elsewhere). They are
//! found by their tags, never from a local state file: each kind lists its own (the
//! Resource Groups Tagging API where it covers the kind, the service's listing otherwise).
//! Plan shows them as deletions; apply deletes them after converging the rest; destroy
//! deletes them first, so a teardown leaves nothing behind even if the file changed.

use super::{ExecCtx, Kind};
use crate::aws::Aws;
use crate::plan::{Action, ResourceChange};
use crate::tags::RESOURCE_TAG;
use async_trait::async_trait;

/// A live resource no declared resource describes.
#[async_trait]
pub trait OrphanNode: Send + Sync {
    fn kind(&self) -> &'static str;
    /// Its `cruddur-infra:resource` tag: the logical name it was created under.
    fn logical(&self) -> String;
    fn physical_id(&self) -> String;
    /// When it is deleted among orphans: lower first (a trigger before its function).
    fn order(&self) -> u8;
    fn change(&self) -> ResourceChange;
    async fn data_at_risk(&self, aws: &Aws) -> anyhow::Result<Option<String>>;
    async fn delete(&self, cx: &ExecCtx<'_>) -> anyhow::Result<()>;
}

pub struct Orphan<K: Kind> {
    pub live: K::Live,
}

/// The name or id a live resource is known by in AWS, from its attributes.
pub fn physical_of(attributes: &super::Attributes) -> String {
    ["name", "id", "uuid"]
        .iter()
        .find_map(|a| attributes.get(a).cloned().flatten())
        .unwrap_or_default()
}

#[async_trait]
impl<K: Kind> OrphanNode for Orphan<K> {
    fn kind(&self) -> &'static str {
        K::TYPE
    }

    fn logical(&self) -> String {
        K::tags(K::state(&self.live))
            .get(RESOURCE_TAG)
            .cloned()
            .unwrap_or_else(|| "?".into())
    }

    fn physical_id(&self) -> String {
        physical_of(&K::attributes(&self.live))
    }

    fn order(&self) -> u8 {
        K::DELETE_ORDER
    }

    fn change(&self) -> ResourceChange {
        let mut reasons = vec![format!(
            "tagged as this stack's `{}` but no longer in the stack file",
            self.logical()
        )];
        reasons.extend(K::deletion_warning(&self.live));
        ResourceChange {
            name: self.logical(),
            kind: K::TYPE,
            physical_id: self.physical_id(),
            action: Action::Delete,
            reasons,
            changes: Vec::new(),
            blocked: K::deletion_blocker(&self.live),
            safe_to_replace: false,
            orphan: true,
        }
    }

    async fn data_at_risk(&self, aws: &Aws) -> anyhow::Result<Option<String>> {
        K::orphan_data_at_risk(aws, &self.live).await
    }

    async fn delete(&self, cx: &ExecCtx<'_>) -> anyhow::Result<()> {
        K::delete_orphan(cx, &self.live).await
    }
}

/// Discovery of one kind, boxed for the registry.
pub async fn discover_kind<K: Kind>(
    aws: &Aws,
    owner: &str,
    declared: &std::collections::BTreeSet<(&'static str, String)>,
) -> anyhow::Result<Vec<Box<dyn OrphanNode>>> {
    let skip = declared
        .iter()
        .filter(|(kind, _)| *kind == K::TYPE)
        .map(|(_, name)| name.clone())
        .collect();
    Ok(K::discover(aws, owner, &skip)
        .await?
        .into_iter()
        .map(|live| Box::new(Orphan::<K> { live }) as Box<dyn OrphanNode>)
        .collect())
}

/// The resource types the tagging API finds for discovery; one call covers them all.
const TAGGED_TYPES: &[&str] = &["dynamodb:table", "lambda:function"];

/// The ARNs of resources of `kind` (one of [`TAGGED_TYPES`]) tagged as `owner`'s, through
/// the Resource Groups Tagging API: one call per run, shared by the kinds.
pub async fn tagged_arns(aws: &Aws, kind: &str, owner: &str) -> anyhow::Result<Vec<String>> {
    let all: Vec<String> = aws
        .reads
        .once(format!("GetResources {owner}"), || {
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
                && (parts[5].starts_with(&format!("{resource_type}/"))
                    || parts[5].starts_with(&format!("{resource_type}:")))
        })
        .collect())
}

async fn get_resources(aws: &Aws, types: &[&str], owner: &str) -> anyhow::Result<Vec<String>> {
    let filter = aws_sdk_resourcegroupstagging::types::TagFilter::builder()
        .key(crate::tags::STACK_TAG)
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
        let out = crate::aws::sdk("GetResources", request.send().await)?;
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
