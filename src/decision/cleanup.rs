//! What a resource says when it lets a target go (on deletion, or when it moves to another
//! target), and the status of a cleanup that failed; what is put back is `super::claim`'s.

use super::claim::Letting;
use super::conditions::{self, READY, Verdict};
use super::decide::{Event, Facts, Outcome, describe};
use super::failure::Failure;
use super::reason::Reason;
use crate::api::{DeletionPolicy, TargetAccount};

/// The Events for a target let go: on deletion (`moved_to` None) or on a move to another one;
/// what was put back, and a Warning for each field left as is.
pub fn put_back(
    policy: DeletionPolicy,
    target: &TargetAccount,
    letting: &Letting,
    moved_to: Option<&TargetAccount>,
) -> Vec<Event> {
    let what = if letting.put_back.is_empty() {
        "SendGrid already as it should be".to_string()
    } else {
        format!("set {}", describe(&letting.put_back))
    };
    let done = match moved_to {
        None => Event::normal(
            Reason::CleanedUp,
            format!("deletionPolicy {policy:?} on {target}: {what}"),
        ),
        Some(new) => Event::normal(
            Reason::Retargeted,
            format!("moved from {target} to {new}; deletionPolicy {policy:?} on {target}: {what}"),
        ),
    };
    std::iter::once(done)
        .chain(
            letting
                .left
                .iter()
                .map(|why| left_as_is(format!("{target}: {why}"))),
        )
        .collect()
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
        record: None,
        status,
        events,
        retry: super::Retry::Backoff,
        failure: Some(failure),
    }
}
