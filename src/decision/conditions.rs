//! The `Ready` and `Synced` conditions, set so that an unchanged condition keeps its
//! lastTransitionTime (no status churn).

use crate::api::{
    Condition, READY, RECONCILING, Reason, STALLED, SYNCED, condition_status, kstatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// A condition to set, before timestamps and generation are filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub status: bool,
    pub reason: Reason,
    pub message: String,
}

impl Verdict {
    pub fn yes(reason: Reason, message: impl Into<String>) -> Verdict {
        Verdict {
            status: true,
            reason,
            message: message.into(),
        }
    }

    pub fn no(reason: Reason, message: impl Into<String>) -> Verdict {
        Verdict {
            status: false,
            reason,
            message: message.into(),
        }
    }
}

pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// True when the condition exists, is True and has this reason.
pub fn is(conditions: &[Condition], type_: &str, status: bool, reason: Reason) -> bool {
    find(conditions, type_)
        .is_some_and(|c| c.status == condition_status(status) && c.reason == reason)
}

/// Sets `type_` to `verdict`, keeping lastTransitionTime when the status does not change.
pub fn set(
    conditions: &mut Vec<Condition>,
    type_: &str,
    verdict: Verdict,
    generation: Option<i64>,
    now: &Time,
) {
    let status = condition_status(verdict.status).to_string();
    let last_transition_time = match find(conditions, type_) {
        Some(old) if old.status == status => old.last_transition_time.clone(),
        _ => now.clone(),
    };
    let condition = Condition {
        type_: type_.to_string(),
        status,
        reason: verdict.reason.to_string(),
        message: verdict.message,
        observed_generation: generation,
        last_transition_time,
    };
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(slot) => *slot = condition,
        None => conditions.push(condition),
    }
    // kstatus's own conditions (for Flux, kpt, Config Sync) follow Ready and Synced.
    let derived = kstatus::condition(
        find(conditions, READY),
        find(conditions, SYNCED),
        generation,
    );
    conditions.retain(|c| c.type_ != RECONCILING && c.type_ != STALLED);
    conditions.extend(derived);
    // A stable order keeps the serialized status, and so the "did it change" check, stable.
    conditions.sort_by(|a, b| a.type_.cmp(&b.type_));
}

/// Sets `Ready` and `Synced` together, both for `generation`.
pub fn set_both(
    conditions: &mut Vec<Condition>,
    ready: Verdict,
    synced: Verdict,
    generation: Option<i64>,
    now: &Time,
) {
    set(conditions, READY, ready, generation, now);
    set(conditions, SYNCED, synced, generation, now);
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).unwrap())
    }

    #[test]
    fn is_needs_both_the_status_and_the_reason() {
        let mut conds = Vec::new();
        set(
            &mut conds,
            READY,
            Verdict::no(Reason::Conflict, "a"),
            Some(1),
            &at(10),
        );
        assert!(is(&conds, READY, false, Reason::Conflict));
        assert!(!is(&conds, READY, true, Reason::Conflict), "status differs");
        assert!(!is(&conds, READY, false, Reason::Drifted), "reason differs");
        assert!(
            !is(&conds, "Synced", false, Reason::Conflict),
            "no such condition"
        );
    }

    #[test]
    fn unchanged_status_keeps_transition_time() {
        let mut conds = Vec::new();
        set(
            &mut conds,
            READY,
            Verdict::no(Reason::Pending, "a"),
            Some(1),
            &at(10),
        );
        set(
            &mut conds,
            READY,
            Verdict::no(Reason::Drifted, "b"),
            Some(2),
            &at(20),
        );
        assert_eq!(conds[0].last_transition_time, at(10));
        assert_eq!(conds[0].reason, "Drifted");
        assert_eq!(conds[0].observed_generation, Some(2));
        set(
            &mut conds,
            READY,
            Verdict::yes(Reason::InSync, "c"),
            Some(2),
            &at(30),
        );
        assert_eq!(conds[0].last_transition_time, at(30));
        assert!(is(&conds, READY, true, Reason::InSync));
    }

    #[test]
    fn conditions_are_sorted_by_type() {
        let mut conds = Vec::new();
        set(
            &mut conds,
            SYNCED,
            Verdict::yes(Reason::ReconcileSuccess, ""),
            None,
            &at(1),
        );
        set(
            &mut conds,
            READY,
            Verdict::yes(Reason::InSync, ""),
            None,
            &at(1),
        );
        let types: Vec<_> = conds.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, [READY, SYNCED]);
    }
}
