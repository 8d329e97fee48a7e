//! The JSON that travels to and from SendGrid: the settings body (snake_case, `version` as an
//! exact JSON number) and the many shapes of error body.
//!
//! Decoding is lenient where SendGrid's habits vary (version as a number or a string, absent or
//! null fields, unknown fields) and strict where a wrong guess would be silent damage: a
//! `version` outside 1.1/1.2/1.3 or a non-boolean flag is an error naming the value, never a
//! quiet `None` (that would make a Restore record "unset" for a setting that is set).

use super::account::Identity;
use crate::api::{TlsSettings, TlsVersion};
use reqwest::StatusCode;
use serde::{Serialize, Serializer};
use serde_json::Value;

/// Longest SendGrid text kept in an error message; bodies can be whole HTML pages.
const MAX_MESSAGE_CHARS: usize = 500;

/// The PATCH body: only the fields to change. An explicit `false` is a `Some` and is sent.
#[derive(Serialize)]
struct SettingsOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    require_tls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    require_valid_cert: Option<bool>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "version_number"
    )]
    version: Option<TlsVersion>,
}

/// Writes the version as the JSON number SendGrid's schema enumerates. The f64 literals print as
/// exactly `1.1`/`1.2`/`1.3` (shortest round-trip form); going through an f32 would print
/// `1.100000023841858`, which the enum rejects.
fn version_number<S: Serializer>(version: &Option<TlsVersion>, s: S) -> Result<S::Ok, S::Error> {
    match version {
        Some(TlsVersion::V1_1) => s.serialize_f64(1.1),
        Some(TlsVersion::V1_2) => s.serialize_f64(1.2),
        Some(TlsVersion::V1_3) => s.serialize_f64(1.3),
        None => s.serialize_none(),
    }
}

/// The PATCH body for `changes`, e.g. `{"require_tls":false,"version":1.2}`.
pub fn encode_patch(changes: &TlsSettings) -> Vec<u8> {
    let body = SettingsOut {
        require_tls: changes.require_tls,
        require_valid_cert: changes.require_valid_cert,
        version: changes.minimum_tls_version,
    };
    // Serialising bools and finite f64s into a Vec cannot fail.
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Decodes a 2xx settings body: a JSON object whose fields are judged one by one (and named in
/// the error); unknown fields are ignored. The error text says what was unexpected (for an
/// `Unavailable` "unexpected response" error).
pub fn decode_settings(body: &[u8]) -> Result<TlsSettings, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("empty body where the settings were expected".to_string());
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| format!("the body is not JSON ({e}): {}", snippet(body)))?;
    let Value::Object(mut fields) = value else {
        return Err(format!(
            "the body is not a settings object: {}",
            snippet(body)
        ));
    };
    let mut take = |name: &str| fields.remove(name).unwrap_or(Value::Null);
    Ok(TlsSettings {
        require_tls: decode_bool("require_tls", take("require_tls"))?,
        require_valid_cert: decode_bool("require_valid_cert", take("require_valid_cert"))?,
        minimum_tls_version: decode_version(take("version"))?,
    })
}

/// Decodes a 2xx `GET /v3/user/username` body: `{"username": "...", "user_id": 4711}`, both
/// required (SendGrid's OpenAPI description). A user id that is not a non-negative integer is an
/// error: a wrong identity would let the operator write to the wrong account's claim.
pub fn decode_identity(body: &[u8]) -> Result<Identity, String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| format!("the body is not JSON ({e}): {}", snippet(body)))?;
    let user_id = value.get("user_id").and_then(Value::as_u64);
    let username = value.get("username").and_then(Value::as_str);
    match (user_id, username) {
        (Some(user_id), Some(username)) => Ok(Identity {
            user_id,
            username: username.to_string(),
        }),
        _ => Err(format!(
            "the body is not a username object with user_id and username: {}",
            snippet(body)
        )),
    }
}

fn decode_bool(field: &str, value: Value) -> Result<Option<bool>, String> {
    match value {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(b)),
        other => Err(format!("{field} is {other}, not a boolean")),
    }
}

/// Number by nearest match (an f32-widened 1.2000000476837158 is 1.2), or its text ("1.2");
/// absent or null is `None`; anything else is an error naming the value.
fn decode_version(value: Value) -> Result<Option<TlsVersion>, String> {
    let version = match &value {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_f64().and_then(TlsVersion::from_number),
        Value::String(s) => TlsVersion::parse(s),
        _ => None,
    };
    version
        .map(Some)
        .ok_or_else(|| format!("version {value} is not one of 1.1, 1.2, 1.3"))
}

/// The message for a non-2xx response: the status, then SendGrid's own text, e.g.
/// `400 Bad Request: version: must be one of 1.1, 1.2, 1.3`. Understands
/// `{"errors":[{"field","message","help"}],"id"}`, `{"error":"..."}` and `{"message":"..."}`;
/// for an empty or non-JSON body (an HTML error page from a proxy) it is the status alone.
pub fn error_message(status: StatusCode, body: &[u8]) -> String {
    let status_text = status_text(status);
    let details = serde_json::from_slice::<Value>(body)
        .map(|value| error_details(&value))
        .unwrap_or_default();
    if details.is_empty() {
        status_text
    } else {
        format!("{status_text}: {}", one_line(&details, MAX_MESSAGE_CHARS))
    }
}

/// "404 Not Found"; "599 (unknown status)" for codes without a reason phrase.
pub fn status_text(status: StatusCode) -> String {
    format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("(unknown status)")
    )
}

fn error_details(body: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(errors) = body.get("errors").and_then(Value::as_array) {
        parts.extend(errors.iter().filter_map(error_item));
    }
    for key in ["error", "message"] {
        match body.get(key) {
            Some(Value::String(text)) if !text.is_empty() => parts.push(text.clone()),
            Some(item @ Value::Object(_)) => parts.extend(error_item(item)),
            _ => {}
        }
    }
    // SendGrid's error `id` differs on every response: kept out, so a repeated failure leaves
    // the condition message (and the status) as it was.
    parts.join("; ")
}

/// One entry of `errors[]`: "field: message (help: ...)", with `field` and `help` only when
/// they are non-empty strings. A bare string entry is its own message.
fn error_item(item: &Value) -> Option<String> {
    let text = |key| {
        item.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let message = match item {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Object(_) => text("message")?.to_string(),
        _ => return None,
    };
    let mut out = match text("field") {
        Some(field) => format!("{field}: {message}"),
        None => message,
    };
    if let Some(help) = text("help") {
        out.push_str(&format!(" (help: {help})"));
    }
    Some(out)
}

/// The start of a body, for a message about a body that made no sense.
fn snippet(body: &[u8]) -> String {
    one_line(&String::from_utf8_lossy(body), 120)
}

/// Control characters (newlines) become spaces, so a status message stays one line; text past
/// `max` characters is cut and marked.
fn one_line(text: &str, max: usize) -> String {
    let mut out: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if text.trim().chars().nth(max).is_some() {
        out.push_str("… (truncated)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(tls: Option<bool>, cert: Option<bool>, v: Option<TlsVersion>) -> TlsSettings {
        TlsSettings {
            require_tls: tls,
            require_valid_cert: cert,
            minimum_tls_version: v,
        }
    }

    #[test]
    fn patch_body_has_only_the_set_fields_and_exact_versions() {
        let encode = |s| String::from_utf8(encode_patch(&s)).unwrap();
        assert_eq!(
            encode(settings(Some(false), None, Some(TlsVersion::V1_2))),
            r#"{"require_tls":false,"version":1.2}"#
        );
        assert_eq!(
            encode(settings(Some(true), Some(false), Some(TlsVersion::V1_1))),
            r#"{"require_tls":true,"require_valid_cert":false,"version":1.1}"#
        );
        assert_eq!(
            encode(settings(None, None, Some(TlsVersion::V1_3))),
            r#"{"version":1.3}"#
        );
        assert_eq!(
            encode(settings(None, Some(true), None)),
            r#"{"require_valid_cert":true}"#
        );
    }

    #[test]
    fn decodes_versions_tolerantly() {
        let version = |body: &str| decode_settings(body.as_bytes()).map(|s| s.minimum_tls_version);
        assert_eq!(version(r#"{"version":1.1}"#), Ok(Some(TlsVersion::V1_1)));
        assert_eq!(
            version(r#"{"version":1.2000000476837158}"#),
            Ok(Some(TlsVersion::V1_2))
        );
        assert_eq!(
            version(r#"{"version":1.2999999523162842}"#),
            Ok(Some(TlsVersion::V1_3))
        );
        assert_eq!(version(r#"{"version":"1.3"}"#), Ok(Some(TlsVersion::V1_3)));
        assert_eq!(version(r#"{"version":null}"#), Ok(None));
        assert_eq!(version(r#"{"require_tls":true}"#), Ok(None));
        for (body, named) in [
            (r#"{"version":1.0}"#, "version 1.0 "),
            (r#"{"version":1.4}"#, "version 1.4 "),
            (r#"{"version":"TLSv1.2"}"#, r#"version "TLSv1.2" "#),
            (r#"{"version":[1.2]}"#, "version [1.2] "),
        ] {
            let error = version(body).unwrap_err();
            assert!(error.starts_with(named), "{body}: {error}");
            assert!(error.ends_with("is not one of 1.1, 1.2, 1.3"), "{error}");
        }
    }

    #[test]
    fn decodes_full_bodies_and_rejects_nonsense() {
        assert_eq!(
            decode_settings(
                br#"{"require_tls":true,"require_valid_cert":false,"version":1.1,"extra":1}"#
            ),
            Ok(settings(Some(true), Some(false), Some(TlsVersion::V1_1)))
        );
        assert_eq!(decode_settings(b"{}"), Ok(TlsSettings::default()));
        assert_eq!(
            decode_settings(br#"{"require_tls":"true"}"#).unwrap_err(),
            r#"require_tls is "true", not a boolean"#
        );
        assert_eq!(
            decode_settings(b"  ").unwrap_err(),
            "empty body where the settings were expected"
        );
        let html = decode_settings(b"<html><body>oops</body></html>").unwrap_err();
        assert!(html.starts_with("the body is not JSON ("), "{html}");
        assert!(
            html.ends_with("): <html><body>oops</body></html>"),
            "{html}"
        );
        assert_eq!(
            decode_settings(b"[true]").unwrap_err(),
            "the body is not a settings object: [true]"
        );
    }

    #[test]
    fn error_messages_from_every_body_shape() {
        let message = |status: u16, body: &str| {
            error_message(StatusCode::from_u16(status).unwrap(), body.as_bytes())
        };
        assert_eq!(
            message(
                400,
                r#"{"errors":[{"field":"version","message":"must be one of 1.1, 1.2, 1.3"}]}"#
            ),
            "400 Bad Request: version: must be one of 1.1, 1.2, 1.3"
        );
        assert_eq!(
            message(
                401,
                r#"{"errors":[{"field":null,"message":"authorization required","help":null},{"message":"second"}],"id":"abc123"}"#
            ),
            "401 Unauthorized: authorization required; second"
        );
        assert_eq!(
            message(
                403,
                r#"{"errors":[{"message":"access forbidden","help":"see docs"}]}"#
            ),
            "403 Forbidden: access forbidden (help: see docs)"
        );
        assert_eq!(
            message(
                429,
                r#"{"errors":[{"field":null,"message":"too many requests"}]}"#
            ),
            "429 Too Many Requests: too many requests"
        );
        assert_eq!(
            message(500, r#"{"error":"boom"}"#),
            "500 Internal Server Error: boom"
        );
        assert_eq!(
            message(502, r#"{"message":"Bad gateway"}"#),
            "502 Bad Gateway: Bad gateway"
        );
        assert_eq!(message(503, ""), "503 Service Unavailable");
        assert_eq!(message(502, "<html><h1>502</h1></html>"), "502 Bad Gateway");
        assert_eq!(message(404, r#"{"errors":[]}"#), "404 Not Found");
        assert_eq!(
            message(422, r#"{"errors":"nonsense","id":7}"#),
            "422 Unprocessable Entity"
        );
        assert_eq!(message(599, "{}"), "599 (unknown status)");
    }

    #[test]
    fn long_and_multiline_messages_are_cut_to_one_line() {
        let long = "x".repeat(10_000);
        let body = format!(r#"{{"errors":[{{"message":"line1\nline2 {long}"}}]}}"#);
        let message = error_message(StatusCode::BAD_REQUEST, body.as_bytes());
        assert!(
            message.starts_with("400 Bad Request: line1 line2 xxx"),
            "{message}"
        );
        assert!(message.ends_with("… (truncated)"), "{message}");
        assert!(message.chars().count() < MAX_MESSAGE_CHARS + 40);
        assert!(!message.contains('\n'));
    }

    #[test]
    fn identity_bodies() {
        assert_eq!(
            decode_identity(br#"{"username":"marketing-sub","user_id":4711}"#),
            Ok(Identity {
                user_id: 4711,
                username: "marketing-sub".into()
            })
        );
        for bad in [
            &br#"{"username":"a"}"#[..],
            br#"{"user_id":1}"#,
            br#"{"username":"a","user_id":-1}"#,
            br#"{"username":"a","user_id":"1"}"#,
            br#"{"username":"a","user_id":1.5}"#,
            b"[]",
            b"<html>",
        ] {
            assert!(
                decode_identity(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
