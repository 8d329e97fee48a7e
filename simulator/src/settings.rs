//! The words of the simulator's own API (its Rust handle and `/_sim/...`): regions, TLS versions
//! and Enforced TLS settings.
//!
//! Its own types, not the operator's: a fake that borrowed its client's types would share the
//! client's mistakes instead of catching them. SendGrid's JSON is written and read in `wire` and
//! `patch`; the JSON here is the admin API's, which spells settings as the resource does
//! (camelCase, the version as a string).

use serde::{Deserialize, Serialize};

/// SendGrid's API host: `api.sendgrid.com` (global) or `api.eu.sendgrid.com` (EU).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    Global,
    Eu,
}

/// A minimum TLS version SendGrid accepts.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
}

/// Enforced TLS settings. Read from the simulator, every field is set; as changes, a `None`
/// field is one left as it is.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TlsSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_tls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_valid_cert: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_tls_version: Option<TlsVersion>,
}

impl TlsSettings {
    /// SendGrid's settings for an account that never changed them.
    pub const SENDGRID_DEFAULTS: TlsSettings = TlsSettings {
        require_tls: Some(false),
        require_valid_cert: Some(false),
        minimum_tls_version: Some(TlsVersion::V1_1),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn admin_json_spells_settings_as_the_resource_does() {
        let settings = TlsSettings {
            require_tls: Some(true),
            minimum_tls_version: Some(TlsVersion::V1_2),
            ..TlsSettings::default()
        };
        let written = json!({"requireTls": true, "minimumTlsVersion": "1.2"});
        assert_eq!(serde_json::to_value(settings).unwrap(), written);
        assert_eq!(
            serde_json::from_value::<TlsSettings>(written).unwrap(),
            settings
        );
        assert_eq!(serde_json::to_value(Region::Eu).unwrap(), "eu");
    }
}
