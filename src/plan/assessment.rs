//! One declared resource as planning sees it before anything is decided: what the file
//! asks for, what AWS has, and what its kind says about the difference. The kind adapter
//! (`kinds::declared`) gathers it; the engine's decision (`engine::decide`) turns it into
//! a [`ResourceChange`](super::ResourceChange), the same way for every kind.

use super::diff::FieldChange;
use crate::values::Attributes;
use serde_json::Value;

#[derive(Debug, Clone, Default)]
pub struct Assessment {
    pub name: String,
    pub kind: &'static str,
    /// The AWS name or id it has, or will have once made.
    pub physical_id: String,
    /// Replacing one loses nothing the file does not recreate (no --allow-replace needed).
    pub safe_to_replace: bool,
    /// Whether observe read it: if not, nothing is known about it and nothing is done.
    pub observed: bool,
    /// The resource AWS has, if any.
    pub existing: Option<Existing>,
    /// What the file asks for; `None` when destroying.
    pub wanted: Option<Wanted>,
}

/// A resource as AWS holds it, as far as the decision cares.
#[derive(Debug, Clone, Default)]
pub struct Existing {
    /// Its `cruddur-infra:stack` tag (`<stack>/<env>`): whose it is; `None`: nobody's.
    pub owner: Option<String>,
    /// Its comparable state.
    pub state: Value,
    /// Its attributes now.
    pub attributes: Attributes,
    /// What deleting it loses (a table's items), if anything.
    pub deletion_warning: Option<String>,
    /// Why deleting it would fail now (deletion protection), if it would.
    pub deletion_blocker: Option<String>,
    /// What plan should say about it that is no difference to fix.
    pub warnings: Vec<String>,
}

/// What the file asks for, and how it differs from the existing resource.
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    /// The desired comparable state, references rendered (or unknown).
    pub state: Value,
    /// Its attributes once made (or made anew).
    pub planned_attributes: Attributes,
    /// What AWS would refuse in it, if anything.
    pub refused: Option<String>,
    /// Field by field from the existing resource, each marked by its kind when it forces
    /// a replacement, and noted.
    pub changes: Vec<FieldChange>,
    /// Why it cannot be reached in place (one per kind of field that forces it).
    pub replacement_reasons: Vec<String>,
    /// Why an in-place update cannot be made in this apply, if it cannot.
    pub update_blocker: Option<String>,
    /// The attributes after an in-place update.
    pub attributes_after_update: Attributes,
}
