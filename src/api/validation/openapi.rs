//! The OpenAPI half of validation: a CRD's structural schema, as JSON Schema, with messages that
//! name the field and say how to fix it.
//!
//! A CRD schema is OpenAPI v3.0, not JSON Schema: `nullable: true` instead of a `null` type, and
//! unknown fields are allowed by the keywords but pruned by the API server. Users mostly hit the
//! latter through typos (`requireTLS`), which pruning would silently ignore, so unknown fields are
//! rejected here instead.

use super::Violation;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use serde_json::{Map, Value, json};

/// Fields every resource has at its root that a CRD schema does not list.
const ROOT_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Compiles a CRD version's `openAPIV3Schema` (draft 4 is what OpenAPI 3.0 extends).
pub(super) fn compile(openapi: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::draft4::options()
        .should_validate_formats(true)
        // The regex engine matches Go's RE2 more closely than fancy-regex does.
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .build(&to_json_schema(openapi, true))
        .map_err(|e| format!("the CRD schema is not valid: {e}"))
}

/// Rewrites one schema node (and its children) from OpenAPI v3.0 to JSON Schema draft 4.
fn to_json_schema(openapi: &Value, root: bool) -> Value {
    let Some(node) = openapi.as_object() else {
        return openapi.clone();
    };
    let mut out = Map::new();
    for (key, value) in node {
        let value = match key.as_str() {
            "properties" | "patternProperties" => map_values(value),
            "items" | "additionalProperties" | "not" => match value {
                Value::Object(_) => to_json_schema(value, false),
                other => other.clone(),
            },
            "allOf" | "anyOf" | "oneOf" => match value {
                Value::Array(items) => items.iter().map(|s| to_json_schema(s, false)).collect(),
                other => other.clone(),
            },
            // Kubernetes' own keywords have no JSON Schema meaning; the ones that change
            // validation are handled below.
            k if k.starts_with("x-kubernetes-") => continue,
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    if node.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        out.insert("type".into(), json!(["integer", "string"]));
    }
    if node.get("nullable") == Some(&Value::Bool(true)) {
        allow_null(&mut out);
    }
    let preserve_unknown =
        node.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    let is_object = node.get("type") == Some(&json!("object")) || node.contains_key("properties");
    if is_object && !preserve_unknown && !node.contains_key("additionalProperties") {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    if root {
        // The API server checks apiVersion, kind and metadata itself; here they only need to be
        // allowed, with the right JSON types.
        let properties = out.entry("properties").or_insert_with(|| json!({}));
        if let Some(properties) = properties.as_object_mut() {
            properties.insert("apiVersion".into(), json!({"type": "string"}));
            properties.insert("kind".into(), json!({"type": "string"}));
            properties.insert("metadata".into(), json!({"type": "object"}));
        }
    }
    Value::Object(out)
}

fn map_values(properties: &Value) -> Value {
    match properties.as_object() {
        Some(map) => Value::Object(
            map.iter()
                .map(|(name, schema)| (name.clone(), to_json_schema(schema, false)))
                .collect(),
        ),
        None => properties.clone(),
    }
}

/// `nullable: true` as JSON Schema: `null` joins the types and, if there is one, the enum.
fn allow_null(node: &mut Map<String, Value>) {
    match node.get_mut("type") {
        Some(Value::String(single)) => {
            let single = single.clone();
            node.insert("type".into(), json!([single, "null"]));
        }
        Some(Value::Array(types)) if !types.contains(&json!("null")) => types.push(json!("null")),
        _ => {}
    }
    if let Some(Value::Array(values)) = node.get_mut("enum")
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
}

/// Removes `null` values of fields that are not nullable, as the API server does before it
/// validates, so an explicit `key: null` means the same as leaving the key out.
pub(super) fn prune_nulls(schema: &Value, object: &mut Value) {
    match object {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|s| s.is_object());
            map.retain(|name, value| {
                let field = properties.and_then(|p| p.get(name)).or(additional);
                let nullable = field.and_then(|f| f.get("nullable")) == Some(&Value::Bool(true));
                // Unknown fields stay, null or not, so they can be reported.
                !(value.is_null() && field.is_some() && !nullable)
            });
            for (name, value) in map.iter_mut() {
                if let Some(field) = properties.and_then(|p| p.get(name)).or(additional) {
                    prune_nulls(field, value);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                items
                    .iter_mut()
                    .for_each(|item| prune_nulls(item_schema, item));
            }
        }
        _ => {}
    }
}

/// How much an error says about the object.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Severity {
    /// The value has the wrong JSON type: every other complaint about it follows from that.
    WrongType,
    /// The API server skips the CEL rules after one of these (type, enum, required, too long or
    /// too many): the rules were written for objects of the right shape.
    Blocking,
    Other,
}

/// One JSON Schema error as violations (an unknown-fields error names several fields).
pub(super) fn violations(
    openapi: &Value,
    error: &jsonschema::ValidationError<'_>,
) -> (Vec<Violation>, Severity) {
    let segments: Vec<Segment> = error
        .instance_path()
        .iter()
        .map(|segment| match segment {
            LocationSegment::Property(name) => Segment::Field(name.to_string()),
            LocationSegment::Index(index) => Segment::Index(index),
        })
        .collect();
    let path = render(&segments);
    let node = schema_at(openapi, &segments);
    let instance = error.instance().as_ref();
    let at = Violation::new;
    let one = |message: String| vec![at(path.clone(), message)];
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let known = known_fields(node, segments.is_empty());
            let found = unexpected
                .iter()
                .map(|name| at(join(&path, name), unknown_field(name, &known)))
                .collect();
            (found, Severity::Other)
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            let hint = node
                .and_then(|n| n.get("properties"))
                .and_then(|p| p.get(name))
                .and_then(|p| p.get("description"))
                .and_then(Value::as_str)
                .map(|d| format!(": {}", first_sentence(d)))
                .unwrap_or_default();
            (
                vec![at(join(&path, name), format!("missing; add it{hint}"))],
                Severity::Blocking,
            )
        }
        ValidationErrorKind::Type { kind } => {
            (one(wrong_type(kind, instance, node)), Severity::WrongType)
        }
        ValidationErrorKind::Enum { options } => (
            one(format!(
                "{} is not allowed; use one of {}",
                show(instance),
                list(options)
            )),
            Severity::Blocking,
        ),
        ValidationErrorKind::MaxLength { limit } => (
            one(format!(
                "must be at most {limit} characters long; shorten it"
            )),
            Severity::Blocking,
        ),
        ValidationErrorKind::MinLength { limit } => (
            one(format!("must be at least {limit} characters long")),
            Severity::Other,
        ),
        ValidationErrorKind::Pattern { pattern } => (
            one(format!(
                "{} does not match the pattern {pattern}",
                show(instance)
            )),
            Severity::Other,
        ),
        ValidationErrorKind::Format { format } => (
            one(format!(
                "{} is not a valid {format}{}",
                show(instance),
                format_hint(format)
            )),
            Severity::Other,
        ),
        ValidationErrorKind::MaxItems { limit } => (
            one(format!("must have at most {limit} items; remove some")),
            Severity::Blocking,
        ),
        ValidationErrorKind::MaxProperties { limit } => (
            one(format!("must have at most {limit} fields; remove some")),
            Severity::Blocking,
        ),
        _ => (one(error.to_string()), Severity::Other),
    }
}

enum Segment {
    Field(String),
    Index(usize),
}

/// `spec.onBehalfOf`, `status.conditions[0].type`.
fn render(segments: &[Segment]) -> String {
    segments
        .iter()
        .fold(String::new(), |path, segment| match segment {
            Segment::Field(name) => join(&path, name),
            Segment::Index(index) => format!("{path}[{index}]"),
        })
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// The OpenAPI node describing the value at `segments`, if the schema describes it.
fn schema_at<'a>(schema: &'a Value, segments: &[Segment]) -> Option<&'a Value> {
    segments
        .iter()
        .try_fold(schema, |node, segment| match segment {
            Segment::Field(name) => node
                .get("properties")
                .and_then(|p| p.get(name))
                .or_else(|| node.get("additionalProperties").filter(|s| s.is_object())),
            Segment::Index(_) => node.get("items"),
        })
}

fn known_fields(node: Option<&Value>, root: bool) -> Vec<String> {
    let mut known: Vec<String> = node
        .and_then(|n| n.get("properties"))
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    if root {
        known.extend(ROOT_FIELDS.iter().map(|f| f.to_string()));
    }
    known.sort();
    known
}

/// "unknown field", with the likely intended one when a known field is a near miss (different
/// case, or one or two letters off).
fn unknown_field(name: &str, known: &[String]) -> String {
    let near = known
        .iter()
        .map(|k| (edit_distance(&name.to_lowercase(), &k.to_lowercase()), k))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance);
    match near {
        Some((_, field)) => format!("unknown field \"{name}\"; did you mean \"{field}\"?"),
        None if known.is_empty() => format!("unknown field \"{name}\"; remove it"),
        None => format!(
            "unknown field \"{name}\"; remove it (known fields: {})",
            known.join(", ")
        ),
    }
}

/// Levenshtein distance, for typo suggestions between short field names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

fn wrong_type(kind: &TypeKind, instance: &Value, node: Option<&Value>) -> String {
    let expected = match kind {
        TypeKind::Single(t) => t.to_string(),
        TypeKind::Multiple(set) => set
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(" or "),
    };
    let allowed = node.and_then(|n| n.get("enum")).filter(|e| e.is_array());
    match (expected.as_str(), instance) {
        ("string", Value::Number(n)) if is_duration(node) => format!(
            "must be a duration with a unit, not the number {n}; write {}",
            with_unit(n)
        ),
        // YAML reads 1.2 and true as a number and a boolean; the fix is to quote the value.
        ("string", Value::Number(_) | Value::Bool(_)) => {
            let choices = allowed
                .map(|e| format!(", one of {}", list(e)))
                .unwrap_or_default();
            format!(
                "must be a string{choices}, not the {} {instance}; quote it in YAML: \"{instance}\"",
                json_type(instance)
            )
        }
        _ => format!(
            "must be {} {expected}, not {}",
            article(&expected),
            show(instance)
        ),
    }
}

/// A string field whose CEL rules read it as a duration (`duration(self)`).
fn is_duration(node: Option<&Value>) -> bool {
    node.and_then(|n| n.get("x-kubernetes-validations"))
        .and_then(Value::as_array)
        .is_some_and(|rules| {
            rules.iter().any(|r| {
                r["rule"]
                    .as_str()
                    .is_some_and(|rule| rule.contains("duration(self)"))
            })
        })
}

/// What a bare number most likely meant as a duration: a small one minutes ("5" is 5m), a large
/// one seconds ("600" is 10m).
fn with_unit(n: &serde_json::Number) -> String {
    match n.as_u64() {
        Some(secs) if secs >= 60 => {
            let unit = match secs {
                _ if secs % 3600 == 0 => format!("{}h", secs / 3600),
                _ if secs % 60 == 0 => format!("{}m", secs / 60),
                _ => format!("{secs}s"),
            };
            format!("\"{unit}\" for {secs} seconds, or \"{secs}m\" for {secs} minutes")
        }
        _ => format!("\"{n}m\" for {n} minutes (units s, m and h)"),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// A value as a user wrote it, short: strings quoted, objects and lists by type only.
fn show(value: &Value) -> String {
    match value {
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn list(values: &Value) -> String {
    match values.as_array() {
        Some(values) => values
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        None => values.to_string(),
    }
}

fn format_hint(format: &str) -> &'static str {
    match format {
        "date-time" => " (RFC 3339, such as 2026-01-02T15:04:05Z)",
        _ => "",
    }
}

/// The first sentence of a field description, as a hint after a "required" message.
fn first_sentence(description: &str) -> &str {
    let end = description.find(". ").map_or(description.len(), |i| i + 1);
    description[..end].trim_end_matches('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nullable_becomes_a_null_type_and_enum_value() {
        let out = to_json_schema(
            &json!({"type": "string", "enum": ["a"], "nullable": true}),
            false,
        );
        assert_eq!(
            out,
            json!({"type": ["string", "null"], "enum": ["a", null], "nullable": true})
        );
    }

    #[test]
    fn objects_reject_unknown_fields_unless_preserved() {
        let strict = to_json_schema(&json!({"type": "object", "properties": {}}), false);
        assert_eq!(strict["additionalProperties"], json!(false));
        let open = to_json_schema(
            &json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
            false,
        );
        assert_eq!(open.get("additionalProperties"), None);
    }

    #[test]
    fn int_or_string_accepts_both() {
        let out = to_json_schema(&json!({"x-kubernetes-int-or-string": true}), false);
        assert_eq!(out, json!({"type": ["integer", "string"]}));
    }

    #[test]
    fn suggests_the_near_miss() {
        let known = vec!["requireTls".to_string(), "region".to_string()];
        assert_eq!(
            unknown_field("requireTLS", &known),
            "unknown field \"requireTLS\"; did you mean \"requireTls\"?"
        );
        assert!(unknown_field("zzzzzz", &known).contains("known fields: requireTls, region"));
    }

    #[test]
    fn prunes_nulls_of_non_nullable_fields_only() {
        let schema = json!({"properties": {
            "a": {"type": "string"},
            "b": {"type": "string", "nullable": true}
        }});
        let mut object = json!({"a": null, "b": null, "c": null});
        prune_nulls(&schema, &mut object);
        assert_eq!(object, json!({"b": null, "c": null}));
    }
}
