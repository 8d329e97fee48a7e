//! The decision: a pure function from the spec, the current status and what SendGrid reported to
//! what to PATCH, the new status, the Events to emit and when to come back. No I/O here.
//!
//! [`paused`] ends a reconcile that may not call SendGrid; [`decide`] judges the GET against the
//! account's claim record ([`super::claim`]); [`after_patch`] concludes after a PATCH.

use super::claim::{self, Claim, Claimant};
use super::conditions::{self, Verdict};
use super::failure::{Failure, Retry};
use crate::api::{
    DeletionPolicy, Mode, READY, Reason, SYNCED, SendGridEnforcedTls, SendGridEnforcedTlsSpec,
    SendGridEnforcedTlsStatus, TargetAccount, TargetFields, TlsSettings,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::collections::BTreeMap;
use std::time::Duration;

/// Putting the same drift back this many times within [`CONTEST_WINDOW`] makes a resource
/// `Contested`: someone else keeps changing the setting, and two writers must never fight.
pub const CONTEST_LIMIT: usize = 3;
pub const CONTEST_WINDOW: Duration = Duration::from_secs(3600);

/// What the decision knows besides SendGrid's answer.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// `namespace/name`: how the account's record names this resource.
    pub id: String,
    pub spec: &'a SendGridEnforcedTlsSpec,
    pub generation: Option<i64>,
    /// The status as it is now (default when the resource has none yet; with the old target's
    /// original already dropped after a retarget).
    pub status: &'a SendGridEnforcedTlsStatus,
    /// The value of the reconcile-requested-at annotation, if any.
    pub requested_at: Option<&'a str>,
    /// The paused annotation is "true".
    pub paused: bool,
    /// The account the key reaches; None when the key could not be read.
    pub target: Option<TargetAccount>,
    /// That account's claim record (empty when it has none yet).
    pub record: TargetFields,
    /// Holders in the record that are confirmed deleted.
    pub gone: Vec<String>,
    /// What the record's other live holders declare now (see [`Claimant::declared`]).
    pub declared: BTreeMap<String, TlsSettings>,
    /// How long until the next drift check when all is well.
    pub resync: Duration,
    pub now: Time,
}

impl<'a> Facts<'a> {
    /// `namespace/name` of `res`, as records name their holders.
    pub fn id_of(res: &SendGridEnforcedTls) -> String {
        format!(
            "{}/{}",
            res.metadata.namespace.as_deref().unwrap_or_default(),
            res.metadata.name.as_deref().unwrap_or_default()
        )
    }

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
            id: Facts::id_of(res),
            spec: &res.spec,
            generation: res.metadata.generation,
            status,
            requested_at: annotation(crate::api::RECONCILE_REQUESTED_AT),
            paused: crate::api::is_paused(&res.metadata),
            target: None,
            record: TargetFields::default(),
            gone: Vec::new(),
            declared: BTreeMap::new(),
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

/// The PATCH to send: the held fields that differ, and fields let go that are put back.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPlan {
    pub changes: TlsSettings,
    /// The fields of `changes` that put a field this resource let go back.
    pub put_back: TlsSettings,
    /// Fields it let go that were not put back, and why.
    pub left: Vec<String>,
    /// SendGrid's settings before the PATCH.
    pub before: TlsSettings,
    /// The account's record to write, and see succeed, BEFORE the PATCH: it claims the fields
    /// and holds their originals, so that a PATCH whose outcome is unknown can never lose one.
    pub record: Option<TargetFields>,
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
    /// The account's record to write first (a claim joined, a Conflict loser dropped), if any.
    pub record: Option<TargetFields>,
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
        record: None,
        status,
        events,
        retry: Retry::Resync(facts.resync),
        failure: None,
    }
}

/// Decides what to do with SendGrid's answer to the GET (or the failure to get one), against
/// the account's claim record: a resource claims the fields it declares before any PATCH (an
/// Observe one too, so that nothing it expects is put back under it, but it never writes).
pub fn decide(facts: &Facts, observed: Result<TlsSettings, Failure>) -> Decision {
    let seen = match observed {
        Ok(seen) => seen,
        Err(failure) => return Decision::Done(Box::new(on_failure(facts, failure))),
    };
    let wanted = facts.spec.managed();
    let me = Claimant {
        id: &facts.id,
        gone: &facts.gone,
        declared: &facts.declared,
    };
    let observe = facts.spec.mode() == Mode::Observe;
    // An Observe resource holds what it declares too (so nothing it expects is put back under
    // it), but never writes: it lets go of fields as Orphan does.
    let policy = if observe {
        DeletionPolicy::Orphan
    } else {
        facts.spec.deletion_policy()
    };
    let seeded = claim::seeded(&facts.record, &wanted, facts.status.original.as_ref());
    let letting = match claim::claim(&seeded, me, &wanted, policy, &seen) {
        Claim::Conflict {
            holder,
            fields,
            record,
        } => {
            let ready = Verdict::no(
                Reason::Conflict,
                format!(
                    "{holder} already manages {} of account {} with other values; this resource will not write to SendGrid until that one is deleted or agrees",
                    fields.join(", "),
                    show_target(facts)
                ),
            );
            let mut out = entered(facts, Some(seen), ready);
            out.record = record;
            return Decision::Done(Box::new(out));
        }
        Claim::Held(letting) => letting,
    };
    if observe {
        let diff = differences(&wanted, &seen);
        let mut out = if diff.is_empty() {
            concluded(facts, Some(seen), in_sync())
        } else {
            let drifted = Verdict::no(Reason::Drifted, describe_drift(&wanted, &seen));
            entered(facts, Some(seen), drifted)
        };
        out.record = letting.record;
        return Decision::Done(Box::new(out));
    }
    if letting.changes.is_empty() {
        let mut out = concluded(facts, Some(seen), in_sync());
        if letting.record.is_some() {
            // The account's record holds the originals now (an older status kept its own).
            out.status.original = None;
        }
        out.record = letting.record;
        out.events.extend(no_longer_declared(&letting.left));
        return Decision::Done(Box::new(out));
    }
    let corrections = facts.recent_corrections();
    let still_contested = conditions::find(&facts.status.conditions, READY).is_some_and(|c| {
        c.reason == Reason::Contested && c.observed_generation == facts.generation
    }) && !facts.new_request();
    let drift = letting.changes.masked(&letting.put_back, false);
    if !drift.is_empty()
        && (still_contested || (was_in_sync(facts) && corrections.len() >= CONTEST_LIMIT))
    {
        let ready = Verdict::no(
            Reason::Contested,
            format!(
                "someone else keeps changing this setting back: {}; after putting it back {CONTEST_LIMIT} times within {} minutes this resource stops writing until its spec changes or a reconcile is requested (annotation {})",
                describe_drift(&wanted, &seen),
                CONTEST_WINDOW.as_secs() / 60,
                crate::api::RECONCILE_REQUESTED_AT
            ),
        );
        let mut out = entered(facts, Some(seen), ready);
        out.record = letting.record;
        return Decision::Done(Box::new(out));
    }
    Decision::Patch(Box::new(PatchPlan {
        changes: letting.changes,
        put_back: letting.put_back,
        left: letting.left,
        before: seen,
        record: letting.record,
    }))
}

/// The Warnings for fields this resource no longer declares that were left as is.
fn no_longer_declared(left: &[String]) -> impl Iterator<Item = Event> + '_ {
    left.iter().map(|why| {
        super::cleanup::left_as_is(format!("{why} (no longer declared by this resource)"))
    })
}

fn in_sync() -> Verdict {
    Verdict::yes(Reason::InSync, "SendGrid matches the spec")
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
        in_sync()
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
    if plan.record.is_some() {
        // Written before the PATCH: the account's record holds the originals now.
        out.status.original = None;
    }
    if !left.is_empty() {
        out.retry = Retry::Backoff;
    }
    // Drift is a held field SendGrid no longer showed; a field put back is not.
    let corrected = plan.changes.masked(&plan.put_back, false);
    let drift = was_in_sync(facts) && !corrected.is_empty();
    let mut corrections = facts.recent_corrections();
    if drift {
        corrections.push(facts.now.clone());
        let keep = corrections.len().saturating_sub(CONTEST_LIMIT);
        corrections.drain(..keep);
    }
    out.status.drift_corrections = corrections;
    out.events.extend(no_longer_declared(&plan.left));
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
        record: None,
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
        record: None,
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
