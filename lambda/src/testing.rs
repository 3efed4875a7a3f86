//! Stream records for tests, shaped as Lambda delivers them (see fixtures/stream-event.json
//! for a whole batch written out).

use crate::{Event, EventRecord};
use serde_json::{Value, json};

/// The JSON of a stream record: `event_name` (INSERT, MODIFY, REMOVE) of a row whose new
/// image is `image` (its keys are its `pk` and `sk`), with sequence number `seq` (also
/// used to make the event id unique).
pub fn stream_record(seq: &str, event_name: &str, image: Value) -> Value {
    let keys = json!({"pk": image["pk"], "sk": image["sk"]});
    json!({
        "eventID": format!("{seq:0>32}"),
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1710439263,
            "Keys": keys,
            "NewImage": image,
            "SequenceNumber": seq,
            "SizeBytes": 256,
            "StreamViewType": "NEW_IMAGE"
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/cruddur-messages/stream/2024-03-14T17:55:21.812"
    })
}

/// The JSON of an INSERT record of a message row of `group` at `sk`, with sequence number
/// `seq`.
pub fn insert(seq: &str, group: &str, sk: &str, text: &str) -> Value {
    let image = json!({
        "pk": {"S": format!("MSG#{group}")},
        "sk": {"S": sk},
        "message": {"S": text},
        "message_uuid": {"S": format!("m-{seq}")},
        "user_uuid": {"S": "u-sender"},
        "user_display_name": {"S": "Andrew Brown"},
        "user_handle": {"S": "andrewbrown"},
    });
    stream_record(seq, "INSERT", image)
}

pub fn record(json: Value) -> EventRecord {
    serde_json::from_value(json).expect("a stream record")
}

pub fn event(records: Vec<Value>) -> Event {
    serde_json::from_value(json!({ "Records": records })).expect("a stream event")
}
