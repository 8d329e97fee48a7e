//! What a resource says when it lets a target go (on deletion, or when it moves to another
//! target), and the status of a cleanup that failed; what is put back is `super::claim`'s.

use super::claim::Letting;
use super::conditions::{self, Verdict};
use super::decide::{Event, Facts, Outcome, describe};
use super::failure::{Failure, Retry};
use crate::api::{DeletionPolicy, READY, Reason, TargetAccount};
use std::time::Duration;

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

/// What became of the old target when a resource moved to another one.
#[derive(Debug, Clone, PartialEq)]
pub enum OldTarget {
    /// Nothing to put back (Orphan): only the claim went.
    Forgotten,
    /// No key for it can be read any more: left as is.
    Abandoned,
    /// Put back as the deletion policy says.
    PutBack(Letting),
    /// Putting it back failed for good: left as is.
    Failed(Failure),
}

/// The Events of a move from `old` to `new`: what was put back on `old`, or why it was left as
/// is.
pub fn moved(
    policy: DeletionPolicy,
    old: &TargetAccount,
    new: &TargetAccount,
    what: &OldTarget,
) -> Vec<Event> {
    let left = |why: String| {
        vec![left_as_is(format!(
            "moved from {old} to {new}; {old} left as is: {why}"
        ))]
    };
    match what {
        OldTarget::Forgotten => Vec::new(),
        OldTarget::Abandoned => left(
            "no API key for it can be read any more (the operator keeps the last one in memory only)".to_string(),
        ),
        OldTarget::PutBack(letting) => put_back(policy, old, letting, Some(new)),
        OldTarget::Failed(failure) => left(format!("{}: {failure}", failure.reason())),
    }
}

/// The Warning for a target that could not be put back and was left as is.
pub fn left_as_is(why: String) -> Event {
    Event::warning(Reason::CleanupSkipped, why)
}

/// The status of a deleted resource waiting for a key of its recorded target, `left` before the
/// cleanup timeout is up: why the key cannot be read (`unread`), or that the Secret's key
/// reaches another account. It backs off as usual, but comes back when the timeout is up.
pub fn waiting_for_key(
    facts: &Facts,
    unread: Option<Failure>,
    left: Duration,
    timeout: Duration,
) -> Outcome {
    let failure = unread.unwrap_or_else(|| Failure::SecretKeyNotFound {
        name: facts.spec.api_key_secret_ref.name.clone(),
        key: facts.spec.secret_key().to_string(),
        detail: "the Secret now holds a key of another account, not of the one this resource's target is".to_string(),
    });
    Outcome {
        retry: Retry::BackoffAtMost(left),
        ..cleanup_failed(facts, failure, timeout)
    }
}

/// The status of a resource whose cleanup failed: it stays (finalizer kept) and says how to let
/// it go.
pub fn cleanup_failed(facts: &Facts, failure: Failure, timeout: Duration) -> Outcome {
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
        retry: Retry::Backoff,
        failure: Some(failure),
    }
}
