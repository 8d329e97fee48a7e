//! What the operator observed and concluded, written to the status subresource.

use super::settings::TlsSettings;
pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Observed state. Written only when something in it changes: no per-pass timestamps.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[schemars(transform = super::schema::plain_optional_fields)]
#[serde(rename_all = "camelCase")]
pub struct SendGridEnforcedTlsStatus {
    /// The generation of the spec the conditions describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// What SendGrid reported on the last successful call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<TlsSettings>,
    /// SendGrid's settings before this resource first changed them (put back by deletionPolicy
    /// Restore).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<TlsSettings>,
    /// Which settings this resource acts on: region / on-behalf-of / short fingerprint of the API
    /// key. Resources with the same target must agree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// When the operator last changed SendGrid's settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_time: Option<Time>,
    /// The last value of the sendgrid.ops.dev/reconcile-requested-at annotation handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// `Ready` (SendGrid matches the spec) and `Synced` (the last reconcile reached SendGrid).
    /// A map keyed by type, like every Kubernetes conditions list, so server-side apply merges
    /// one condition without replacing the others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}
