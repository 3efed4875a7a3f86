//! ARNs as IAM reads them: which resource type an ARN (or an ARN pattern with `*` and `?`)
//! can name, and which resource types an action can be scoped to.
//!
//! Both tables come from AWS's Service Authorization Reference
//! (<https://docs.aws.amazon.com/service-authorization/latest/reference/>), the pages
//! "Actions, resources, and condition keys for" Amazon DynamoDB, Amazon SQS, Amazon
//! CloudWatch Logs, AWS Lambda, Amazon SNS, AWS IAM and Amazon CloudWatch. They hold the
//! services and actions stacks of this tool use; anything else is not judged.

use crate::spec::template::Template;
use wildmatch::WildMatch;

/// A field that takes one kind of ARN: the services and resource types it accepts.
pub struct ArnField<'a> {
    pub template: &'a Template,
    /// `(service, resource type)` pairs, e.g. `("sqs", "queue")`.
    pub accepts: &'static [(&'static str, &'static str)],
    /// What to write instead, e.g. "a queue's ARN, such as ${failures.arn}".
    pub hint: &'static str,
}

/// Where the tables below come from, for hints.
pub const SOURCE: &str = "AWS Service Authorization Reference";

/// One part of a resource type's ARN format, after `arn:<partition>:<service>:<region>:<account>:`.
#[derive(Clone, Copy)]
enum Part {
    /// Literal text, e.g. `table`.
    Word(&'static str),
    /// One name (no separator in it).
    Name,
    /// One or more parts (an IAM path and name).
    Path,
}
use Part::{Name, Path, Word};

struct Service {
    prefix: &'static str,
    /// What separates the parts of its resource names.
    separator: char,
    types: &'static [(&'static str, &'static [Part])],
}

const SERVICES: &[Service] = &[
    Service {
        prefix: "dynamodb",
        separator: '/',
        types: &[
            ("table", &[Word("table"), Name]),
            ("index", &[Word("table"), Name, Word("index"), Name]),
            ("stream", &[Word("table"), Name, Word("stream"), Name]),
            ("backup", &[Word("table"), Name, Word("backup"), Name]),
            ("export", &[Word("table"), Name, Word("export"), Name]),
            ("import", &[Word("table"), Name, Word("import"), Name]),
            ("global-table", &[Word("global-table"), Name]),
        ],
    },
    Service {
        prefix: "sqs",
        separator: '/',
        types: &[("queue", &[Name])],
    },
    Service {
        prefix: "sns",
        separator: '/',
        types: &[("topic", &[Name])],
    },
    Service {
        // Log group names hold `/` (`/aws/lambda/...`), so parts are split at `:`.
        prefix: "logs",
        separator: ':',
        types: &[
            ("log-group", &[Word("log-group"), Name]),
            (
                "log-stream",
                &[Word("log-group"), Name, Word("log-stream"), Name],
            ),
        ],
    },
    Service {
        prefix: "lambda",
        separator: ':',
        types: &[
            ("function", &[Word("function"), Name]),
            ("function", &[Word("function"), Name, Name]),
            (
                "event-source-mapping",
                &[Word("event-source-mapping"), Name],
            ),
            ("layer", &[Word("layer"), Name]),
        ],
    },
    Service {
        prefix: "iam",
        separator: '/',
        types: &[
            ("role", &[Word("role"), Path]),
            ("policy", &[Word("policy"), Path]),
            ("user", &[Word("user"), Path]),
        ],
    },
    Service {
        prefix: "cloudwatch",
        separator: ':',
        types: &[("alarm", &[Word("alarm"), Path])],
    },
];

/// The resource types an action can be scoped to; empty: only `*` (the action names no
/// resource type, e.g. dynamodb:ListStreams).
const ACTIONS: &[(&str, &[&str])] = &[
    ("dynamodb:BatchGetItem", &["table"]),
    ("dynamodb:BatchWriteItem", &["table"]),
    ("dynamodb:ConditionCheckItem", &["table"]),
    ("dynamodb:DeleteItem", &["table"]),
    ("dynamodb:DescribeStream", &["stream"]),
    ("dynamodb:DescribeTable", &["table"]),
    ("dynamodb:GetItem", &["table"]),
    ("dynamodb:GetRecords", &["stream"]),
    ("dynamodb:GetShardIterator", &["stream"]),
    ("dynamodb:ListStreams", &[]),
    ("dynamodb:ListTables", &[]),
    ("dynamodb:PutItem", &["table"]),
    ("dynamodb:Query", &["table", "index"]),
    ("dynamodb:Scan", &["table", "index"]),
    ("dynamodb:UpdateItem", &["table"]),
    ("logs:CreateLogGroup", &["log-group"]),
    ("logs:CreateLogStream", &["log-group"]),
    ("logs:PutLogEvents", &["log-stream"]),
    ("lambda:InvokeFunction", &["function"]),
    ("sns:Publish", &["topic"]),
    ("sqs:ChangeMessageVisibility", &["queue"]),
    ("sqs:DeleteMessage", &["queue"]),
    ("sqs:GetQueueAttributes", &["queue"]),
    ("sqs:GetQueueUrl", &["queue"]),
    ("sqs:ListQueues", &[]),
    ("sqs:ReceiveMessage", &["queue"]),
    ("sqs:SendMessage", &["queue"]),
];

/// The resource types `action` can be scoped to, when the table knows it (service
/// prefixes are lower case; action names are compared as IAM does, ignoring case).
pub fn action_resource_types(action: &str) -> Option<&'static [&'static str]> {
    let (service, name) = action.split_once(':')?;
    ACTIONS.iter().find_map(|(known, types)| {
        let (s, n) = known.split_once(':')?;
        (s == service && n.eq_ignore_ascii_case(name)).then_some(*types)
    })
}

/// An ARN's service and the resource types it can name, from the tables above. `None`
/// when it is not an ARN, its service is a wildcard or a service the tables do not hold;
/// `Some((service, []))` when it names none of the service's resource types. `*` alone is
/// every resource (`Some(("*", []))` is never returned for it: callers check `*` first).
pub fn resource_types(arn: &str) -> Option<(&'static str, Vec<&'static str>)> {
    let fields: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, _partition, service, _region, _account, resource] = fields[..] else {
        return None;
    };
    if prefix != "arn" {
        return None;
    }
    let known = SERVICES.iter().find(|s| s.prefix == service)?;
    let parts: Vec<&str> = resource.split(known.separator).collect();
    let mut types: Vec<&'static str> = known
        .types
        .iter()
        .filter(|(_, format)| may_name(&parts, format))
        .map(|(name, _)| *name)
        .collect();
    types.dedup();
    Some((known.prefix, types))
}

fn has_wildcard(s: &str) -> bool {
    s.contains('*') || s.contains('?')
}

/// Whether an ARN's resource parts (which may hold wildcards) can match a resource type's
/// format. A part with a wildcard may stand for several parts (IAM's `*` crosses
/// separators); `*` alone also for none.
fn may_name(parts: &[&str], format: &[Part]) -> bool {
    let Some((first, rest)) = parts.split_first() else {
        return format.is_empty();
    };
    if has_wildcard(first) {
        let fewest = usize::from(*first != "*");
        return (fewest..=format.len()).any(|taken| {
            let one_word_mismatch =
                taken == 1 && matches!(format[0], Word(w) if !WildMatch::new(first).matches(w));
            !one_word_mismatch && may_name(rest, &format[taken..])
        });
    }
    match format.split_first() {
        None => false,
        Some((Word(w), format_rest)) => first == w && may_name(rest, format_rest),
        Some((Name, format_rest)) => !first.is_empty() && may_name(rest, format_rest),
        Some((Path, format_rest)) => {
            !first.is_empty() && (may_name(rest, format) || may_name(rest, format_rest))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "arn:aws:dynamodb:us-east-1:123456789012";

    fn types(arn: &str) -> Vec<&'static str> {
        resource_types(arn).expect("a known service").1
    }

    #[test]
    fn dynamodb_arns_name_their_resource_type() {
        assert_eq!(types(&format!("{ACCOUNT}:table/messages")), ["table"]);
        assert_eq!(
            types(&format!("{ACCOUNT}:table/messages/index/by-group")),
            ["index"]
        );
        assert_eq!(
            types(&format!(
                "{ACCOUNT}:table/messages/stream/2026-12-01T00:00:00.000"
            )),
            ["stream"]
        );
        assert_eq!(
            types(&format!("{ACCOUNT}:table/messages/index/*")),
            ["index"]
        );
        // `*` crosses `/`: a table pattern ending in `*` also covers its indexes and
        // streams.
        assert_eq!(
            types(&format!("{ACCOUNT}:table/*")),
            ["table", "index", "stream", "backup", "export", "import"]
        );
        assert_eq!(
            types(&format!("{ACCOUNT}:table/messages*")),
            ["table", "index", "stream", "backup", "export", "import"]
        );
        assert_eq!(
            types(&format!("{ACCOUNT}:table/messages/nothing/x")),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn other_services_arns() {
        assert_eq!(
            types("arn:aws:sqs:us-east-1:123456789012:failures"),
            ["queue"]
        );
        assert_eq!(
            types("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/p"),
            ["log-group"]
        );
        // The usual form in a policy: the group and every stream in it.
        assert_eq!(
            types("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/p:*"),
            ["log-group", "log-stream"]
        );
        assert_eq!(
            types("arn:aws:iam::123456789012:role/service-role/processor"),
            ["role"]
        );
        assert_eq!(
            types("arn:aws:lambda:us-east-1:123456789012:function:p"),
            ["function"]
        );
        assert_eq!(resource_types("arn:aws:ec2:us-east-1:1:vpc/vpc-1"), None);
        assert_eq!(resource_types("not an arn"), None);
    }

    #[test]
    fn actions_are_found_ignoring_case_of_the_name() {
        assert_eq!(
            action_resource_types("dynamodb:query"),
            Some(&["table", "index"][..])
        );
        assert_eq!(action_resource_types("dynamodb:ListStreams"), Some(&[][..]));
        assert_eq!(action_resource_types("dynamodb:Teleport"), None);
        assert_eq!(action_resource_types("Dynamodb"), None);
    }
}
