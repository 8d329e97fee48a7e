//! Errors the reconcile cannot turn into status: the Kubernetes API itself failing.

use crate::api::Reason;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("resource has no namespace")]
    NoNamespace,
    /// A compare-and-swap write found the resource changed since it was read: start over from
    /// fresh state.
    #[error("the resource changed while it was reconciled (409 Conflict)")]
    Stale,
    /// Past the leader lease's renew deadline: nothing is written, the replica stops.
    #[error(transparent)]
    PastDeadline(#[from] crate::sendgrid::PastDeadline),
}

impl Error {
    /// The metric label for this error.
    pub fn reason(&self) -> Reason {
        match self {
            Error::Kube(_) => Reason::KubeApiError,
            Error::NoNamespace => Reason::InvalidObject,
            Error::Stale => Reason::Stale,
            Error::PastDeadline(_) => Reason::NotLeader,
        }
    }
}
