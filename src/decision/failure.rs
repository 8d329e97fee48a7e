//! Everything that can stop a reconcile, with its category in one place: the condition reason,
//! the metric label, whether it is transient, and how to retry.

use crate::api::Reason;
use crate::sendgrid::SendGridError;
use std::time::{Duration, SystemTime};

/// Why a reconcile could not bring SendGrid in line with the spec.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Failure {
    #[error("Secret {name} not found in this namespace")]
    SecretNotFound { name: String },
    #[error("Secret {name} has no usable key {key}: {detail}")]
    SecretKeyNotFound {
        name: String,
        key: String,
        detail: String,
    },
    /// The value is not shaped like a SendGrid key: it is never sent anywhere.
    #[error("Secret {name} key {key}: {detail}")]
    SecretKeyInvalid {
        name: String,
        key: String,
        detail: String,
    },
    /// The operator may not read the Secret (RBAC).
    #[error(
        "the operator may not read Secret {name}: {message} (grant it get on secrets in this namespace; see the chart's RBAC)"
    )]
    SecretForbidden { name: String, message: String },
    /// The operator may not read or write the accounts' claim records (RBAC): without the
    /// record no claim can be made, so nothing is changed. Reported as `SecretForbidden`, the
    /// reason for the operator's own RBAC refusing what a resource needs.
    #[error(
        "the operator may not use sendgridtargets (group sendgrid.ops.dev, cluster-scoped), where it records each account's claims before any change, so nothing was changed: {message} (grant it get, list, watch, create, patch and delete on sendgridtargets, as the chart's ClusterRole <fullname>-targets and its binding do)"
    )]
    TargetsForbidden { message: String },
    /// SendGrid's list of the key's scopes (`GET /v3/scopes`) lacks some the resource needs:
    /// the key is not used at all.
    #[error("{}", missing_scopes(scopes))]
    MissingScopes { scopes: Vec<String> },
    /// The spec got past the CRD's validation (say, written before a CRD upgrade) but is unusable.
    #[error("{message}")]
    InvalidSpec { message: String },
    #[error("{0}")]
    SendGrid(#[from] SendGridError),
}

/// How to come back after a reconcile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Retry {
    /// In sync (or only observing): check again after the resync interval.
    Resync(Duration),
    /// Something failed that may heal by itself: per-resource exponential backoff with jitter.
    Backoff,
    /// The backoff, but back after this long at the latest (a timeout runs out then).
    BackoffAtMost(Duration),
    /// SendGrid's rate limit for this key resets at this time: not a request before.
    At(SystemTime),
}

impl Failure {
    /// The `Synced` condition reason, also the Event reason and the metric label.
    pub fn reason(&self) -> Reason {
        match self {
            Failure::SecretNotFound { .. } => Reason::SecretNotFound,
            Failure::SecretKeyNotFound { .. } => Reason::SecretKeyNotFound,
            Failure::SecretKeyInvalid { .. } => Reason::SecretKeyInvalid,
            Failure::SecretForbidden { .. } | Failure::TargetsForbidden { .. } => {
                Reason::SecretForbidden
            }
            Failure::MissingScopes { .. } => Reason::Forbidden,
            Failure::InvalidSpec { .. } => Reason::Rejected,
            Failure::SendGrid(e) => e.reason(),
        }
    }

    /// Transient failures say nothing about SendGrid's settings, so `Ready` is left as it was.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Failure::SendGrid(
                SendGridError::RateLimited { .. } | SendGridError::Unavailable { .. }
            )
        )
    }

    /// How to come back; `resync` is the resource's drift-check period.
    pub fn retry(&self, resync: Duration) -> Retry {
        match self {
            Failure::SendGrid(SendGridError::RateLimited {
                reset: Some(at), ..
            }) => Retry::At(*at),
            // A spec change triggers a reconcile by itself; the resync is the latest retry, so
            // no failure parks a resource for good (SendGrid may accept it later).
            Failure::InvalidSpec { .. } | Failure::SendGrid(SendGridError::Rejected { .. }) => {
                Retry::Resync(resync)
            }
            // Bad keys, missing Secrets, missing scopes: a rotated key or a new Secret heals
            // them, so keep trying, slowly.
            _ => Retry::Backoff,
        }
    }
}

/// Names every missing scope and the fix.
fn missing_scopes(scopes: &[String]) -> String {
    let (noun, them) = if scopes.len() == 1 {
        ("scope", "it")
    } else {
        ("scopes", "them")
    };
    format!(
        "the API key lacks the {noun} {} (SendGrid's GET /v3/scopes does not list {them}), so it is not used: add {them} to the API key in SendGrid (Settings, API Keys), or put a key that has {them} in the Secret",
        scopes.join(", ")
    )
}
