//! Admission checks on every written object: the body addresses the right type and namespace,
//! the name is a valid DNS subdomain, and the resource's validator (the CRD's schema and CEL
//! rules, as the test registers them) accepts the whole object. Failures are the API server's
//! 400 BadRequest or 422 Invalid.
//!
//! Differences from a real API server: no admission webhooks or policies; built-in types are
//! checked only for name, type and namespace; ratcheting compares whole messages (a failure
//! the stored object already had, word for word, is let through).

use crate::errors::ApiError;
use crate::kinds::Kind;
use serde_json::{Value, json};

/// Checks the name and runs the resource's validator. On an update, `previous` is the stored
/// object: failures it already had are let through (CRD validation ratcheting, on by default
/// since Kubernetes 1.30), so e.g. a status write to an object with an invalid spec succeeds.
pub(crate) fn validate(
    kind: &Kind,
    name: &str,
    object: &Value,
    previous: Option<&Value>,
) -> Result<(), ApiError> {
    let valid_name = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !valid_name {
        return Err(invalid(
            kind,
            name,
            &[format!(
                "metadata.name: Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
            )],
        ));
    }
    let Some(validator) = &kind.validator else {
        return Ok(());
    };
    let Err(mut messages) = validator(object) else {
        return Ok(());
    };
    if let Some(Err(old)) = previous.map(|p| validator(p)) {
        messages.retain(|m| !old.contains(m));
    }
    if messages.is_empty() {
        Ok(())
    } else {
        Err(invalid(kind, name, &messages))
    }
}

/// A 422 Invalid for this resource.
pub(crate) fn invalid(kind: &Kind, name: &str, messages: &[String]) -> ApiError {
    ApiError::invalid(&kind.kind, &kind.resource.group, name, messages)
}

/// `apiVersion` (group part) and `kind`, when given, must match the resource addressed.
pub(crate) fn check_type(kind: &Kind, body: &Value) -> Result<(), ApiError> {
    if !body.is_object() || !body["metadata"].is_object() && !body["metadata"].is_null() {
        return Err(ApiError::bad_request(
            "the body must be an object with object metadata",
        ));
    }
    if let Some(k) = body["kind"]
        .as_str()
        .filter(|k| !k.is_empty() && *k != kind.kind)
    {
        return Err(ApiError::bad_request(format!(
            "the kind of the object ({k}) does not match the resource ({})",
            kind.kind
        )));
    }
    if let Some(av) = body["apiVersion"].as_str().filter(|a| !a.is_empty()) {
        let group = av.rsplit_once('/').map_or("", |(g, _)| g);
        if group != kind.resource.group {
            return Err(ApiError::bad_request(format!(
                "the API version of the object ({av}) does not match the resource's group ({})",
                kind.resource.group
            )));
        }
    }
    Ok(())
}

/// Sets or checks `metadata.namespace` against the URL.
pub(crate) fn set_namespace(
    kind: &Kind,
    namespace: &str,
    body: &mut Value,
) -> Result<(), ApiError> {
    if !body["metadata"].is_object() {
        body["metadata"] = json!({});
    }
    let meta = &mut body["metadata"];
    if !kind.namespaced {
        if let Some(m) = meta.as_object_mut() {
            m.remove("namespace");
        }
        return Ok(());
    }
    match meta["namespace"].as_str() {
        Some(ns) if !ns.is_empty() && ns != namespace => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => {
            meta["namespace"] = json!(namespace);
            Ok(())
        }
    }
}
