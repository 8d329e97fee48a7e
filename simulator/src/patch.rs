//! Validation of a PATCH body, strictly per SendGrid's schema: `require_tls` and
//! `require_valid_cert` must be booleans and `version` one of the numbers 1.1, 1.2, 1.3.
//!
//! Strictness is the point: a client that sends `"1.2"` (a string), `1.0`, or an `f32` widened to
//! `1.2000000476837158` is told so (400 with the field) instead of passing here and surprising
//! someone against the live API. Every field present is checked and all problems are reported
//! together. Unknown fields are ignored, as SendGrid ignores them; an absent field is left as is.

use super::settings::{TlsSettings, TlsVersion};
use super::wire::{ApiError, version_number};
use serde_json::{Map, Value};

/// The requested changes, or the errors to answer with.
pub fn parse_patch(body: &[u8]) -> Result<TlsSettings, Vec<ApiError>> {
    let object = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => object,
        Ok(_) => {
            return Err(vec![ApiError::general(
                "request body must be a JSON object",
            )]);
        }
        Err(_) => return Err(vec![ApiError::general("request body is invalid JSON")]),
    };
    let mut errors = Vec::new();
    let settings = TlsSettings {
        require_tls: boolean(&object, "require_tls", &mut errors),
        require_valid_cert: boolean(&object, "require_valid_cert", &mut errors),
        minimum_tls_version: version(&object, &mut errors),
    };
    if errors.is_empty() {
        Ok(settings)
    } else {
        Err(errors)
    }
}

fn boolean(object: &Map<String, Value>, field: &str, errors: &mut Vec<ApiError>) -> Option<bool> {
    match object.get(field)? {
        Value::Bool(value) => Some(*value),
        _ => {
            errors.push(ApiError::field(field, format!("{field} must be a boolean")));
            None
        }
    }
}

fn version(object: &Map<String, Value>, errors: &mut Vec<ApiError>) -> Option<TlsVersion> {
    let value = object.get("version")?;
    let found = value.as_f64().and_then(|number| {
        TlsVersion::ALL
            .into_iter()
            .find(|version| version_number(*version) == number)
    });
    if found.is_none() {
        errors.push(ApiError::field(
            "version",
            "version must be one of the numbers 1.1, 1.2 or 1.3",
        ));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(body: &str) -> Vec<String> {
        let errors = parse_patch(body.as_bytes()).unwrap_err();
        let json = serde_json::to_value(errors).unwrap();
        json.as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap_or("null").to_owned())
            .collect()
    }

    #[test]
    fn accepts_partial_bodies_and_ignores_unknown_fields() {
        assert_eq!(parse_patch(b"{}"), Ok(TlsSettings::default()));
        assert_eq!(
            parse_patch(br#"{"require_valid_cert":false,"colour":"blue"}"#),
            Ok(TlsSettings {
                require_valid_cert: Some(false),
                ..TlsSettings::default()
            })
        );
        assert_eq!(
            parse_patch(br#"{"require_tls":true,"require_valid_cert":true,"version":1.3}"#),
            Ok(TlsSettings {
                require_tls: Some(true),
                require_valid_cert: Some(true),
                minimum_tls_version: Some(TlsVersion::V1_3),
            })
        );
        // The same number written differently is the same number.
        assert_eq!(
            parse_patch(br#"{"version":1.20}"#).map(|s| s.minimum_tls_version),
            Ok(Some(TlsVersion::V1_2))
        );
    }

    #[test]
    fn rejects_off_enum_and_mistyped_versions() {
        for body in [
            r#"{"version":1.0}"#,
            r#"{"version":1}"#,
            r#"{"version":"1.2"}"#,
            r#"{"version":1.2000000476837158}"#,
            r#"{"version":null}"#,
        ] {
            assert_eq!(fields(body), ["version"], "{body}");
        }
    }

    #[test]
    fn rejects_non_booleans_and_reports_every_field() {
        assert_eq!(
            fields(r#"{"require_tls":"true","require_valid_cert":1,"version":1.4}"#),
            ["require_tls", "require_valid_cert", "version"]
        );
        assert_eq!(fields(r#"{"require_tls":null}"#), ["require_tls"]);
    }

    #[test]
    fn rejects_bodies_that_are_not_json_objects() {
        for body in ["", "not json", "[]", "true"] {
            assert_eq!(fields(body), ["null"], "{body}");
        }
    }
}
