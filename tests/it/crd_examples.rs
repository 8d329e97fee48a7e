//! Every file in `examples/` holds valid resources that work together: each SendGridEnforcedTls
//! passes `validate_resource`; the files hold no Secret (deleting an example never deletes a
//! key), and `examples/secrets/` has a placeholder Secret, with the referenced key, for each.

use crate::support::{example_files, yaml_files};
use sendgrid_tls_operator::api::{SendGridEnforcedTls, validate_resource};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const EXPECTED: [&str; 6] = [
    "basic.yaml",
    "customer-account.yaml",
    "eu-subuser.yaml",
    "observe-only.yaml",
    "restore-on-delete.yaml",
    "subuser.yaml",
];

/// The documents of a multi-document YAML file, as JSON.
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("readable example");
    serde_saphyr::from_multiple::<Value>(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .filter(|doc| !doc.is_null())
        .collect()
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_documented_examples_exist() {
    let names: Vec<String> = example_files().iter().map(|p| name_of(p)).collect();
    for expected in EXPECTED {
        assert!(
            names.iter().any(|n| n == expected),
            "examples/{expected} is missing"
        );
    }
}

/// The placeholder Secrets of `examples/secrets/`, by (namespace, name).
fn placeholder_secrets() -> BTreeMap<(String, String), Value> {
    yaml_files("examples/secrets")
        .iter()
        .flat_map(|path| documents(path))
        .filter(|d| d["kind"] == "Secret")
        .map(|d| {
            let key = |k: &str| d["metadata"][k].as_str().unwrap_or_default().to_string();
            ((key("namespace"), key("name")), d)
        })
        .collect()
}

#[test]
fn every_example_resource_is_valid_and_its_secret_is_kept_apart() {
    let secrets = placeholder_secrets();
    let mut resources = 0;
    for path in example_files() {
        let file = name_of(&path);
        let docs = documents(&path);
        assert!(
            docs.iter().all(|d| d["kind"] != "Secret"),
            "{file}: a Secret in an example would be deleted with it; put it in examples/secrets/"
        );
        let mut in_file = 0;
        for doc in docs.iter().filter(|d| d["kind"] == "SendGridEnforcedTls") {
            let tls: SendGridEnforcedTls = validate_resource(doc).unwrap_or_else(|violations| {
                let lines: Vec<String> = violations.iter().map(ToString::to_string).collect();
                panic!("{file}: {}", lines.join("\n"))
            });
            let namespace = tls.metadata.namespace.clone().unwrap_or_default();
            assert!(
                !namespace.is_empty(),
                "{file}: give every example a namespace"
            );
            let secret_name = tls.spec.api_key_secret_ref.name.clone();
            let secret = secrets
                .get(&(namespace.clone(), secret_name.clone()))
                .unwrap_or_else(|| {
                    panic!("{file}: no Secret {namespace}/{secret_name} in examples/secrets/")
                });
            let key = tls.spec.secret_key();
            let has_key =
                secret["stringData"].get(key).is_some() || secret["data"].get(key).is_some();
            assert!(has_key, "{file}: Secret {secret_name} has no key {key}");
            in_file += 1;
        }
        assert!(in_file > 0, "{file} has no SendGridEnforcedTls");
        resources += in_file;
    }
    assert!(resources >= EXPECTED.len());
}

#[test]
fn examples_can_be_applied_together_without_conflicts() {
    // With placeholder keys all examples share one key fingerprint, so each must act on a
    // different region/on-behalf-of pair, or they would fight over one setting.
    let mut targets = BTreeMap::new();
    for path in example_files() {
        for doc in documents(&path)
            .iter()
            .filter(|d| d["kind"] == "SendGridEnforcedTls")
        {
            let target = (
                doc["spec"]["region"].to_string(),
                doc["spec"]["onBehalfOf"].to_string(),
            );
            let name = doc["metadata"]["name"].to_string();
            if let Some(other) = targets.insert(target, name.clone()) {
                panic!("{name} and {other} act on the same SendGrid settings");
            }
        }
    }
}

#[test]
fn placeholder_keys_only() {
    let secrets = placeholder_secrets();
    assert!(!secrets.is_empty());
    for ((_, name), doc) in secrets {
        let values = doc["stringData"]
            .as_object()
            .expect("examples use stringData");
        for value in values.values() {
            assert_eq!(value, "SG.replace-me.with-your-key", "{name}");
        }
    }
}
