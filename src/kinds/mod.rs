//! Resource kinds, one folder each, and the registry that lists them. A kind implements
//! [`Kind`], [`Changes`] and [`Live`] (`kind.rs`) and says its own facts once: its ARN's
//! format, whether the tagging API lists it, which kinds it uses. [`declared`] adapts any
//! kind to the engine; the [`kinds!`] line below registers it, and everything kept per kind
//! is derived from that line: the stack file's `type:`, a place for its observations, its
//! part in orphan discovery and in the order orphans are deleted, its schema and its
//! permissions. A new kind is one new folder and one line there.

pub mod alarm;
pub mod declared;
pub mod endpoint;
pub mod function;
pub mod kind;
pub mod queue;
pub mod role;
pub mod table;
pub mod tagged;
pub mod topic;
pub mod trigger;

pub use declared::{Keeps, Reading, Resource};
pub use kind::{Changes, Discovery, Held, Identity, Kind, Live, Needs, Observation, PlanCtx, Tags};

use crate::aws::Aws;
use crate::spec::diag::{Diags, SpecErrors};
use crate::spec::fields::ValidateCtx;
use crate::spec::template::Template;
use crate::values::DeploymentContext;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::LazyLock;

/// A declared resource of any kind, as the engine sees it.
pub type Node = dyn Resource<Observations>;

/// A loaded stack file: one environment's resources, in dependency order.
pub type Stack = crate::spec::Stack<Box<Node>>;

/// Loads the stack file at `path` for environment `env` (no AWS call).
pub fn load(path: &Path, env: &str) -> Result<Stack, SpecErrors> {
    crate::spec::load::<RawResource>(path, env)
}

/// Loads a stack file's text (for tests and tools that hold the text already).
pub fn load_text(file: &str, text: &str, env: &str, base_dir: &Path) -> Result<Stack, SpecErrors> {
    crate::spec::load_text::<RawResource>(file, text, env, base_dir)
}

/// Validates the stack file for every environment it declares.
pub fn validate_all(path: &Path) -> Result<crate::spec::Validated, SpecErrors> {
    crate::spec::validate_all::<RawResource>(path)
}

/// Declares the kinds the stack file may use: `<field>: <Variant> => <module>::<Kind>`.
macro_rules! kinds {
    ($( $field:ident : $variant:ident => $kind:ty ),* $(,)?) => {
        /// The raw form of any resource, read with `type` as its first key.
        #[derive(Debug)]
        pub enum RawResource {
            $( $variant(Box<<$kind as Kind>::Raw>), )*
        }

        /// Every `type:` the stack file accepts.
        pub const TYPES: &[&str] = &[$( <$kind as Kind>::TYPE ),*];

        /// Each kind with the kinds it uses.
        const USES: &[(&str, &[&str])] = &[$( (<$kind as Kind>::TYPE, <$kind as Kind>::USES) ),*];

        /// What observe found for every declared resource, kind by kind and by logical name.
        #[derive(Debug, Default)]
        pub struct Observations {
            $( pub $field: BTreeMap<String, Observation<$kind>>, )*
        }

        $(
            impl Keeps<$kind> for Observations {
                fn observations(&self) -> &BTreeMap<String, Observation<$kind>> {
                    &self.$field
                }
                fn observations_mut(&mut self) -> &mut BTreeMap<String, Observation<$kind>> {
                    &mut self.$field
                }
            }
        )*

        impl Observations {
            /// The live resource observed as `name`, whatever its kind (for tests that
            /// change who owns it).
            #[cfg(test)]
            pub fn live_mut(&mut self, name: &str) -> Option<&mut dyn Live> {
                $(
                    if let Some(seen) = self.$field.get_mut(name) {
                        return seen.live.as_mut().map(|l| l as &mut dyn Live);
                    }
                )*
                None
            }
        }

        /// What every kind's code calls, and where its orphans may be: the deployer's
        /// policy grants these (`cruddur-infra permissions`).
        pub fn all_needs(at: &DeploymentContext) -> Vec<KindNeeds> {
            vec![$(
                KindNeeds {
                    kind: <$kind as Kind>::TYPE,
                    needs: <$kind as Kind>::NEEDS.concat(),
                    anywhere: <$kind as Kind>::any_arns(at),
                },
            )*]
        }

        /// Every resource of every kind tagged as `owner`'s, all kinds at once, except
        /// those named in `declared` (by kind and physical name: read by their nodes);
        /// `deep`: through the whole account, not only where the stack's index points.
        pub async fn discover_tagged(
            aws: &Aws,
            owner: &str,
            declared: &BTreeSet<(&'static str, String)>,
            deep: bool,
        ) -> anyhow::Result<Vec<Box<dyn Live>>> {
            let skip = |kind: &str| -> BTreeSet<String> {
                declared
                    .iter()
                    .filter(|(k, _)| *k == kind)
                    .map(|(_, name)| name.clone())
                    .collect()
            };
            $( let $field = skip(<$kind as Kind>::TYPE); )*
            $( let $field = Discovery { owner, skip: &$field, deep }; )*
            let ($($field,)*) = tokio::try_join!($(
                <$kind as Kind>::discover(aws, &$field),
            )*)?;
            let mut found: Vec<Box<dyn Live>> = Vec::new();
            $( found.extend($field.into_iter().map(|l| Box::new(l) as Box<dyn Live>)); )*
            Ok(found)
        }

        impl RawResource {
            fn from_map<'de, A: serde::de::MapAccess<'de>>(
                type_name: &str,
                map: A,
            ) -> Result<Self, A::Error> {
                use serde::Deserialize;
                use serde::de::value::MapAccessDeserializer;
                $(
                    if type_name == <$kind as Kind>::TYPE {
                        return Ok(RawResource::$variant(Box::new(
                            <$kind as Kind>::Raw::deserialize(MapAccessDeserializer::new(map))?,
                        )));
                    }
                )*
                Err(serde::de::Error::unknown_variant(type_name, TYPES))
            }
        }

        /// A resource: one of the kinds, its `type` first.
        impl schemars::JsonSchema for RawResource {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                "Resource".into()
            }
            fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let kinds = vec![$( typed::<<$kind as Kind>::Raw>(generator, <$kind as Kind>::TYPE), )*];
                schemars::json_schema!({ "oneOf": kinds })
            }
        }

        impl crate::spec::Declaration for RawResource {
            type Resource = Box<Node>;

            fn build(
                self,
                cx: &ValidateCtx,
                base_tags: &BTreeMap<String, Template>,
                diags: &mut Diags,
            ) -> Option<Box<Node>> {
                match self {
                    $( RawResource::$variant(raw) => declared::build::<$kind, Observations>(*raw, cx, base_tags, diags), )*
                }
            }
        }
    };
}

kinds! {
    tables: DynamodbTable => table::Table,
    roles: IamRole => role::Role,
    endpoints: VpcGatewayEndpoint => endpoint::Endpoint,
    functions: LambdaFunction => function::Function,
    triggers: EventSourceMapping => trigger::Trigger,
    queues: SqsQueue => queue::Queue,
    alarms: CloudwatchAlarm => alarm::Alarm,
    topics: SnsTopic => topic::Topic,
}

/// When orphans of `kind` are deleted: in rounds, those of rank 0 first, all at once; a
/// kind's come before those of the kinds it uses (a trigger before its function, a
/// function before its role), so nothing is deleted while something of the stack still
/// uses it. Derived from the kinds' [`Kind::USES`].
pub fn deletion_rank(kind: &str) -> usize {
    static RANKS: LazyLock<BTreeMap<&str, usize>> = LazyLock::new(|| ranks(USES));
    RANKS.get(kind).copied().unwrap_or(0)
}

/// A kind's rank: 0 when no kind uses it, else one more than the highest rank among the
/// kinds that use it. The kinds' uses must not form a circle (a test checks it); if they
/// did, the kinds in it would share the rank they reached.
fn ranks(uses: &[(&'static str, &[&str])]) -> BTreeMap<&'static str, usize> {
    let mut rank: BTreeMap<&str, usize> = uses.iter().map(|(kind, _)| (*kind, 0)).collect();
    // Each pass pushes a used kind below its users; a longest chain needs one pass a kind.
    for _ in 0..uses.len() {
        for (user, used) in uses {
            let below = rank[user] + 1;
            for kind in used
                .iter()
                .filter_map(|u| uses.iter().find(|(k, _)| k == u))
            {
                let r = rank.get_mut(kind.0).expect("every kind has a rank");
                *r = (*r).max(below).min(uses.len());
            }
        }
    }
    rank
}

/// One kind's part in the deployer's policy (see [`all_needs`]).
#[derive(Debug)]
pub struct KindNeeds {
    pub kind: &'static str,
    pub needs: Vec<crate::aws::needs::Need>,
    /// Patterns matching every resource of the kind, by resource type.
    pub anywhere: Vec<(&'static str, String)>,
}

/// The schema of a kind's raw form with its `type` added: required, and this kind's name.
fn typed<R: schemars::JsonSchema>(
    generator: &mut schemars::SchemaGenerator,
    type_name: &str,
) -> schemars::Schema {
    let mut schema = R::json_schema(generator);
    if let Some(properties) = schema
        .get_mut("properties")
        .and_then(serde_json::Value::as_object_mut)
    {
        properties.insert(
            "type".into(),
            serde_json::json!({ "const": type_name, "description": "The kind of resource." }),
        );
    }
    let required = schema
        .ensure_object()
        .entry("required")
        .or_insert_with(|| serde_json::json!([]));
    if let Some(list) = required.as_array_mut() {
        list.insert(0, serde_json::json!("type"));
    }
    schema
}

/// The JSON Schema of the stack file, from the same types the loader reads it with.
pub fn stack_schema() -> schemars::Schema {
    schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<crate::spec::raw::RawFile<RawResource>>()
}

/// A resource is a mapping whose first key is `type`; the rest is read as that kind's
/// fields without buffering, so every error keeps its line and column.
impl<'de> serde::Deserialize<'de> for RawResource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ResourceVisitor;
        impl<'de> serde::de::Visitor<'de> for ResourceVisitor {
            type Value = RawResource;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(
                    f,
                    "a resource: a mapping starting with `type: <{}>`",
                    TYPES.join("|")
                )
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawResource, A::Error> {
                match map.next_key::<String>()?.as_deref() {
                    Some("type") => {}
                    Some(other) => {
                        return Err(serde::de::Error::custom(format!(
                            "`type` must be the first key of a resource (found `{other}` first)"
                        )));
                    }
                    None => return Err(serde::de::Error::missing_field("type")),
                }
                let type_name: String = map.next_value()?;
                RawResource::from_map(&type_name, map)
            }
        }
        d.deserialize_map(ResourceVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the ranks do not put a kind's orphans before those of a kind it uses.
    fn misordered(uses: &[(&'static str, &[&str])]) -> Vec<String> {
        let ranks = ranks(uses);
        let mut wrong = Vec::new();
        for (kind, used) in uses {
            for u in used.iter().filter(|u| ranks.contains_key(*u)) {
                if ranks[kind] >= ranks[u] {
                    wrong.push(format!("{kind} ({}) uses {u} ({})", ranks[kind], ranks[u]));
                }
            }
        }
        wrong
    }

    #[test]
    fn every_kind_uses_only_registered_kinds_and_none_in_a_circle() {
        for (kind, used) in USES {
            for u in *used {
                assert!(TYPES.contains(u), "{kind} uses `{u}`, which is no kind");
            }
        }
        assert_eq!(misordered(USES), Vec::<String>::new());
    }

    #[test]
    fn orphans_are_deleted_users_first() {
        let order = |kind| deletion_rank(kind);
        assert!(order("event_source_mapping") < order("lambda_function"));
        assert!(order("cloudwatch_alarm") < order("lambda_function"));
        assert!(order("lambda_function") < order("iam_role"));
        assert!(order("iam_role") < order("dynamodb_table"));
        assert!(order("event_source_mapping") < order("sqs_queue"));
        // Kinds nobody uses go in the first round, together.
        assert_eq!(order("event_source_mapping"), 0);
        assert_eq!(order("cloudwatch_alarm"), 0);
    }

    #[test]
    fn a_circle_of_uses_cannot_be_ordered_and_is_said() {
        let circle: &[(&str, &[&str])] = &[("a", &["b"]), ("b", &["c"]), ("c", &["a"])];
        assert!(!misordered(circle).is_empty());
        let chain: &[(&str, &[&str])] = &[("a", &["b"]), ("b", &["c"]), ("c", &[])];
        assert_eq!(misordered(chain), Vec::<String>::new());
        assert_eq!(ranks(chain)["c"], 2);
    }
}
