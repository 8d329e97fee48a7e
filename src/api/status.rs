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
    /// The SendGrid account this resource acts on, as SendGrid identifies it. Resources on the
    /// same account must agree.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::schema::object_or_none"
    )]
    pub target: Option<TargetAccount>,
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

/// The SendGrid account a resource acts on: the parent account, a subuser or a customer account,
/// in one region, identified by SendGrid's own user id (`GET /v3/user/username` with the
/// resource's on-behalf-of header). No part or digest of the key is kept.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[schemars(transform = super::schema::plain_optional_fields)]
#[serde(rename_all = "camelCase")]
pub struct TargetAccount {
    /// Its SendGridTarget object's name: region and user id, e.g. `global-4711`.
    pub name: String,
    /// SendGrid's API region.
    pub region: Region,
    /// SendGrid's user id of the account.
    pub user_id: u64,
    /// The account's username, as SendGrid reports it.
    pub username: String,
    /// How the account is reached: the on-behalf-of subuser or customer account, when not the
    /// key's own account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<OnBehalfOfRef>,
    /// The Secret's resourceVersion when the identity was read. While it stays the same the key
    /// is the same, so the identity is not read again, also after a restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_resource_version: Option<String>,
}

impl TargetAccount {
    /// The SendGridTarget name of an account: `global-4711`.
    pub fn name_of(region: Region, user_id: u64) -> String {
        format!("{}-{user_id}", region.as_str())
    }

    /// The same SendGrid account (whatever key or Secret reached it).
    pub fn same_account(&self, other: &TargetAccount) -> bool {
        self.region == other.region && self.user_id == other.user_id
    }
}

impl std::fmt::Display for TargetAccount {
    /// "global-4711 (marketing-sub)".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name, self.username)
    }
}
