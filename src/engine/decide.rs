//! The rules every resource's change is decided by, whatever its kind, in one place:
//! ownership (a resource is changed only if its tags say it is this stack's, or the user
//! adopts it), conflicts, replacement, and what a deletion must say before it happens.
//! Pure: an [`Assessment`] (what the file asks for, what AWS has, what the kind says about
//! the difference) in, a [`ResourceChange`] out. Its table of cases is tested in
//! `decide_tests.rs`.

use crate::kinds::Live;
use crate::plan::{Action, Assessment, Existing, ResourceChange, States, Wanted, all_fields};
use crate::tags::{RESOURCE_TAG, STACK_TAG};
use crate::values::Attributes;

/// What apply does with the resource, and the attributes others will see afterwards.
/// `forced`: `--replace` names it, so it is replaced even where it could be left alone or
/// changed in place (under the same guards as any replacement).
pub fn apply(
    mut a: Assessment,
    owner: &str,
    adopt: bool,
    forced: bool,
) -> (ResourceChange, Attributes) {
    let mut wanted = a.wanted.take().unwrap_or_default();
    let a = &a;
    if !a.observed {
        return (unread(a), wanted.planned_attributes);
    }
    let Some(existing) = &a.existing else {
        let mut rc = change(a, Action::Create);
        rc.blocked = wanted.refused;
        rc.changes = all_fields(&wanted.state);
        rc.states.after = wanted.state;
        return (rc, wanted.planned_attributes);
    };
    let adopting = match existing.owner.as_deref() {
        Some(o) if o == owner => false,
        Some(other) => {
            let reason = format!(
                "{OWNED_ELSEWHERE} `{other}`; it is left alone \
                 (remove its `{STACK_TAG}` tag in AWS to release it)"
            );
            return conflict(a, existing, wanted, reason);
        }
        None if !adopt => {
            let reason = format!(
                "{UNMANAGED} (no ownership tags); it is left alone unless you run apply with \
                 --adopt to take it over"
            );
            return conflict(a, existing, wanted, reason);
        }
        None => true,
    };
    if forced {
        wanted
            .replacement_reasons
            .insert(0, "--replace names it: it is deleted and made anew".into());
    }
    let (action, attributes) = if !wanted.replacement_reasons.is_empty() {
        (Action::Replace, wanted.planned_attributes)
    } else if adopting {
        (Action::Adopt, wanted.attributes_after_update)
    } else if wanted.changes.is_empty() {
        (Action::NoOp, existing.attributes.clone())
    } else {
        (Action::Update, wanted.attributes_after_update)
    };
    let mut rc = change(a, action);
    rc.reasons = wanted.replacement_reasons;
    rc.blocked = match action {
        // Replacing deletes; a resource being adopted is not ours to delete yet, even
        // with --allow-replace.
        Action::Replace if adopting => wanted.refused.or(Some(
            "it was not created by cruddur-infra and adopting it would mean deleting it; \
             cruddur-infra never deletes what it does not own. Change the file so it \
             matches the resource's key, adopt it, then change it"
                .into(),
        )),
        Action::Replace => {
            rc.reasons.extend(existing.deletion_warning.clone());
            wanted.refused.or(existing.deletion_blocker.clone())
        }
        Action::Update | Action::Adopt => wanted.refused.or(wanted.update_blocker),
        _ => None,
    };
    rc.reasons.extend(existing.warnings.iter().cloned());
    rc.changes = wanted.changes;
    rc.states.after = wanted.state;
    (rc, attributes)
}

/// What destroy does with the resource: deletes it if it is this stack's.
pub fn destroy(a: &Assessment, owner: &str) -> ResourceChange {
    if !a.observed {
        return unread(a);
    }
    let Some(existing) = &a.existing else {
        let mut rc = change(a, Action::NoOp);
        rc.reasons.push("does not exist".into());
        return rc;
    };
    match existing.owner.as_deref() {
        Some(o) if o == owner => {
            let mut rc = change(a, Action::Delete);
            rc.reasons.extend(existing.deletion_warning.clone());
            rc.blocked = existing.deletion_blocker.clone();
            rc
        }
        Some(other) => {
            let mut rc = change(a, Action::NoOp);
            rc.reasons.push(format!(
                "belongs to `{other}`, not to this stack: left alone"
            ));
            rc
        }
        None => {
            let mut rc = change(a, Action::NoOp);
            rc.reasons
                .push("not created by cruddur-infra (no ownership tags): left alone".into());
            rc
        }
    }
}

/// The deletion of an orphan: a resource tagged as this stack's that the file no longer
/// declares.
pub fn orphan(live: &dyn Live) -> ResourceChange {
    let logical = live
        .tags()
        .get(RESOURCE_TAG)
        .cloned()
        .unwrap_or_else(|| "?".into());
    let mut reasons = vec![format!(
        "tagged as this stack's `{logical}` but no longer in the stack file"
    )];
    reasons.extend(live.deletion_warning());
    ResourceChange {
        name: logical,
        kind: live.kind(),
        physical_id: live.physical_id(),
        action: Action::Delete,
        reasons,
        changes: Vec::new(),
        states: States {
            before: live.state_json(),
            after: serde_json::Value::Null,
        },
        blocked: live.deletion_blocker(),
        safe_to_replace: false,
        orphan: true,
    }
}

/// A deletion that would lose data (`at_risk`: a table's items, as counted) or that
/// deletion protection forbids is blocked, naming the flag that allows it, unless the
/// request allows data loss; then the plan says what is lost instead. `command` is the
/// one that would delete (apply or destroy).
pub fn guard_deletion(
    change: &mut ResourceChange,
    at_risk: Option<&String>,
    allow_data_loss: bool,
    command: &str,
) {
    let mut problems: Vec<String> = change.blocked.take().into_iter().collect();
    problems.extend(at_risk.cloned());
    if problems.is_empty() {
        return;
    }
    if allow_data_loss {
        change.reasons.extend(
            problems
                .iter()
                .map(|p| format!("{p} (allowed by --allow-data-loss)")),
        );
    } else {
        change.blocked = Some(format!(
            "{}; {command} --allow-data-loss deletes it anyway",
            problems.join("; ")
        ));
    }
}

/// Whether `change` must wait for --allow-replace: a replacement deletes what the file
/// does not recreate (a table's items), unless its kind loses nothing by it.
pub fn refuses_replacement(change: &ResourceChange, allow_replace: bool) -> bool {
    change.action == Action::Replace && !change.safe_to_replace && !allow_replace
}

/// How a conflict's reason begins when the resource is another stack's or environment's.
pub const OWNED_ELSEWHERE: &str = "it exists and belongs to stack/environment";
/// How a conflict's reason begins when no stack manages the resource.
pub const UNMANAGED: &str = "it exists but was not created by cruddur-infra";

/// The change of a resource that observe did not read: a conflict, so that nothing is done.
fn unread(a: &Assessment) -> ResourceChange {
    let mut rc = change(a, Action::Conflict);
    rc.physical_id = a.name.clone();
    rc.safe_to_replace = false;
    rc.reasons
        .push("it was not read from AWS, so nothing is known about it; run plan again".into());
    rc
}

fn conflict(
    a: &Assessment,
    existing: &Existing,
    wanted: Wanted,
    reason: String,
) -> (ResourceChange, Attributes) {
    let mut rc = change(a, Action::Conflict);
    rc.states.after = wanted.state;
    rc.reasons.push(reason);
    (rc, existing.attributes.clone())
}

fn change(a: &Assessment, action: Action) -> ResourceChange {
    ResourceChange {
        name: a.name.clone(),
        kind: a.kind,
        physical_id: a.physical_id.clone(),
        action,
        reasons: vec![],
        changes: vec![],
        states: States {
            before: a
                .existing
                .as_ref()
                .map_or(serde_json::Value::Null, |e| e.state.clone()),
            after: serde_json::Value::Null,
        },
        blocked: None,
        safe_to_replace: a.safe_to_replace,
        orphan: false,
    }
}
