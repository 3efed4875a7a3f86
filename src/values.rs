//! Values every layer shares: a resource's attributes, the placeholder for a value only
//! known after apply, the account a stack deploys to, and the one way values are shown to
//! people (plans, drift reports, Markdown).

use serde_json::Value;
use std::collections::BTreeMap;

/// A resource's attributes others can reference (`${messages.arn}`); `None` = only known
/// after apply.
pub type Attributes = BTreeMap<&'static str, Option<String>>;

/// Stands in for a value that only exists after apply (an attribute of a resource that is
/// still to be created). NUL bytes cannot occur in any AWS name or tag, so it never collides
/// with a real value.
pub const UNKNOWN: &str = "\u{0}(known after apply)\u{0}";

/// How the ARNs of one kind of resource are written, said once: they are built from a
/// name, read back to it and exemplified from this (`arn:<partition>:<service>:<region>:
/// <account>:<prefix><name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArnFormat {
    pub service: &'static str,
    /// The resource type IAM knows it by (`table`, `queue`): what policies scope.
    pub resource_type: &'static str,
    /// What stands before the name: `table/`, `function:`, nothing for a queue.
    pub prefix: &'static str,
    /// Whether the ARN names the region (IAM's do not).
    pub regional: bool,
    /// Whether a path may stand between the prefix and the name (IAM's `role/<path>/name`).
    pub pathed: bool,
}

impl ArnFormat {
    /// A regional resource's ARN format.
    pub const fn regional(
        service: &'static str,
        resource_type: &'static str,
        prefix: &'static str,
    ) -> ArnFormat {
        ArnFormat {
            service,
            resource_type,
            prefix,
            regional: true,
            pathed: false,
        }
    }

    /// A global resource's, under a path (IAM's).
    pub const fn global_pathed(
        service: &'static str,
        resource_type: &'static str,
        prefix: &'static str,
    ) -> ArnFormat {
        ArnFormat {
            regional: false,
            pathed: true,
            ..ArnFormat::regional(service, resource_type, prefix)
        }
    }

    /// The ARN of `name` (with its path, if any, before it: `service-role/name`) in
    /// `at`; `*` makes the pattern of every one.
    pub fn of(&self, at: &DeploymentContext, name: &str) -> String {
        at.arn(
            self.service,
            self.regional,
            &format!("{}{name}", self.prefix),
        )
    }

    /// The name an ARN of this format gives (a role's without its path); `None` when the
    /// ARN is not of this format.
    pub fn name_in<'a>(&self, arn: &'a str) -> Option<&'a str> {
        let fields: Vec<&str> = arn.splitn(6, ':').collect();
        let ["arn", _partition, service, _region, _account, resource] = fields[..] else {
            return None;
        };
        let name = resource
            .strip_prefix(self.prefix)
            .filter(|_| service == self.service)?;
        Some(match self.pathed {
            true => name.rsplit('/').next().unwrap_or(name),
            false => name,
        })
    }

    /// An example, as AWS would give it: what load-time checks judge references by.
    pub fn sample(&self) -> String {
        self.of(&DeploymentContext::example(), "sample")
    }
}

/// How an unknown value (or the unknown part of one) reads.
pub const UNKNOWN_TEXT: &str = "(known after apply)";

/// Whether `s` is unknown, in whole or in part (`arn:…/stream/` + an unknown suffix).
pub fn is_unknown(s: &str) -> bool {
    s.contains(UNKNOWN)
}

/// How a value that is not there (a field not set, a tag removed) reads.
pub const NONE_TEXT: &str = "(none)";

/// Where a stack is deployed: `${aws.account_id}`, `${aws.region}`, `${aws.partition}`,
/// read from the live account (STS), so no account id or region is written in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentContext {
    pub account_id: String,
    pub region: String,
    pub partition: String,
}

impl DeploymentContext {
    /// The name references use: `${aws.region}`.
    pub const NAME: &'static str = "aws";
    /// What `${aws.<attribute>}` may name.
    pub const ATTRIBUTES: &'static [&'static str] = &["account_id", "region", "partition"];

    /// The ARN of `resource` of `service` in this account; `regional` services (DynamoDB,
    /// Lambda, Logs) name the region, global ones (IAM) do not.
    pub fn arn(&self, service: &str, regional: bool, resource: &str) -> String {
        let region = if regional { self.region.as_str() } else { "" };
        format!(
            "arn:{}:{service}:{region}:{}:{resource}",
            self.partition, self.account_id
        )
    }

    /// The account and region examples and tests use: ARNs in the form AWS gives them.
    pub fn example() -> DeploymentContext {
        DeploymentContext {
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
            partition: "aws".into(),
        }
    }

    pub fn attributes(&self) -> Attributes {
        Attributes::from([
            ("account_id", Some(self.account_id.clone())),
            ("region", Some(self.region.clone())),
            ("partition", Some(self.partition.clone())),
        ])
    }
}

/// A value as people read it, the same in plans, drift reports and Markdown: compact JSON
/// (so `"5"` and `5`, or an empty string, stay distinguishable), nothing as [`NONE_TEXT`],
/// an unknown value as [`UNKNOWN_TEXT`].
pub fn show(value: &Value) -> String {
    match value {
        Value::Null => NONE_TEXT.into(),
        Value::String(s) if s == UNKNOWN => UNKNOWN_TEXT.into(),
        Value::String(s) => Value::String(s.replace(UNKNOWN, UNKNOWN_TEXT)).to_string(),
        Value::Array(items) => {
            format!("[{}]", items.iter().map(show).collect::<Vec<_>>().join(","))
        }
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), show(v)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_read_one_way() {
        assert_eq!(show(&Value::Null), "(none)");
        assert_eq!(show(&json!("PAY_PER_REQUEST")), r#""PAY_PER_REQUEST""#);
        assert_eq!(show(&json!("")), r#""""#);
        assert_eq!(show(&json!(UNKNOWN)), "(known after apply)");
        let partial = format!("arn:aws:dynamodb:us-east-1:1:table/t/stream/{UNKNOWN}");
        assert_eq!(
            show(&json!(partial)),
            r#""arn:aws:dynamodb:us-east-1:1:table/t/stream/(known after apply)""#
        );
        assert!(is_unknown(&partial) && !is_unknown("arn:aws:iam::1:role/r"));
        assert_eq!(show(&json!(5)), "5");
        assert_eq!(show(&json!({"a": ["b"]})), r#"{"a":["b"]}"#);
    }

    #[test]
    fn the_context_offers_what_references_may_name() {
        let context = DeploymentContext::example();
        let names: Vec<&str> = context.attributes().keys().copied().collect();
        let mut expected = DeploymentContext::ATTRIBUTES.to_vec();
        expected.sort();
        assert_eq!(names, expected);
    }

    #[test]
    fn an_arn_format_builds_reads_back_and_exemplifies() {
        let at = DeploymentContext::example();
        let queue = ArnFormat::regional("sqs", "queue", "");
        assert_eq!(
            queue.of(&at, "failures"),
            "arn:aws:sqs:us-east-1:123456789012:failures"
        );
        assert_eq!(queue.name_in(&queue.of(&at, "failures")), Some("failures"));
        assert_eq!(queue.sample(), "arn:aws:sqs:us-east-1:123456789012:sample");
        let role = ArnFormat::global_pathed("iam", "role", "role/");
        let arn = role.of(&at, "service-role/processor");
        assert_eq!(arn, "arn:aws:iam::123456789012:role/service-role/processor");
        assert_eq!(role.name_in(&arn), Some("processor"));
        let alarm = ArnFormat::regional("cloudwatch", "alarm", "alarm:");
        assert_eq!(
            alarm.name_in("arn:aws:cloudwatch:us-east-1:1:alarm:a:b"),
            Some("a:b")
        );
        // Another service's, another type's, or no ARN at all.
        assert_eq!(queue.name_in("arn:aws:sns:us-east-1:1:failures"), None);
        assert_eq!(
            alarm.name_in("arn:aws:cloudwatch:us-east-1:1:dashboard:a"),
            None
        );
        assert_eq!(queue.name_in("failures"), None);
    }
}
