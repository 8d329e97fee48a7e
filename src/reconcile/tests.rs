//! The decision table: every branch of [`decide`], [`after_patch`] and the cleanup decision, from
//! small fixtures, with no runtime and no HTTP.

use super::cleanup::{cleanup_changes, cleanup_failed};
use super::conditions::{self, READY, SYNCED};
use super::decide::{Decision, Facts, NoteKind, Outcome, PatchPlan, after_patch, decide};
use super::failure::{Failure, Retry};
use crate::api::{
    DeletionPolicy, Mode, SecretKeyRef, SendGridEnforcedTlsSpec, SendGridEnforcedTlsStatus,
    TlsSettings, TlsVersion,
};
use crate::sendgrid::SendGridError;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use std::time::{Duration, SystemTime};

const TARGET: &str = "global/-/key-3f9a1c";

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
        status,
        requested_at: None,
        target: Some(TARGET.into()),
        conflict_with: None,
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
        Decision::Patch(plan) => plan,
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
    assert_eq!(out.status.target.as_deref(), Some(TARGET));
    assert_eq!(out.status.observed_generation, Some(2));
    assert!(out.notes.is_empty());
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
    assert!(out.notes.is_empty());
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
    assert_eq!(
        out.status.original,
        Some(settings(false, false, TlsVersion::V1_1))
    );
    assert_eq!(
        out.status.observed,
        Some(settings(true, false, TlsVersion::V1_2))
    );
    assert_eq!(out.status.last_applied_time, Some(at(1_000)));
    assert_eq!(out.notes.len(), 1);
    assert_eq!(out.notes[0].reason, "Applied");
    assert_eq!(
        out.notes[0].message,
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
    assert_eq!(out.notes[0].reason, "DriftCorrected");
    assert!(
        out.notes[0]
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
    assert_eq!(out.notes[0].reason, "Applied");
    assert_eq!(out.status.observed_generation, Some(3));
}

#[test]
fn observe_mode_reports_drift_and_never_patches() {
    let mut spec = spec();
    spec.mode = Some(Mode::Observe);
    let status = SendGridEnforcedTlsStatus::default();
    let out = done(decide(
        &facts(&spec, &status),
        Ok(settings(false, false, TlsVersion::V1_1)),
    ));
    assert_eq!(condition(&out, READY), pair("False", "Drifted"));
    let message = &conditions::find(&out.status.conditions, READY)
        .unwrap()
        .message;
    assert_eq!(
        message,
        "requireTls (want true, SendGrid has false); minimumTlsVersion (want 1.2, SendGrid has 1.1)"
    );
    assert_eq!(out.notes.len(), 1);
    assert_eq!(out.notes[0].kind, NoteKind::Warning);
    // The same drift again: no new Event, no status change.
    let again = done(decide(
        &facts(&spec, &out.status),
        Ok(settings(false, false, TlsVersion::V1_1)),
    ));
    assert!(again.notes.is_empty());
    assert_eq!(again.status, out.status);
}

#[test]
fn conflict_never_patches() {
    let spec = spec();
    let status = SendGridEnforcedTlsStatus::default();
    let mut f = facts(&spec, &status);
    f.conflict_with = Some("mail/older".into());
    let out = done(decide(&f, Ok(settings(false, false, TlsVersion::V1_1))));
    assert_eq!(condition(&out, READY), pair("False", "Conflict"));
    let message = &conditions::find(&out.status.conditions, READY)
        .unwrap()
        .message;
    assert!(
        message.contains("mail/older") && message.contains(TARGET),
        "{message}"
    );
    assert_eq!(out.notes[0].reason, "Conflict");
    let again = done(decide(&f, Ok(settings(false, false, TlsVersion::V1_1))));
    assert_eq!(again.notes.len(), 1, "first time only for a new status");
    let mut f2 = facts(&spec, &out.status);
    f2.conflict_with = Some("mail/older".into());
    assert!(
        done(decide(&f2, Ok(settings(false, false, TlsVersion::V1_1))))
            .notes
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
    let table: Vec<(Failure, &str, Retry)> = vec![
        (
            Failure::SecretNotFound { name: "s".into() },
            "SecretNotFound",
            Retry::Backoff,
        ),
        (
            Failure::SecretKeyNotFound {
                name: "s".into(),
                key: "apiKey".into(),
                detail: m(),
            },
            "SecretKeyNotFound",
            Retry::Backoff,
        ),
        (
            sendgrid(SendGridError::Unauthorized { message: m() }),
            "Unauthorized",
            Retry::Backoff,
        ),
        (
            sendgrid(SendGridError::Forbidden { message: m() }),
            "Forbidden",
            Retry::Backoff,
        ),
        (
            sendgrid(SendGridError::NotFound { message: m() }),
            "NotFound",
            Retry::Backoff,
        ),
        (
            sendgrid(SendGridError::DataResidency { message: m() }),
            "DataResidency",
            Retry::Backoff,
        ),
        (
            sendgrid(SendGridError::Rejected {
                status: 400,
                message: m(),
            }),
            "Rejected",
            Retry::AwaitChange,
        ),
        (
            Failure::InvalidSpec { message: m() },
            "Rejected",
            Retry::AwaitChange,
        ),
        (
            sendgrid(SendGridError::RateLimited {
                reset: Some(reset),
                message: m(),
            }),
            "RateLimited",
            Retry::At(reset),
        ),
        (
            sendgrid(SendGridError::RateLimited {
                reset: None,
                message: m(),
            }),
            "RateLimited",
            Retry::Backoff,
        ),
        (
            sendgrid(SendGridError::Unavailable {
                status: Some(503),
                message: m(),
            }),
            "ApiUnavailable",
            Retry::Backoff,
        ),
    ];
    let spec = spec();
    let status = SendGridEnforcedTlsStatus::default();
    for (failure, reason, retry) in table {
        let out = done(decide(&facts(&spec, &status), Err(failure.clone())));
        assert_eq!(
            condition(&out, SYNCED),
            pair("False", reason),
            "{failure:?}"
        );
        assert_eq!(
            condition(&out, READY),
            pair("False", "Pending"),
            "{failure:?}"
        );
        assert_eq!(out.retry, retry, "{failure:?}");
        assert_eq!(out.notes.len(), 1, "{failure:?}");
        assert_eq!(
            (out.notes[0].kind, out.notes[0].reason),
            (NoteKind::Warning, reason)
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
    assert!(second.notes.is_empty());
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
    assert_eq!(out.retry, Retry::AwaitChange);
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
    let mut spec = spec();
    let status = SendGridEnforcedTlsStatus {
        original: Some(settings(false, true, TlsVersion::V1_1)),
        ..SendGridEnforcedTlsStatus::default()
    };

    spec.deletion_policy = None;
    assert_eq!(
        cleanup_changes(&facts(&spec, &status), &seen),
        None,
        "Orphan changes nothing"
    );

    spec.deletion_policy = Some(DeletionPolicy::Restore);
    assert_eq!(
        cleanup_changes(&facts(&spec, &status), &seen),
        Some(TlsSettings {
            require_tls: Some(false),
            require_valid_cert: Some(true),
            minimum_tls_version: Some(TlsVersion::V1_1)
        })
    );

    spec.deletion_policy = Some(DeletionPolicy::Reset);
    spec.require_valid_cert = None; // not managed: left alone
    assert_eq!(
        cleanup_changes(&facts(&spec, &status), &seen),
        Some(TlsSettings {
            require_tls: Some(false),
            require_valid_cert: None,
            minimum_tls_version: Some(TlsVersion::V1_1)
        })
    );
    assert_eq!(
        cleanup_changes(
            &facts(&spec, &status),
            &settings(false, true, TlsVersion::V1_1)
        ),
        None,
        "already at the defaults"
    );

    spec.deletion_policy = Some(DeletionPolicy::Restore);
    let never_changed = SendGridEnforcedTlsStatus::default();
    assert_eq!(cleanup_changes(&facts(&spec, &never_changed), &seen), None);
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
    );
    assert_eq!(condition(&out, READY), pair("False", "Deleting"));
    assert_eq!(condition(&out, SYNCED), pair("False", "SecretNotFound"));
    let message = &conditions::find(&out.status.conditions, READY)
        .unwrap()
        .message;
    assert!(message.contains("deletionPolicy to Orphan"), "{message}");
    assert_eq!(out.retry, Retry::Backoff);
    assert_eq!(out.notes[0].reason, "CleanupFailed");
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
