//! A mapping's `filters`, as Lambda's event filtering applies them: a record goes to the
//! function when any filter matches it, all records when there are none.
//!
//! Matching is the `quamina` crate's (a port of the matcher behind EventBridge patterns).
//! [`check`] accepts exactly the operators Lambda documents for filters and quamina
//! implements alike (Lambda's "Filter rule syntax" table): exact values (strings, numbers,
//! `true`/`false`, `null`, `""`), several values (or), `prefix`, `suffix`,
//! `equals-ignore-case`, `anything-but` (a value or a list), `numeric` (`=`, `<`, `<=`,
//! `>`, `>=`, a range) and `exists`. Operators EventBridge has but Lambda's filters do not
//! (`wildcard`, `cidr`, ...) are refused, and so is `$or`, which quamina does not match.

use quamina::Quamina;
use serde_json::Value;

/// The operators a filter may use, each with what its value must be.
const OPERATORS: &[(&str, &str)] = &[
    ("prefix", "a string"),
    ("suffix", "a string"),
    ("equals-ignore-case", "a string"),
    ("anything-but", "a value or a list of strings or of numbers"),
    ("numeric", "a comparison such as [\">\", 0, \"<=\", 5]"),
    ("exists", "true or false"),
];

/// Why `pattern` is not a filter Lambda takes and this tool can run; `None` when it is.
pub fn check(pattern: &Value) -> Option<String> {
    let Value::Object(fields) = pattern else {
        return Some("a filter is an event pattern (a mapping of fields)".into());
    };
    if fields.is_empty() {
        return Some("a filter needs at least one field".into());
    }
    check_fields(fields, "").or_else(|| {
        // What the walk above lets through, quamina must compile too (numeric forms,
        // anything-but lists of one type).
        let mut matcher = Quamina::<usize>::new();
        matcher
            .add_pattern(0, &pattern.to_string())
            .err()
            .map(|e| format!("not a valid event pattern: {e}"))
    })
}

fn check_fields(fields: &serde_json::Map<String, Value>, path: &str) -> Option<String> {
    for (name, value) in fields {
        let here = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        if name == "$or" {
            return Some(format!(
                "`{here}`: `$or` is not supported; write one filter per alternative (a record passes when any filter matches)"
            ));
        }
        let problem = match value {
            Value::Object(inner) if inner.is_empty() => {
                Some(format!("`{here}` is an empty mapping"))
            }
            Value::Object(inner) => check_fields(inner, &here),
            Value::Array(values) if values.is_empty() => {
                Some(format!("`{here}` lists no values, so nothing could match"))
            }
            Value::Array(values) => values.iter().find_map(|v| check_value(v, &here)),
            _ => Some(format!(
                "`{here}`: a field's values are a list, e.g. `{name}: [{value}]`"
            )),
        };
        if problem.is_some() {
            return problem;
        }
    }
    None
}

fn check_value(value: &Value, path: &str) -> Option<String> {
    let Value::Object(operator) = value else {
        return match value {
            Value::Array(_) => Some(format!("`{path}`: a value cannot be a list")),
            _ => None,
        };
    };
    let mut keys = operator.keys();
    let (Some(name), None) = (keys.next(), keys.next()) else {
        return Some(format!(
            "`{path}`: an operator is a mapping with one key, e.g. {{ prefix: \"MSG#\" }}"
        ));
    };
    let Some((_, wants)) = OPERATORS.iter().find(|(known, _)| known == name) else {
        let known: Vec<&str> = OPERATORS.iter().map(|(n, _)| *n).collect();
        return Some(format!(
            "`{path}`: Lambda's filters have no operator `{name}` (they have: {})",
            known.join(", ")
        ));
    };
    let operand = &operator[name.as_str()];
    let fits = match name.as_str() {
        "prefix" | "suffix" | "equals-ignore-case" => operand.is_string(),
        "exists" => operand.is_boolean(),
        "numeric" => operand.is_array(),
        _ => true,
    };
    (!fits).then(|| format!("`{path}`: `{name}` takes {wants}"))
}

/// The compiled filters of one mapping.
pub struct EventFilter {
    /// `None`: no filters, every record passes.
    matcher: Option<Quamina<usize>>,
}

impl EventFilter {
    /// Compiles `patterns`; each must have passed [`check`].
    pub fn new(patterns: &[Value]) -> Result<EventFilter, String> {
        if patterns.is_empty() {
            return Ok(EventFilter { matcher: None });
        }
        let mut matcher = Quamina::new();
        for (i, pattern) in patterns.iter().enumerate() {
            if let Some(problem) = check(pattern) {
                return Err(format!("filter {i}: {problem}"));
            }
            matcher
                .add_pattern(i, &pattern.to_string())
                .map_err(|e| format!("filter {i}: {e}"))?;
        }
        Ok(EventFilter {
            matcher: Some(matcher),
        })
    }

    /// Whether the record (as Lambda delivers it: `eventName`, `dynamodb.Keys`, ...) goes
    /// to the function.
    pub fn matches(&self, record: &Value) -> bool {
        self.matcher.as_ref().is_none_or(|m| {
            m.has_matches(record.to_string().as_bytes())
                .unwrap_or(false)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Lambda's "Filter rule syntax" table, one row each: the pattern, then records it
    /// matches and records it does not.
    #[test]
    fn every_operator_of_lambdas_filter_syntax() {
        let table = [
            // Null
            (
                json!({"UserID": [null]}),
                vec![json!({"UserID": null})],
                vec![json!({"UserID": "u1"}), json!({})],
            ),
            // Empty
            (
                json!({"LastName": [""]}),
                vec![json!({"LastName": ""})],
                vec![json!({"LastName": "Doe"})],
            ),
            // Equals
            (
                json!({"Name": ["Alice"]}),
                vec![json!({"Name": "Alice"})],
                vec![json!({"Name": "alice"}), json!({"Other": "Alice"})],
            ),
            // Equals, ignoring case
            (
                json!({"Name": [{"equals-ignore-case": "alice"}]}),
                vec![json!({"Name": "ALICE"}), json!({"Name": "Alice"})],
                vec![json!({"Name": "Alicia"})],
            ),
            // And
            (
                json!({"Location": ["New York"], "Day": ["Monday"]}),
                vec![json!({"Location": "New York", "Day": "Monday"})],
                vec![
                    json!({"Location": "New York", "Day": "Tuesday"}),
                    json!({"Location": "New York"}),
                ],
            ),
            // Or
            (
                json!({"PaymentType": ["Credit", "Debit"]}),
                vec![
                    json!({"PaymentType": "Credit"}),
                    json!({"PaymentType": "Debit"}),
                ],
                vec![json!({"PaymentType": "Cash"})],
            ),
            // Not
            (
                json!({"Weather": [{"anything-but": ["Raining"]}]}),
                vec![json!({"Weather": "Sunny"})],
                vec![json!({"Weather": "Raining"})],
            ),
            (
                json!({"Weather": [{"anything-but": "Raining"}]}),
                vec![json!({"Weather": "Snowing"})],
                vec![json!({"Weather": "Raining"})],
            ),
            // Numeric, equals
            (
                json!({"Price": [{"numeric": ["=", 100]}]}),
                vec![json!({"Price": 100}), json!({"Price": 100.0})],
                vec![json!({"Price": 101}), json!({"Price": "100"})],
            ),
            // Numeric, range
            (
                json!({"Price": [{"numeric": [">", 10, "<=", 20]}]}),
                vec![json!({"Price": 20}), json!({"Price": 10.5})],
                vec![json!({"Price": 10}), json!({"Price": 21})],
            ),
            // Exists
            (
                json!({"ProductName": [{"exists": true}]}),
                vec![json!({"ProductName": "Kettle"})],
                vec![json!({"Price": 3})],
            ),
            // Does not exist
            (
                json!({"ProductName": [{"exists": false}]}),
                vec![json!({"Price": 3})],
                vec![json!({"ProductName": "Kettle"})],
            ),
            // Begins with
            (
                json!({"Region": [{"prefix": "us-"}]}),
                vec![json!({"Region": "us-east-1"})],
                vec![json!({"Region": "eu-west-1"})],
            ),
            // Ends with
            (
                json!({"FileName": [{"suffix": ".png"}]}),
                vec![json!({"FileName": "cat.png"})],
                vec![json!({"FileName": "cat.jpg"})],
            ),
        ];
        for (pattern, matching, other) in table {
            assert_eq!(check(&pattern), None, "{pattern}");
            let filter = EventFilter::new(std::slice::from_ref(&pattern)).unwrap();
            for record in matching {
                assert!(filter.matches(&record), "{pattern} should match {record}");
            }
            for record in other {
                assert!(
                    !filter.matches(&record),
                    "{pattern} should not match {record}"
                );
            }
        }
    }

    /// The default stack's filter against records as DynamoDB Streams delivers them: new
    /// messages pass; the processor's own GRP# writes and any MODIFY do not.
    #[test]
    fn the_default_stacks_filter_on_stream_records() {
        let filter = EventFilter::new(&[json!({
            "eventName": ["INSERT"],
            "dynamodb": {"Keys": {"pk": {"S": [{"prefix": "MSG#"}]}}}
        })])
        .unwrap();
        let record = |event: &str, pk: &str| {
            json!({
                "eventName": event,
                "eventSource": "aws:dynamodb",
                "dynamodb": {
                    "Keys": {"pk": {"S": pk}, "sk": {"S": "2024-01-01T00:00:00Z"}},
                    "SequenceNumber": "100",
                    "StreamViewType": "NEW_IMAGE"
                }
            })
        };
        assert!(filter.matches(&record("INSERT", "MSG#g1")));
        assert!(!filter.matches(&record("INSERT", "GRP#alice")));
        assert!(!filter.matches(&record("MODIFY", "MSG#g1")));
        assert!(!filter.matches(&record("REMOVE", "MSG#g1")));
    }

    #[test]
    fn several_filters_pass_a_record_any_of_them_matches() {
        let filter =
            EventFilter::new(&[json!({"a": ["x"]}), json!({"b": [{"prefix": "y"}]})]).unwrap();
        assert!(filter.matches(&json!({"a": "x"})));
        assert!(filter.matches(&json!({"b": "yes"})));
        assert!(!filter.matches(&json!({"a": "y", "b": "no"})));
        assert!(
            EventFilter::new(&[])
                .unwrap()
                .matches(&json!({"anything": 1}))
        );
    }

    #[test]
    fn what_lambda_or_the_matcher_would_not_take_is_refused() {
        let refused = [
            (json!(["INSERT"]), "a mapping of fields"),
            (json!({}), "at least one field"),
            (
                json!({"eventName": "INSERT"}),
                "a field's values are a list",
            ),
            (json!({"eventName": []}), "lists no values"),
            (json!({"a": {}}), "empty mapping"),
            (json!({"a": [["x"]]}), "cannot be a list"),
            (json!({"a": [{"wildcard": "*x"}]}), "no operator `wildcard`"),
            (json!({"a": [{"cidr": "10.0.0.0/8"}]}), "no operator `cidr`"),
            (json!({"a": [{"prefix": "x", "suffix": "y"}]}), "one key"),
            (json!({"a": [{"prefix": 3}]}), "`prefix` takes a string"),
            (
                json!({"a": [{"exists": "yes"}]}),
                "`exists` takes true or false",
            ),
            (
                json!({"a": [{"numeric": [">", "ten"]}]}),
                "not a valid event pattern",
            ),
            (
                json!({"$or": [{"a": ["x"]}, {"b": ["y"]}]}),
                "`$or` is not supported",
            ),
        ];
        for (pattern, expected) in refused {
            let problem = check(&pattern).unwrap_or_else(|| panic!("{pattern} was accepted"));
            assert!(problem.contains(expected), "{pattern}: {problem}");
        }
    }
}
