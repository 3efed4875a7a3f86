//! A table's stream, read as Lambda reads it for a mapping: its shards (DescribeStream,
//! every page), each from the mapping's starting position or after its checkpoint, the
//! records shaped as the event Lambda sends. Checkpoints are kept in a file, so a
//! restarted `dev` resumes after the last record it finished.

use crate::aws::{Aws, sdk};
use anyhow::Context;
use aws_sdk_dynamodbstreams::types::{self as ds, ShardIteratorType};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

/// The last finished sequence number of each shard, kept in a JSON file.
pub struct Checkpoints {
    path: PathBuf,
    done: BTreeMap<String, String>,
}

impl Checkpoints {
    /// Reads `path` (nothing finished yet when it does not exist).
    pub fn load(path: PathBuf) -> anyhow::Result<Checkpoints> {
        let done = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .with_context(|| format!("{} is not a checkpoint file", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Ok(Checkpoints { path, done })
    }

    pub fn get(&self, shard: &str) -> Option<&str> {
        self.done.get(shard).map(String::as_str)
    }

    /// Records `sequence_number` as the shard's last finished record, on disk at once
    /// (written aside, then renamed over the file: never half a file).
    pub fn set(&mut self, shard: &str, sequence_number: &str) -> anyhow::Result<()> {
        self.done
            .insert(shard.to_string(), sequence_number.to_string());
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let aside = self.path.with_extension("json.new");
        std::fs::write(&aside, serde_json::to_string_pretty(&self.done)?)?;
        std::fs::rename(&aside, &self.path)
            .with_context(|| format!("writing {}", self.path.display()))
    }
}

/// The stream's shard ids, oldest first (parents before their children).
pub async fn shards(aws: &Aws, stream_arn: &str) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let request = aws
            .streams
            .describe_stream()
            .stream_arn(stream_arn)
            .set_exclusive_start_shard_id(start.clone());
        let out = sdk("DescribeStream", request.send().await)?;
        let description = out
            .stream_description
            .context("DescribeStream: no description")?;
        ids.extend(
            description
                .shards()
                .iter()
                .filter_map(|s| s.shard_id().map(str::to_string)),
        );
        match description.last_evaluated_shard_id {
            Some(last) => start = Some(last),
            None => return Ok(ids),
        }
    }
}

/// Where reading `shard` starts: after its checkpoint, else at the starting position
/// (`LATEST` or `TRIM_HORIZON`).
pub async fn iterator(
    aws: &Aws,
    stream_arn: &str,
    shard: &str,
    after: Option<&str>,
    starting_position: &str,
) -> anyhow::Result<Option<String>> {
    let request = aws
        .streams
        .get_shard_iterator()
        .stream_arn(stream_arn)
        .shard_id(shard);
    let request = match after {
        Some(seq) => request
            .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
            .sequence_number(seq),
        None => request.shard_iterator_type(ShardIteratorType::from(starting_position)),
    };
    Ok(sdk("GetShardIterator", request.send().await)?.shard_iterator)
}

/// Up to `limit` records from `iterator`, as Lambda's event shapes them, and where to go
/// on (`None`: the shard is closed and read to its end).
pub async fn read(
    aws: &Aws,
    iterator: &str,
    limit: i32,
    stream_arn: &str,
) -> anyhow::Result<(Vec<Value>, Option<String>)> {
    let request = aws
        .streams
        .get_records()
        .shard_iterator(iterator)
        .limit(limit.clamp(1, 1000));
    let out = sdk("GetRecords", request.send().await)?;
    let records = out
        .records()
        .iter()
        .map(|r| lambda_record(r, stream_arn, &aws.region))
        .collect();
    Ok((records, out.next_shard_iterator))
}

/// A stream record as the Lambda event's `Records[]` holds it.
pub fn lambda_record(r: &ds::Record, stream_arn: &str, region: &str) -> Value {
    let image = |m: Option<&HashMap<String, ds::AttributeValue>>| {
        m.map(|m| {
            let item: BTreeMap<String, serde_dynamo::AttributeValue> = m
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().into()))
                .collect();
            serde_json::to_value(item).unwrap_or_default()
        })
    };
    let mut dynamodb = json!({});
    if let Some(d) = r.dynamodb() {
        dynamodb = json!({
            "ApproximateCreationDateTime": d.approximate_creation_date_time().map(|t| t.secs()),
            "Keys": image(d.keys()),
            "SequenceNumber": d.sequence_number(),
            "SizeBytes": d.size_bytes(),
            "StreamViewType": d.stream_view_type().map(|v| v.as_str()),
        });
        if let Some(new) = image(d.new_image()) {
            dynamodb["NewImage"] = new;
        }
        if let Some(old) = image(d.old_image()) {
            dynamodb["OldImage"] = old;
        }
    }
    json!({
        "eventID": r.event_id(),
        "eventName": r.event_name().map(|n| n.as_str()),
        "eventVersion": r.event_version(),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_survive_a_restart() {
        let dir = std::env::temp_dir().join(format!("cruddur-checkpoints-{}", std::process::id()));
        let path = dir.join("trigger.json");
        let _ = std::fs::remove_file(&path);
        let mut first = Checkpoints::load(path.clone()).unwrap();
        assert_eq!(first.get("shard-1"), None);
        first.set("shard-1", "100").unwrap();
        first.set("shard-1", "200").unwrap();
        first.set("shard-2", "7").unwrap();
        let again = Checkpoints::load(path.clone()).unwrap();
        assert_eq!(again.get("shard-1"), Some("200"));
        assert_eq!(again.get("shard-2"), Some("7"));
        // A file that is not one is an error naming it, not a fresh start.
        std::fs::write(&path, "not json").unwrap();
        let error = Checkpoints::load(path.clone()).err().unwrap().to_string();
        assert!(error.contains("is not a checkpoint file"), "{error}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
