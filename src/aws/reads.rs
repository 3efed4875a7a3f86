//! Reads several resources of a run ask for, made once per run: the answer of the first
//! asker is kept, and concurrent askers of the same read wait for that one call. Only for
//! reads whose answer cannot change during planning; a change's own reads go to AWS.

use super::vpc::VpcChoice;
use crate::values::DeploymentContext;
use aws_sdk_ec2::types::VpcEndpoint;
use aws_sdk_lambda::types::EventSourceMappingConfiguration;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// One answer per key, for the run.
#[derive(Debug)]
pub struct OnceMap<K, V> {
    cells: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K, V> Default for OnceMap<K, V> {
    fn default() -> Self {
        OnceMap {
            cells: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> OnceMap<K, V> {
    /// The answer for `key`: `read` runs only for the first asker (or again after a
    /// failure, which is not kept).
    pub async fn get<F, Fut>(&self, key: K, read: F) -> anyhow::Result<V>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = anyhow::Result<V>>,
    {
        let cell = self
            .cells
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(key)
            .or_default()
            .clone();
        cell.get_or_try_init(read).await.cloned()
    }
}

/// Resources' tags by their ARNs.
pub type TagsByArn = BTreeMap<String, BTreeMap<String, String>>;

/// The shared reads of a run, each with its own type.
#[derive(Debug, Default)]
pub struct Reads {
    /// What the Resource Groups Tagging API finds for a `<stack>/<env>`: ARN → tags.
    pub tagged: OnceMap<String, Arc<TagsByArn>>,
    /// A VPC's id, by how the stack file chooses it.
    pub vpcs: OnceMap<VpcChoice, String>,
    /// Every event source mapping of the region.
    pub mappings: OnceCell<Vec<EventSourceMappingConfiguration>>,
    /// A mapping's tags, by its ARN.
    pub mapping_tags: OnceMap<String, BTreeMap<String, String>>,
    /// A function's mappings, by the function's name.
    pub function_mappings: OnceMap<String, Vec<EventSourceMappingConfiguration>>,
    /// The VPC endpoints tagged as a `<stack>/<env>`'s.
    pub stack_endpoints: OnceMap<String, Vec<VpcEndpoint>>,
    /// The account, region and partition (one STS call a run, however many ask).
    pub context: OnceCell<DeploymentContext>,
    /// The stack's index by `<stack>/<env>`, as (kind, key) pairs (`crate::index` reads
    /// and keeps it; `None`: there is none).
    pub index: OnceMap<String, Option<Vec<(String, String)>>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn one_read_per_key_and_failures_are_not_kept() {
        let map: OnceMap<&str, u32> = OnceMap::default();
        let calls = AtomicUsize::new(0);
        let read = |value: u32| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move { anyhow::Ok(value) }
        };
        let (a, b) = tokio::join!(map.get("k", || read(1)), map.get("k", || read(2)));
        assert_eq!((a.unwrap(), b.unwrap()), (1, 1));
        assert_eq!(map.get("other", || read(3)).await.unwrap(), 3);
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        let failed = map
            .get("bad", || async { anyhow::bail!("no answer") })
            .await;
        assert!(failed.is_err());
        assert_eq!(map.get("bad", || read(4)).await.unwrap(), 4);
    }
}
