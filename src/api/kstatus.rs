//! The `Reconciling` and `Stalled` conditions, read from `Ready` and `Synced` for the tools that
//! know only kstatus's conditions (Flux, kpt, Config Sync): `Reconciling=True` reads InProgress,
//! `Stalled=True` reads Failed, neither reads Current. Both are "abnormal-true", as kstatus
//! defines them: absent when all is well, never both at once.
//!
//! The reading is the Argo CD health check's (`argocd/`): what it calls Progressing is
//! Reconciling, what it calls Degraded is Stalled. A pause is Stalled unless `Ready` is True for
//! this generation: nothing moves until the annotation goes.

use super::{Condition, RECONCILING, Reason, STALLED, condition_status};

/// `Synced=False` reasons the operator retries its way out of.
const SYNCED_RETRIED: [Reason; 2] = [Reason::RateLimited, Reason::ApiUnavailable];
/// `Ready=False` reasons that are steps on the way.
const READY_ON_THE_WAY: [Reason; 2] = [Reason::Pending, Reason::Deleting];

/// The one kstatus condition that `ready` and `synced` call for, if any, for a status whose
/// `observedGeneration` is `observed_generation`. It takes its reason, message and
/// lastTransitionTime from the condition it comes from, so it changes only when that does.
pub fn condition(
    ready: Option<&Condition>,
    synced: Option<&Condition>,
    observed_generation: Option<i64>,
) -> Option<Condition> {
    let current = |c: &Condition| c.observed_generation == observed_generation;
    let is = |c: &Condition, status: bool| c.status == condition_status(status);
    let ready_now = ready.is_some_and(|c| is(c, true) && current(c));
    if let Some(synced) = synced.filter(|c| is(c, false) && c.reason == Reason::Paused) {
        return (!ready_now).then(|| derived(STALLED, synced, observed_generation));
    }
    if let Some(stale) = [ready, synced].into_iter().flatten().find(|c| !current(c)) {
        return Some(Condition {
            reason: Reason::Pending.to_string(),
            message: format!(
                "{} describes generation {} of the spec; reconciling generation {}",
                stale.type_,
                stale.observed_generation.unwrap_or_default(),
                observed_generation.unwrap_or_default()
            ),
            ..derived(RECONCILING, stale, observed_generation)
        });
    }
    if let Some(synced) = synced.filter(|c| is(c, false)) {
        let type_ = if SYNCED_RETRIED.iter().any(|r| synced.reason == *r) {
            RECONCILING
        } else {
            STALLED
        };
        return Some(derived(type_, synced, observed_generation));
    }
    let Some(ready) = ready else {
        return synced.map(|synced| Condition {
            reason: Reason::Pending.to_string(),
            message: "not reconciled yet".to_string(),
            ..derived(RECONCILING, synced, observed_generation)
        });
    };
    if is(ready, true) {
        return None;
    }
    let type_ = if READY_ON_THE_WAY.iter().any(|r| ready.reason == *r) {
        RECONCILING
    } else {
        STALLED
    };
    Some(derived(type_, ready, observed_generation))
}

/// A True condition of `type_` that says what `cause` says.
fn derived(type_: &str, cause: &Condition, observed_generation: Option<i64>) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: condition_status(true).to_string(),
        reason: cause.reason.clone(),
        message: cause.message.clone(),
        observed_generation,
        last_transition_time: cause.last_transition_time.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{READY, SYNCED};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn cond(type_: &str, status: bool, reason: Reason, generation: i64) -> Condition {
        Condition {
            type_: type_.to_string(),
            status: condition_status(status).to_string(),
            reason: reason.to_string(),
            message: format!("{reason} message"),
            observed_generation: Some(generation),
            last_transition_time: Time(Timestamp::from_second(100).unwrap()),
        }
    }

    /// (type, reason) of what `Ready` and `Synced` call for, at generation 2 throughout.
    fn reading(ready: (bool, Reason), synced: (bool, Reason)) -> Option<(String, String)> {
        let ready = cond(READY, ready.0, ready.1, 2);
        let synced = cond(SYNCED, synced.0, synced.1, 2);
        condition(Some(&ready), Some(&synced), Some(2)).map(|c| {
            assert_eq!(c.status, "True");
            assert_eq!(c.observed_generation, Some(2));
            (c.type_, c.reason)
        })
    }

    fn expected(reason: Reason) -> Option<&'static str> {
        use Reason::*;
        match reason {
            InSync | ReconcileSuccess => None,
            Pending | Deleting | RateLimited | ApiUnavailable => Some(RECONCILING),
            Drifted | Conflict | Contested | SecretNotFound | SecretKeyNotFound
            | SecretKeyInvalid | SecretForbidden | Unauthorized | Forbidden | NotFound
            | DataResidency | Rejected => Some(STALLED),
            // Read from Ready: see `paused`.
            Paused => None,
            other => panic!("{other} is no condition reason"),
        }
    }

    #[test]
    fn every_ready_reason_with_synced_true() {
        for ready in Reason::READY {
            let got = reading(ready, (true, Reason::ReconcileSuccess));
            let want = expected(ready.1).map(|t| (t.to_string(), ready.1.to_string()));
            assert_eq!(got, want, "Ready {}", ready.1);
        }
    }

    #[test]
    fn every_synced_reason_with_ready_in_sync() {
        for synced in Reason::SYNCED.into_iter().filter(|s| s.1 != Reason::Paused) {
            let got = reading((true, Reason::InSync), synced);
            let want = expected(synced.1).map(|t| (t.to_string(), synced.1.to_string()));
            assert_eq!(got, want, "Synced {}", synced.1);
        }
    }

    #[test]
    fn a_failing_synced_speaks_before_ready() {
        let got = reading((false, Reason::Conflict), (false, Reason::RateLimited));
        assert_eq!(got, Some((RECONCILING.into(), "RateLimited".into())));
        let got = reading((false, Reason::Pending), (false, Reason::Unauthorized));
        assert_eq!(got, Some((STALLED.into(), "Unauthorized".into())));
    }

    #[test]
    fn paused() {
        let paused = (false, Reason::Paused);
        assert_eq!(reading((true, Reason::InSync), paused), None);
        let stalled = Some((STALLED.to_string(), "Paused".to_string()));
        assert_eq!(reading((false, Reason::Pending), paused), stalled);
        assert_eq!(reading((false, Reason::Conflict), paused), stalled);
        // Paused before the first reconcile: no Ready at all.
        let synced = cond(SYNCED, false, Reason::Paused, 1);
        let got = condition(None, Some(&synced), Some(1)).unwrap();
        assert_eq!(
            (got.type_.as_str(), got.reason.as_str()),
            (STALLED, "Paused")
        );
        // Ready for an older spec is not Ready for this one.
        let ready = cond(READY, true, Reason::InSync, 1);
        let synced = cond(SYNCED, false, Reason::Paused, 2);
        let got = condition(Some(&ready), Some(&synced), Some(2)).unwrap();
        assert_eq!(got.type_, STALLED);
    }

    #[test]
    fn conditions_about_an_older_spec_read_reconciling() {
        let ready = cond(READY, true, Reason::InSync, 1);
        let synced = cond(SYNCED, false, Reason::RateLimited, 2);
        let got = condition(Some(&ready), Some(&synced), Some(2)).unwrap();
        assert_eq!(
            (got.type_.as_str(), got.reason.as_str()),
            (RECONCILING, "Pending")
        );
        assert_eq!(
            got.message,
            "Ready describes generation 1 of the spec; reconciling generation 2"
        );
    }

    #[test]
    fn nothing_to_read_from_nothing() {
        assert_eq!(condition(None, None, None), None);
        let synced = cond(SYNCED, true, Reason::ReconcileSuccess, 1);
        let got = condition(None, Some(&synced), Some(1)).unwrap();
        assert_eq!(got.type_, RECONCILING);
    }

    #[test]
    fn says_what_its_cause_says_and_keeps_its_time() {
        let ready = cond(READY, false, Reason::Conflict, 3);
        let synced = cond(SYNCED, true, Reason::ReconcileSuccess, 3);
        let got = condition(Some(&ready), Some(&synced), Some(3)).unwrap();
        assert_eq!(got.message, "Conflict message");
        assert_eq!(got.last_transition_time, ready.last_transition_time);
    }

    #[test]
    fn the_decision_sets_it_with_ready_and_synced_and_clears_it() {
        use crate::decision::conditions::{Verdict, set_both};
        let now = Time(Timestamp::from_second(200).unwrap());
        let mut conditions = Vec::new();
        let in_sync = || Verdict::yes(Reason::InSync, "");
        set_both(
            &mut conditions,
            in_sync(),
            Verdict::no(Reason::Unauthorized, "401"),
            Some(1),
            &now,
        );
        let types: Vec<_> = conditions.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, [READY, STALLED, SYNCED]);
        let success = Verdict::yes(Reason::ReconcileSuccess, "");
        set_both(&mut conditions, in_sync(), success, Some(1), &now);
        let types: Vec<_> = conditions.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, [READY, SYNCED]);
    }
}
