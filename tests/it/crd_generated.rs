//! The committed CRD equals what the code generates, and the generated CRD keeps the properties
//! users and GitOps tools depend on.

use kube::CustomResourceExt;
use sendgrid_tls_operator::api::{SendGridEnforcedTls, crd_yaml, crds};
use serde_json::Value;
use std::path::Path;

/// Compares each file in `crds/` with its generated CRD. With `UPDATE_CRDS=1` it rewrites the
/// files instead.
#[test]
fn committed_crds_are_generated() {
    let files: Vec<String> = crds().iter().map(|(f, _)| format!("crds/{f}")).collect();
    assert_eq!(
        files,
        crate::support::CRD_FILES,
        "the CRDs the e2e suite installs"
    );
    for (file, generated) in crds() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("crds")
            .join(file);
        if std::env::var_os("UPDATE_CRDS").is_some() {
            std::fs::write(&path, &generated).expect("write the CRD");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "crds/{file} differs from the generated CRD; regenerate crds/ with\n  \
             UPDATE_CRDS=1 cargo test --test it crd_generated\nand commit it"
        );
    }
    let stream = crd_yaml();
    assert_eq!(stream.matches("\n---\n").count(), 1, "{stream}");
    assert_eq!(stream.matches("kind: CustomResourceDefinition").count(), 2);
}

fn version() -> Value {
    let crd = serde_json::to_value(SendGridEnforcedTls::crd()).expect("CRD serializes");
    let versions = crd["spec"]["versions"]
        .as_array()
        .expect("versions")
        .clone();
    assert_eq!(versions.len(), 1);
    versions[0].clone()
}

fn schema() -> Value {
    version()["schema"]["openAPIV3Schema"].clone()
}

/// Every schema node below `node`, with its path.
fn walk<'a>(path: String, node: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    out.push((path.clone(), node));
    if let Some(properties) = node.get("properties").and_then(Value::as_object) {
        for (name, child) in properties {
            walk(format!("{path}.{name}"), child, out);
        }
    }
    if let Some(items) = node.get("items") {
        walk(format!("{path}[]"), items, out);
    }
}

fn nodes(schema: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    walk(String::new(), schema, &mut out);
    out
}

#[test]
fn no_api_server_defaults() {
    // A defaulted field would make Argo CD show every resource OutOfSync forever.
    let schema = schema();
    for (path, node) in nodes(&schema) {
        assert!(node.get("default").is_none(), "{path} has a default");
    }
    assert!(
        !crd_yaml().contains("default:"),
        "the CRD YAML mentions a default"
    );
}

#[test]
fn every_field_has_its_own_description() {
    let schema = schema();
    let mut descriptions = Vec::new();
    for (path, node) in nodes(&schema) {
        let description = node
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert!(!description.trim().is_empty(), "{path} has no description");
        assert!(
            !description.contains("Auto-generated"),
            "{path}: {description}"
        );
        descriptions.push((path, description.to_string()));
    }
    // The enum-typed fields once got their enum type's doc instead of their own.
    for (field, words) in [
        ("region", "SendGrid region"),
        ("mode", "Observe` only reports"),
        ("deletionPolicy", "deleted"),
        ("minimumTlsVersion", "quote it in YAML"),
    ] {
        let description = &schema["properties"]["spec"]["properties"][field]["description"];
        assert!(
            description.as_str().unwrap_or_default().contains(words),
            "spec.{field}: {description}"
        );
    }
}

#[test]
fn optional_fields_are_plain_and_enums_hold_only_strings() {
    let schema = schema();
    for (path, node) in nodes(&schema) {
        if let Some(values) = node.get("enum").and_then(Value::as_array) {
            assert!(values.iter().all(Value::is_string), "{path}: {values:?}");
        }
        if path.starts_with(".spec") {
            assert!(node.get("nullable").is_none(), "{path} is nullable");
            assert!(
                node.get("anyOf").is_none() && node.get("oneOf").is_none(),
                "{path}"
            );
        }
    }
    let spec = &schema["properties"]["spec"];
    assert_eq!(spec["required"], serde_json::json!(["apiKeySecretRef"]));
    assert_eq!(
        spec["properties"]["minimumTlsVersion"]["enum"],
        serde_json::json!(["1.1", "1.2", "1.3"])
    );
}

#[test]
fn every_string_with_a_rule_has_a_max_length() {
    // The API server rejects CEL rules whose estimated cost is unbounded.
    let schema = schema();
    for (path, node) in nodes(&schema) {
        if node["type"] == "string" && node.get("x-kubernetes-validations").is_some() {
            assert!(
                node.get("maxLength").is_some(),
                "{path} has rules but no maxLength"
            );
        }
    }
}

#[test]
fn every_rule_has_a_message_naming_its_field() {
    let schema = schema();
    let mut rules = 0;
    for (path, node) in nodes(&schema) {
        for rule in node
            .get("x-kubernetes-validations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            rules += 1;
            let message = rule["message"].as_str().unwrap_or_default();
            let field = rule["fieldPath"]
                .as_str()
                .map(|f| f.trim_start_matches('.').to_string())
                .unwrap_or_else(|| path.rsplit('.').next().unwrap_or_default().to_string());
            assert!(message.starts_with(&field), "{path}: {message}");
        }
    }
    assert_eq!(rules, 11);
}

#[test]
fn printer_columns() {
    let columns = version()["additionalPrinterColumns"].clone();
    let got: Vec<(String, String, String)> = columns
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| {
            let text = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (text("name").to_uppercase(), text("type"), text("jsonPath"))
        })
        .collect();
    let expected = [
        ("REQUIRE-TLS", "boolean", ".status.observed.requireTls"),
        ("VALID-CERT", "boolean", ".status.observed.requireValidCert"),
        ("MIN-TLS", "string", ".status.observed.minimumTlsVersion"),
        ("MODE", "string", ".spec.mode"),
        (
            "READY",
            "string",
            ".status.conditions[?(@.type==\"Ready\")].status",
        ),
        (
            "SYNCED",
            "string",
            ".status.conditions[?(@.type==\"Synced\")].status",
        ),
        (
            "REASON",
            "string",
            ".status.conditions[?(@.type==\"Ready\")].reason",
        ),
        (
            "SYNC-REASON",
            "string",
            ".status.conditions[?(@.type==\"Synced\")].reason",
        ),
        ("AGE", "date", ".metadata.creationTimestamp"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, expected);
    // Each path must exist in the schema (AGE's metadata is implicit).
    let schema = schema();
    for (_, _, path) in &got[..got.len() - 1] {
        let field_path = path.split('[').next().unwrap_or_default();
        let mut node = &schema;
        for part in field_path.trim_start_matches('.').split('.') {
            node = &node["properties"][part];
            assert!(node.is_object(), "{path}: no {part} in the schema");
        }
    }
}

#[test]
fn names_scope_and_subresources() {
    let crd = serde_json::to_value(SendGridEnforcedTls::crd()).expect("CRD serializes");
    assert_eq!(
        crd["metadata"]["name"],
        "sendgridenforcedtlses.sendgrid.ops.dev"
    );
    let names = &crd["spec"]["names"];
    assert_eq!(names["kind"], "SendGridEnforcedTls");
    assert_eq!(names["plural"], "sendgridenforcedtlses");
    assert_eq!(names["singular"], "sendgridenforcedtls");
    assert_eq!(names["shortNames"], serde_json::json!(["sgtls"]));
    assert_eq!(names["categories"], serde_json::json!(["sendgrid"]));
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    let version = version();
    assert_eq!(version["name"], "v1alpha1");
    assert_eq!(version["served"], true);
    assert_eq!(version["storage"], true);
    // The controller writes status through the status subresource only.
    assert_eq!(version["subresources"], serde_json::json!({"status": {}}));
    assert!(schema()["properties"]["status"]["properties"]["conditions"].is_object());
}

#[test]
fn conditions_are_a_map_keyed_by_type() {
    let conditions = &schema()["properties"]["status"]["properties"]["conditions"];
    assert_eq!(conditions["x-kubernetes-list-type"], "map");
    assert_eq!(
        conditions["x-kubernetes-list-map-keys"],
        serde_json::json!(["type"])
    );
    let required = conditions["items"]["required"]
        .as_array()
        .expect("required");
    assert!(required.contains(&Value::from("type")));
}
