//! The desired state: which SendGrid account, which settings, and how to manage them.

use super::settings::{TlsSettings, TlsVersion};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Declares SendGrid's Enforced TLS settings for one account, subuser or customer account.
///
/// Only the settings given here are managed; an unset one is observed and reported, never changed.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "sendgrid.ops.dev",
    version = "v1alpha1",
    kind = "SendGridEnforcedTls",
    plural = "sendgridenforcedtlses",
    singular = "sendgridenforcedtls",
    shortname = "sgtls",
    category = "sendgrid",
    namespaced,
    cel,
    status = "super::status::SendGridEnforcedTlsStatus",
    printcolumn = r#"{"name":"Require-TLS","type":"boolean","jsonPath":".status.observed.requireTls"}"#,
    printcolumn = r#"{"name":"Valid-Cert","type":"boolean","jsonPath":".status.observed.requireValidCert"}"#,
    printcolumn = r#"{"name":"Min-TLS","type":"string","jsonPath":".status.observed.minimumTlsVersion"}"#,
    printcolumn = r#"{"name":"Mode","type":"string","jsonPath":".spec.mode"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[x_kube(validation = Rule::new(
    "!has(self.deletionPolicy) || self.deletionPolicy == 'Orphan' || !has(self.mode) || self.mode == 'Enforce'"
).message("deletionPolicy Restore or Reset needs mode Enforce: an Observe resource never writes to SendGrid, so it has nothing to undo; set deletionPolicy: Orphan or mode: Enforce"))]
#[serde(rename_all = "camelCase")]
pub struct SendGridEnforcedTlsSpec {
    /// The Secret, in this resource's namespace, that holds the SendGrid API key. The key needs
    /// the scopes user.settings.enforced_tls.read and user.settings.enforced_tls.update.
    pub api_key_secret_ref: SecretKeyRef,

    /// SendGrid region: `global` (api.sendgrid.com) or `eu` (api.eu.sendgrid.com, for EU regional
    /// subusers). `global` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,

    /// Act for a subuser or a customer account of the key's (parent) account, through SendGrid's
    /// on-behalf-of header. Give exactly one of `subuser` or `accountId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<OnBehalfOfRef>,

    /// Require recipients' mail servers to support TLS. Unset: not managed, only observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_tls: Option<bool>,

    /// Require recipients' mail servers to present a valid certificate. Unset: not managed, only
    /// observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_valid_cert: Option<bool>,

    /// The minimum TLS version recipients must support: "1.1", "1.2" or "1.3" (a string; quote it
    /// in YAML). Unset: not managed, only observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_tls_version: Option<TlsVersion>,

    /// `Enforce` (default) makes SendGrid match this spec and corrects drift; `Observe` only reports
    /// differences (Ready=False, reason Drifted) and never writes to SendGrid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,

    /// What happens to SendGrid's settings when this resource is deleted: `Orphan` (default) leaves
    /// them as they are; `Restore` puts back the settings found before this resource first changed
    /// them (status.original); `Reset` puts back SendGrid's defaults (TLS not required, certificate
    /// not checked, version 1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,

    /// How often to check SendGrid for drift, as a duration such as "10m", "90s" or "1h". At least
    /// 30s; 10m when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"))]
    #[x_kube(validation = Rule::new("duration(self) >= duration('30s')").message("resyncInterval must be at least 30s, so drift checks stay within SendGrid's rate limits"))]
    pub resync_interval: Option<String>,
}

/// A key of a Secret in the resource's own namespace.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Name of the Secret, in the same namespace as this resource.
    #[schemars(length(min = 1, max = 253), pattern(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"))]
    pub name: String,
    /// Key within the Secret's data that holds the API key. `apiKey` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), pattern(r"^[-._a-zA-Z0-9]+$"))]
    pub key: Option<String>,
}

/// SendGrid's API region.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    /// api.sendgrid.com
    #[default]
    Global,
    /// api.eu.sendgrid.com
    Eu,
}

impl Region {
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Global => "global",
            Region::Eu => "eu",
        }
    }
}

/// Whose settings to manage, when not the key's own account.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[x_kube(validation = Rule::new("has(self.subuser) != has(self.accountId)").message("onBehalfOf needs exactly one of subuser or accountId"))]
#[serde(rename_all = "camelCase")]
pub struct OnBehalfOfRef {
    /// Username of a subuser of the key's account (sent as `on-behalf-of: <subuser>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), pattern(r"^[^\s\x00-\x1f\x7f]+$"))]
    pub subuser: Option<String>,
    /// ID of a customer account (sent as `on-behalf-of: account-id <id>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), pattern(r"^[A-Za-z0-9_-]+$"))]
    pub account_id: Option<String>,
}

/// Whether the operator writes to SendGrid.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Make SendGrid match the spec and correct drift.
    #[default]
    Enforce,
    /// Only report differences; never write.
    Observe,
}

/// What to do with SendGrid's settings when the resource is deleted.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeletionPolicy {
    /// Leave SendGrid as it is (no finalizer).
    #[default]
    Orphan,
    /// Put back the settings seen before this resource first changed them.
    Restore,
    /// Put back SendGrid's defaults.
    Reset,
}

/// The default drift-check period.
pub const DEFAULT_RESYNC: Duration = Duration::from_secs(600);
/// The shortest drift-check period allowed.
pub const MIN_RESYNC: Duration = Duration::from_secs(30);
/// The Secret key read when `apiKeySecretRef.key` is unset.
pub const DEFAULT_SECRET_KEY: &str = "apiKey";

impl SendGridEnforcedTlsSpec {
    pub fn region(&self) -> Region {
        self.region.unwrap_or_default()
    }

    pub fn mode(&self) -> Mode {
        self.mode.unwrap_or_default()
    }

    pub fn deletion_policy(&self) -> DeletionPolicy {
        self.deletion_policy.unwrap_or_default()
    }

    pub fn secret_key(&self) -> &str {
        self.api_key_secret_ref.key.as_deref().unwrap_or(DEFAULT_SECRET_KEY)
    }

    /// The settings this resource manages (unset fields are not managed).
    pub fn managed(&self) -> TlsSettings {
        TlsSettings {
            require_tls: self.require_tls,
            require_valid_cert: self.require_valid_cert,
            minimum_tls_version: self.minimum_tls_version,
        }
    }

    /// The drift-check period. The CRD rejects bad values; an object that slipped past it (written
    /// before a CRD upgrade) falls back to the default rather than failing.
    pub fn resync_interval(&self) -> Duration {
        self.resync_interval
            .as_deref()
            .and_then(|s| s.parse::<kube::core::Duration>().ok())
            .filter(|d| !d.is_negative())
            .map(|d| Duration::from(d).max(MIN_RESYNC))
            .unwrap_or(DEFAULT_RESYNC)
    }
}
