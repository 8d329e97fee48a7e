//! Patch bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge patch and
//! server-side apply (whose merge and ownership live in `fields`).
//!
//! Differences from a real API server: strategic merge patch is applied as a JSON merge patch
//! (no patch directives, lists replaced whole) for built-in types; custom resources reject it
//! with 415 like a real server.

use crate::errors::ApiError;
use json_patch::PatchOperation;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PatchType {
    Merge,
    Json,
    Strategic,
    Apply,
}

impl PatchType {
    /// The patch type a `Content-Type` names.
    pub fn from_content_type(content_type: &str) -> Option<PatchType> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        match media {
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/json-patch+json" => Some(PatchType::Json),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => {
                Some(PatchType::Apply)
            }
            _ => None,
        }
    }
}

/// Parses a JSON body into an object, or a 400 naming the problem.
pub(crate) fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding request body: {e}")))
}

/// Parses an apply body (YAML, of which JSON is a subset) into an object.
pub(crate) fn parse_apply(body: &[u8]) -> Result<Value, ApiError> {
    let value: Value = serde_saphyr::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "apply configuration must be an object",
        ));
    }
    for field in ["apiVersion", "kind"] {
        if value
            .get(field)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(ApiError::bad_request(format!(
                "invalid object: {field} must be set in an apply configuration"
            )));
        }
    }
    Ok(value)
}

/// A merge patch (also used for strategic merge patches of built-in types).
pub(crate) fn merge(target: &Value, body: &[u8]) -> Result<Value, ApiError> {
    let patch = parse_json(body)?;
    if !patch.is_object() {
        return Err(ApiError::bad_request("a merge patch must be a JSON object"));
    }
    let mut out = target.clone();
    json_patch::merge(&mut out, &patch);
    Ok(out)
}

/// A JSON patch. Like the API server (evanphx/json-patch), a `test` of `null` passes when the
/// path does not exist: kube-runtime's finalizer helper relies on it.
pub(crate) fn json(target: &Value, body: &[u8]) -> Result<Value, ApiError> {
    let ops: Vec<PatchOperation> = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding JSON patch: {e}")))?;
    let mut out = target.clone();
    for op in ops {
        if let PatchOperation::Test(test) = &op
            && test.value.is_null()
            && out.pointer(test.path.as_str()).is_none()
        {
            continue;
        }
        json_patch::patch(&mut out, std::slice::from_ref(&op)).map_err(|e| ApiError {
            code: 422,
            reason: "Invalid",
            message: format!("the server rejected our request due to an error in our request: {e}"),
            details: None,
        })?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_patch_test_of_null_passes_on_a_missing_path() {
        let obj = json!({"metadata": {"name": "a"}});
        let body = br#"[{"op":"test","path":"/metadata/finalizers","value":null},
                        {"op":"add","path":"/metadata/finalizers","value":["f"]}]"#;
        let out = json(&obj, body).unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["f"]));
    }

    #[test]
    fn json_patch_failed_test_is_rejected() {
        let obj = json!({"metadata": {"finalizers": ["x"]}});
        let body = br#"[{"op":"test","path":"/metadata/finalizers/0","value":"y"}]"#;
        assert_eq!(json(&obj, body).unwrap_err().code, 422);
    }

    #[test]
    fn merge_patch_null_removes() {
        let obj = json!({"spec": {"a": 1, "b": 2}});
        let out = merge(&obj, br#"{"spec": {"a": null}}"#).unwrap();
        assert_eq!(out, json!({"spec": {"b": 2}}));
    }
}
