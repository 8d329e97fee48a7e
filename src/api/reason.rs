//! One vocabulary: the condition types, and every condition reason, Event reason and metric
//! label the operator uses. The string forms are what status, Events, metrics and the Argo CD
//! health check carry; nothing outside this module spells them.

use std::fmt;

/// Whether SendGrid matches the spec.
pub const READY: &str = "Ready";
/// Whether the last reconcile reached SendGrid.
pub const SYNCED: &str = "Synced";
/// kstatus's InProgress, read from `Ready` and `Synced` (see `super::kstatus`).
pub const RECONCILING: &str = "Reconciling";
/// kstatus's Failed, read from `Ready` and `Synced` (see `super::kstatus`).
pub const STALLED: &str = "Stalled";

/// A condition's status as Kubernetes spells it.
pub fn condition_status(status: bool) -> &'static str {
    if status { "True" } else { "False" }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    // Ready
    InSync,
    Pending,
    Drifted,
    Conflict,
    Contested,
    Deleting,
    // Synced
    ReconcileSuccess,
    SecretNotFound,
    SecretKeyNotFound,
    SecretKeyInvalid,
    SecretForbidden,
    Unauthorized,
    Forbidden,
    NotFound,
    DataResidency,
    Rejected,
    RateLimited,
    ApiUnavailable,
    Paused,
    // Events only
    Applied,
    DriftCorrected,
    CleanedUp,
    Retargeted,
    CleanupFailed,
    CleanupSkipped,
    InvalidObject,
    // Metric labels of reconciles that ended in a Kubernetes API error
    KubeApiError,
    Stale,
    /// Past the leader lease's renew deadline: nothing written, the replica stops.
    NotLeader,
}

impl Reason {
    /// `Ready`'s reasons, with the condition status each goes with.
    pub const READY: [(bool, Reason); 6] = [
        (true, Reason::InSync),
        (false, Reason::Pending),
        (false, Reason::Drifted),
        (false, Reason::Conflict),
        (false, Reason::Contested),
        (false, Reason::Deleting),
    ];

    /// `Synced`'s reasons, with the condition status each goes with.
    pub const SYNCED: [(bool, Reason); 13] = [
        (true, Reason::ReconcileSuccess),
        (false, Reason::SecretNotFound),
        (false, Reason::SecretKeyNotFound),
        (false, Reason::SecretKeyInvalid),
        (false, Reason::SecretForbidden),
        (false, Reason::Unauthorized),
        (false, Reason::Forbidden),
        (false, Reason::NotFound),
        (false, Reason::DataResidency),
        (false, Reason::Rejected),
        (false, Reason::RateLimited),
        (false, Reason::ApiUnavailable),
        (false, Reason::Paused),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InSync => "InSync",
            Reason::Pending => "Pending",
            Reason::Drifted => "Drifted",
            Reason::Conflict => "Conflict",
            Reason::Contested => "Contested",
            Reason::Deleting => "Deleting",
            Reason::ReconcileSuccess => "ReconcileSuccess",
            Reason::SecretNotFound => "SecretNotFound",
            Reason::SecretKeyNotFound => "SecretKeyNotFound",
            Reason::SecretKeyInvalid => "SecretKeyInvalid",
            Reason::SecretForbidden => "SecretForbidden",
            Reason::Unauthorized => "Unauthorized",
            Reason::Forbidden => "Forbidden",
            Reason::NotFound => "NotFound",
            Reason::DataResidency => "DataResidency",
            Reason::Rejected => "Rejected",
            Reason::RateLimited => "RateLimited",
            Reason::ApiUnavailable => "ApiUnavailable",
            Reason::Paused => "Paused",
            Reason::Applied => "Applied",
            Reason::DriftCorrected => "DriftCorrected",
            Reason::CleanedUp => "CleanedUp",
            Reason::Retargeted => "Retargeted",
            Reason::CleanupFailed => "CleanupFailed",
            Reason::CleanupSkipped => "CleanupSkipped",
            Reason::InvalidObject => "InvalidObject",
            Reason::KubeApiError => "KubeApiError",
            Reason::Stale => "Stale",
            Reason::NotLeader => "NotLeader",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<Reason> for String {
    fn eq(&self, other: &Reason) -> bool {
        self == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::Reason;

    #[test]
    fn string_forms_are_the_variant_names() {
        for (_, reason) in Reason::READY.into_iter().chain(Reason::SYNCED) {
            assert_eq!(reason.as_str(), format!("{reason:?}"));
        }
    }
}
