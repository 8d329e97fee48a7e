//! Schema adjustments kube's derive does not make on its own.
//!
//! kube marks every `Option` field `nullable: true` and, for an `Option<Enum>`, replaces the
//! field's own doc with the enum type's doc (kube-core's `OptionalEnum` transform copies the
//! enum's schema over the field's) and sometimes leaves `null` inside `enum`. A field that is
//! simply left out is what "unset" means here, so [`plain_optional_fields`] turns each optional
//! property into a plain one: the API server then drops an explicit `null` (as it does for every
//! non-nullable field) instead of storing it, and CEL rules never see a null.
//!
//! It also joins the line breaks of wrapped doc comments, so `kubectl explain` can wrap the text
//! to the terminal itself.

use schemars::Schema;
use serde_json::{Map, Value};

/// A schemars container transform: every property of the struct loses its `null` alternative and
/// keeps its own description. Use as `#[schemars(transform = plain_optional_fields)]`.
pub(crate) fn plain_optional_fields(schema: &mut Schema) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    unwrap_description(object);
    let Some(properties) = object.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for property in properties.values_mut() {
        if let Some(property) = property.as_object_mut() {
            strip_null(property);
            unwrap_description(property);
        }
    }
}

/// Joins the lines of each paragraph of a description (a doc comment wrapped at 100 columns).
fn unwrap_description(schema: &mut Map<String, Value>) {
    if let Some(Value::String(text)) = schema.get_mut("description") {
        *text = text
            .split("\n\n")
            .map(|paragraph| {
                paragraph
                    .split('\n')
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join("\n\n");
    }
}

fn strip_null(property: &mut Map<String, Value>) {
    // `Option<T>` where T's schema has subschemas (an enum with documented variants):
    // `anyOf: [T, {type: null}]`. Hoist T, keeping the field's own description.
    if let Some(inner) = take_nullable_any_of(property) {
        for (key, value) in inner {
            if key == "description" && property.contains_key("description") {
                continue;
            }
            property.insert(key, value);
        }
    }
    // `Option<T>` for a plain T: `type: [T, "null"]`, and `enum: [..., null]` for a plain enum.
    if let Some(Value::Array(types)) = property.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            property.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(values)) = property.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    property.remove("nullable");
}

/// The non-null branch of `anyOf: [T, null]`, removing the `anyOf`; `None` for any other shape.
fn take_nullable_any_of(property: &mut Map<String, Value>) -> Option<Map<String, Value>> {
    let is_null = |v: &Value| v.get("type") == Some(&Value::from("null"));
    let branches = property.get("anyOf")?.as_array()?;
    let [first, second] = branches.as_slice() else {
        return None;
    };
    let inner = match (is_null(first), is_null(second)) {
        (false, true) => first.as_object()?.clone(),
        (true, false) => second.as_object()?.clone(),
        _ => return None,
    };
    property.remove("anyOf");
    Some(inner)
}

/// Reads a field that an older operator wrote in another shape (a string where an object is now
/// expected) as absent, so an upgrade does not make every resource malformed: the operator
/// writes it anew on the next reconcile.
pub(crate) fn object_or_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    use serde::Deserialize;
    Ok(Option::<Value>::deserialize(deserializer)?
        .filter(Value::is_object)
        .and_then(|value| serde_json::from_value(value).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(property: Value) -> Value {
        let mut schema = Schema::try_from(json!({"type": "object", "properties": {"p": property}}))
            .expect("an object schema");
        plain_optional_fields(&mut schema);
        schema.get("properties").expect("properties")["p"].clone()
    }

    #[test]
    fn hoists_an_optional_enum_and_keeps_the_field_description() {
        let out = run(json!({
            "description": "the field",
            "anyOf": [
                {"description": "the enum type", "oneOf": [{"type": "string", "const": "A"}]},
                {"type": "null"}
            ]
        }));
        assert_eq!(
            out,
            json!({"description": "the field", "oneOf": [{"type": "string", "const": "A"}]})
        );
    }

    #[test]
    fn removes_null_from_type_and_enum() {
        let out =
            run(json!({"description": "d", "type": ["string", "null"], "enum": ["1.1", null]}));
        assert_eq!(
            out,
            json!({"description": "d", "type": "string", "enum": ["1.1"]})
        );
    }

    #[test]
    fn joins_wrapped_lines_but_keeps_paragraphs() {
        let out = run(json!({"description": "one\ntwo\n\nthree", "type": "string"}));
        assert_eq!(out["description"], "one two\n\nthree");
    }

    #[test]
    fn leaves_other_any_of_alone() {
        let property = json!({"anyOf": [{"type": "string"}, {"type": "integer"}]});
        assert_eq!(run(property.clone()), property);
    }
}
