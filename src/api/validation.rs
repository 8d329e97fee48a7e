//! Checks a resource the way the Kubernetes API server would, without one: the CRD's OpenAPI
//! schema, then its CEL rules (`x-kubernetes-validations`).
//!
//! Used where no API server stands between a user and the operator (`plan -f`/`apply -f`) and by
//! the project's Kubernetes API test server. Differences from a real API server, on purpose:
//! unknown fields are rejected rather than pruned (they are nearly always typos), and messages
//! name the field and say how to fix it. Like the API server, a `null` for a non-nullable field
//! is dropped before validation, and a type, enum, required or length error skips the CEL rules
//! (they were written for objects of the right shape).

mod openapi;

use openapi::Severity;

use super::SendGridEnforcedTls;
use kube::core::cel::{CompiledSchema, Validator as CelValidator, compile_schema};
use kube::{CustomResourceExt, Resource};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

/// One reason an object is invalid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The field at fault, as a path such as `spec.onBehalfOf` or `status.conditions[0].type`;
    /// empty for the object as a whole.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

impl Violation {
    /// The field is named once, before the message: a message that starts with the field's own
    /// name (as the CRD's CEL messages do, to read well on their own) loses it.
    fn new(field: impl Into<String>, message: impl Into<String>) -> Violation {
        let field = field.into();
        let mut message = message.into();
        let name = field.rsplit('.').next().unwrap_or_default();
        let name = name.split('[').next().unwrap_or_default();
        if !name.is_empty()
            && let Some(rest) = message.strip_prefix(name).and_then(|r| r.strip_prefix(' '))
        {
            message = rest.to_string();
        }
        Violation { field, message }
    }
}

/// A schema ready to check objects against: compiling is the expensive part.
struct Compiled {
    openapi: Value,
    structural: jsonschema::Validator,
    rules: CompiledSchema,
}

impl Compiled {
    fn new(openapi: &Value) -> Result<Compiled, Violation> {
        Ok(Compiled {
            openapi: openapi.clone(),
            structural: openapi::compile(openapi).map_err(|e| Violation::new("", e))?,
            rules: compile_schema(openapi),
        })
    }

    /// Validates `object`; on success returns it as the API server would store it (nulls of
    /// non-nullable fields dropped).
    fn check(&self, object: &Value) -> Result<Value, Vec<Violation>> {
        let mut object = object.clone();
        openapi::prune_nulls(&self.openapi, &mut object);
        let mut structural = Vec::new();
        for error in self.structural.iter_errors(&object) {
            let (violations, severity) = openapi::violations(&self.openapi, &error);
            structural.extend(violations.into_iter().map(|v| (v, severity)));
        }
        let wrong_type: Vec<String> = structural
            .iter()
            .filter(|(_, severity)| *severity == Severity::WrongType)
            .map(|(v, _)| v.field.clone())
            .collect();
        let blocking = structural.iter().any(|(_, s)| *s != Severity::Other);
        // "must be a string" says it all: an enum error on the same value is noise.
        let mut found: Vec<Violation> = structural
            .into_iter()
            .filter(|(v, severity)| {
                *severity == Severity::WrongType || !wrong_type.contains(&v.field)
            })
            .map(|(v, _)| v)
            .collect();
        if !blocking {
            // The API server does not run a field's rules when its value is null (kube-cel would,
            // and fail), so the rules see nulls as absent.
            let mut without_nulls = object.clone();
            drop_nulls(&mut without_nulls);
            // kube-cel's validator holds a CEL context that is not `Sync`; building one per call is
            // cheap next to evaluating the rules.
            let rules = CelValidator::new().validate_compiled(&self.rules, &without_nulls, None);
            if let Err(errors) = rules {
                found.extend(
                    errors
                        .iter()
                        .map(|e| Violation::new(e.field_path.clone(), e.message.clone())),
                );
            }
        }
        found.dedup();
        if found.is_empty() {
            Ok(object)
        } else {
            Err(found)
        }
    }
}

fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Checks `object` against a CRD version's `openAPIV3Schema`: the OpenAPI rules (type, enum,
/// pattern, lengths, required, unknown fields, `nullable`) and then the CEL rules.
///
/// `schema` is the object's root schema (the one with `spec` and `status` properties);
/// `apiVersion`, `kind` and `metadata` are always allowed at the root. Compiled schemas are cached,
/// keyed by their text.
pub fn validate_object(schema: &Value, object: &Value) -> Result<(), Vec<Violation>> {
    cached(schema).map_err(|e| vec![e])?.check(object).map(drop)
}

/// Up to this many distinct schemas stay compiled; a process validates against a handful.
const CACHE_LIMIT: usize = 32;

fn cached(schema: &Value) -> Result<Arc<Compiled>, Violation> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Compiled>>>> = OnceLock::new();
    let key = schema.to_string();
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(hit) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(hit.clone());
    }
    let compiled = Arc::new(Compiled::new(schema)?);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= CACHE_LIMIT {
        cache.clear();
    }
    cache.insert(key, compiled.clone());
    Ok(compiled)
}

/// The `openAPIV3Schema` of the `SendGridEnforcedTls` CRD's one version.
pub fn resource_schema() -> Value {
    let crd = SendGridEnforcedTls::crd();
    crd.spec
        .versions
        .into_iter()
        .next()
        .and_then(|v| v.schema)
        .and_then(|s| s.open_api_v3_schema)
        .and_then(|s| serde_json::to_value(s).ok())
        .unwrap_or_default()
}

/// Checks a `SendGridEnforcedTls` object (a resource file, or a request body) and reads it.
///
/// Beyond [`validate_object`] with this CRD's schema, `apiVersion` and `kind` must name this
/// resource.
pub fn validate_resource(object: &Value) -> Result<SendGridEnforcedTls, Vec<Violation>> {
    let Some(fields) = object.as_object() else {
        return Err(vec![Violation::new(
            "",
            "a SendGridEnforcedTls must be an object with apiVersion, kind, metadata and spec",
        )]);
    };
    let expected_version = SendGridEnforcedTls::api_version(&());
    let expected_kind = SendGridEnforcedTls::kind(&());
    let mut wrong = Vec::new();
    for (field, expected) in [("apiVersion", &expected_version), ("kind", &expected_kind)] {
        match fields.get(field) {
            Some(Value::String(actual)) if actual == expected.as_ref() => {}
            Some(actual) => wrong.push(Violation::new(
                field,
                format!("must be {expected}, not {actual}; this file is not a SendGridEnforcedTls"),
            )),
            None => wrong.push(Violation::new(
                field,
                format!("missing; add {field}: {expected}"),
            )),
        }
    }
    if !wrong.is_empty() {
        return Err(wrong);
    }

    static COMPILED: OnceLock<Result<Compiled, Violation>> = OnceLock::new();
    let compiled = COMPILED
        .get_or_init(|| Compiled::new(&resource_schema()))
        .as_ref()
        .map_err(|e| vec![e.clone()])?;
    let object = compiled.check(object)?;
    // The schema has passed, so this only fails on what it does not cover (metadata's fields).
    serde_json::from_value(object)
        .map_err(|e| vec![Violation::new("", format!("cannot read the resource: {e}"))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn display_names_the_field() {
        let v = Violation::new(
            "spec.onBehalfOf",
            "needs exactly one of subuser or accountId",
        );
        assert_eq!(
            v.to_string(),
            "spec.onBehalfOf: needs exactly one of subuser or accountId"
        );
        assert_eq!(Violation::new("", "bad").to_string(), "bad");
    }

    #[test]
    fn the_field_is_named_once() {
        let v = Violation::new("spec.onBehalfOf", "onBehalfOf needs exactly one of two");
        assert_eq!(v.to_string(), "spec.onBehalfOf: needs exactly one of two");
        let v = Violation::new("status.conditions[0]", "conditions must be a list");
        assert_eq!(v.message, "must be a list");
        // Only the whole name, followed by a space.
        let v = Violation::new("spec.mode", "modes: Enforce or Observe");
        assert_eq!(v.message, "modes: Enforce or Observe");
    }

    #[test]
    fn a_generic_schema_with_nullable_and_cel() {
        let schema = json!({
            "type": "object",
            "properties": {"spec": {
                "type": "object",
                "properties": {
                    "n": {"type": "integer", "nullable": true,
                          "x-kubernetes-validations": [{"rule": "self >= 0", "message": "n must be >= 0"}]}
                }
            }}
        });
        assert_eq!(
            validate_object(&schema, &json!({"spec": {"n": null}})),
            Ok(())
        );
        assert_eq!(validate_object(&schema, &json!({"spec": {"n": 3}})), Ok(()));
        let errors = validate_object(&schema, &json!({"spec": {"n": -1}})).unwrap_err();
        assert_eq!(errors, vec![Violation::new("spec.n", "n must be >= 0")]);
    }
}
