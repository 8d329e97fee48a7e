//! The three Enforced TLS settings as the resource spells them (camelCase, version as a string).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The minimum TLS version SendGrid requires from a recipient's mail server.
///
/// A string in the resource ("1.2"): Kubernetes APIs avoid floats. On the wire to SendGrid it is
/// the JSON number `1.2` (see `crate::sendgrid::wire`).
#[derive(
    Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
pub enum TlsVersion {
    #[serde(rename = "1.1")]
    V1_1,
    #[serde(rename = "1.2")]
    V1_2,
    #[serde(rename = "1.3")]
    V1_3,
}

impl TlsVersion {
    pub const ALL: [TlsVersion; 3] = [TlsVersion::V1_1, TlsVersion::V1_2, TlsVersion::V1_3];

    /// The version's text, "1.1", "1.2" or "1.3".
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::V1_1 => "1.1",
            TlsVersion::V1_2 => "1.2",
            TlsVersion::V1_3 => "1.3",
        }
    }

    /// Parses "1.1", "1.2" or "1.3" (also the number's text, e.g. "1.20").
    pub fn parse(text: &str) -> Option<TlsVersion> {
        let value: f64 = text.trim().parse().ok()?;
        Self::from_number(value)
    }

    /// Maps a JSON number to a version by nearest match, so `1.2000000476837158` (an f32 widened
    /// by some client) is still 1.2; anything else is `None`.
    pub fn from_number(value: f64) -> Option<TlsVersion> {
        Self::ALL
            .into_iter()
            .find(|v| (v.as_str().parse::<f64>().unwrap_or_default() - value).abs() < 0.001)
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Enforced TLS settings. A `None` field is one SendGrid did not report (or, in a patch, one not
/// sent).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[schemars(transform = super::schema::plain_optional_fields)]
#[serde(rename_all = "camelCase")]
pub struct TlsSettings {
    /// Whether recipients must support TLS (SendGrid's `require_tls`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_tls: Option<bool>,
    /// Whether recipients must present a valid certificate (SendGrid's `require_valid_cert`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_valid_cert: Option<bool>,
    /// The minimum TLS version recipients must support (SendGrid's `version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_tls_version: Option<TlsVersion>,
}

impl TlsSettings {
    /// SendGrid's defaults for an account that never changed them (the `Reset` deletion policy).
    pub const SENDGRID_DEFAULTS: TlsSettings = TlsSettings {
        require_tls: Some(false),
        require_valid_cert: Some(false),
        minimum_tls_version: Some(TlsVersion::V1_1),
    };

    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        *self == TlsSettings::default()
    }

    /// Each field as (name in the resource, value), in a fixed order: for messages and
    /// comparisons that treat the three alike.
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, Option<FieldValue>)> {
        [
            ("requireTls", self.require_tls.map(FieldValue::Bool)),
            (
                "requireValidCert",
                self.require_valid_cert.map(FieldValue::Bool),
            ),
            (
                "minimumTlsVersion",
                self.minimum_tls_version.map(FieldValue::Version),
            ),
        ]
        .into_iter()
    }

    /// Field by field, this value where set, else `other`'s.
    pub fn or(self, other: TlsSettings) -> TlsSettings {
        TlsSettings {
            require_tls: self.require_tls.or(other.require_tls),
            require_valid_cert: self.require_valid_cert.or(other.require_valid_cert),
            minimum_tls_version: self.minimum_tls_version.or(other.minimum_tls_version),
        }
    }

    /// Only the fields that `mask` sets (`keep` true) or leaves unset (`keep` false).
    pub fn masked(self, mask: &TlsSettings, keep: bool) -> TlsSettings {
        TlsSettings {
            require_tls: self
                .require_tls
                .filter(|_| mask.require_tls.is_some() == keep),
            require_valid_cert: self
                .require_valid_cert
                .filter(|_| mask.require_valid_cert.is_some() == keep),
            minimum_tls_version: self
                .minimum_tls_version
                .filter(|_| mask.minimum_tls_version.is_some() == keep),
        }
    }

    /// The fields of `self` (the wanted values) that `seen` does not already have.
    pub fn differences(&self, seen: &TlsSettings) -> TlsSettings {
        fn pick<T: PartialEq + Copy>(want: Option<T>, seen: Option<T>) -> Option<T> {
            want.filter(|w| seen != Some(*w))
        }
        TlsSettings {
            require_tls: pick(self.require_tls, seen.require_tls),
            require_valid_cert: pick(self.require_valid_cert, seen.require_valid_cert),
            minimum_tls_version: pick(self.minimum_tls_version, seen.minimum_tls_version),
        }
    }
}

/// One field's value, whatever its type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValue {
    Bool(bool),
    Version(TlsVersion),
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Bool(b) => write!(f, "{b}"),
            FieldValue::Version(v) => write!(f, "{v}"),
        }
    }
}
