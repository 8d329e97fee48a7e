//! The decision table: every branch of [`decide`], [`after_patch`] and the cleanup decision, from
//! small fixtures, with no runtime and no HTTP.

use super::claim::Letting;
use super::cleanup::{OldTarget, cleanup_failed, moved, waiting_for_key};
use super::conditions;
use super::decide::{
    CONTEST_LIMIT, Decision, EventKind, Facts, Outcome, PatchPlan, after_patch, decide, paused,
};
use super::failure::{Failure, Retry};
use crate::api::{
    DeletionPolicy, FieldClaim, Mode, READY, Reason, Region, SYNCED, SecretKeyRef,
    SendGridEnforcedTlsSpec, SendGridEnforcedTlsStatus, TargetAccount, TargetFields, TlsSettings,
    TlsVersion,
};
use crate::sendgrid::SendGridError;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use std::time::{Duration, SystemTime};

const TARGET: &str = "global-4711";
const ME: &str = "mail/marketing";

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
        id: ME.into(),
        spec,
        generation: Some(2),
        status,
        requested_at: None,
        paused: false,
        target: Some(target()),
        record: TargetFields::default(),
        gone: Vec::new(),
        declared: Default::default(),
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
    let record = plan.record.as_ref().expect("claimed before the PATCH");
    let tls = record.require_tls.as_ref().unwrap();
    assert_eq!((tls.original, tls.written), (Some(false), true));
    let version = record.minimum_tls_version.as_ref().unwrap();
    assert_eq!(
        (version.original, version.written),
        (Some(TlsVersion::V1_1), TlsVersion::V1_2)
    );
    assert_eq!(record.holders(), vec![ME.to_string()]);
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
fn an_older_status_original_seeds_the_accounts_record_and_then_goes() {
    let spec = spec();
    let mut status = in_sync_status();
    status.original = Some(settings(false, true, TlsVersion::V1_1));
    let f = facts(&spec, &status);
    // SendGrid shows the older operator's own write; the record takes the older original.
    let plan = patch(decide(&f, Ok(settings(false, false, TlsVersion::V1_2))));
    let record = plan.record.clone().expect("claimed");
    assert_eq!(record.require_tls.unwrap().original, Some(false));
    assert_eq!(record.require_valid_cert.unwrap().original, Some(true));
    assert_eq!(
        record.minimum_tls_version.unwrap().original,
        Some(TlsVersion::V1_1)
    );
    let out = after_patch(&f, &plan, Ok(settings(true, false, TlsVersion::V1_2)));
    assert_eq!(out.status.original, None, "the record holds it now");
    // A failure before the record is written keeps it.
    let failed = done(decide(
        &f,
        Err(sendgrid(SendGridError::Unavailable {
            status: Some(503),
            message: "down".into(),
        })),
    ));
    assert_eq!(failed.status.original, status.original);
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

/// The account's record with `mail/older` holding minimumTlsVersion 1.3.
fn held_by_older() -> TargetFields {
    TargetFields {
        minimum_tls_version: Some(FieldClaim {
            original: Some(TlsVersion::V1_1),
            written: TlsVersion::V1_3,
            holders: vec!["mail/older".into()],
        }),
        ..TargetFields::default()
    }
}

#[test]
fn conflict_never_patches() {
    let spec = spec();
    let status = SendGridEnforcedTlsStatus::default();
    let mut f = facts(&spec, &status);
    f.record = held_by_older();
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
    assert_eq!(out.record, None, "it held nothing, so the record stays");
    let mut f2 = facts(&spec, &out.status);
    f2.record = held_by_older();
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
fn every_policy_claims_with_the_original_before_the_first_patch_and_only_then() {
    let mut spec = spec();
    let status = SendGridEnforcedTlsStatus::default();
    let before = settings(false, false, TlsVersion::V1_1);
    // Whatever the policy: it can be switched to Restore at any time.
    for policy in [
        None,
        Some(DeletionPolicy::Reset),
        Some(DeletionPolicy::Restore),
    ] {
        spec.deletion_policy = policy;
        let plan = patch(decide(&facts(&spec, &status), Ok(before)));
        let record = plan.record.as_ref().expect("claimed ahead of the PATCH");
        assert_eq!(record.written(), spec.managed(), "{policy:?}");
        assert_eq!(
            record.minimum_tls_version.as_ref().unwrap().original,
            Some(TlsVersion::V1_1)
        );
    }
    // Once held, a later PATCH (drift) writes no record.
    let held = patch(decide(&facts(&spec, &status), Ok(before)))
        .record
        .unwrap();
    let mut f = facts(&spec, &status);
    f.record = held.clone();
    let again = patch(decide(&f, Ok(before)));
    assert_eq!(again.record, None);
    // An edit changes what is written, never the original.
    let mut edited = spec.clone();
    edited.minimum_tls_version = Some(TlsVersion::V1_3);
    let mut f = facts(&edited, &status);
    f.record = held;
    let edit = patch(decide(&f, Ok(settings(true, false, TlsVersion::V1_2))));
    let version = edit.record.unwrap().minimum_tls_version.unwrap();
    assert_eq!(
        (version.original, version.written),
        (Some(TlsVersion::V1_1), TlsVersion::V1_3),
        "never the operator's own values"
    );
}

#[test]
fn a_field_no_longer_declared_is_put_back_in_the_same_patch_and_is_no_drift() {
    let mut spec = spec();
    spec.deletion_policy = Some(DeletionPolicy::Restore);
    let status = in_sync_status();
    let record = patch(decide(
        &facts(&spec, &status),
        Ok(settings(false, false, TlsVersion::V1_1)),
    ))
    .record
    .unwrap();
    spec.require_tls = None;
    let mut f = facts(&spec, &status);
    f.record = record;
    f.generation = Some(3);
    let plan = patch(decide(&f, Ok(settings(true, false, TlsVersion::V1_2))));
    assert_eq!(
        plan.changes,
        TlsSettings {
            require_tls: Some(false),
            ..TlsSettings::default()
        }
    );
    let out = after_patch(&f, &plan, Ok(settings(false, false, TlsVersion::V1_2)));
    assert_eq!(condition(&out, READY), pair("True", "InSync"));
    assert!(out.status.drift_corrections.is_empty());
    assert_eq!(out.events[0].reason, Reason::Applied);
}

#[test]
fn observe_holds_what_it_declares_but_never_writes() {
    let mut spec = spec();
    spec.mode = Some(Mode::Observe);
    let status = SendGridEnforcedTlsStatus::default();
    let mut f = facts(&spec, &status);
    let out = done(decide(&f, Ok(settings(false, false, TlsVersion::V1_1))));
    assert_eq!(condition(&out, READY), pair("False", "Drifted"));
    let record = out.record.expect("it holds its fields");
    assert_eq!(record.holders(), vec![ME.to_string()]);
    // A field it no longer declares is let go without a write, its original kept.
    let mut fewer = spec.clone();
    fewer.minimum_tls_version = None;
    f = facts(&fewer, &status);
    f.record = record;
    let out = done(decide(&f, Ok(settings(true, false, TlsVersion::V1_1))));
    let version = out.record.unwrap().minimum_tls_version.unwrap();
    assert!(
        version.holders.is_empty(),
        "its claim goes; the original stays"
    );
    assert_eq!(version.original, Some(TlsVersion::V1_1));
    assert!(out.events.iter().all(|e| e.reason != Reason::Applied));
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
fn paused_says_so_once_and_leaves_ready_as_it_was() {
    let spec = spec();
    let status = in_sync_status();
    let mut f = facts(&spec, &status);
    f.paused = true;
    let out = paused(&f);
    assert_eq!(
        condition(&out, READY),
        pair("True", "InSync"),
        "Ready left as it was"
    );
    assert_eq!(condition(&out, SYNCED), pair("False", "Paused"));
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.record, None);
    let mut again = facts(&spec, &out.status);
    again.paused = true;
    assert!(paused(&again).events.is_empty(), "one Event per pause");
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
fn a_deletion_waiting_for_a_key_says_why_and_comes_back_when_the_timeout_is_up() {
    let mut spec = spec();
    spec.deletion_policy = Some(DeletionPolicy::Restore);
    let status = in_sync_status();
    let left = Duration::from_secs(120);
    let unreadable = Failure::SecretNotFound {
        name: "sendgrid".into(),
    };
    // (why the key could not be read, the Synced reason, what its message says)
    let cases = [
        (
            Some(unreadable.clone()),
            "SecretNotFound",
            unreadable.to_string(),
        ),
        (
            None,
            "SecretKeyNotFound",
            "Secret sendgrid has no usable key apiKey: the Secret now holds a key of another account".to_string(),
        ),
    ];
    for (unread, reason, message) in cases {
        let out = waiting_for_key(
            &facts(&spec, &status),
            unread,
            left,
            Duration::from_secs(600),
        );
        assert_eq!(condition(&out, READY), pair("False", "Deleting"));
        assert_eq!(condition(&out, SYNCED), pair("False", reason));
        let synced = conditions::find(&out.status.conditions, SYNCED).unwrap();
        assert!(synced.message.starts_with(&message), "{}", synced.message);
        assert_eq!(out.retry, Retry::BackoffAtMost(left));
        assert_eq!(out.events[0].reason, Reason::CleanupFailed);
    }
}

#[test]
fn a_move_says_what_became_of_the_old_target() {
    let old = target();
    let new = TargetAccount {
        name: "eu-99".into(),
        region: Region::Eu,
        user_id: 99,
        username: "eu-parent".into(),
        ..target()
    };
    let put_back = Letting {
        put_back: TlsSettings {
            require_tls: Some(false),
            ..TlsSettings::default()
        },
        left: vec!["requireValidCert: changed since the operator wrote it".into()],
        ..Letting::default()
    };
    let moved_left =
        "moved from global-4711 (parent) to eu-99 (eu-parent); global-4711 (parent) left as is: ";
    // (what became of the old target, the Events' reasons, what each message starts with)
    let cases = [
        (OldTarget::Forgotten, vec![]),
        (
            OldTarget::Abandoned,
            vec![(
                Reason::CleanupSkipped,
                format!("{moved_left}no API key for it can be read any more"),
            )],
        ),
        (
            OldTarget::Failed(sendgrid(SendGridError::Unauthorized {
                message: "bad key".into(),
            })),
            vec![(Reason::CleanupSkipped, format!("{moved_left}Unauthorized: "))],
        ),
        (
            OldTarget::PutBack(Letting::default()),
            vec![(
                Reason::Retargeted,
                "moved from global-4711 (parent) to eu-99 (eu-parent); deletionPolicy Restore on global-4711 (parent): SendGrid already as it should be".to_string(),
            )],
        ),
        (
            OldTarget::PutBack(put_back),
            vec![
                (
                    Reason::Retargeted,
                    "moved from global-4711 (parent) to eu-99 (eu-parent); deletionPolicy Restore on global-4711 (parent): set ".to_string(),
                ),
                (
                    Reason::CleanupSkipped,
                    "global-4711 (parent): requireValidCert: changed since".to_string(),
                ),
            ],
        ),
    ];
    for (what, expected) in cases {
        let events = moved(DeletionPolicy::Restore, &old, &new, &what);
        let got: Vec<_> = events.iter().map(|e| e.reason).collect();
        let want: Vec<_> = expected.iter().map(|(r, _)| *r).collect();
        assert_eq!(got, want, "{what:?}");
        for (event, (_, start)) in events.iter().zip(&expected) {
            assert!(
                event.message.starts_with(start.as_str()),
                "{}",
                event.message
            );
        }
    }
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

/// What counts toward Contested: a spec change (new generation) and a new reconcile request
/// clear the count; an old handled request does not; a correction exactly one window old no
/// longer counts.
#[test]
fn the_drift_count_is_cleared_by_a_spec_change_or_a_new_request_only() {
    let spec = spec();
    let drifted = settings(false, false, TlsVersion::V1_2);
    let mut contested = in_sync_status();
    contested.drift_corrections = vec![at(990); CONTEST_LIMIT];
    contested.last_handled_reconcile_at = Some("handled".into());
    // No request pending (the handled one stays handled): still Contested, no PATCH.
    let f = facts(&spec, &contested);
    let out = done(decide(&f, Ok(drifted)));
    assert_eq!(condition(&out, READY), pair("False", "Contested"));
    // A spec change: applied, and the count starts again from nothing.
    let mut f = facts(&spec, &contested);
    f.generation = Some(3);
    let plan = patch(decide(&f, Ok(drifted)));
    let out = after_patch(&f, &plan, Ok(settings(true, false, TlsVersion::V1_2)));
    assert!(
        out.status.drift_corrections.is_empty(),
        "{:?}",
        out.status.drift_corrections
    );
    // Corrections exactly one window old do not count any more.
    let mut edge = in_sync_status();
    edge.drift_corrections = vec![at(1_000 - 3600); CONTEST_LIMIT];
    assert!(matches!(
        decide(&facts(&spec, &edge), Ok(drifted)),
        Decision::Patch(_)
    ));
}

/// A Conflict whose message changes (another holder, other fields) is worth a new Warning.
#[test]
fn a_conflict_that_says_something_new_warns_again() {
    let spec = spec();
    let status = SendGridEnforcedTlsStatus::default();
    let mut f = facts(&spec, &status);
    f.record = held_by_older();
    let seen = settings(false, false, TlsVersion::V1_1);
    let first = done(decide(&f, Ok(seen)));
    let mut other = held_by_older();
    if let Some(version) = other.minimum_tls_version.as_mut() {
        version.holders = vec!["mail/another".into()];
    }
    let mut f = facts(&spec, &first.status);
    f.record = other;
    let again = done(decide(&f, Ok(seen)));
    assert_eq!(condition(&again, READY), pair("False", "Conflict"));
    assert_eq!(again.events.len(), 1, "a new holder named: a new Warning");
    assert!(again.events[0].message.contains("mail/another"));
}

/// A field no longer declared that someone changed in SendGrid since the operator wrote it is
/// left as is, with a Warning saying so.
#[test]
fn a_field_no_longer_declared_and_changed_since_is_left_with_a_warning() {
    let mut spec = spec();
    spec.deletion_policy = Some(DeletionPolicy::Restore);
    let status = in_sync_status();
    let record = patch(decide(
        &facts(&spec, &status),
        Ok(settings(false, false, TlsVersion::V1_1)),
    ))
    .record
    .unwrap();
    spec.minimum_tls_version = None;
    let mut f = facts(&spec, &status);
    f.record = record;
    f.generation = Some(3);
    // The operator wrote 1.2; a person set 1.3 since.
    let out = done(decide(&f, Ok(settings(true, false, TlsVersion::V1_3))));
    let warning = out
        .events
        .iter()
        .find(|e| e.message.contains("no longer declared"))
        .expect("a Warning for the field left as is");
    assert!(
        warning.message.contains("minimumTlsVersion"),
        "{}",
        warning.message
    );
}
