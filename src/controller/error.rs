//! Errors the reconcile cannot turn into status: the Kubernetes API itself failing.

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
}

impl Error {
    /// The metric label for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Kube(_) => "KubeApiError",
            Error::NoNamespace => "InvalidObject",
            Error::Stale => "Stale",
        }
    }
}
