//! What loading produces: a [`Stack`] of validated resources, and the two traits through
//! which the loader works with resource kinds it does not know ([`Declaration`] and
//! [`Resource`]).

use crate::spec::arn::ArnField;
use crate::spec::diag::Diags;
use crate::spec::environment::Environment;
use crate::spec::fields::ValidateCtx;
use crate::spec::policy::StatementSpec;
use crate::spec::template::Template;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// A declared resource, as far as loading is concerned: its names, what it references,
/// and which attributes others may reference.
pub trait Resource {
    /// The logical name (the key under `resources:`).
    fn name(&self) -> &str;
    /// Its `type:`.
    fn kind(&self) -> &'static str;
    /// Logical names it depends on (references and `depends_on`).
    fn dependencies(&self) -> &BTreeSet<String>;
    /// Every reference-capable string, tags included.
    fn templates(&self) -> Vec<&Template>;
    /// Refuses references to attributes it will not have (e.g. a stream ARN without a
    /// stream).
    fn check_attribute(&self, attribute: &str) -> Result<(), String>;
    /// An example of `attribute`'s value when it is an ARN (see `arn_checks`).
    fn sample_arn(&self, _attribute: &str) -> Option<String> {
        None
    }
    /// Its policy statements, for the scoping lint.
    fn policies(&self) -> Vec<&StatementSpec> {
        Vec::new()
    }
    /// Its fields that take one kind of ARN.
    fn arn_fields(&self) -> Vec<ArnField<'_>> {
        Vec::new()
    }
}

impl<T: Resource + ?Sized> Resource for Box<T> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn kind(&self) -> &'static str {
        (**self).kind()
    }
    fn dependencies(&self) -> &BTreeSet<String> {
        (**self).dependencies()
    }
    fn templates(&self) -> Vec<&Template> {
        (**self).templates()
    }
    fn check_attribute(&self, attribute: &str) -> Result<(), String> {
        (**self).check_attribute(attribute)
    }
    fn sample_arn(&self, attribute: &str) -> Option<String> {
        (**self).sample_arn(attribute)
    }
    fn policies(&self) -> Vec<&StatementSpec> {
        (**self).policies()
    }
    fn arn_fields(&self) -> Vec<ArnField<'_>> {
        (**self).arn_fields()
    }
}

/// A resource as written in the stack file, of any kind the loader knows: read from YAML
/// (its `type:` first), then built into a validated [`Resource`].
pub trait Declaration: for<'de> Deserialize<'de> {
    type Resource: Resource;
    /// Validates it, reporting every problem; `None` when there were errors. `base_tags`
    /// are the stack's and the environment's tags.
    fn build(
        self,
        cx: &ValidateCtx,
        base_tags: &BTreeMap<String, Template>,
        diags: &mut Diags,
    ) -> Option<Self::Resource>;
}

/// A loaded stack: one environment's view of the file.
pub struct Stack<R> {
    pub file: String,
    pub name: String,
    pub env: Environment,
    /// Resources in dependency order: each after everything it references.
    pub nodes: Vec<R>,
    /// Rendered warnings (wildcards in policies, ...); empty when there are none.
    pub warnings: String,
}

/// What `validate_all` checked, and what it would warn about.
pub struct Validated {
    pub environments: Vec<String>,
    pub warnings: String,
}

impl<R> Stack<R> {
    /// The value of the ownership tag for this stack and environment.
    pub fn owner(&self) -> String {
        format!("{}/{}", self.name, self.env.name)
    }
}
