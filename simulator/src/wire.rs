//! SendGrid's JSON on the wire: the settings object, the username, the scope list and the
//! `{"errors":[...]}` body, with fields in the order the live API (or its OpenAPI description)
//! writes them.

use super::accounts::{SimUser, Stored};
use super::settings::TlsVersion;
use serde::Serialize;

/// One entry of `errors`. `field` is written as `null` or a name, and left out of 5xx bodies (the
/// OpenAPI 500 schema has only `message`); `help` appears only where the live API writes it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ApiError {
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<Option<String>>,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<Option<String>>,
}

impl ApiError {
    /// `{"field":null,"message":...}`
    pub fn general(message: impl Into<String>) -> ApiError {
        ApiError {
            field: Some(None),
            message: message.into(),
            help: None,
        }
    }

    /// `{"field":"<field>","message":...}`
    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            field: Some(Some(field.to_owned())),
            message: message.into(),
            help: None,
        }
    }

    /// `{"message":...}`, the 5xx form.
    pub fn message_only(message: impl Into<String>) -> ApiError {
        ApiError {
            field: None,
            message: message.into(),
            help: None,
        }
    }

    /// Adds `"help":null` (the invalid-key 401 carries it).
    pub fn with_null_help(mut self) -> ApiError {
        self.help = Some(None);
        self
    }
}

/// The body of an API answer.
#[derive(Clone, Debug, PartialEq)]
pub enum ReplyBody {
    Settings(Stored),
    /// `GET /v3/user/username`: `{"username":...,"user_id":...}` (the region is not sent).
    Username(SimUser),
    /// `GET /v3/scopes`: `{"scopes":[...]}`, SendGrid's names.
    Scopes(Vec<&'static str>),
    Errors(Vec<ApiError>),
}

#[derive(Serialize)]
struct WireSettings {
    require_tls: bool,
    require_valid_cert: bool,
    version: f64,
}

#[derive(Serialize)]
struct WireUsername<'a> {
    username: &'a str,
    user_id: u64,
}

#[derive(Serialize)]
struct WireScopes<'a> {
    scopes: &'a [&'static str],
}

#[derive(Serialize)]
struct WireErrors<'a> {
    errors: &'a [ApiError],
}

impl ReplyBody {
    pub fn to_json(&self) -> Vec<u8> {
        let written = match self {
            ReplyBody::Settings(stored) => serde_json::to_vec(&WireSettings {
                require_tls: stored.require_tls,
                require_valid_cert: stored.require_valid_cert,
                version: version_number(stored.version),
            }),
            ReplyBody::Username(user) => serde_json::to_vec(&WireUsername {
                username: &user.username,
                user_id: user.user_id,
            }),
            ReplyBody::Scopes(scopes) => serde_json::to_vec(&WireScopes { scopes }),
            ReplyBody::Errors(errors) => serde_json::to_vec(&WireErrors { errors }),
        };
        // Plain structs of bools, strings and finite numbers always serialise.
        written.unwrap_or_default()
    }
}

/// The JSON number SendGrid uses for a version. An `f64` literal, never a widened `f32`, so
/// serde_json writes exactly `1.1`, `1.2` or `1.3`.
pub fn version_number(version: TlsVersion) -> f64 {
    match version {
        TlsVersion::V1_1 => 1.1,
        TlsVersion::V1_2 => 1.2,
        TlsVersion::V1_3 => 1.3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(body: ReplyBody) -> String {
        String::from_utf8(body.to_json()).unwrap()
    }

    #[test]
    fn settings_have_the_live_field_order_and_exact_versions() {
        for (version, written) in [
            (TlsVersion::V1_1, "1.1"),
            (TlsVersion::V1_2, "1.2"),
            (TlsVersion::V1_3, "1.3"),
        ] {
            let body = ReplyBody::Settings(Stored {
                require_tls: true,
                require_valid_cert: false,
                version,
            });
            assert_eq!(
                text(body),
                format!(r#"{{"require_tls":true,"require_valid_cert":false,"version":{written}}}"#)
            );
        }
    }

    #[test]
    fn username_and_scopes_have_the_described_fields() {
        let user = SimUser {
            username: "marketing-sub".into(),
            user_id: 1002,
            region: crate::Region::Eu,
        };
        assert_eq!(
            text(ReplyBody::Username(user)),
            r#"{"username":"marketing-sub","user_id":1002}"#
        );
        assert_eq!(
            text(ReplyBody::Scopes(vec!["user.username.read"])),
            r#"{"scopes":["user.username.read"]}"#
        );
        assert_eq!(text(ReplyBody::Scopes(vec![])), r#"{"scopes":[]}"#);
    }

    #[test]
    fn error_bodies_match_the_live_api() {
        assert_eq!(
            text(ReplyBody::Errors(vec![ApiError::general(
                "access forbidden"
            )])),
            r#"{"errors":[{"field":null,"message":"access forbidden"}]}"#
        );
        assert_eq!(
            text(ReplyBody::Errors(vec![
                ApiError::general("bad").with_null_help()
            ])),
            r#"{"errors":[{"field":null,"message":"bad","help":null}]}"#
        );
        assert_eq!(
            text(ReplyBody::Errors(vec![ApiError::field("version", "no")])),
            r#"{"errors":[{"field":"version","message":"no"}]}"#
        );
        assert_eq!(
            text(ReplyBody::Errors(vec![ApiError::message_only("boom")])),
            r#"{"errors":[{"message":"boom"}]}"#
        );
    }
}
