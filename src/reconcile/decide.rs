//! The decision: a pure function from the spec, the current status and what SendGrid reported to
//! what to PATCH, the new status, the Events to emit and when to come back. No I/O here.

use super::conditions::{self, READY, SYNCED, Verdict};
use super::failure::{Failure, Retry};
use crate::api::{
    Mode, SendGridEnforcedTls, SendGridEnforcedTlsSpec, SendGridEnforcedTlsStatus, TlsSettings,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::time::Duration;

/// What the decision knows besides SendGrid's answer.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub spec: &'a SendGridEnforcedTlsSpec,
    pub generation: Option<i64>,
    /// The status as it is now (default when the resource has none yet).
    pub status: &'a SendGridEnforcedTlsStatus,
    /// The value of the reconcile-requested-at annotation, if any.
    pub requested_at: Option<&'a str>,
    /// region / on-behalf-of / key fingerprint; None when the key could not be read.
    pub target: Option<String>,
    /// Another resource that holds the same target and disagrees: its namespace/name.
    pub conflict_with: Option<String>,
    /// How long until the next drift check when all is well.
    pub resync: Duration,
    pub now: Time,
}

impl<'a> Facts<'a> {
    /// The facts of `res` as it is now, before the key is known (no target, no conflict).
    /// `default_resync` applies when the spec sets no resyncInterval.
    pub fn of(
        res: &'a SendGridEnforcedTls,
        status: &'a SendGridEnforcedTlsStatus,
        default_resync: Duration,
    ) -> Facts<'a> {
        Facts {
            spec: &res.spec,
            generation: res.metadata.generation,
            status,
            requested_at: res
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(crate::api::RECONCILE_REQUESTED_AT))
                .map(String::as_str),
            target: None,
            conflict_with: None,
            resync: res.spec.resync_interval_or(default_resync),
            now: Time(k8s_openapi::jiff::Timestamp::now()),
        }
    }
}

/// The PATCH to send: only the managed fields that differ.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPlan {
    pub changes: TlsSettings,
    /// SendGrid's settings before the PATCH (kept as `status.original` on the first change).
    pub before: TlsSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    Normal,
    Warning,
}

/// An Event to publish about the resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub kind: NoteKind,
    pub reason: &'static str,
    pub message: String,
}

/// The end of one reconcile.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: SendGridEnforcedTlsStatus,
    pub notes: Vec<Note>,
    pub retry: Retry,
    /// The failure, if any (for logs and metrics).
    pub failure: Option<Failure>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Send this PATCH, then call [`after_patch`].
    Patch(PatchPlan),
    Done(Box<Outcome>),
}

/// The managed fields of `wanted` whose value differs from `seen`.
pub fn differences(wanted: &TlsSettings, seen: &TlsSettings) -> TlsSettings {
    fn pick<T: PartialEq + Copy>(want: Option<T>, seen: Option<T>) -> Option<T> {
        want.filter(|w| seen != Some(*w))
    }
    TlsSettings {
        require_tls: pick(wanted.require_tls, seen.require_tls),
        require_valid_cert: pick(wanted.require_valid_cert, seen.require_valid_cert),
        minimum_tls_version: pick(wanted.minimum_tls_version, seen.minimum_tls_version),
    }
}

/// "requireTls=true, minimumTlsVersion=1.2" for messages.
pub fn describe(settings: &TlsSettings) -> String {
    let mut parts = Vec::new();
    if let Some(v) = settings.require_tls {
        parts.push(format!("requireTls={v}"));
    }
    if let Some(v) = settings.require_valid_cert {
        parts.push(format!("requireValidCert={v}"));
    }
    if let Some(v) = settings.minimum_tls_version {
        parts.push(format!("minimumTlsVersion={v}"));
    }
    parts.join(", ")
}

/// "requireTls (want true, SendGrid has false)" for each differing field.
fn describe_drift(wanted: &TlsSettings, seen: &TlsSettings) -> String {
    fn show<T: std::fmt::Display>(v: Option<T>) -> String {
        v.map_or_else(|| "nothing".to_string(), |v| v.to_string())
    }
    let diff = differences(wanted, seen);
    let mut parts = Vec::new();
    if diff.require_tls.is_some() {
        parts.push(format!(
            "requireTls (want {}, SendGrid has {})",
            show(wanted.require_tls),
            show(seen.require_tls)
        ));
    }
    if diff.require_valid_cert.is_some() {
        parts.push(format!(
            "requireValidCert (want {}, SendGrid has {})",
            show(wanted.require_valid_cert),
            show(seen.require_valid_cert)
        ));
    }
    if diff.minimum_tls_version.is_some() {
        parts.push(format!(
            "minimumTlsVersion (want {}, SendGrid has {})",
            show(wanted.minimum_tls_version),
            show(seen.minimum_tls_version)
        ));
    }
    parts.join("; ")
}

/// Decides what to do with SendGrid's answer to the GET (or the failure to get one).
pub fn decide(facts: &Facts, observed: Result<TlsSettings, Failure>) -> Decision {
    let seen = match observed {
        Ok(seen) => seen,
        Err(failure) => return Decision::Done(Box::new(on_failure(facts, failure))),
    };
    let wanted = facts.spec.managed();
    let diff = differences(&wanted, &seen);
    if let Some(owner) = &facts.conflict_with {
        let ready = Verdict::no(
            "Conflict",
            format!(
                "{owner} already manages target {} with different settings; this resource will not write to SendGrid until that one is deleted or agrees",
                facts.target.as_deref().unwrap_or("-")
            ),
        );
        let mut out = concluded(facts, Some(seen), ready, None);
        if !conditions::is(&facts.status.conditions, READY, false, "Conflict") {
            out.notes
                .push(warning("Conflict", out_message(&out, READY)));
        }
        return Decision::Done(Box::new(out));
    }
    if diff.is_empty() {
        let ready = Verdict::yes("InSync", "SendGrid matches the spec");
        return Decision::Done(Box::new(concluded(facts, Some(seen), ready, None)));
    }
    match facts.spec.mode() {
        Mode::Observe => {
            let ready = Verdict::no("Drifted", describe_drift(&wanted, &seen));
            let mut out = concluded(facts, Some(seen), ready, None);
            if out_message(&out, READY) != facts_message(facts, READY) {
                out.notes.push(warning("Drifted", out_message(&out, READY)));
            }
            Decision::Done(Box::new(out))
        }
        Mode::Enforce => Decision::Patch(PatchPlan {
            changes: diff,
            before: seen,
        }),
    }
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
    let (sent, before) = (plan.changes, plan.before);
    let seen = TlsSettings {
        require_tls: answer
            .require_tls
            .or(sent.require_tls)
            .or(before.require_tls),
        require_valid_cert: answer
            .require_valid_cert
            .or(sent.require_valid_cert)
            .or(before.require_valid_cert),
        minimum_tls_version: answer
            .minimum_tls_version
            .or(sent.minimum_tls_version)
            .or(before.minimum_tls_version),
    };
    let wanted = facts.spec.managed();
    let left = differences(&wanted, &seen);
    let ready = if left.is_empty() {
        Verdict::yes("InSync", "SendGrid matches the spec")
    } else {
        Verdict::no(
            "Pending",
            format!(
                "SendGrid accepted the change but reports {}",
                describe_drift(&wanted, &seen)
            ),
        )
    };
    let mut out = concluded(facts, Some(seen), ready, None);
    out.status.last_applied_time = Some(facts.now.clone());
    if out.status.original.is_none() {
        out.status.original = Some(plan.before);
    }
    if !left.is_empty() {
        out.retry = Retry::Backoff;
    }
    // It is drift when SendGrid had matched this very generation of the spec before.
    let was_in_sync = facts.status.observed_generation == facts.generation
        && conditions::is(&facts.status.conditions, READY, true, "InSync");
    out.notes.push(if was_in_sync {
        Note {
            kind: NoteKind::Normal,
            reason: "DriftCorrected",
            message: format!(
                "SendGrid had drifted: {}; set {}",
                describe_drift(&wanted, &plan.before),
                describe(&plan.changes)
            ),
        }
    } else {
        Note {
            kind: NoteKind::Normal,
            reason: "Applied",
            message: format!("Set {}", describe(&plan.changes)),
        }
    });
    out
}

/// The outcome of a reconcile that reached SendGrid (Synced=True) with this `Ready` verdict.
fn concluded(
    facts: &Facts,
    seen: Option<TlsSettings>,
    ready: Verdict,
    failure: Option<Failure>,
) -> Outcome {
    let mut status = base_status(facts);
    if seen.is_some() {
        status.observed = seen;
    }
    let retry = Retry::Resync(facts.resync);
    conditions::set_both(
        &mut status.conditions,
        ready,
        Verdict::yes("ReconcileSuccess", "SendGrid answered"),
        facts.generation,
        &facts.now,
    );
    Outcome {
        status,
        notes: Vec::new(),
        retry,
        failure,
    }
}

/// The outcome of a reconcile that could not read SendGrid's settings.
pub fn on_failure(facts: &Facts, failure: Failure) -> Outcome {
    failed(facts, None, failure)
}

/// The outcome of a reconcile that failed; `seen` is what a GET returned before a failed PATCH.
fn failed(facts: &Facts, seen: Option<TlsSettings>, failure: Failure) -> Outcome {
    let mut status = base_status(facts);
    if seen.is_some() {
        status.observed = seen;
    }
    let reason = failure.reason();
    let message = failure.to_string();
    let synced_changed = !(conditions::is(&status.conditions, SYNCED, false, reason)
        && facts_message(facts, SYNCED) == message);
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
            Verdict::no("Pending", format!("Not reconciled yet: {message}")),
            facts.generation,
            &facts.now,
        );
    }
    let mut notes = Vec::new();
    if synced_changed {
        notes.push(warning(reason, message));
    }
    Outcome {
        status,
        notes,
        retry: failure.retry(),
        failure: Some(failure),
    }
}

/// The status fields every outcome carries over or sets.
fn base_status(facts: &Facts) -> SendGridEnforcedTlsStatus {
    let mut status = facts.status.clone();
    status.observed_generation = facts.generation;
    if facts.target.is_some() {
        status.target = facts.target.clone();
    }
    if let Some(value) = facts.requested_at {
        status.last_handled_reconcile_at = Some(value.to_string());
    }
    status
}

fn warning(reason: &'static str, message: String) -> Note {
    Note {
        kind: NoteKind::Warning,
        reason,
        message,
    }
}

fn out_message(out: &Outcome, type_: &str) -> String {
    conditions::find(&out.status.conditions, type_)
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

fn facts_message(facts: &Facts, type_: &str) -> String {
    conditions::find(&facts.status.conditions, type_)
        .map(|c| c.message.clone())
        .unwrap_or_default()
}
