//! What putting a target back does to SendGrid (on deletion, or when a resource moves to another
//! target), decided without I/O.
//!
//! Only the fields the resource manages are put back, and never one that another live resource
//! on the same target still declares: that one wants it kept, and undoing it would open a window
//! of weak TLS (for good, if that resource only observes or is failing).

use super::conditions::{self, READY, Verdict};
use super::decide::{Event, Facts, Outcome, describe};
use super::failure::Failure;
use super::reason::Reason;
use crate::api::{DeletionPolicy, TargetAccount, TlsSettings};

/// The settings to PATCH so that `target` is left as the deletion policy says, given what
/// SendGrid reports now (`seen`) and the fields other live resources on the target declare
/// (`spared`); `None` when there is nothing to change.
pub fn cleanup_changes(
    policy: DeletionPolicy,
    managed: &TlsSettings,
    original: Option<&TlsSettings>,
    seen: &TlsSettings,
    spared: &TlsSettings,
) -> Option<TlsSettings> {
    let goal = match policy {
        DeletionPolicy::Orphan => return None,
        DeletionPolicy::Restore => *original?,
        DeletionPolicy::Reset => TlsSettings::SENDGRID_DEFAULTS,
    };
    let goal = goal.masked(managed, true).masked(spared, false);
    Some(goal.differences(seen)).filter(|d| !d.is_empty())
}

/// The Event for a target put back: on deletion (`moved_to` None) or on a move to another one.
pub fn put_back(
    policy: DeletionPolicy,
    target: &TargetAccount,
    applied: Option<&TlsSettings>,
    moved_to: Option<&TargetAccount>,
) -> Event {
    let what = match applied {
        Some(changes) => format!("set {}", describe(changes)),
        None => "SendGrid already as it should be".to_string(),
    };
    match moved_to {
        None => Event::normal(
            Reason::CleanedUp,
            format!("deletionPolicy {policy:?} on {target}: {what}"),
        ),
        Some(new) => Event::normal(
            Reason::Retargeted,
            format!("moved from {target} to {new}; deletionPolicy {policy:?} on {target}: {what}"),
        ),
    }
}

/// The Warning for a target that could not be put back and was left as is.
pub fn left_as_is(why: String) -> Event {
    Event::warning(Reason::CleanupSkipped, why)
}

/// The status of a resource whose cleanup failed: it stays (finalizer kept) and says how to let
/// it go.
pub fn cleanup_failed(facts: &Facts, failure: Failure, timeout: std::time::Duration) -> Outcome {
    let mut status = facts.status.clone();
    status.observed_generation = facts.generation;
    let reason = failure.reason();
    let message = failure.to_string();
    let ready = Verdict::no(
        Reason::Deleting,
        format!(
            "deletionPolicy {:?} could not change SendGrid ({reason}: {message}); retrying, and letting go with SendGrid left as is once {}s (--cleanup-timeout) have passed since the deletion; fix the cause, or set spec.deletionPolicy to Orphan to delete at once without changing SendGrid",
            facts.spec.deletion_policy(),
            timeout.as_secs()
        ),
    );
    let first = !conditions::is(&status.conditions, READY, false, Reason::Deleting);
    conditions::set_both(
        &mut status.conditions,
        ready,
        Verdict::no(reason, message.clone()),
        facts.generation,
        &facts.now,
    );
    let events = if first {
        vec![Event::warning(Reason::CleanupFailed, message)]
    } else {
        Vec::new()
    };
    Outcome {
        status,
        events,
        retry: super::Retry::Backoff,
        failure: Some(failure),
    }
}
