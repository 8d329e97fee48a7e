//! What the operator observed and concluded, written to the status subresource.

use super::settings::TlsSettings;
use super::spec::{OnBehalfOfRef, Region};
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
    /// The same target, field by field: what a retarget or a deletion puts back, and where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_account: Option<TargetAccount>,
    /// When drift was last put back on this target for this generation (at most 3, within the
    /// last hour). A resource that must correct the same drift again and again is `Contested`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift_corrections: Vec<Time>,
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

/// Whose settings a resource acts on: the region, the optional on-behalf-of account and the
/// fingerprint of the key. `status.target` is its text form.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[schemars(transform = super::schema::plain_optional_fields)]
#[serde(rename_all = "camelCase")]
pub struct TargetAccount {
    /// SendGrid's API region.
    pub region: Region,
    /// The subuser or customer account, when not the key's own account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<OnBehalfOfRef>,
    /// Short fingerprint of the API key (`key-` and 6 hex digits of its SHA-256).
    pub key_fingerprint: String,
}

impl std::fmt::Display for TargetAccount {
    /// "global/marketing-sub/key-3f9a1c"; "global/-/key-3f9a1c" with no on-behalf-of.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let middle = match &self.on_behalf_of {
            Some(OnBehalfOfRef {
                subuser: Some(name),
                ..
            }) => name.clone(),
            Some(OnBehalfOfRef {
                account_id: Some(id),
                ..
            }) => format!("account-id-{id}"),
            _ => "-".to_string(),
        };
        write!(
            f,
            "{}/{middle}/{}",
            self.region.as_str(),
            self.key_fingerprint
        )
    }
}
