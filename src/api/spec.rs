//! The desired state: which SendGrid account, which settings, and how to manage them.

use super::settings::{TlsSettings, TlsVersion};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A Go-style duration that CEL's `duration()` parses without overflow: at most 20 characters
/// (the CRD's maxLength) of numbers with at most 6 digits keeps the total under the ~2.56M hours
/// an int64 of nanoseconds can hold. A macro so the CEL rules can `concat!` it.
macro_rules! duration_regex {
    () => {
        "^([0-9]{1,6}([.][0-9]{1,6})?(ns|us|ms|s|m|h))+$"
    };
}

/// Declares SendGrid's Enforced TLS settings for one account, subuser or customer account.
///
/// Only the settings given here are managed; an unset one is observed and reported, never changed.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
// `validate_cel`/`validate_cel_update`: kube's client-side CEL, only in builds with the validator.
#[cfg_attr(feature = "validation", kube(cel))]
#[kube(
    group = "sendgrid.ops.dev",
    version = "v1alpha1",
    kind = "SendGridEnforcedTls",
    plural = "sendgridenforcedtlses",
    singular = "sendgridenforcedtls",
    shortname = "sgtls",
    category = "sendgrid",
    namespaced,
    doc = "SendGridEnforcedTls keeps SendGrid's Enforced TLS settings (require TLS, require a valid certificate, minimum TLS version) of one SendGrid account, subuser or customer account equal to its spec. See status.conditions Ready and Synced for the outcome.",
    status = "super::status::SendGridEnforcedTlsStatus",
    printcolumn = r#"{"name":"Require-TLS","type":"boolean","jsonPath":".status.observed.requireTls","description":"Whether SendGrid requires TLS, as last observed"}"#,
    printcolumn = r#"{"name":"Valid-Cert","type":"boolean","jsonPath":".status.observed.requireValidCert","description":"Whether SendGrid requires a valid certificate, as last observed"}"#,
    printcolumn = r#"{"name":"Min-TLS","type":"string","jsonPath":".status.observed.minimumTlsVersion","description":"SendGrid's minimum TLS version, as last observed"}"#,
    printcolumn = r#"{"name":"Mode","type":"string","jsonPath":".spec.mode","description":"spec.mode as written; empty means Enforce"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status","description":"Whether SendGrid matches the spec"}"#,
    printcolumn = r#"{"name":"Synced","type":"string","jsonPath":".status.conditions[?(@.type==\"Synced\")].status","description":"Whether the last reconcile reached SendGrid (False: a revoked key, a missing Secret, a pause...)"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason","description":"Why Ready is what it is"}"#,
    printcolumn = r#"{"name":"Sync-Reason","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Synced\")].reason","description":"Why Synced is what it is (kubectl get -o wide)"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[x_kube(validation = Rule::new(
    "!(has(self.deletionPolicy) && self.deletionPolicy in ['Restore', 'Reset'] && has(self.mode) && self.mode == 'Observe')"
).field_path(".deletionPolicy").message(
    "deletionPolicy Restore or Reset needs mode Enforce: an Observe resource never writes to SendGrid, so it has nothing to undo; set deletionPolicy: Orphan or mode: Enforce"
))]
#[schemars(transform = super::schema::plain_optional_fields)]
#[serde(rename_all = "camelCase")]
pub struct SendGridEnforcedTlsSpec {
    /// The Secret, in this resource's namespace, that holds the SendGrid API key. The key needs
    /// the scopes user.settings.enforced_tls.read, user.settings.enforced_tls.update and
    /// user.username.read (to tell which account it reaches).
    pub api_key_secret_ref: SecretKeyRef,

    /// SendGrid region: `global` (api.sendgrid.com) or `eu` (api.eu.sendgrid.com, for EU regional
    /// subusers). `global` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,

    /// Act for a subuser or a customer account of the key's (parent) account, through SendGrid's
    /// on-behalf-of header. Give exactly one of `subuser` or `accountId`. Unset: the key's own
    /// account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<OnBehalfOfRef>,

    /// Require recipients' mail servers to support TLS. Unset: not managed, only observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_tls: Option<bool>,

    /// Require recipients' mail servers to present a valid certificate. Unset: not managed, only
    /// observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_valid_cert: Option<bool>,

    /// The minimum TLS version recipients' mail servers must support: "1.1", "1.2" or "1.3" (a
    /// string: quote it in YAML). Unset: not managed, only observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_tls_version: Option<TlsVersion>,

    /// `Enforce` (default) makes SendGrid match this spec and corrects drift; `Observe` only reports
    /// differences (Ready=False, reason Drifted) and never writes to SendGrid. The MODE column of
    /// `kubectl get` shows this field as written, so it is empty when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,

    /// What happens to SendGrid's settings when this resource is deleted: `Orphan` (default) leaves
    /// them as they are; `Restore` puts back the settings found before this resource first changed
    /// them (status.original); `Reset` puts back SendGrid's defaults (TLS not required, certificate
    /// not checked, version 1.1). Restore and Reset need mode Enforce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,

    /// How often to check SendGrid for drift, as a duration such as "90s", "10m" or "1h30m"
    /// (units ns, us, ms, s, m, h). At least 30s; 10m when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 20))]
    #[x_kube(
        validation = Rule::new(concat!("self.matches('", duration_regex!(), "')")).message(
            "resyncInterval must be a duration such as 90s, 10m or 1h30m: numbers of at most 6 digits, each followed by a unit ns, us, ms, s, m or h"
        ),
        validation = Rule::new(concat!("!self.matches('", duration_regex!(), "') || duration(self) >= duration('30s')")).message(
            "resyncInterval must be at least 30s, so drift checks stay within SendGrid's rate limits; use 30s or more, or leave it unset for 10m"
        )
    )]
    pub resync_interval: Option<String>,
}

/// A key of a Secret in the resource's own namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[schemars(transform = super::schema::plain_optional_fields)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Name of the Secret, in the same namespace as this resource.
    #[schemars(length(max = 253))]
    #[x_kube(validation = Rule::new(
        "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')"
    ).message(
        "name must be the name of a Secret in this namespace: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
    ))]
    pub name: String,
    /// Key within the Secret's data that holds the API key. `apiKey` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    #[x_kube(validation = Rule::new("self.matches('^[-._a-zA-Z0-9]+$')").message(
        "key must be a key of the Secret's data: letters, digits, '-', '_' and '.' only; leave it unset to use apiKey"
    ))]
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
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[x_kube(validation = Rule::new("has(self.subuser) != has(self.accountId)").message(
    "onBehalfOf needs exactly one of subuser or accountId; remove onBehalfOf to manage the API key's own account"
))]
#[schemars(transform = super::schema::plain_optional_fields)]
#[serde(rename_all = "camelCase")]
pub struct OnBehalfOfRef {
    /// Username of a subuser of the key's account (sent as `on-behalf-of: <subuser>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    #[x_kube(validation = Rule::new("self.matches('^[!-~]+$')").message(
        "subuser must be the subuser's username: visible ASCII characters only, no spaces, CR/LF or other control characters"
    ))]
    pub subuser: Option<String>,
    /// ID of a customer account (sent as `on-behalf-of: account-id <id>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z0-9_-]+$')").message(
        "accountId must be the customer account's ID: letters, digits, '-' and '_' only"
    ))]
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
        self.api_key_secret_ref
            .key
            .as_deref()
            .unwrap_or(DEFAULT_SECRET_KEY)
    }

    /// The settings this resource manages (unset fields are not managed).
    pub fn managed(&self) -> TlsSettings {
        TlsSettings {
            require_tls: self.require_tls,
            require_valid_cert: self.require_valid_cert,
            minimum_tls_version: self.minimum_tls_version,
        }
    }

    /// The drift-check period, [`DEFAULT_RESYNC`] when unset.
    pub fn resync_interval(&self) -> Duration {
        self.resync_interval_or(DEFAULT_RESYNC)
    }

    /// The drift-check period, `default` when unset (the operator's `--default-resync-interval`).
    /// The CRD rejects bad values; an object that slipped past it (written before a CRD upgrade)
    /// falls back to the default rather than failing.
    pub fn resync_interval_or(&self, default: Duration) -> Duration {
        self.resync_interval
            .as_deref()
            .and_then(|s| s.parse::<kube::core::Duration>().ok())
            .filter(|d| !d.is_negative())
            .map(|d| Duration::from(d).max(MIN_RESYNC))
            .unwrap_or(default)
    }
}
