//! What Lambda does after invoking a stream mapping's function with a batch (the pure
//! core of `dev`'s pollers): which records are done, which go again, and which are given
//! up on. Lambda's rules for stream sources (the event source mapping API reference and
//! "Configuring partial batch response"):
//!
//! - a response without failures finishes the batch;
//! - with `report_batch_item_failures`, a response naming failed records finishes the
//!   records before the lowest one named, and retries from it; a failure list that cannot
//!   be read fails the whole batch;
//! - an error (a handler error, a crash, a timeout) fails the whole batch;
//! - with `bisect_on_error`, a failed batch of several records is split in two and each
//!   half tried in order; splitting does not count as a retry;
//! - otherwise a failed batch is retried, up to `maximum_retry_attempts` (-1: until the
//!   records expire), then given up on (sent to `on_failure` when there is one);
//! - a batch whose oldest record is older than `maximum_record_age_seconds` is given up
//!   on before it is invoked again.

use serde_json::Value;

/// The mapping's settings that decide what happens after an invocation.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub maximum_retry_attempts: i32,
    pub maximum_record_age_seconds: i32,
    pub bisect_on_error: bool,
    pub report_batch_item_failures: bool,
}

/// Records still to be processed, in stream order, with how often they were retried.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub records: Vec<Value>,
    pub retries: u32,
}

/// How an invocation ended, as the poller saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The function answered (its response body).
    Answered(Value),
    /// It failed: an error, a crash or a timeout (said in the text).
    Failed(String),
}

/// What to do next with a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// How many records from the front are finished (checkpoint after the last of them).
    pub done: usize,
    pub then: Then,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Then {
    /// Nothing left of this batch.
    Nothing,
    /// Invoke again with these records, in order, first to last.
    Retry(Vec<Pending>),
    /// Give these records up (send the on-failure record, then checkpoint after them).
    GiveUp { records: Vec<Value>, reason: String },
}

/// The record's sequence number (`dynamodb.SequenceNumber`).
pub fn sequence_number(record: &Value) -> &str {
    record["dynamodb"]["SequenceNumber"]
        .as_str()
        .unwrap_or_default()
}

/// When the record was written (`dynamodb.ApproximateCreationDateTime`, epoch seconds).
pub fn created_at(record: &Value) -> Option<f64> {
    record["dynamodb"]["ApproximateCreationDateTime"].as_f64()
}

/// Whether `pending` has expired at `now` (epoch seconds): its oldest record is older than
/// the mapping allows.
pub fn expired(policy: &RetryPolicy, pending: &Pending, now: f64) -> bool {
    policy.maximum_record_age_seconds >= 0
        && pending
            .records
            .iter()
            .filter_map(created_at)
            .any(|at| now - at > f64::from(policy.maximum_record_age_seconds))
}

/// What follows invoking `pending` with `verdict`.
pub fn decide(policy: &RetryPolicy, pending: Pending, verdict: &Verdict) -> Decision {
    let failed_from = match verdict {
        Verdict::Answered(body) if policy.report_batch_item_failures => {
            match lowest_failure(body, &pending.records) {
                Ok(None) => None,
                Ok(Some(index)) => {
                    Some((index, "the function reported failed records".to_string()))
                }
                Err(problem) => Some((0, problem)),
            }
        }
        Verdict::Answered(_) => None,
        Verdict::Failed(why) => Some((0, why.clone())),
    };
    let Some((index, reason)) = failed_from else {
        return Decision {
            done: pending.records.len(),
            then: Then::Nothing,
        };
    };
    let rest: Vec<Value> = pending.records[index..].to_vec();
    // A partial failure is retried from the failed record on; bisecting is for errors.
    let whole_batch_error = matches!(verdict, Verdict::Failed(_)) || index == 0;
    if policy.bisect_on_error && whole_batch_error && rest.len() > 1 {
        let half = rest.len().div_ceil(2);
        return Decision {
            done: index,
            then: Then::Retry(vec![
                Pending {
                    records: rest[..half].to_vec(),
                    retries: pending.retries,
                },
                Pending {
                    records: rest[half..].to_vec(),
                    retries: pending.retries,
                },
            ]),
        };
    }
    let retries = pending.retries + 1;
    let exhausted = policy.maximum_retry_attempts >= 0
        && i64::from(retries) > i64::from(policy.maximum_retry_attempts);
    Decision {
        done: index,
        then: if exhausted {
            Then::GiveUp {
                records: rest,
                reason: format!(
                    "{reason}; retried {} times (maximum_retry_attempts)",
                    pending.retries
                ),
            }
        } else {
            Then::Retry(vec![Pending {
                records: rest,
                retries,
            }])
        },
    }
}

/// The index of the lowest record a partial batch response names; `None` when it names
/// none. An item identifier that is missing, empty or not in the batch fails the whole
/// batch, as Lambda treats it.
pub fn lowest_failure(body: &Value, records: &[Value]) -> Result<Option<usize>, String> {
    let failures = match &body["batchItemFailures"] {
        Value::Null => return Ok(None),
        Value::Array(list) => list,
        other => return Err(format!("batchItemFailures is not a list: {other}")),
    };
    let mut lowest: Option<usize> = None;
    for failure in failures {
        let id = failure["itemIdentifier"].as_str().unwrap_or_default();
        let Some(index) = records.iter().position(|r| sequence_number(r) == id) else {
            return Err(format!(
                "the response names `{id}`, which is not a record of the batch"
            ));
        };
        lowest = Some(lowest.map_or(index, |l| l.min(index)));
    }
    Ok(lowest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(seq: u32) -> Value {
        json!({"dynamodb": {"SequenceNumber": seq.to_string(), "ApproximateCreationDateTime": 1000.0 + f64::from(seq)}})
    }

    fn batch(seqs: std::ops::RangeInclusive<u32>) -> Pending {
        Pending {
            records: seqs.map(record).collect(),
            retries: 0,
        }
    }

    const POLICY: RetryPolicy = RetryPolicy {
        maximum_retry_attempts: 2,
        maximum_record_age_seconds: 3600,
        bisect_on_error: false,
        report_batch_item_failures: true,
    };

    fn failures(seqs: &[u32]) -> Verdict {
        let list: Vec<Value> = seqs
            .iter()
            .map(|s| json!({"itemIdentifier": s.to_string()}))
            .collect();
        Verdict::Answered(json!({ "batchItemFailures": list }))
    }

    #[test]
    fn a_clean_response_finishes_the_batch() {
        let d = decide(&POLICY, batch(1..=3), &failures(&[]));
        assert_eq!((d.done, d.then), (3, Then::Nothing));
        let d = decide(&POLICY, batch(1..=3), &Verdict::Answered(json!(null)));
        assert_eq!((d.done, d.then), (3, Then::Nothing));
    }

    #[test]
    fn a_partial_failure_finishes_what_came_before_and_retries_from_the_lowest() {
        let d = decide(&POLICY, batch(1..=5), &failures(&[4, 3]));
        assert_eq!(d.done, 2);
        assert_eq!(
            d.then,
            Then::Retry(vec![Pending {
                records: (3..=5).map(record).collect(),
                retries: 1
            }])
        );
    }

    #[test]
    fn an_unreadable_failure_list_fails_the_whole_batch() {
        let d = decide(&POLICY, batch(1..=3), &failures(&[9]));
        assert_eq!(d.done, 0);
        assert!(matches!(d.then, Then::Retry(ref p) if p[0].records.len() == 3));
    }

    #[test]
    fn without_partial_responses_any_answer_finishes_the_batch() {
        let policy = RetryPolicy {
            report_batch_item_failures: false,
            ..POLICY
        };
        let d = decide(&policy, batch(1..=3), &failures(&[2]));
        assert_eq!((d.done, d.then), (3, Then::Nothing));
    }

    #[test]
    fn an_error_retries_then_gives_up_after_the_maximum() {
        let error = Verdict::Failed("Handler error".into());
        let mut pending = batch(1..=2);
        for expected_retries in 1..=2 {
            let d = decide(&POLICY, pending, &error);
            assert_eq!(d.done, 0);
            let Then::Retry(mut next) = d.then else {
                panic!("not retried")
            };
            pending = next.remove(0);
            assert_eq!(pending.retries, expected_retries);
        }
        let d = decide(&POLICY, pending, &error);
        let Then::GiveUp { records, reason } = d.then else {
            panic!("not given up")
        };
        assert_eq!(records.len(), 2);
        assert!(reason.contains("retried 2 times"), "{reason}");
    }

    #[test]
    fn bisect_splits_a_failed_batch_without_counting_a_retry() {
        let policy = RetryPolicy {
            bisect_on_error: true,
            ..POLICY
        };
        let d = decide(&policy, batch(1..=5), &Verdict::Failed("boom".into()));
        assert_eq!(d.done, 0);
        assert_eq!(
            d.then,
            Then::Retry(vec![batch(1..=3), batch(4..=5)]),
            "halves, first the larger, with no retry counted"
        );
        // A single record cannot be split: it is retried.
        let d = decide(&policy, batch(4..=4), &Verdict::Failed("boom".into()));
        assert!(matches!(d.then, Then::Retry(ref p) if p[0].retries == 1));
        // A partial failure is not bisected: retried from the failed record.
        let d = decide(&policy, batch(1..=5), &failures(&[3]));
        assert_eq!(d.done, 2);
        assert!(matches!(d.then, Then::Retry(ref p) if p.len() == 1 && p[0].records.len() == 3));
    }

    #[test]
    fn retries_forever_with_minus_one() {
        let policy = RetryPolicy {
            maximum_retry_attempts: -1,
            ..POLICY
        };
        let pending = Pending {
            records: vec![record(1)],
            retries: 10_000,
        };
        let d = decide(&policy, pending, &Verdict::Failed("boom".into()));
        assert!(matches!(d.then, Then::Retry(_)));
    }

    #[test]
    fn a_batch_expires_when_its_oldest_record_is_too_old() {
        let pending = batch(1..=3); // written at 1001..1003
        assert!(!expired(&POLICY, &pending, 1001.0 + 3600.0));
        assert!(expired(&POLICY, &pending, 1001.0 + 3601.0));
        let forever = RetryPolicy {
            maximum_record_age_seconds: -1,
            ..POLICY
        };
        assert!(!expired(&forever, &pending, 1e12));
    }
}
