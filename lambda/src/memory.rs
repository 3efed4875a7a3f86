//! An in-memory table for the batch tests: an index that can lag behind the table the way
//! a DynamoDB global secondary index does, injected faults, a latency per call (tests pause
//! tokio's clock, so elapsed time counts sequential round trips), and a log of the calls.

use crate::error::Error;
use crate::moves::{Item, Move};
use crate::store::Store;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

type Key = (String, String);

/// How the index follows the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lag {
    /// Every write shows at once.
    #[default]
    None,
    /// Deletes show at once, puts only at [`Memory::propagate`]: for that moment a moved
    /// row is in neither place.
    Puts,
    /// Nothing shows until [`Memory::propagate`]: a moved row is still at its old place.
    All,
}

#[derive(Default)]
pub struct Memory {
    latency: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    table: BTreeMap<Key, Item>,
    index: BTreeMap<Key, Item>,
    lag: Lag,
    /// Index writes not shown yet: the row, or `None` for a delete.
    pending: Vec<(Key, Option<Item>)>,
    /// Groups whose index query fails.
    failing_queries: BTreeSet<String>,
    /// Users (`GRP#<user>`) whose transactions fail.
    failing_moves: BTreeSet<String>,
    /// Users whose transactions are always cancelled by a conflict.
    contended: BTreeSet<String>,
    calls: Vec<String>,
}

fn text(row: &Item, name: &str) -> String {
    row.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

fn key(row: &Item) -> Key {
    (text(row, "pk"), text(row, "sk"))
}

impl Memory {
    pub fn with_latency(latency: Duration) -> Memory {
        Memory {
            latency,
            ..Memory::default()
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Writes `row` to the table and the index, as a setup step (no lag, no call logged).
    pub fn put(&self, row: Item) {
        let mut state = self.state();
        state.table.insert(key(&row), row.clone());
        state.index.insert(key(&row), row);
    }

    pub fn set_lag(&self, lag: Lag) {
        self.state().lag = lag;
    }

    /// Shows every write in the index.
    pub fn propagate(&self) {
        let mut state = self.state();
        for (key, row) in std::mem::take(&mut state.pending) {
            match row {
                Some(row) => state.index.insert(key, row),
                None => state.index.remove(&key),
            };
        }
    }

    pub fn fail_queries_of(&self, group: &str) {
        self.state().failing_queries.insert(group.to_string());
    }

    pub fn fail_moves_of(&self, user: &str) {
        self.state().failing_moves.insert(format!("GRP#{user}"));
    }

    pub fn contend_moves_of(&self, user: &str) {
        self.state().contended.insert(format!("GRP#{user}"));
    }

    /// No more faults.
    pub fn heal(&self) {
        let mut state = self.state();
        state.failing_queries.clear();
        state.failing_moves.clear();
        state.contended.clear();
    }

    /// The calls made, e.g. `Query index g1`, `Query table u1 g1`, `TransactWriteItems
    /// GRP#u1`; and forget them.
    pub fn take_calls(&self) -> Vec<String> {
        std::mem::take(&mut self.state().calls)
    }

    /// (pk, sk, message) of every row of the table, in key order.
    pub fn dump(&self) -> Vec<(String, String, String)> {
        let state = self.state();
        let rows = state.table.iter();
        rows.map(|((pk, sk), row)| (pk.clone(), sk.clone(), text(row, "message")))
            .collect()
    }

    async fn call(&self, call: String) {
        self.state().calls.push(call);
        tokio::time::sleep(self.latency).await;
    }
}

fn failure(operation: &'static str) -> Error {
    Error::DynamoDb {
        operation,
        code: Some("InternalServerError".into()),
        message: "injected".into(),
    }
}

impl Store for Memory {
    async fn group_rows(&self, group: &str) -> Result<Vec<Item>, Error> {
        self.call(format!("Query index {group}")).await;
        let state = self.state();
        if state.failing_queries.contains(group) {
            return Err(failure("Query"));
        }
        let of_group = |row: &&Item| text(row, "message_group_uuid") == group;
        Ok(state.index.values().filter(of_group).cloned().collect())
    }

    async fn user_rows(&self, user: &str, group: &str) -> Result<Vec<Item>, Error> {
        self.call(format!("Query table {user} {group}")).await;
        let pk = format!("GRP#{user}");
        let state = self.state();
        let rows = state.table.values();
        Ok(rows
            .filter(|row| text(row, "pk") == pk && text(row, "message_group_uuid") == group)
            .cloned()
            .collect())
    }

    async fn move_row(&self, pending: &Move) -> Result<bool, Error> {
        self.call(format!("TransactWriteItems {}", pending.pk))
            .await;
        let mut state = self.state();
        if state.failing_moves.contains(&pending.pk) {
            return Err(failure("TransactWriteItems"));
        }
        let from: Vec<Key> = pending
            .from
            .iter()
            .map(|sk| (pending.pk.clone(), sk.clone()))
            .collect();
        let to = key(&pending.to);
        let conditions_hold =
            from.iter().all(|k| state.table.contains_key(k)) && !state.table.contains_key(&to);
        if state.contended.contains(&pending.pk) || !conditions_hold {
            return Ok(false);
        }
        let lag = state.lag;
        for k in from {
            state.table.remove(&k);
            match lag {
                Lag::All => state.pending.push((k, None)),
                _ => {
                    state.index.remove(&k);
                }
            }
        }
        state.table.insert(to.clone(), pending.to.clone());
        match lag {
            Lag::None => {
                state.index.insert(to, pending.to.clone());
            }
            Lag::Puts | Lag::All => state.pending.push((to, Some(pending.to.clone()))),
        }
        Ok(true)
    }
}
