//! What deleting a resource does to SendGrid, decided without I/O.
//!
//! Only the fields the resource manages are put back: a field it never managed may belong to
//! another resource (or to a person), and deleting this one must not touch it.

use super::conditions::{self, READY, Verdict};
use super::decide::{Facts, Note, NoteKind, Outcome, describe, differences};
use super::failure::Failure;
use crate::api::{DeletionPolicy, TlsSettings};

/// The settings to PATCH so that deleting the resource leaves SendGrid as its deletion policy
/// says, given what SendGrid reports now; `None` when there is nothing to change.
pub fn cleanup_changes(facts: &Facts, seen: &TlsSettings) -> Option<TlsSettings> {
    let managed = facts.spec.managed();
    let goal = match facts.spec.deletion_policy() {
        DeletionPolicy::Orphan => return None,
        DeletionPolicy::Restore => facts.status.original?,
        DeletionPolicy::Reset => TlsSettings::SENDGRID_DEFAULTS,
    };
    let goal = TlsSettings {
        require_tls: managed.require_tls.and(goal.require_tls),
        require_valid_cert: managed.require_valid_cert.and(goal.require_valid_cert),
        minimum_tls_version: managed.minimum_tls_version.and(goal.minimum_tls_version),
    };
    Some(differences(&goal, seen)).filter(|d| !d.is_empty())
}

/// The Event for a finished cleanup.
pub fn cleaned_up(facts: &Facts, applied: Option<&TlsSettings>) -> Note {
    let policy = facts.spec.deletion_policy();
    let message = match applied {
        Some(changes) => format!("deletionPolicy {policy:?}: set {}", describe(changes)),
        None => format!("deletionPolicy {policy:?}: SendGrid already as it should be"),
    };
    Note {
        kind: NoteKind::Normal,
        reason: "CleanedUp",
        message,
    }
}

/// The status of a resource whose cleanup failed: it stays (finalizer kept) and says how to let
/// it go.
pub fn cleanup_failed(facts: &Facts, failure: Failure) -> Outcome {
    let mut status = facts.status.clone();
    status.observed_generation = facts.generation;
    let reason = failure.reason();
    let message = failure.to_string();
    let ready = Verdict::no(
        "Deleting",
        format!(
            "deletionPolicy {:?} could not change SendGrid ({reason}: {message}); fix the cause, or set spec.deletionPolicy to Orphan to delete without changing SendGrid",
            facts.spec.deletion_policy()
        ),
    );
    let first = !conditions::is(&status.conditions, READY, false, "Deleting");
    conditions::set_both(
        &mut status.conditions,
        ready,
        Verdict::no(reason, message.clone()),
        facts.generation,
        &facts.now,
    );
    let notes = if first {
        vec![Note {
            kind: NoteKind::Warning,
            reason: "CleanupFailed",
            message,
        }]
    } else {
        Vec::new()
    };
    Outcome {
        status,
        notes,
        retry: failure.retry(),
        failure: Some(failure),
    }
}
