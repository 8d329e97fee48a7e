//! The decision: a pure function from the spec, the current status and what SendGrid reported to
//! what to PATCH, the new status, the Events to emit and when to come back. No I/O here.
//!
//! [`gate`] runs before SendGrid is asked anything (paused, waiting for an older claim);
//! [`decide`] judges the GET; [`after_patch`] concludes after a PATCH.

use super::conditions::{self, READY, SYNCED, Verdict};
use super::conflict::Standing;
use super::failure::{Failure, Retry};
use super::reason::Reason;
use crate::api::{
    Mode, SendGridEnforcedTls, SendGridEnforcedTlsSpec, SendGridEnforcedTlsStatus, TargetAccount,
    TlsSettings,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::time::Duration;

/// A new resource waits this long after its creation before its first write, so that every
/// resource created in the same instant (creationTimestamp has one-second steps) is in the cache
/// and the oldest can be told apart.
pub const CLAIM_SETTLE: Duration = Duration::from_secs(2);
/// Putting the same drift back this many times within [`CONTEST_WINDOW`] makes a resource
/// `Contested`: someone else keeps changing the setting, and two writers must never fight.
pub const CONTEST_LIMIT: usize = 3;
pub const CONTEST_WINDOW: Duration = Duration::from_secs(3600);

/// What the decision knows besides SendGrid's answer.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub spec: &'a SendGridEnforcedTlsSpec,
    pub generation: Option<i64>,
    pub created: Option<&'a Time>,
    /// The status as it is now (default when the resource has none yet; with the old target's
    /// original already dropped after a retarget).
    pub status: &'a SendGridEnforcedTlsStatus,
    /// The value of the reconcile-requested-at annotation, if any.
    pub requested_at: Option<&'a str>,
    /// The paused annotation is "true".
    pub paused: bool,
    /// The account the key reaches; None when the key could not be read.
    pub target: Option<TargetAccount>,
    /// Where this resource stands among the others that claim its target.
    pub standing: Standing,
    /// How long until the next drift check when all is well.
    pub resync: Duration,
    pub now: Time,
}

impl<'a> Facts<'a> {
    /// The facts of `res` as it is now, before the key is known (no target, no other claim).
    /// `default_resync` applies when the spec sets no resyncInterval.
    pub fn of(
        res: &'a SendGridEnforcedTls,
        status: &'a SendGridEnforcedTlsStatus,
        default_resync: Duration,
    ) -> Facts<'a> {
        let annotation = |name| {
            res.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(name))
                .map(String::as_str)
        };
        Facts {
            spec: &res.spec,
            generation: res.metadata.generation,
            created: res.metadata.creation_timestamp.as_ref(),
            status,
            requested_at: annotation(crate::api::RECONCILE_REQUESTED_AT),
            paused: annotation(crate::api::PAUSED) == Some("true"),
            target: None,
            standing: Standing::Free,
            resync: res.spec.resync_interval_or(default_resync),
            now: Time(k8s_openapi::jiff::Timestamp::now()),
        }
    }

    /// A reconcile request not handled yet (a human or Argo CD asked to try again).
    fn new_request(&self) -> bool {
        self.requested_at.is_some()
            && self.requested_at != self.status.last_handled_reconcile_at.as_deref()
    }

    /// The drift corrections that still count: this generation's, within the window, unless a
    /// new reconcile request cleared them.
    fn recent_corrections(&self) -> Vec<Time> {
        if self.status.observed_generation != self.generation || self.new_request() {
            return Vec::new();
        }
        let window = self.now.0 - CONTEST_WINDOW;
        self.status
            .drift_corrections
            .iter()
            .filter(|t| t.0 > window)
            .cloned()
            .collect()
    }
}

/// The PATCH to send: only the managed fields that differ.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPlan {
    pub changes: TlsSettings,
    /// SendGrid's settings before the PATCH (kept as `status.original` on the first change).
    pub before: TlsSettings,
    /// A status to write, and see succeed, BEFORE the PATCH: it records the original of this
    /// target, so that a PATCH whose outcome is unknown can never lose it.
    pub write_ahead: Option<SendGridEnforcedTlsStatus>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Normal,
    Warning,
}

/// An Event to publish about the resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub reason: Reason,
    pub message: String,
}

impl Event {
    pub fn normal(reason: Reason, message: String) -> Event {
        Event {
            kind: EventKind::Normal,
            reason,
            message,
        }
    }

    pub fn warning(reason: Reason, message: String) -> Event {
        Event {
            kind: EventKind::Warning,
            reason,
            message,
        }
    }
}

/// The end of one reconcile.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: SendGridEnforcedTlsStatus,
    pub events: Vec<Event>,
    pub retry: Retry,
    /// The failure, if any (for logs and metrics).
    pub failure: Option<Failure>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Write `write_ahead` if any, send this PATCH, then call [`after_patch`].
    Patch(Box<PatchPlan>),
    Done(Box<Outcome>),
}

/// The managed fields of `wanted` whose value differs from `seen`.
pub fn differences(wanted: &TlsSettings, seen: &TlsSettings) -> TlsSettings {
    wanted.differences(seen)
}

/// "requireTls=true, minimumTlsVersion=1.2" for messages.
pub fn describe(settings: &TlsSettings) -> String {
    settings
        .fields()
        .filter_map(|(name, v)| Some(format!("{name}={}", v?)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "requireTls (want true, SendGrid has false)" for each differing field.
fn describe_drift(wanted: &TlsSettings, seen: &TlsSettings) -> String {
    let diff = differences(wanted, seen);
    diff.fields()
        .zip(seen.fields())
        .filter_map(|((name, want), (_, has))| {
            let has = has.map_or_else(|| "nothing".to_string(), |v| v.to_string());
            Some(format!("{name} (want {}, SendGrid has {has})", want?))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A paused resource: Synced=False `Paused` (one Event when it starts), no SendGrid call.
pub fn paused(facts: &Facts) -> Outcome {
    let message = format!(
        "paused by the annotation {}=\"true\": no call to SendGrid until it is removed",
        crate::api::PAUSED
    );
    let mut status = base_status(facts);
    let first = !conditions::is(&status.conditions, SYNCED, false, Reason::Paused);
    conditions::set(
        &mut status.conditions,
        SYNCED,
        Verdict::no(Reason::Paused, message.clone()),
        facts.generation,
        &facts.now,
    );
    let events = if first {
        vec![Event::normal(Reason::Paused, message)]
    } else {
        Vec::new()
    };
    Outcome {
        status,
        events,
        retry: Retry::Resync(facts.resync),
        failure: None,
    }
}

/// What to do before asking SendGrid anything: `Some` ends the reconcile without a call.
pub fn gate(facts: &Facts) -> Option<Outcome> {
    if facts.paused {
        return Some(paused(facts));
    }
    let target = facts.target.as_ref()?;
    // Only Ready says why: Synced stays as it was, since nothing was asked of SendGrid.
    let waiting = |why: String, after: Duration| {
        let mut status = base_status(facts);
        conditions::set(
            &mut status.conditions,
            READY,
            Verdict::no(Reason::Pending, why),
            facts.generation,
            &facts.now,
        );
        Outcome {
            status,
            events: Vec::new(),
            retry: Retry::After(after),
            failure: None,
        }
    };
    if let Standing::Wait(older) = &facts.standing {
        return Some(waiting(
            format!(
                "waiting for the older resource {older} to claim its target: it may share {target} and it disagrees with this one"
            ),
            Duration::from_secs(1),
        ));
    }
    // A brand-new resource waits a moment, writing nothing: its claim counts from its creation
    // (see `conflict`), and a status write here would only cost one more write per resource.
    if let (None, Some(created)) = (&facts.status.observed_generation, facts.created) {
        let age = super::lifecycle::elapsed(created, &facts.now);
        if let Some(left) = CLAIM_SETTLE.checked_sub(age).filter(|l| !l.is_zero()) {
            return Some(Outcome {
                status: facts.status.clone(),
                events: Vec::new(),
                retry: Retry::After(left),
                failure: None,
            });
        }
    }
    None
}

/// Decides what to do with SendGrid's answer to the GET (or the failure to get one).
pub fn decide(facts: &Facts, observed: Result<TlsSettings, Failure>) -> Decision {
    let seen = match observed {
        Ok(seen) => seen,
        Err(failure) => return Decision::Done(Box::new(on_failure(facts, failure))),
    };
    let wanted = facts.spec.managed();
    let diff = differences(&wanted, &seen);
    if let Standing::Conflict(owner) = &facts.standing {
        let ready = Verdict::no(
            Reason::Conflict,
            format!(
                "{owner} already manages target {} with different settings; this resource will not write to SendGrid until that one is deleted or agrees",
                show_target(facts)
            ),
        );
        return Decision::Done(Box::new(entered(facts, Some(seen), ready)));
    }
    if diff.is_empty() {
        let ready = Verdict::yes(Reason::InSync, "SendGrid matches the spec");
        return Decision::Done(Box::new(concluded(facts, Some(seen), ready)));
    }
    if facts.spec.mode() == Mode::Observe {
        let ready = Verdict::no(Reason::Drifted, describe_drift(&wanted, &seen));
        return Decision::Done(Box::new(entered(facts, Some(seen), ready)));
    }
    let corrections = facts.recent_corrections();
    let still_contested = conditions::find(&facts.status.conditions, READY)
        .is_some_and(|c| c.reason == "Contested" && c.observed_generation == facts.generation)
        && !facts.new_request();
    if still_contested || (was_in_sync(facts) && corrections.len() >= CONTEST_LIMIT) {
        let ready = Verdict::no(
            Reason::Contested,
            format!(
                "someone else keeps changing this setting back: {}; after putting it back {CONTEST_LIMIT} times within {} minutes this resource stops writing until its spec changes or a reconcile is requested (annotation {})",
                describe_drift(&wanted, &seen),
                CONTEST_WINDOW.as_secs() / 60,
                crate::api::RECONCILE_REQUESTED_AT
            ),
        );
        return Decision::Done(Box::new(entered(facts, Some(seen), ready)));
    }
    // The original is recorded, and the write seen to succeed, before the first change to this
    // target, whatever the policy: a PATCH whose outcome is unknown, or whose status write is
    // lost, must not leave the operator's own values to be taken for the original later (and
    // the policy can be switched to Restore at any time).
    // It says Ready=False until the PATCH is answered: nothing may read "in sync" from it.
    let write_ahead = facts.status.original.is_none().then(|| {
        let mut status = base_status(facts);
        status.original = Some(seen);
        conditions::set(
            &mut status.conditions,
            READY,
            Verdict::no(Reason::Pending, format!("applying {}", describe(&diff))),
            facts.generation,
            &facts.now,
        );
        status
    });
    Decision::Patch(Box::new(PatchPlan {
        changes: diff,
        before: seen,
        write_ahead,
    }))
}

/// Concludes a reconcile after the PATCH of `plan` returned `result`.
pub fn after_patch(
    facts: &Facts,
    plan: &PatchPlan,
    result: Result<TlsSettings, Failure>,
) -> Outcome {
    let answer = match result {
        Ok(answer) => answer,
        Err(failure) => return failed(facts, Some(plan.before), failure),
    };
    // SendGrid answers with the new settings. A field it leaves out (its own examples omit
    // `version`) is taken as sent when it was in the PATCH, else as unchanged.
    let seen = answer.or(plan.changes).or(plan.before);
    let wanted = facts.spec.managed();
    let left = differences(&wanted, &seen);
    let ready = if left.is_empty() {
        Verdict::yes(Reason::InSync, "SendGrid matches the spec")
    } else {
        Verdict::no(
            Reason::Pending,
            format!(
                "SendGrid accepted the change but reports {}",
                describe_drift(&wanted, &seen)
            ),
        )
    };
    let mut out = concluded(facts, Some(seen), ready);
    out.status.last_applied_time = Some(facts.now.clone());
    if out.status.original.is_none() {
        out.status.original = Some(plan.before);
    }
    if !left.is_empty() {
        out.retry = Retry::Backoff;
    }
    let drift = was_in_sync(facts);
    let mut corrections = facts.recent_corrections();
    if drift {
        corrections.push(facts.now.clone());
        let keep = corrections.len().saturating_sub(CONTEST_LIMIT);
        corrections.drain(..keep);
    }
    out.status.drift_corrections = corrections;
    out.events.push(if drift {
        Event::normal(
            Reason::DriftCorrected,
            format!(
                "SendGrid had drifted: {}; set {}",
                describe_drift(&wanted, &plan.before),
                describe(&plan.changes)
            ),
        )
    } else {
        Event::normal(Reason::Applied, format!("Set {}", describe(&plan.changes)))
    });
    out
}

/// It is drift when SendGrid had matched this very generation of the spec before.
fn was_in_sync(facts: &Facts) -> bool {
    facts.status.observed_generation == facts.generation
        && conditions::is(&facts.status.conditions, READY, true, Reason::InSync)
}

fn show_target(facts: &Facts) -> String {
    facts
        .target
        .as_ref()
        .map_or_else(|| "-".to_string(), ToString::to_string)
}

/// A concluded outcome whose `Ready` verdict is worth one Warning when it is new (or says
/// something new): Conflict, Drifted, Contested.
fn entered(facts: &Facts, seen: Option<TlsSettings>, ready: Verdict) -> Outcome {
    let reason = ready.reason;
    let new = !conditions::is(&facts.status.conditions, READY, false, reason)
        || condition_message(&facts.status.conditions, READY) != ready.message;
    let mut out = concluded(facts, seen, ready);
    if new {
        out.events.push(Event::warning(
            reason,
            condition_message(&out.status.conditions, READY),
        ));
    }
    out
}

/// The outcome of a reconcile that reached SendGrid (Synced=True) with this `Ready` verdict.
fn concluded(facts: &Facts, seen: Option<TlsSettings>, ready: Verdict) -> Outcome {
    let mut status = base_status(facts);
    if seen.is_some() {
        status.observed = seen;
    }
    conditions::set_both(
        &mut status.conditions,
        ready,
        Verdict::yes(Reason::ReconcileSuccess, "SendGrid answered"),
        facts.generation,
        &facts.now,
    );
    Outcome {
        status,
        events: Vec::new(),
        retry: Retry::Resync(facts.resync),
        failure: None,
    }
}

/// The outcome of a reconcile that could not read SendGrid's settings.
pub fn on_failure(facts: &Facts, failure: Failure) -> Outcome {
    failed(facts, None, failure)
}

/// The outcome of a reconcile that failed; `seen` is what a GET returned before a failed PATCH.
/// One failure episode (the same reason and message again and again) changes the status and
/// emits its Event once: messages carry no moving parts.
fn failed(facts: &Facts, seen: Option<TlsSettings>, failure: Failure) -> Outcome {
    let mut status = base_status(facts);
    if seen.is_some() {
        status.observed = seen;
    }
    let reason = failure.reason();
    let message = failure.to_string();
    let synced_changed = !(conditions::is(&status.conditions, SYNCED, false, reason)
        && condition_message(&facts.status.conditions, SYNCED) == message);
    conditions::set(
        &mut status.conditions,
        SYNCED,
        Verdict::no(reason, message.clone()),
        facts.generation,
        &facts.now,
    );
    // A slow SendGrid says nothing about the settings; any other failure leaves Ready as it was
    // only if it describes this generation of the spec.
    let ready_current = conditions::find(&status.conditions, READY)
        .is_some_and(|c| c.observed_generation == facts.generation);
    if !(ready_current
        || failure.is_transient() && conditions::find(&status.conditions, READY).is_some())
    {
        conditions::set(
            &mut status.conditions,
            READY,
            Verdict::no(Reason::Pending, format!("Not reconciled yet: {message}")),
            facts.generation,
            &facts.now,
        );
    }
    let mut events = Vec::new();
    if synced_changed {
        events.push(Event::warning(reason, message));
    }
    Outcome {
        status,
        events,
        retry: failure.retry(facts.resync),
        failure: Some(failure),
    }
}

/// The status fields every outcome carries over or sets.
pub(crate) fn base_status(facts: &Facts) -> SendGridEnforcedTlsStatus {
    let mut status = facts.status.clone();
    status.observed_generation = facts.generation;
    if let Some(target) = &facts.target {
        status.target = Some(target.clone());
    }
    if let Some(value) = facts.requested_at {
        status.last_handled_reconcile_at = Some(value.to_string());
    }
    status
}

fn condition_message(conditions: &[crate::api::Condition], type_: &str) -> String {
    conditions::find(conditions, type_)
        .map(|c| c.message.clone())
        .unwrap_or_default()
}
