//! The decision table: every branch of [`decide`], [`after_patch`] and the cleanup decision, from
//! small fixtures, with no runtime and no HTTP.

use super::cleanup::{cleanup_changes, cleanup_failed};
use super::conditions::{self, READY, SYNCED};
use super::conflict::Standing;
use super::decide::{
    CLAIM_SETTLE, CONTEST_LIMIT, Decision, EventKind, Facts, Outcome, PatchPlan, after_patch,
    decide, gate,
};
use super::failure::{Failure, Retry};
use super::reason::Reason;
use crate::api::{
    DeletionPolicy, Mode, Region, SecretKeyRef, SendGridEnforcedTlsSpec, SendGridEnforcedTlsStatus,
    TargetAccount, TlsSettings, TlsVersion,
};
use crate::sendgrid::SendGridError;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use std::time::{Duration, SystemTime};

const TARGET: &str = "global-4711";

fn target() -> TargetAccount {
    TargetAccount {
        name: TARGET.into(),
        region: Region::Global,
        user_id: 4711,
        username: "parent".into(),
        on_behalf_of: None,
        secret_resource_version: Some("1".into()),
    }
}

fn spec() -> SendGridEnforcedTlsSpec {
    SendGridEnforcedTlsSpec {
        api_key_secret_ref: SecretKeyRef {
            name: "sendgrid".into(),
            key: None,
        },
        region: None,
        on_behalf_of: None,
        require_tls: Some(true),
        require_valid_cert: Some(false),
        minimum_tls_version: Some(TlsVersion::V1_2),
        mode: None,
        deletion_policy: None,
        resync_interval: None,
    }
}

fn settings(tls: bool, cert: bool, version: TlsVersion) -> TlsSettings {
    TlsSettings {
        require_tls: Some(tls),
        require_valid_cert: Some(cert),
        minimum_tls_version: Some(version),
    }
}

fn at(secs: i64) -> Time {
    Time(Timestamp::from_second(secs).unwrap())
}

fn facts<'a>(
    spec: &'a SendGridEnforcedTlsSpec,
    status: &'a SendGridEnforcedTlsStatus,
) -> Facts<'a> {
    Facts {
        spec,
        generation: Some(2),
        created: None,
        status,
        requested_at: None,
        paused: false,
        target: Some(target()),
        standing: Standing::Free,
        resync: spec.resync_interval(),
        now: at(1_000),
    }
}

fn done(decision: Decision) -> Outcome {
    match decision {
        Decision::Done(outcome) => *outcome,
        Decision::Patch(plan) => panic!("expected no PATCH, got {plan:?}"),
    }
}

fn patch(decision: Decision) -> PatchPlan {
    match decision {
        Decision::Patch(plan) => *plan,
        Decision::Done(outcome) => panic!("expected a PATCH, got {outcome:?}"),
    }
}

fn condition(out: &Outcome, type_: &str) -> (String, String) {
    let c = conditions::find(&out.status.conditions, type_).expect("condition set");
    (c.status.clone(), c.reason.clone())
}

fn pair(status: &str, reason: &str) -> (String, String) {
    (status.to_string(), reason.to_string())
}

/// The status after a successful reconcile of `spec()` at generation 2.
fn in_sync_status() -> SendGridEnforcedTlsStatus {
    let spec = spec();
    let empty = SendGridEnforcedTlsStatus::default();
    done(decide(
        &facts(&spec, &empty),
        Ok(settings(true, false, TlsVersion::V1_2)),
    ))
    .status
}

#[test]
fn in_sync_needs_no_patch_and_resyncs() {
    let spec = spec();
    let status = SendGridEnforcedTlsStatus::default();
    let out = done(decide(
        &facts(&spec, &status),
        Ok(settings(true, false, TlsVersion::V1_2)),
    ));
    assert_eq!(condition(&out, READY), pair("True", "InSync"));
    assert_eq!(condition(&out, SYNCED), pair("True", "ReconcileSuccess"));
    assert_eq!(out.retry, Retry::Resync(Duration::from_secs(600)));
    assert_eq!(
        out.status.observed,
        Some(settings(true, false, TlsVersion::V1_2))
    );
    assert_eq!(
        out.status.target.as_ref().map(|t| t.name.as_str()),
        Some(TARGET)
    );
    assert_eq!(out.status.observed_generation, Some(2));
    assert!(out.events.is_empty());
    assert!(
        out.status.original.is_none(),
        "nothing was changed, so nothing to remember"
    );
}

#[test]
fn steady_state_status_is_unchanged() {
    let spec = spec();
    let before = in_sync_status();
    let mut later = facts(&spec, &before);
    later.now = at(5_000);
    let out = done(decide(&later, Ok(settings(true, false, TlsVersion::V1_2))));
    assert_eq!(out.status, before, "a quiet resync must not write status");
    assert!(out.events.is_empty());
}

#[test]
fn patch_sends_only_differing_managed_fields_including_false() {
    let mut spec = spec();
    spec.require_valid_cert = Some(false);
    let status = SendGridEnforcedTlsStatus::default();
    let plan = patch(decide(
        &facts(&spec, &status),
        Ok(settings(true, true, TlsVersion::V1_1)),
    ));
    assert_eq!(
        plan.changes,
        TlsSettings {
            require_tls: None,
            require_valid_cert: Some(false),
            minimum_tls_version: Some(TlsVersion::V1_2)
        }
    );
    assert_eq!(plan.before, settings(true, true, TlsVersion::V1_1));
}

#[test]
fn unmanaged_fields_are_only_observed() {
    let mut spec = spec();
    spec.require_valid_cert = None;
    spec.minimum_tls_version = None;
    let status = SendGridEnforcedTlsStatus::default();
    let out = done(decide(
        &facts(&spec, &status),
        Ok(settings(true, true, TlsVersion::V1_3)),
    ));
    assert_eq!(condition(&out, READY), pair("True", "InSync"));
    assert_eq!(
        out.status.observed,
        Some(settings(true, true, TlsVersion::V1_3))
    );
}

#[test]
fn missing_version_in_answer_is_a_difference_when_managed() {
    let spec = spec();
    let status = SendGridEnforcedTlsStatus::default();
    let seen = TlsSettings {
        minimum_tls_version: None,
        ..settings(true, false, TlsVersion::V1_1)
    };
    let plan = patch(decide(&facts(&spec, &status), Ok(seen)));
    assert_eq!(plan.changes.minimum_tls_version, Some(TlsVersion::V1_2));
}

#[test]
fn first_patch_applies_and_records_original() {
    let spec = spec();
    let status = SendGridEnforcedTlsStatus::default();
    let f = facts(&spec, &status);
    let plan = patch(decide(&f, Ok(settings(false, false, TlsVersion::V1_1))));
    let out = after_patch(&f, &plan, Ok(settings(true, false, TlsVersion::V1_2)));
    assert_eq!(condition(&out, READY), pair("True", "InSync"));
    assert_eq!(condition(&out, SYNCED), pair("True", "ReconcileSuccess"));
    for c in &out.status.conditions {
        assert_eq!(c.observed_generation, Some(2), "{c:?}");
    }
    assert_eq!(
        out.status.original,
        Some(settings(false, false, TlsVersion::V1_1))
    );
    assert_eq!(
        out.status.observed,
        Some(settings(true, false, TlsVersion::V1_2))
    );
    assert_eq!(out.status.last_applied_time, Some(at(1_000)));
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.events[0].reason, Reason::Applied);
    assert_eq!(
        out.events[0].message,
        "Set requireTls=true, minimumTlsVersion=1.2"
    );
}

#[test]
fn patch_response_is_the_new_observed_state() {
    // SendGrid's GET may lag a PATCH: the PATCH answer is trusted, and fields it omits are
    // taken from before.
    let spec = spec();
    let status = SendGridEnforcedTlsStatus::default();
    let f = facts(&spec, &status);
    let plan = patch(decide(&f, Ok(settings(false, false, TlsVersion::V1_2))));
    let answer = TlsSettings {
        require_tls: Some(true),
        ..TlsSettings::default()
    };
    let out = after_patch(&f, &plan, Ok(answer));
    assert_eq!(
        out.status.observed,
        Some(settings(true, false, TlsVersion::V1_2))
    );
    assert_eq!(condition(&out, READY), pair("True", "InSync"));
}

#[test]
fn patch_accepted_but_not_applied_is_pending_with_backoff() {
    let spec = spec();
    let status = SendGridEnforcedTlsStatus::default();
    let f = facts(&spec, &status);
    let plan = patch(decide(&f, Ok(settings(false, false, TlsVersion::V1_1))));
    let out = after_patch(&f, &plan, Ok(settings(false, false, TlsVersion::V1_1)));
    assert_eq!(condition(&out, READY), pair("False", "Pending"));
    assert_eq!(out.retry, Retry::Backoff);
}

#[test]
fn original_is_kept_from_the_first_change_only() {
    let spec = spec();
    let mut status = in_sync_status();
    status.original = Some(settings(false, true, TlsVersion::V1_1));
    let f = facts(&spec, &status);
    let plan = patch(decide(&f, Ok(settings(false, false, TlsVersion::V1_2))));
    let out = after_patch(&f, &plan, Ok(settings(true, false, TlsVersion::V1_2)));
    assert_eq!(
        out.status.original,
        Some(settings(false, true, TlsVersion::V1_1))
    );
}

#[test]
fn drift_in_enforce_mode_is_corrected_with_an_event() {
    let spec = spec();
    let status = in_sync_status();
    let f = facts(&spec, &status);
    let plan = patch(decide(&f, Ok(settings(false, false, TlsVersion::V1_2))));
    assert_eq!(
        plan.changes,
        TlsSettings {
            require_tls: Some(true),
            ..TlsSettings::default()
        }
    );
    let out = after_patch(&f, &plan, Ok(settings(true, false, TlsVersion::V1_2)));
    assert_eq!(out.events[0].reason, Reason::DriftCorrected);
    assert!(
        out.events[0]
            .message
            .contains("requireTls (want true, SendGrid has false)")
    );
}

#[test]
fn spec_change_is_applied_not_drift() {
    let spec = spec();
    let status = in_sync_status();
    let mut f = facts(&spec, &status);
    f.generation = Some(3);
    let plan = patch(decide(&f, Ok(settings(false, false, TlsVersion::V1_2))));
    let out = after_patch(&f, &plan, Ok(settings(true, false, TlsVersion::V1_2)));
    assert_eq!(out.events[0].reason, Reason::Applied);
    assert_eq!(out.status.observed_generation, Some(3));
}

#[test]
fn observe_mode_reports_drift_and_never_patches() {
    let mut spec = spec();
    spec.mode = Some(Mode::Observe);
    let status = SendGridEnforcedTlsStatus::default();
    let in_sync = done(decide(
        &facts(&spec, &status),
        Ok(settings(true, false, TlsVersion::V1_2)),
    ));
    assert_eq!(condition(&in_sync, READY), pair("True", "InSync"));
    let out = done(decide(
        &facts(&spec, &status),
        Ok(settings(false, false, TlsVersion::V1_1)),
    ));
    assert_eq!(condition(&out, READY), pair("False", "Drifted"));
    assert_eq!(condition(&out, SYNCED), pair("True", "ReconcileSuccess"));
    let message = &conditions::find(&out.status.conditions, READY)
        .unwrap()
        .message;
    assert_eq!(
        message,
        "requireTls (want true, SendGrid has false); minimumTlsVersion (want 1.2, SendGrid has 1.1)"
    );
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.events[0].kind, EventKind::Warning);
    // The same drift again: no new Event, no status change.
    let again = done(decide(
        &facts(&spec, &out.status),
        Ok(settings(false, false, TlsVersion::V1_1)),
    ));
    assert!(again.events.is_empty());
    assert_eq!(again.status, out.status);
}

#[test]
fn conflict_never_patches() {
    let spec = spec();
    let status = SendGridEnforcedTlsStatus::default();
    let mut f = facts(&spec, &status);
    f.standing = Standing::Conflict("mail/older".into());
    let out = done(decide(&f, Ok(settings(false, false, TlsVersion::V1_1))));
    assert_eq!(condition(&out, READY), pair("False", "Conflict"));
    let message = &conditions::find(&out.status.conditions, READY)
        .unwrap()
        .message;
    assert!(
        message.contains("mail/older") && message.contains(TARGET),
        "{message}"
    );
    assert_eq!(out.events[0].reason, Reason::Conflict);
    let again = done(decide(&f, Ok(settings(false, false, TlsVersion::V1_1))));
    assert_eq!(again.events.len(), 1, "first time only for a new status");
    let mut f2 = facts(&spec, &out.status);
    f2.standing = Standing::Conflict("mail/older".into());
    assert!(
        done(decide(&f2, Ok(settings(false, false, TlsVersion::V1_1))))
            .events
            .is_empty()
    );
}

fn sendgrid(e: SendGridError) -> Failure {
    Failure::SendGrid(e)
}

#[test]
fn failures_map_to_reasons_and_retries() {
    let reset = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000);
    let m = || "m".to_string();
    let table: Vec<(Failure, Reason, Retry)> = vec![
        (
            Failure::SecretNotFound { name: "s".into() },
            Reason::SecretNotFound,
            Retry::Backoff,
        ),
        (
            Failure::SecretKeyNotFound {
                name: "s".into(),
                key: "apiKey".into(),
                detail: m(),
            },
            Reason::SecretKeyNotFound,
            Retry::Backoff,
        ),
        (
            Failure::SecretKeyInvalid {
                name: "s".into(),
                key: "apiKey".into(),
                detail: m(),
            },
            Reason::SecretKeyInvalid,
            Retry::Backoff,
        ),
        (
            Failure::SecretForbidden {
                name: "s".into(),
                message: m(),
            },
            Reason::SecretForbidden,
            Retry::Backoff,
        ),
        (
            sendgrid(SendGridError::Unauthorized { message: m() }),
            Reason::Unauthorized,
            Retry::Backoff,
        ),
        (
            sendgrid(SendGridError::Forbidden { message: m() }),
            Reason::Forbidden,
            Retry::Backoff,
        ),
        (
            sendgrid(SendGridError::NotFound { message: m() }),
            Reason::NotFound,
            Retry::Backoff,
        ),
        (
            sendgrid(SendGridError::DataResidency { message: m() }),
            Reason::DataResidency,
            Retry::Backoff,
        ),
        (
            sendgrid(SendGridError::Rejected {
                status: 400,
                message: m(),
            }),
            Reason::Rejected,
            Retry::Resync(Duration::from_secs(600)),
        ),
        (
            Failure::InvalidSpec { message: m() },
            Reason::Rejected,
            Retry::Resync(Duration::from_secs(600)),
        ),
        (
            sendgrid(SendGridError::RateLimited {
                reset: Some(reset),
                message: m(),
            }),
            Reason::RateLimited,
            Retry::At(reset),
        ),
        (
            sendgrid(SendGridError::RateLimited {
                reset: None,
                message: m(),
            }),
            Reason::RateLimited,
            Retry::Backoff,
        ),
        (
            sendgrid(SendGridError::Unavailable {
                status: Some(503),
                message: m(),
            }),
            Reason::ApiUnavailable,
            Retry::Backoff,
        ),
    ];
    let spec = spec();
    let status = SendGridEnforcedTlsStatus::default();
    for (failure, reason, retry) in table {
        let out = done(decide(&facts(&spec, &status), Err(failure.clone())));
        assert_eq!(
            condition(&out, SYNCED),
            pair("False", reason.as_str()),
            "{failure:?}"
        );
        assert_eq!(
            condition(&out, READY),
            pair("False", "Pending"),
            "{failure:?}"
        );
        assert_eq!(out.retry, retry, "{failure:?}");
        let synced = conditions::find(&out.status.conditions, SYNCED).unwrap();
        assert_eq!(synced.message, failure.to_string(), "says what failed");
        assert_eq!(out.events.len(), 1, "{failure:?}");
        assert_eq!(
            out.events[0].message, synced.message,
            "and so does its Event"
        );
        assert_eq!(
            (out.events[0].kind, out.events[0].reason),
            (EventKind::Warning, reason)
        );
        assert_eq!(out.failure, Some(failure));
    }
}

#[test]
fn transient_failure_leaves_ready_as_it_was() {
    let spec = spec();
    let status = in_sync_status();
    let mut f = facts(&spec, &status);
    f.generation = Some(3);
    let failure = sendgrid(SendGridError::Unavailable {
        status: Some(500),
        message: "boom".into(),
    });
    let out = done(decide(&f, Err(failure)));
    assert_eq!(condition(&out, READY), pair("True", "InSync"));
    assert_eq!(condition(&out, SYNCED), pair("False", "ApiUnavailable"));
    assert_eq!(
        out.status.observed, status.observed,
        "the last successful answer stays"
    );
    // A rate limit says nothing about SendGrid's settings either; refused locally before the
    // reset, the client says so: a new message, written and announced again.
    let limited = |message: &str| {
        sendgrid(SendGridError::RateLimited {
            reset: None,
            message: message.into(),
        })
    };
    let first = done(decide(
        &facts(&spec, &status),
        Err(limited("429 Too Many Requests: too many requests")),
    ));
    assert_eq!(condition(&first, READY), pair("True", "InSync"));
    assert_eq!(condition(&first, SYNCED), pair("False", "RateLimited"));
    let local = "429 Too Many Requests: request not sent, retrying after the window resets";
    let again = done(decide(&facts(&spec, &first.status), Err(limited(local))));
    assert_eq!(condition(&again, READY), pair("True", "InSync"));
    let synced = conditions::find(&again.status.conditions, SYNCED).unwrap();
    assert_eq!(synced.message, local);
    assert_eq!(again.events.len(), 1, "a new message is a new Warning");
}

#[test]
fn permanent_failure_on_a_new_generation_is_pending() {
    let spec = spec();
    let status = in_sync_status();
    let mut f = facts(&spec, &status);
    f.generation = Some(3);
    let out = done(decide(
        &f,
        Err(sendgrid(SendGridError::Unauthorized {
            message: "bad".into(),
        })),
    ));
    assert_eq!(condition(&out, READY), pair("False", "Pending"));
}

#[test]
fn repeated_failure_emits_one_event_and_no_status_change() {
    let spec = spec();
    let status = SendGridEnforcedTlsStatus::default();
    let failure = sendgrid(SendGridError::Unauthorized {
        message: "401 invalid".into(),
    });
    let first = done(decide(&facts(&spec, &status), Err(failure.clone())));
    let mut later = facts(&spec, &first.status);
    later.now = at(9_000);
    let second = done(decide(&later, Err(failure)));
    assert!(second.events.is_empty());
    assert_eq!(second.status, first.status);
}

#[test]
fn failed_patch_keeps_the_observed_settings_of_the_get() {
    let spec = spec();
    let status = SendGridEnforcedTlsStatus::default();
    let f = facts(&spec, &status);
    let plan = patch(decide(&f, Ok(settings(false, false, TlsVersion::V1_1))));
    let rejected = sendgrid(SendGridError::Rejected {
        status: 400,
        message: "version: bad".into(),
    });
    let out = after_patch(&f, &plan, Err(rejected));
    assert_eq!(
        out.status.observed,
        Some(settings(false, false, TlsVersion::V1_1))
    );
    assert_eq!(out.status.original, None);
    assert_eq!(
        out.retry,
        Retry::Resync(Duration::from_secs(600)),
        "no failure parks a resource for good"
    );
    assert!(
        conditions::find(&out.status.conditions, SYNCED)
            .unwrap()
            .message
            .contains("version: bad")
    );
}

#[test]
fn requested_reconcile_is_recorded() {
    let spec = spec();
    let status = SendGridEnforcedTlsStatus::default();
    let mut f = facts(&spec, &status);
    f.requested_at = Some("2026-11-26T07:00:00Z");
    let out = done(decide(&f, Ok(settings(true, false, TlsVersion::V1_2))));
    assert_eq!(
        out.status.last_handled_reconcile_at.as_deref(),
        Some("2026-11-26T07:00:00Z")
    );
}

#[test]
fn resync_interval_comes_from_the_spec() {
    let mut spec = spec();
    spec.resync_interval = Some("45s".into());
    let status = SendGridEnforcedTlsStatus::default();
    let out = done(decide(
        &facts(&spec, &status),
        Ok(settings(true, false, TlsVersion::V1_2)),
    ));
    assert_eq!(out.retry, Retry::Resync(Duration::from_secs(45)));
}

#[test]
fn cleanup_policies() {
    let seen = settings(true, false, TlsVersion::V1_2);
    let original = settings(false, true, TlsVersion::V1_1);
    let managed = spec().managed();
    let none = TlsSettings::default();
    let changes =
        |policy,
         managed: &TlsSettings,
         original: Option<&TlsSettings>,
         seen: &TlsSettings,
         spared: &TlsSettings| { cleanup_changes(policy, managed, original, seen, spared) };
    assert_eq!(
        changes(
            DeletionPolicy::Orphan,
            &managed,
            Some(&original),
            &seen,
            &none
        ),
        None,
        "Orphan changes nothing"
    );
    assert_eq!(
        changes(
            DeletionPolicy::Restore,
            &managed,
            Some(&original),
            &seen,
            &none
        ),
        Some(original)
    );
    assert_eq!(
        changes(DeletionPolicy::Restore, &managed, None, &seen, &none),
        None,
        "nothing recorded, nothing to restore"
    );
    let mut partly = managed;
    partly.require_valid_cert = None; // not managed: left alone
    assert_eq!(
        changes(DeletionPolicy::Reset, &partly, None, &seen, &none),
        Some(TlsSettings {
            require_tls: Some(false),
            require_valid_cert: None,
            minimum_tls_version: Some(TlsVersion::V1_1)
        })
    );
    assert_eq!(
        changes(
            DeletionPolicy::Reset,
            &partly,
            None,
            &settings(false, true, TlsVersion::V1_1),
            &none
        ),
        None,
        "already at the defaults"
    );
}

#[test]
fn cleanup_spares_the_fields_another_live_resource_declares() {
    let seen = settings(true, true, TlsVersion::V1_2);
    let original = settings(false, false, TlsVersion::V1_1);
    let managed = settings(true, true, TlsVersion::V1_2);
    // Another resource on the same target still wants requireTls.
    let other = TlsSettings {
        require_tls: Some(true),
        ..TlsSettings::default()
    };
    for policy in [DeletionPolicy::Restore, DeletionPolicy::Reset] {
        assert_eq!(
            cleanup_changes(policy, &managed, Some(&original), &seen, &other),
            Some(TlsSettings {
                require_tls: None,
                require_valid_cert: Some(false),
                minimum_tls_version: Some(TlsVersion::V1_1)
            }),
            "{policy:?}"
        );
    }
    let everything = settings(true, true, TlsVersion::V1_2);
    assert_eq!(
        cleanup_changes(DeletionPolicy::Reset, &managed, None, &seen, &everything),
        None
    );
}

#[test]
fn restore_records_the_original_before_the_first_patch_and_only_then() {
    let mut spec = spec();
    spec.deletion_policy = Some(DeletionPolicy::Restore);
    let status = SendGridEnforcedTlsStatus::default();
    let before = settings(false, false, TlsVersion::V1_1);
    let plan = patch(decide(&facts(&spec, &status), Ok(before)));
    let ahead = plan
        .write_ahead
        .as_ref()
        .expect("a write ahead of the PATCH");
    assert_eq!(ahead.original, Some(before));
    let ready = conditions::find(&ahead.conditions, READY).expect("Ready set");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "Pending"),
        "nothing may read \"in sync\" from a status written before the PATCH"
    );
    assert_eq!(ahead.target, Some(target()));
    // Once recorded, a later PATCH (an edit, drift) writes nothing ahead and keeps it.
    let out = after_patch(
        &facts(&spec, ahead),
        &plan,
        Ok(settings(true, false, TlsVersion::V1_2)),
    );
    assert_eq!(out.status.original, Some(before));
    let mut edited = spec.clone();
    edited.minimum_tls_version = Some(TlsVersion::V1_3);
    let again = patch(decide(
        &facts(&edited, &out.status),
        Ok(settings(true, false, TlsVersion::V1_2)),
    ));
    assert_eq!(again.write_ahead, None);
    let kept = after_patch(
        &facts(&edited, &out.status),
        &again,
        Ok(settings(true, false, TlsVersion::V1_3)),
    );
    assert_eq!(
        kept.status.original,
        Some(before),
        "never the operator's own values"
    );
    // Whatever the policy: it can be switched to Restore at any time.
    for policy in [None, Some(DeletionPolicy::Reset)] {
        spec.deletion_policy = policy;
        let plan = patch(decide(&facts(&spec, &status), Ok(before)));
        let ahead = plan.write_ahead.as_ref().expect("written ahead");
        assert_eq!(ahead.original, Some(before), "{policy:?}");
    }
}

#[test]
fn repeated_drift_becomes_contested_and_stops_writing() {
    let spec = spec();
    let drifted = settings(false, false, TlsVersion::V1_2);
    let mut status = in_sync_status();
    let mut patches = 0;
    for round in 0..(CONTEST_LIMIT as i64 + 2) {
        let mut f = facts(&spec, &status);
        f.now = at(1_000 + 60 * round);
        match decide(&f, Ok(drifted)) {
            Decision::Patch(plan) => {
                patches += 1;
                let out = after_patch(&f, &plan, Ok(settings(true, false, TlsVersion::V1_2)));
                assert_eq!(out.events[0].reason, Reason::DriftCorrected);
                status = out.status;
            }
            Decision::Done(out) => {
                assert_eq!(condition(&out, READY), pair("False", "Contested"));
                let message = &conditions::find(&out.status.conditions, READY)
                    .unwrap()
                    .message;
                assert!(
                    message.contains("requireTls (want true, SendGrid has false)"),
                    "{message}"
                );
                // One Warning when it starts, none after.
                let first = !conditions::is(&status.conditions, READY, false, Reason::Contested);
                assert_eq!(out.events.len(), usize::from(first), "round {round}");
                status = out.status;
            }
        }
    }
    assert_eq!(
        patches, CONTEST_LIMIT,
        "at most the limit of corrections, then no more writes"
    );
    // A reconcile request resumes it.
    let mut f = facts(&spec, &status);
    f.requested_at = Some("now");
    assert!(matches!(decide(&f, Ok(drifted)), Decision::Patch(_)));
    // So does a spec change (a new generation).
    let mut f = facts(&spec, &status);
    f.generation = Some(3);
    assert!(matches!(decide(&f, Ok(drifted)), Decision::Patch(_)));
    // Corrections older than the window do not count.
    let mut old = in_sync_status();
    old.drift_corrections = vec![at(0); CONTEST_LIMIT];
    let mut f = facts(&spec, &old);
    f.now = at(10_000);
    assert!(matches!(decide(&f, Ok(drifted)), Decision::Patch(_)));
}

#[test]
fn gate_pauses_and_waits_before_calling_sendgrid() {
    let spec = spec();
    let status = in_sync_status();
    let mut f = facts(&spec, &status);
    assert_eq!(gate(&f), None);
    f.paused = true;
    let paused = gate(&f).expect("paused");
    assert_eq!(
        condition(&paused, READY),
        pair("True", "InSync"),
        "Ready left as it was"
    );
    assert_eq!(condition(&paused, SYNCED), pair("False", "Paused"));
    assert_eq!(paused.events.len(), 1);
    let mut again = facts(&spec, &paused.status);
    again.paused = true;
    assert!(
        gate(&again).unwrap().events.is_empty(),
        "one Event per pause"
    );

    let fresh = SendGridEnforcedTlsStatus::default();
    let mut f = facts(&spec, &fresh);
    f.standing = Standing::Wait("mail/older".into());
    let waiting = gate(&f).expect("waits for the older claim");
    assert_eq!(condition(&waiting, READY), pair("False", "Pending"));
    assert_eq!(
        waiting.status.target.as_ref().map(|t| t.name.as_str()),
        Some(TARGET),
        "claims its target at once"
    );
    assert!(matches!(waiting.retry, Retry::After(_)));

    // Created a moment ago and never reconciled: settle first, writing nothing.
    let created = at(1_000);
    let mut f = facts(&spec, &fresh);
    f.created = Some(&created);
    let settling = gate(&f).expect("settles");
    assert_eq!(settling.retry, Retry::After(CLAIM_SETTLE));
    assert_eq!(settling.status, fresh);
    assert!(settling.events.is_empty());
    f.now = at(1_000 + CLAIM_SETTLE.as_secs() as i64);
    assert_eq!(gate(&f), None);
}

#[test]
fn failed_cleanup_says_how_to_let_go() {
    let mut spec = spec();
    spec.deletion_policy = Some(DeletionPolicy::Reset);
    let status = in_sync_status();
    let out = cleanup_failed(
        &facts(&spec, &status),
        Failure::SecretNotFound {
            name: "gone".into(),
        },
        Duration::from_secs(600),
    );
    assert_eq!(condition(&out, READY), pair("False", "Deleting"));
    assert_eq!(condition(&out, SYNCED), pair("False", "SecretNotFound"));
    let message = &conditions::find(&out.status.conditions, READY)
        .unwrap()
        .message;
    assert!(
        message.contains("set spec.deletionPolicy to Orphan"),
        "{message}"
    );
    assert_eq!(out.retry, Retry::Backoff);
    assert_eq!(out.events[0].reason, Reason::CleanupFailed);
}

#[test]
fn a_field_missing_from_the_patch_answer_is_taken_as_sent() {
    let spec = spec();
    let status = SendGridEnforcedTlsStatus::default();
    let f = facts(&spec, &status);
    let plan = patch(decide(&f, Ok(settings(false, false, TlsVersion::V1_1))));
    // SendGrid's own OpenAPI examples answer without `version`.
    let answer = TlsSettings {
        minimum_tls_version: None,
        ..settings(true, false, TlsVersion::V1_1)
    };
    let out = after_patch(&f, &plan, Ok(answer));
    assert_eq!(
        out.status.observed,
        Some(settings(true, false, TlsVersion::V1_2))
    );
    assert_eq!(condition(&out, READY), pair("True", "InSync"));
}
