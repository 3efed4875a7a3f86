//! Which summary rows a message moves, and where to: pure, no I/O.

use crate::Message;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::{BTreeMap, HashMap};

/// A row as DynamoDB returns it.
pub type Item = HashMap<String, AttributeValue>;

/// One user's summary row of a group, moving to a newer message: done as one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    /// The user's summary key, `GRP#<user>`.
    pub pk: String,
    /// The `sk`s to delete, each on condition it still exists. Normally one; more when an
    /// earlier non-atomic writer (the seed's) left a user several rows for one group: the
    /// move then leaves one.
    pub from: Vec<String>,
    /// The row at its new place: the newest old row with the message's `sk` and text.
    pub to: Item,
}

/// The moves that bring `rows` (a group's rows from the index) up to `message`: one per user
/// whose newest summary row is strictly older than the message. Users at or past it are
/// left alone, so a replayed or late message never moves a conversation backwards. Rows
/// that are not summaries (`GRP#`) or have no string `sk` are not looked at.
pub fn moves(message: &Message, rows: &[Item]) -> Vec<Move> {
    summaries_by_user(rows)
        .into_iter()
        .filter_map(|(pk, mut rows)| {
            rows.sort_by(|a, b| a.0.cmp(b.0));
            let (newest_sk, newest) = *rows.last()?;
            if newest_sk >= message.sk.as_str() {
                return None;
            }
            let mut to = newest.clone();
            to.insert("sk".into(), AttributeValue::S(message.sk.clone()));
            to.insert("message".into(), AttributeValue::S(message.text.clone()));
            Some(Move {
                pk: pk.to_string(),
                from: rows.iter().map(|(sk, _)| sk.to_string()).collect(),
                to,
            })
        })
        .collect()
}

/// How many users have a summary row among `rows`.
pub(crate) fn users(rows: &[Item]) -> usize {
    summaries_by_user(rows).len()
}

/// Whether `rows` hold a summary row of `user` (`GRP#<user>`).
pub fn has_row(rows: &[Item], user: &str) -> bool {
    let pk = format!("GRP#{user}");
    rows.iter()
        .any(|row| string(row, "pk") == Some(pk.as_str()))
}

/// The other party of a conversation as `user`'s newest summary row names it (its
/// `user_uuid`), if `rows` hold such a row.
pub fn party_of(rows: &[Item], user: &str) -> Option<String> {
    let pk = format!("GRP#{user}");
    let newest = summaries_by_user(rows)
        .remove(pk.as_str())?
        .into_iter()
        .max_by(|a, b| a.0.cmp(b.0))?;
    string(newest.1, "user_uuid")
        .filter(|party| !party.is_empty() && *party != user)
        .map(str::to_string)
}

/// `rows` with `user`'s summary rows replaced by `theirs`.
pub fn with_rows_of(rows: Vec<Item>, user: &str, theirs: Vec<Item>) -> Vec<Item> {
    let pk = format!("GRP#{user}");
    let mut rows: Vec<Item> = rows
        .into_iter()
        .filter(|row| string(row, "pk") != Some(pk.as_str()))
        .collect();
    rows.extend(theirs);
    rows
}

/// The summary rows of `rows` by user key, each with its `sk`.
fn summaries_by_user(rows: &[Item]) -> BTreeMap<&str, Vec<(&str, &Item)>> {
    let mut by_user: BTreeMap<&str, Vec<(&str, &Item)>> = BTreeMap::new();
    for row in rows {
        if let (Some(pk), Some(sk)) = (string(row, "pk"), string(row, "sk"))
            && pk.starts_with("GRP#")
        {
            by_user.entry(pk).or_default().push((sk, row));
        }
    }
    by_user
}

fn string<'a>(row: &'a Item, name: &str) -> Option<&'a str> {
    row.get(name)?.as_s().ok().map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{event, insert};
    use crate::{Step, plan};

    const GROUP: &str = "5ae290ed-55d1-47a0-bc6d-fe2bc2700399";

    fn s(value: &str) -> AttributeValue {
        AttributeValue::S(value.into())
    }

    fn summary(user: &str, group: &str, sk: &str, text: &str) -> Item {
        Item::from([
            ("pk".into(), s(&format!("GRP#{user}"))),
            ("sk".into(), s(sk)),
            ("message_group_uuid".into(), s(group)),
            ("message".into(), s(text)),
            ("user_uuid".into(), s(&format!("other-of-{user}"))),
            ("user_display_name".into(), s("Bayko")),
            ("user_handle".into(), s("bayko")),
        ])
    }

    fn message(group: &str, sk: &str, text: &str) -> Message {
        Message {
            group: group.into(),
            sk: sk.into(),
            text: text.into(),
            sender: None,
        }
    }

    #[test]
    fn the_parties_a_message_must_move_are_named_by_the_rows() {
        let rows = [
            summary("u1", GROUP, "2024-03-14T18:00:00+00:00", "a"),
            summary("u1", GROUP, "2024-03-14T18:01:00+00:00", "b"),
        ];
        assert!(has_row(&rows, "u1"));
        assert!(!has_row(&rows, "u2"));
        assert_eq!(party_of(&rows, "u1").as_deref(), Some("other-of-u1"));
        assert_eq!(party_of(&rows, "u2"), None);
        let fresh = vec![summary("u1", GROUP, "2024-03-14T18:09:00+00:00", "c")];
        let merged = with_rows_of(rows.to_vec(), "u1", fresh.clone());
        assert_eq!(merged, fresh);
    }

    #[test]
    fn older_rows_move_to_the_message_keeping_the_other_party() {
        let rows = [
            summary("u1", GROUP, "2024-03-14T18:00:00+00:00", "hello"),
            summary("u2", GROUP, "2024-03-14T18:00:00+00:00", "hello"),
        ];
        let m = message(GROUP, "2024-03-14T18:05:00+00:00", "see you");
        let moves = moves(&m, &rows);
        assert_eq!(moves.len(), 2);
        assert_eq!(moves[0].pk, "GRP#u1");
        assert_eq!(moves[0].from, ["2024-03-14T18:00:00+00:00"]);
        let mut expected = rows[0].clone();
        expected.insert("sk".into(), s("2024-03-14T18:05:00+00:00"));
        expected.insert("message".into(), s("see you"));
        assert_eq!(moves[0].to, expected);
        assert_eq!(moves[1].pk, "GRP#u2");
    }

    #[test]
    fn rows_at_or_past_the_message_stay() {
        let rows = [
            summary("u1", GROUP, "2024-03-14T18:05:00+00:00", "same"),
            summary("u2", GROUP, "2024-03-14T18:09:00+00:00", "newer"),
        ];
        let m = message(GROUP, "2024-03-14T18:05:00+00:00", "same");
        assert_eq!(moves(&m, &rows), []);
    }

    #[test]
    fn only_summary_rows_with_string_keys_are_considered() {
        let mut odd = summary("u1", GROUP, "2024-03-14T18:00:00+00:00", "x");
        odd.insert("sk".into(), AttributeValue::N("1".into()));
        let mut message_row = summary("u2", GROUP, "2024-03-14T18:00:00+00:00", "x");
        message_row.insert("pk".into(), s(&format!("MSG#{GROUP}")));
        let m = message(GROUP, "2024-03-14T18:05:00+00:00", "y");
        assert_eq!(moves(&m, &[odd, message_row]), []);
        assert_eq!(users(&[]), 0);
    }

    #[test]
    fn duplicate_rows_of_a_user_collapse_into_the_newest() {
        let rows = [
            summary("u1", GROUP, "2024-03-14T18:02:00+00:00", "second"),
            summary("u1", GROUP, "2024-03-14T18:01:00+00:00", "first"),
        ];
        let m = message(GROUP, "2024-03-14T18:05:00+00:00", "third");
        let moves = moves(&m, &rows);
        assert_eq!(moves.len(), 1);
        assert_eq!(
            moves[0].from,
            ["2024-03-14T18:01:00+00:00", "2024-03-14T18:02:00+00:00"]
        );
        assert_eq!(users(&rows), 1);
    }

    /// An in-memory table of summary rows: `moves` applied to it the way the processor
    /// applies them to DynamoDB, to check whole batches without one.
    #[derive(Default)]
    struct Table(BTreeMap<(String, String), Item>);

    impl Table {
        fn put(&mut self, row: Item) {
            let key = |n: &str| row[n].as_s().unwrap().clone();
            self.0.insert((key("pk"), key("sk")), row);
        }

        fn rows_of(&self, group: &str) -> Vec<Item> {
            let of_group = |row: &&Item| string(row, "message_group_uuid") == Some(group);
            self.0.values().filter(of_group).cloned().collect()
        }

        fn apply(&mut self, steps: &[Step]) {
            for step in steps {
                if let Step::Apply(m) = step {
                    for mv in moves(m, &self.rows_of(&m.group)) {
                        for sk in &mv.from {
                            self.0.remove(&(mv.pk.clone(), sk.clone()));
                        }
                        self.put(mv.to);
                    }
                }
            }
        }

        /// (pk, sk, message) of every row, in key order.
        fn dump(&self) -> Vec<(String, String, String)> {
            self.0
                .iter()
                .map(|((pk, sk), row)| {
                    let text = string(row, "message").unwrap().to_string();
                    (pk.clone(), sk.clone(), text)
                })
                .collect()
        }
    }

    fn sk(minute: u32, second: u32) -> String {
        format!("2024-03-14T18:{minute:02}:{second:02}.000000+00:00")
    }

    #[test]
    fn a_batch_of_fifty_messages_over_five_groups_leaves_every_inbox_at_its_newest() {
        let groups = ["g0", "g1", "g2", "g3", "g4"];
        let mut table = Table::default();
        for group in groups {
            for user in ["a", "b"] {
                table.put(summary(
                    &format!("{user}-{group}"),
                    group,
                    &sk(0, 0),
                    "start",
                ));
            }
        }
        // Record i is for group i % 5. In each run of ten records the last five carry older
        // timestamps than the first five, so every group gets an out-of-order pair.
        let records: Vec<_> = (0..50u32)
            .map(|i| {
                let second = if i % 10 < 5 { i + 5 } else { i - 5 };
                let g = groups[(i % 5) as usize];
                insert(
                    &format!("{:028}", 1000 + i),
                    g,
                    &sk(1, second),
                    &format!("m{second}"),
                )
            })
            .collect();
        let steps = plan(&event(records).records);
        let applied = steps.iter().filter(|s| matches!(s, Step::Apply(_))).count();
        // Per group, only its newest record is applied.
        assert_eq!(applied, 5);
        table.apply(&steps);

        let mut expected = Vec::new();
        for group in groups {
            // The newest second of the group: the largest one among those of i ≡ g (mod 5).
            let g = groups.iter().position(|x| *x == group).unwrap() as u32;
            let newest = (0..50u32)
                .filter(|i| i % 5 == g)
                .map(|i| if i % 10 < 5 { i + 5 } else { i - 5 })
                .max()
                .unwrap();
            for user in ["a", "b"] {
                expected.push((
                    format!("GRP#{user}-{group}"),
                    sk(1, newest),
                    format!("m{newest}"),
                ));
            }
        }
        expected.sort();
        assert_eq!(table.dump(), expected);
    }

    #[test]
    fn replaying_a_batch_or_an_older_message_changes_nothing() {
        let mut table = Table::default();
        table.put(summary("a", "g1", &sk(0, 0), "start"));
        let batch = event(vec![
            insert("1", "g1", &sk(0, 9), "newest"),
            insert("2", "g1", &sk(0, 3), "late"),
        ]);
        table.apply(&plan(&batch.records));
        let after = table.dump();
        assert_eq!(after, [("GRP#a".into(), sk(0, 9), "newest".into())]);
        table.apply(&plan(&batch.records));
        assert_eq!(table.dump(), after);
    }
}
