//! The stack file as written: serde types that keep every value's position, so validation
//! can point at the exact place. Nothing here checks meaning; `spec::load` does that. The
//! same types describe the file as a JSON Schema (`cruddur-infra schema`).

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_saphyr::Location;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// A value of the stack file with where it was written (serde-saphyr's `Spanned`, which
/// captures the position, kept in a type of ours so the schema can see through it).
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    pub value: T,
    /// Where the value is written (for an alias, where the alias is).
    pub referenced: Location,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<T>::deserialize(d)?;
        Ok(Spanned {
            value: spanned.value,
            referenced: spanned.referenced,
        })
    }
}

/// A position is not part of the file's shape: the schema is `T`'s.
impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// A cruddur-infra stack file: the resources of one stack, and the environments it is
/// deployed to. docs/stack-file.md documents every field.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, bound = "R: Deserialize<'de>")]
#[schemars(title = "cruddur-infra stack file")]
pub struct RawFile<R> {
    /// The stack's name: 1-64 lower-case letters, digits and dashes. Ownership tags say
    /// `<stack>/<environment>`.
    pub stack: Spanned<String>,
    /// Where the stack is deployed, by name (`prod`) or prefix pattern (`pr-*`).
    #[serde(default)]
    pub environments: Option<SpannedMap<Spanned<RawEnvironment>>>,
    /// Tags on every resource (up to 47; values may reference other resources).
    #[serde(default)]
    pub tags: Option<SpannedMap<Spanned<String>>>,
    /// The resources, by logical name (lower-case letters, digits and `_`); each starts
    /// with its `type`.
    pub resources: Spanned<SpannedMap<Spanned<R>>>,
}

/// One entry of `environments:`; the key is a name (`prod`) or a prefix pattern (`pr-*`).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Environment")]
pub struct RawEnvironment {
    /// The AWS region, e.g. `us-east-1` (else the usual AWS configuration decides).
    #[serde(default)]
    pub region: Option<Spanned<String>>,
    /// The AWS profile to use.
    #[serde(default)]
    pub profile: Option<Spanned<String>>,
    /// Send every request here (an http(s) URL).
    #[serde(default)]
    pub endpoint_url: Option<Spanned<String>>,
    /// The URL of a local AWS emulator (loopback only). Implies test credentials, so real
    /// credentials are never sent to it.
    #[serde(default)]
    pub emulator: Option<Spanned<String>>,
    /// Tags on every resource in this environment.
    #[serde(default)]
    pub tags: Option<SpannedMap<Spanned<String>>>,
}

/// A YAML mapping with string keys, kept in file order, with each key's position.
/// (Duplicate keys are already rejected by the parser.)
#[derive(Debug)]
pub struct SpannedMap<V>(pub Vec<(Spanned<String>, V)>);

impl<V> Default for SpannedMap<V> {
    fn default() -> Self {
        SpannedMap(Vec::new())
    }
}

impl<V> SpannedMap<V> {
    pub fn iter(&self) -> impl Iterator<Item = (&Spanned<String>, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k.value == key).map(|(_, v)| v)
    }

    pub fn remove(&mut self, key: &str) -> Option<V> {
        let i = self.0.iter().position(|(k, _)| k.value == key)?;
        Some(self.0.remove(i).1)
    }
}

/// A mapping from names to `V`s.
impl<V: JsonSchema> JsonSchema for SpannedMap<V> {
    fn schema_name() -> Cow<'static, str> {
        format!("Map_of_{}", V::schema_name()).into()
    }
    fn schema_id() -> Cow<'static, str> {
        format!("cruddur_infra::SpannedMap<{}>", V::schema_id()).into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "additionalProperties": generator.subschema_for::<V>(),
        })
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for SpannedMap<V> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = SpannedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    // Leave the key on the breadcrumb trail while its value is read; an
                    // error aborts the read and so leaves the trail pointing at it.
                    ERROR_KEYS.with(|keys| keys.borrow_mut().push(key.value.clone()));
                    let value = map.next_value()?;
                    ERROR_KEYS.with(|keys| keys.borrow_mut().pop());
                    entries.push((key, value));
                }
                Ok(SpannedMap(entries))
            }
        }
        d.deserialize_map(MapVisitor(PhantomData))
    }
}

thread_local! {
    /// Keys of the [`SpannedMap`] entries being read, outermost first. serde_path_to_error
    /// cannot see these keys (they are read with their positions, which it does not know
    /// how to capture) and writes `?` in their place; the loader fills them in from here.
    static ERROR_KEYS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Forgets the keys of an earlier read (call before parsing).
pub fn reset_error_keys() {
    ERROR_KEYS.with(|keys| keys.borrow_mut().clear());
}

/// The keys of the map entries whose reading failed, outermost first.
pub fn error_keys() -> Vec<String> {
    ERROR_KEYS.with(|keys| keys.borrow().clone())
}

/// What every resource kind's raw form offers the loader: tags, environment overrides and
/// explicit dependencies. Implemented by [`raw_resource!`].
pub trait RawBody: Sized {
    /// Replaces each field that `patch` sets (lists and maps are replaced whole).
    fn overlay(self, patch: Self) -> Self;
    fn take_overrides(&mut self) -> Option<SpannedMap<Spanned<Self>>>;
    fn take_tags(&mut self) -> Option<SpannedMap<Spanned<String>>>;
    fn depends_on(&self) -> Option<&Spanned<Vec<Spanned<String>>>>;
}

/// Reads a field that may be written as `null`: absent stays `None` (through
/// `#[serde(default)]`), `null` becomes `Some(None)`, so an override can unset a field.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Declares a resource kind's raw form: every field optional (an environment override sets
/// only some, and `null` in an override unsets one), unknown fields rejected, plus the
/// `tags`, `depends_on` and `overrides` every kind has. Each field is read through a method
/// of the same name.
macro_rules! raw_resource {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty, )*
        }
    ) => {
        #[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
        #[serde(deny_unknown_fields)]
        $(#[$meta])*
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(default, deserialize_with = "crate::spec::raw::nullable")]
                $field: Option<Option<$ty>>,
            )*
            /// Tags of this resource (after the stack's and the environment's).
            #[serde(default)]
            pub tags: Option<$crate::spec::raw::SpannedMap<$crate::spec::raw::Spanned<String>>>,
            /// Logical names of resources to make first, besides those it references.
            #[serde(default)]
            pub depends_on: Option<$crate::spec::raw::Spanned<Vec<$crate::spec::raw::Spanned<String>>>>,
            /// Fields that differ per environment, by environment key.
            #[serde(default)]
            pub overrides:
                Option<$crate::spec::raw::SpannedMap<$crate::spec::raw::Spanned<$name>>>,
        }

        #[allow(dead_code)]
        impl $name {
            $(
                fn $field(&self) -> Option<&$ty> {
                    self.$field.as_ref().and_then(Option::as_ref)
                }
            )*
        }

        impl $crate::spec::raw::RawBody for $name {
            fn overlay(mut self, patch: Self) -> Self {
                $( if patch.$field.is_some() { self.$field = patch.$field; } )*
                if patch.tags.is_some() {
                    self.tags = patch.tags;
                }
                self
            }
            fn take_overrides(
                &mut self,
            ) -> Option<$crate::spec::raw::SpannedMap<$crate::spec::raw::Spanned<Self>>> {
                self.overrides.take()
            }
            fn take_tags(
                &mut self,
            ) -> Option<$crate::spec::raw::SpannedMap<$crate::spec::raw::Spanned<String>>> {
                self.tags.take()
            }
            fn depends_on(
                &self,
            ) -> Option<&$crate::spec::raw::Spanned<Vec<$crate::spec::raw::Spanned<String>>>> {
                self.depends_on.as_ref()
            }
        }
    };
}
pub(crate) use raw_resource;
