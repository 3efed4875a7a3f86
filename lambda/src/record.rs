//! From stream records to the messages they carry, and what to do with each: pure, no I/O.

use crate::EventRecord;
use serde_dynamo::AttributeValue;
use std::collections::{HashMap, HashSet};

/// A new message, as far as the summaries care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The message group (conversation) id: the `<group>` of `MSG#<group>`.
    pub group: String,
    /// The message's ISO-8601 timestamp: where the group's summary rows move to.
    pub sk: String,
    /// The message text: what the summary rows show. Never logged.
    pub text: String,
    /// The sender (`user_uuid` of the message row), when the row names one: a user who
    /// must have a summary row of the group.
    pub sender: Option<String>,
}

/// Why a record can never be processed, however often it is retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("the INSERT record has no NewImage (is the stream's view type NEW_IMAGE?)")]
    NoNewImage,
    #[error("the new image has no `{0}` attribute")]
    Missing(&'static str),
    #[error("the new image's `{0}` attribute is not a string")]
    NotAString(&'static str),
    #[error("the message row's key is `MSG#` with no group id")]
    NoGroup,
}

/// The message group a message row belongs to: `MSG#<group>` → `<group>`. Any other key
/// (a `GRP#` summary row, say) is not a message and yields `None`.
pub fn message_group(pk: &str) -> Option<&str> {
    pk.strip_prefix("MSG#").filter(|group| !group.is_empty())
}

/// The new message a record carries: `Ok(None)` for records that are not new messages
/// (MODIFY, REMOVE, rows other than `MSG#`), an error for records that cannot be read.
pub fn message_from(record: &EventRecord) -> Result<Option<Message>, Malformed> {
    if record.event_name != "INSERT" {
        return Ok(None);
    }
    let image = &record.change.new_image;
    if image.is_empty() {
        return Err(Malformed::NoNewImage);
    }
    let pk = string(image, "pk")?;
    let Some(group) = message_group(pk) else {
        return if pk.starts_with("MSG#") {
            Err(Malformed::NoGroup)
        } else {
            Ok(None)
        };
    };
    Ok(Some(Message {
        group: group.to_string(),
        sk: string(image, "sk")?.to_string(),
        text: string(image, "message")?.to_string(),
        sender: match image.get("user_uuid") {
            Some(AttributeValue::S(sender)) if !sender.is_empty() => Some(sender.clone()),
            _ => None,
        },
    }))
}

fn string<'a>(
    image: &'a HashMap<String, AttributeValue>,
    name: &'static str,
) -> Result<&'a str, Malformed> {
    match image.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        Some(_) => Err(Malformed::NotAString(name)),
        None => Err(Malformed::Missing(name)),
    }
}

/// What the processor does with one record of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Move the group's summary rows up to this message.
    Apply(Message),
    /// Nothing: another record of the same batch is for the same group at or past this
    /// `sk` (a later record when the `sk`s are equal), and applying that one moves the rows
    /// at least as far.
    Superseded(Message),
    /// Nothing: not a new message (MODIFY, REMOVE, a row other than `MSG#`).
    Ignore,
    /// Nothing, and say so loudly: the record can never be processed.
    Malformed(Malformed),
}

/// One step per record, in the batch's order.
pub fn plan(records: &[EventRecord]) -> Vec<Step> {
    let mut steps: Vec<Step> = records
        .iter()
        .map(|record| match message_from(record) {
            Ok(Some(message)) => Step::Apply(message),
            Ok(None) => Step::Ignore,
            Err(malformed) => Step::Malformed(malformed),
        })
        .collect();
    // Per group, the record with the furthest `sk` (the last of equal ones) is applied.
    let mut newest: HashMap<&str, (usize, &str)> = HashMap::new();
    for (i, step) in steps.iter().enumerate() {
        if let Step::Apply(message) = step {
            let furthest = newest.entry(&message.group).or_insert((i, &message.sk));
            if message.sk.as_str() >= furthest.1 {
                *furthest = (i, &message.sk);
            }
        }
    }
    let applied: HashSet<usize> = newest.values().map(|(at, _)| *at).collect();
    for (i, step) in steps.iter_mut().enumerate() {
        if let Step::Apply(message) = step
            && !applied.contains(&i)
        {
            *step = Step::Superseded(message.clone());
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{event, insert, record};
    use serde_json::json;

    #[test]
    fn only_message_rows_have_a_group() {
        assert_eq!(
            message_group("MSG#5ae290ed-55d1-47a0-bc6d-fe2bc2700399"),
            Some("5ae290ed-55d1-47a0-bc6d-fe2bc2700399")
        );
        assert_eq!(message_group("GRP#618e67a7"), None);
        assert_eq!(message_group("MSG#"), None);
    }

    /// The fixture is a batch as Lambda delivers it: a message, the summary row the app
    /// wrote for a new conversation, an edit, a delete, and a record of a KEYS_ONLY stream.
    #[test]
    fn the_fixture_batch_reads_as_aws_sends_it() {
        let event: crate::Event =
            serde_json::from_str(include_str!("../fixtures/stream-event.json")).unwrap();
        assert_eq!(event.records.len(), 5);
        let first = &event.records[0];
        assert_eq!(first.event_source.as_deref(), Some("aws:dynamodb"));
        assert_eq!(
            first.change.sequence_number.as_deref(),
            Some("4421584500000000017450439091")
        );
        assert_eq!(
            plan(&event.records),
            [
                Step::Apply(Message {
                    group: "5ae290ed-55d1-47a0-bc6d-fe2bc2700399".into(),
                    sk: "2024-03-14T18:01:03.146211+00:00".into(),
                    text: "Are you coming to the demo on Friday?".into(),
                    sender: Some("c4a9b1e0-2d7f-4c2a-8d5e-7f3b9a1c0e42".into()),
                }),
                Step::Ignore,
                Step::Ignore,
                Step::Ignore,
                Step::Malformed(Malformed::NoNewImage),
            ]
        );
    }

    #[test]
    fn modify_and_remove_of_a_message_are_ignored() {
        for name in ["MODIFY", "REMOVE"] {
            let mut r = insert("1", "g1", "2024-03-14T18:00:00+00:00", "edited");
            r["eventName"] = json!(name);
            assert_eq!(message_from(&record(r)), Ok(None), "{name}");
        }
    }

    #[test]
    fn malformed_records_say_what_is_wrong() {
        let image = |image: serde_json::Value| {
            let mut r = insert("1", "g1", "2024-03-14T18:00:00+00:00", "hi");
            r["dynamodb"]["NewImage"] = image;
            message_from(&record(r))
        };
        assert_eq!(
            image(json!({"pk": {"S": "MSG#g1"}, "message": {"S": "hi"}})),
            Err(Malformed::Missing("sk"))
        );
        assert_eq!(
            image(json!({"pk": {"S": "MSG#g1"}, "sk": {"S": "t"}, "message": {"N": "1"}})),
            Err(Malformed::NotAString("message"))
        );
        assert_eq!(
            image(json!({"pk": {"S": "MSG#"}, "sk": {"S": "t"}, "message": {"S": "hi"}})),
            Err(Malformed::NoGroup)
        );
        assert_eq!(
            image(json!({"sk": {"S": "t"}, "message": {"S": "hi"}})),
            Err(Malformed::Missing("pk"))
        );
        assert_eq!(image(json!({})), Err(Malformed::NoNewImage));
        // Attributes other than the three it reads may be anything, or absent.
        assert!(matches!(
            image(
                json!({"pk": {"S": "MSG#g1"}, "sk": {"S": "t"}, "message": {"S": "hi"},
                         "user_uuid": {"NULL": true}})
            ),
            Ok(Some(_))
        ));
    }

    #[test]
    fn summary_rows_on_the_stream_are_ignored_even_without_a_message() {
        let mut r = insert("1", "g1", "2024-03-14T18:00:00+00:00", "hi");
        r["dynamodb"]["NewImage"] = json!({"pk": {"S": "GRP#u1"}, "sk": {"S": "t"}});
        assert_eq!(message_from(&record(r)), Ok(None));
    }

    fn kinds(steps: &[Step]) -> String {
        steps
            .iter()
            .map(|s| match s {
                Step::Apply(_) => 'A',
                Step::Superseded(_) => 's',
                Step::Ignore => '.',
                Step::Malformed(_) => '!',
            })
            .collect()
    }

    #[test]
    fn only_the_newest_message_of_a_group_in_a_batch_is_applied() {
        let e = event(vec![
            insert("1", "g1", "2024-03-14T18:00:01+00:00", "a"),
            insert("2", "g2", "2024-03-14T18:00:02+00:00", "b"),
            insert("3", "g1", "2024-03-14T18:00:03+00:00", "c"),
            insert("4", "g1", "2024-03-14T18:00:04+00:00", "d"),
        ]);
        assert_eq!(kinds(&plan(&e.records)), "sAsA");
    }

    #[test]
    fn an_older_message_after_a_newer_one_is_superseded_too() {
        // Wherever it stands in the batch, only a group's newest message costs a query.
        let e = event(vec![
            insert("1", "g1", "2024-03-14T18:00:09+00:00", "new"),
            insert("2", "g2", "2024-03-14T18:00:05+00:00", "other"),
            insert("3", "g1", "2024-03-14T18:00:01+00:00", "old"),
        ]);
        assert_eq!(kinds(&plan(&e.records)), "AAs");
    }

    #[test]
    fn the_sender_is_the_message_rows_user() {
        let r = insert("1", "g1", "2024-03-14T18:00:00+00:00", "hi");
        let m = message_from(&record(r)).unwrap().unwrap();
        assert_eq!(m.sender.as_deref(), Some("u-sender"));
        let mut r = insert("1", "g1", "2024-03-14T18:00:00+00:00", "hi");
        r["dynamodb"]["NewImage"]["user_uuid"] = json!({"NULL": true});
        assert_eq!(message_from(&record(r)).unwrap().unwrap().sender, None);
    }

    #[test]
    fn a_replay_within_the_batch_is_applied_once() {
        let r = insert("1", "g1", "2024-03-14T18:00:01+00:00", "a");
        let e = event(vec![r.clone(), r]);
        assert_eq!(kinds(&plan(&e.records)), "sA");
    }
}
