//! Ownership lives in AWS as tags, not in a state file: every resource the tool creates
//! carries `managed-by=cruddur-infra`, `cruddur-infra:stack=<stack>/<env>` and
//! `cruddur-infra:resource=<logical name>`. A resource without them is never changed or
//! deleted unless the user adopts it.

use crate::aws::Aws;
use crate::exec::ExecCtx;
use async_trait::async_trait;
use std::collections::BTreeMap;

/// A resource's tags, by key.
pub type Tags = BTreeMap<String, String>;

pub const MANAGED_BY_TAG: &str = "managed-by";
pub const MANAGED_BY_VALUE: &str = "cruddur-infra";
pub const STACK_TAG: &str = "cruddur-infra:stack";
pub const RESOURCE_TAG: &str = "cruddur-infra:resource";

/// AWS allows 50 tags per resource; the ownership tags take three of them.
pub const MAX_USER_TAGS: usize = 50 - 3;

/// The ownership tags of resource `logical` in `owner` (`<stack>/<env>`).
pub fn ownership(owner: &str, logical: &str) -> [(String, String); 3] {
    [
        (MANAGED_BY_TAG.into(), MANAGED_BY_VALUE.into()),
        (STACK_TAG.into(), owner.into()),
        (RESOURCE_TAG.into(), logical.into()),
    ]
}

#[derive(Debug, PartialEq, Eq)]
pub enum Owner<'a> {
    /// Tagged as managed by this stack/environment (or another one).
    Stack(&'a str),
    /// No ownership tag: made by hand or by another tool.
    Nobody,
}

pub fn owner_of(tags: &BTreeMap<String, String>) -> Owner<'_> {
    match tags.get(STACK_TAG) {
        Some(owner) => Owner::Stack(owner),
        None => Owner::Nobody,
    }
}

/// Whether `live` carries the same stack and resource ownership tags as `desired`: the
/// resource found where a create was meant to make it is the one this resource made (its
/// answer lost and the create sent again), not someone else's.
pub fn same_owner(desired: &BTreeMap<String, String>, live: &BTreeMap<String, String>) -> bool {
    [STACK_TAG, RESOURCE_TAG]
        .iter()
        .all(|key| desired.get(*key).is_some_and(|v| live.get(*key) == Some(v)))
}

/// What to set (new or changed values) and what to remove to turn `before` into `after`.
fn changes(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let set = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let removed = before
        .keys()
        .filter(|k| !after.contains_key(*k))
        .cloned()
        .collect();
    (set, removed)
}

/// How a service sets and removes a resource's tags; one small implementation per API
/// (DynamoDB, IAM, EC2, Lambda), and [`sync`] does the rest for every kind.
#[async_trait]
pub trait TagApi: Send + Sync {
    async fn tag(&self, aws: &Aws, tags: &BTreeMap<String, String>) -> anyhow::Result<()>;
    async fn untag(&self, aws: &Aws, keys: &[String]) -> anyhow::Result<()>;
}

/// Writes the [`TagApi`] of one service from its two requests, each a builder made from
/// `aws` and the resource's id (`self.0`, bound to the name given) and the name of its
/// operation (for errors):
///
/// ```ignore
/// tag_api!(ThingTags,
///     |aws, arn, tags| aws.things.tag_thing().arn(arn).set_tags(Some(thing_tags(tags)?)) => "TagThing",
///     |aws, arn, keys| aws.things.untag_thing().arn(arn).set_tag_keys(Some(keys.to_vec())) => "UntagThing");
/// ```
#[macro_export]
macro_rules! tag_api {
    ($(#[$doc:meta])* $name:ident,
     |$aws:ident, $id:ident, $tags:ident| $tag:expr => $tag_op:literal,
     |$aws2:ident, $id2:ident, $keys:ident| $untag:expr => $untag_op:literal $(,)?) => {
        $(#[$doc])*
        pub struct $name<'a>(pub &'a str);

        #[async_trait::async_trait]
        impl $crate::tags::TagApi for $name<'_> {
            async fn tag(
                &self,
                $aws: &$crate::aws::Aws,
                $tags: &$crate::tags::Tags,
            ) -> anyhow::Result<()> {
                let $id = self.0;
                $crate::aws::sdk($tag_op, $tag.send().await).map(drop)
            }

            async fn untag(&self, $aws2: &$crate::aws::Aws, $keys: &[String]) -> anyhow::Result<()> {
                let $id2 = self.0;
                $crate::aws::sdk($untag_op, $untag.send().await).map(drop)
            }
        }
    };
}

/// Turns the resource's tags from `before` into `after`: sets what is new or changed,
/// removes what is gone, and makes no call when nothing differs.
pub async fn sync(
    cx: &ExecCtx<'_>,
    api: &impl TagApi,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let (set, removed) = changes(before, after);
    if !set.is_empty() {
        cx.tracker.status("tagging");
        api.tag(cx.aws, &set).await?;
    }
    if !removed.is_empty() {
        cx.tracker.status("removing tags");
        api.untag(cx.aws, &removed).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_is_read_from_the_stack_tag() {
        let mut tags: BTreeMap<String, String> = ownership("cruddur/dev", "messages").into();
        assert_eq!(owner_of(&tags), Owner::Stack("cruddur/dev"));
        tags.remove(STACK_TAG);
        assert_eq!(owner_of(&tags), Owner::Nobody);
    }

    #[test]
    fn same_owner_needs_the_same_stack_and_resource() {
        let mine: BTreeMap<String, String> = ownership("cruddur/dev", "messages").into();
        let mut live = mine.clone();
        live.insert("team".into(), "chat".into());
        assert!(same_owner(&mine, &live));
        let other_env: BTreeMap<String, String> = ownership("cruddur/prod", "messages").into();
        assert!(!same_owner(&mine, &other_env));
        let other_resource: BTreeMap<String, String> = ownership("cruddur/dev", "inbox").into();
        assert!(!same_owner(&mine, &other_resource));
        assert!(!same_owner(&mine, &BTreeMap::new()));
        // Nothing desired is nothing to recognise.
        assert!(!same_owner(&BTreeMap::new(), &BTreeMap::new()));
    }
}
