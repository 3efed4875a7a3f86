//! Stream records for the unit tests, shaped as Lambda delivers them (see
//! fixtures/stream-event.json for a whole batch written out).

use crate::{Event, EventRecord};
use serde_json::{Value, json};

/// The JSON of an INSERT record of a message row of `group` at `sk`, with sequence number
/// `seq` (also used to make the event id unique).
pub fn insert(seq: &str, group: &str, sk: &str, text: &str) -> Value {
    let keys = json!({"pk": {"S": format!("MSG#{group}")}, "sk": {"S": sk}});
    let mut image = keys.clone();
    let image_map = image.as_object_mut().unwrap();
    image_map.insert("message".into(), json!({"S": text}));
    image_map.insert("message_uuid".into(), json!({"S": format!("m-{seq}")}));
    image_map.insert("user_uuid".into(), json!({"S": "u-sender"}));
    image_map.insert("user_display_name".into(), json!({"S": "Andrew Brown"}));
    image_map.insert("user_handle".into(), json!({"S": "andrewbrown"}));
    json!({
        "eventID": format!("{seq:0>32}"),
        "eventName": "INSERT",
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

pub fn record(json: Value) -> EventRecord {
    serde_json::from_value(json).expect("a stream record")
}

pub fn event(records: Vec<Value>) -> Event {
    serde_json::from_value(json!({ "Records": records })).expect("a stream event")
}
