//! The decision table, row by row: who owns the resource, what the file asks, the flags,
//! and what is decided. Each row is an [`Assessment`] made by hand (no kind, no stack),
//! so a rule that changes shows here as one row that no longer holds.

use super::decide;
use crate::plan::{
    Action, Assessment, Existing, FieldChange, Path, ResourceChange, Segment, Wanted,
};
use serde_json::json;

const OURS: &str = "shop/dev";

/// One row's situation.
#[derive(Clone, Copy, Default)]
struct Case {
    /// `None`: it does not exist; `Some(None)`: it exists untagged; `Some(Some(owner))`.
    exists: Option<Option<&'static str>>,
    /// The file differs from it in one field.
    differs: bool,
    /// That field cannot change in place.
    replaces: bool,
    /// Its kind loses nothing when replaced (a mapping).
    safe_to_replace: bool,
    /// Deletion protection is on.
    protected: bool,
    /// Items would be lost by deleting it.
    at_risk: bool,
    /// An in-place update cannot be made in this apply (a second TTL change).
    update_blocked: bool,
    /// AWS would refuse what the file asks (a policy too large once rendered).
    refused: bool,
    unread: bool,
    adopt: bool,
    /// `--replace` names it.
    forced: bool,
    allow_replace: bool,
    allow_data_loss: bool,
}

impl Case {
    /// A resource that exists, owned as `exists` says (see the constants below).
    fn exists(exists: Option<Option<&'static str>>) -> Case {
        Case {
            exists,
            ..Case::default()
        }
    }

    /// The same situation with the named flags set, e.g. `"differs replaces"`.
    fn with(mut self, flags: &str) -> Case {
        for flag in flags.split_whitespace() {
            let set = match flag {
                "differs" => &mut self.differs,
                "replaces" => &mut self.replaces,
                "safe_to_replace" => &mut self.safe_to_replace,
                "protected" => &mut self.protected,
                "at_risk" => &mut self.at_risk,
                "update_blocked" => &mut self.update_blocked,
                "refused" => &mut self.refused,
                "unread" => &mut self.unread,
                "adopt" => &mut self.adopt,
                "forced" => &mut self.forced,
                "allow_replace" => &mut self.allow_replace,
                "allow_data_loss" => &mut self.allow_data_loss,
                other => panic!("no flag `{other}` in a Case"),
            };
            *set = true;
        }
        self
    }
}

fn assessment(case: Case, destroying: bool) -> Assessment {
    let change = FieldChange {
        path: Path(vec![Segment::Key("key".into())]),
        before: json!("pk"),
        after: json!("id"),
        forces_replacement: case.replaces,
        note: None,
    };
    Assessment {
        name: "messages".into(),
        kind: "dynamodb_table",
        physical_id: "cruddur-messages".into(),
        safe_to_replace: case.safe_to_replace,
        observed: !case.unread,
        existing: case.exists.map(|owner| Existing {
            owner: owner.map(str::to_string),
            state: json!({ "key": "pk" }),
            deletion_warning: Some("its 3 items are deleted with it".into()),
            deletion_blocker: case.protected.then(|| "deletion protection is on".into()),
            ..Existing::default()
        }),
        wanted: (!destroying).then(|| Wanted {
            state: json!({ "key": if case.differs { "id" } else { "pk" } }),
            refused: case.refused.then(|| "its policy is too large".into()),
            changes: case.differs.then_some(change).into_iter().collect(),
            replacement_reasons: (case.differs && case.replaces)
                .then(|| "the key schema changes".into())
                .into_iter()
                .collect(),
            update_blocker: case.update_blocked.then(|| "TTL is still changing".into()),
            ..Wanted::default()
        }),
    }
}

/// What the rules decide, as the plan shows it: the action, then `refused` (apply stops
/// for want of --allow-replace) and `blocked: …` where they apply.
fn outcome(change: &ResourceChange, case: Case) -> String {
    let mut out = format!("{:?}", change.action);
    if decide::refuses_replacement(change, case.allow_replace) {
        out.push_str(", refused without --allow-replace");
    }
    if let Some(blocked) = &change.blocked {
        out.push_str(&format!(", blocked: {blocked}"));
    }
    out
}

fn apply(case: Case) -> (String, ResourceChange) {
    let (mut change, _) = decide::apply(assessment(case, false), OURS, case.adopt, case.forced);
    guard(&mut change, case, "apply");
    (outcome(&change, case), change)
}

fn destroy(case: Case) -> (String, ResourceChange) {
    let mut change = decide::destroy(&assessment(case, true), OURS);
    guard(&mut change, case, "destroy");
    (outcome(&change, case), change)
}

fn guard(change: &mut ResourceChange, case: Case, command: &str) {
    if change.action == Action::Delete {
        let at_risk = case.at_risk.then(|| "the table holds 3 items".to_string());
        decide::guard_deletion(change, at_risk.as_ref(), case.allow_data_loss, command);
    }
}

const OURS_: Option<Option<&str>> = Some(Some(OURS));
const UNTAGGED: Option<Option<&str>> = Some(None);
const ANOTHER_STACK: Option<Option<&str>> = Some(Some("billing/dev"));
const ANOTHER_ENV: Option<Option<&str>> = Some(Some("shop/prod"));

#[test]
fn apply_decides_by_owner_then_by_difference() {
    let rows: &[(&str, Case, &str)] = &[
        ("missing", Case::default(), "Create"),
        ("ours, the same", Case::exists(OURS_), "NoOp"),
        (
            "ours, different",
            Case::exists(OURS_).with("differs"),
            "Update",
        ),
        ("untagged", Case::exists(UNTAGGED), "Conflict"),
        (
            "untagged, --adopt",
            Case::exists(UNTAGGED).with("adopt"),
            "Adopt",
        ),
        (
            "untagged, different, --adopt",
            Case::exists(UNTAGGED).with("adopt differs"),
            "Adopt",
        ),
        ("another stack's", Case::exists(ANOTHER_STACK), "Conflict"),
        (
            "another stack's, --adopt",
            Case::exists(ANOTHER_STACK).with("adopt"),
            "Conflict",
        ),
        (
            "another environment's",
            Case::exists(ANOTHER_ENV),
            "Conflict",
        ),
        (
            "ours, replaced",
            Case::exists(OURS_).with("differs replaces"),
            "Replace, refused without --allow-replace",
        ),
        (
            "ours, replaced, --allow-replace",
            Case::exists(OURS_).with("differs replaces allow_replace"),
            "Replace",
        ),
        (
            "ours, replaced, loses nothing",
            Case::exists(OURS_).with("differs replaces safe_to_replace"),
            "Replace",
        ),
        (
            "ours, replaced, protected",
            Case::exists(OURS_).with("differs replaces protected allow_replace"),
            "Replace, blocked: deletion protection is on",
        ),
        (
            "untagged, replaced, --adopt --allow-replace",
            Case::exists(UNTAGGED).with("differs replaces adopt allow_replace"),
            "Replace, blocked: it was not created by cruddur-infra and adopting it would mean \
             deleting it; cruddur-infra never deletes what it does not own. Change the file so \
             it matches the resource's key, adopt it, then change it",
        ),
        (
            "ours, different, cannot now",
            Case::exists(OURS_).with("differs update_blocked"),
            "Update, blocked: TTL is still changing",
        ),
        (
            "ours, different, refused by AWS",
            Case::exists(OURS_).with("differs update_blocked refused"),
            "Update, blocked: its policy is too large",
        ),
        (
            "missing, refused by AWS",
            Case::default().with("refused"),
            "Create, blocked: its policy is too large",
        ),
        ("not read", Case::exists(OURS_).with("unread"), "Conflict"),
    ];
    for (situation, case, expected) in rows {
        assert_eq!(apply(*case).0, *expected, "{situation}");
    }
}

#[test]
fn destroy_deletes_only_what_is_ours_and_guards_what_is_lost() {
    let rows: &[(&str, Case, &str)] = &[
        ("missing", Case::default(), "NoOp"),
        ("ours", Case::exists(OURS_), "Delete"),
        ("untagged", Case::exists(UNTAGGED), "NoOp"),
        ("another stack's", Case::exists(ANOTHER_STACK), "NoOp"),
        ("another environment's", Case::exists(ANOTHER_ENV), "NoOp"),
        (
            "ours, protected",
            Case::exists(OURS_).with("protected"),
            "Delete, blocked: deletion protection is on; destroy --allow-data-loss deletes it anyway",
        ),
        (
            "ours, data at risk",
            Case::exists(OURS_).with("at_risk"),
            "Delete, blocked: the table holds 3 items; destroy --allow-data-loss deletes it anyway",
        ),
        (
            "ours, data at risk, --allow-data-loss",
            Case::exists(OURS_).with("at_risk allow_data_loss"),
            "Delete",
        ),
        ("not read", Case::exists(OURS_).with("unread"), "Conflict"),
    ];
    for (situation, case, expected) in rows {
        assert_eq!(destroy(*case).0, *expected, "{situation}");
    }
}

#[test]
fn each_decision_says_why() {
    let reasons = |(_, change): (String, ResourceChange)| change.reasons.join(" | ");
    assert_eq!(
        reasons(apply(Case::exists(ANOTHER_ENV))),
        "it exists and belongs to stack/environment `shop/prod`; it is left alone (remove its \
         `cruddur-infra:stack` tag in AWS to release it)"
    );
    assert_eq!(
        reasons(apply(Case::exists(UNTAGGED))),
        "it exists but was not created by cruddur-infra (no ownership tags); it is left alone \
         unless you run apply with --adopt to take it over"
    );
    // A replacement says why, then what it loses.
    assert_eq!(
        reasons(apply(Case::exists(OURS_).with("differs replaces"))),
        "the key schema changes | its 3 items are deleted with it"
    );
    assert_eq!(
        reasons(destroy(Case::exists(ANOTHER_STACK))),
        "belongs to `billing/dev`, not to this stack: left alone"
    );
    assert_eq!(
        reasons(destroy(Case::exists(UNTAGGED))),
        "not created by cruddur-infra (no ownership tags): left alone"
    );
    assert_eq!(
        reasons(destroy(Case::exists(OURS_).with("at_risk allow_data_loss"))),
        "its 3 items are deleted with it | the table holds 3 items (allowed by --allow-data-loss)"
    );
    assert_eq!(
        reasons(apply(Case::default().with("unread"))),
        "it was not read from AWS, so nothing is known about it; run plan again"
    );
}

#[test]
fn a_conflict_keeps_what_exists_and_a_create_what_is_planned() {
    let case = Case::exists(ANOTHER_STACK);
    let mut assessment = assessment(case, false);
    if let Some(existing) = assessment.existing.as_mut() {
        existing.attributes = [("name", Some("theirs".to_string()))].into();
    }
    let (_, attributes) = decide::apply(assessment, OURS, true, false);
    assert_eq!(attributes["name"].as_deref(), Some("theirs"));
    let mut missing = self::assessment(Case::default(), false);
    if let Some(wanted) = missing.wanted.as_mut() {
        wanted.planned_attributes = [("name", Some("cruddur-messages".to_string()))].into();
    }
    let (change, attributes) = decide::apply(missing, OURS, false, false);
    assert_eq!(attributes["name"].as_deref(), Some("cruddur-messages"));
    assert_eq!(
        change.changes.len(),
        1,
        "a create shows every field it sets"
    );
}
