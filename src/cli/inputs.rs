//! The resources `plan` and `apply` act on: every SendGridEnforcedTls in the files, directories
//! and stdin given with `-f`, each validated as the API server would. A file or document that
//! cannot be used becomes an entry with its error, so one bad input never hides the others.

use crate::api::SendGridEnforcedTls;
use crate::api::validation::validate_resource;
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};

/// One input: a resource, or why a file or document could not give one.
pub struct Input {
    /// Where it came from: `path#document` (documents count from 1; `[i]` is an item of a List).
    pub source: String,
    /// `namespace/name` when the document has them.
    pub name: Option<String>,
    pub resource: Result<SendGridEnforcedTls, String>,
}

const KIND: &str = "SendGridEnforcedTls";

/// Reads every `-f` argument. Only a missing resource altogether is an error of its own.
pub fn load(paths: &[PathBuf]) -> Result<Vec<Input>, String> {
    let mut inputs = Vec::new();
    let mut stdin_read = false;
    for path in paths {
        if path == Path::new("-") {
            if stdin_read {
                return Err("-f - given twice: stdin can be read once".to_string());
            }
            stdin_read = true;
            let mut text = String::new();
            match std::io::stdin().read_to_string(&mut text) {
                Ok(_) => parse("stdin", &text, &mut inputs),
                Err(e) => inputs.push(broken("stdin", format!("cannot read: {e}"))),
            }
        } else if path.is_dir() {
            match files_in(path) {
                Ok(files) => files.iter().for_each(|f| read(f, &mut inputs)),
                Err(e) => inputs.push(broken(&path.display().to_string(), e)),
            }
        } else {
            read(path, &mut inputs);
        }
    }
    if inputs.is_empty() {
        let given: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(format!("{} holds no {KIND} resource", given.join(", ")));
    }
    Ok(inputs)
}

/// The *.yaml, *.yml and *.json files of a directory, sorted (not recursive, as `kubectl -f`).
fn files_in(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read the directory: {e}"))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        })
        .collect();
    files.sort();
    Ok(files)
}

fn read(path: &Path, inputs: &mut Vec<Input>) {
    let source = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&source, &text, inputs),
        Err(e) => inputs.push(broken(&source, format!("cannot read: {e}"))),
    }
}

fn broken(source: &str, error: String) -> Input {
    Input {
        source: source.to_string(),
        name: None,
        resource: Err(error),
    }
}

/// Every SendGridEnforcedTls of a YAML (or JSON) stream, Lists flattened.
fn parse(source: &str, text: &str, inputs: &mut Vec<Input>) {
    let docs: Vec<Value> = match serde_saphyr::from_multiple(text) {
        Ok(docs) => docs,
        Err(e) => return inputs.push(broken(source, yaml_error(&e))),
    };
    for (i, doc) in docs.into_iter().enumerate() {
        let at = format!("{source}#{}", i + 1);
        match doc.get("kind").and_then(Value::as_str) {
            Some(KIND) => inputs.push(resource(at, &doc)),
            Some(list) if list.ends_with("List") => {
                let items = doc.get("items").and_then(Value::as_array);
                for (j, item) in items.into_iter().flatten().enumerate() {
                    if item.get("kind").and_then(Value::as_str) == Some(KIND) {
                        inputs.push(resource(format!("{at}[{j}]"), item));
                    }
                }
            }
            _ => {}
        }
    }
}

/// What is wrong with the YAML, in the words of someone editing it.
fn yaml_error(error: &serde_saphyr::Error) -> String {
    let mut inner = error;
    while let serde_saphyr::Error::WithSnippet { error, .. } = inner {
        inner = error;
    }
    match inner {
        // A resource pasted after another without a `---` repeats the top-level fields.
        serde_saphyr::Error::DuplicateMappingKey {
            key: Some(key),
            location,
        } if TOP_LEVEL.contains(&key.as_str()) => format!(
            "line {}: a second `{key}:` in one document: this looks like two resources in one document; separate them with a line `---`",
            location.line()
        ),
        serde_saphyr::Error::DuplicateMappingKey {
            key: Some(key),
            location,
        } => format!(
            "line {}: `{key}` is given twice in the same place; keep one",
            location.line()
        ),
        _ => format!("not YAML: {error}"),
    }
}

/// The fields every resource starts with.
const TOP_LEVEL: [&str; 4] = ["apiVersion", "kind", "metadata", "spec"];

fn resource(source: String, doc: &Value) -> Input {
    let meta = |k: &str| {
        doc.pointer(&format!("/metadata/{k}"))
            .and_then(Value::as_str)
    };
    let name = meta("name").map(|n| match meta("namespace") {
        Some(ns) => format!("{ns}/{n}"),
        None => n.to_string(),
    });
    let resource = validate_resource(doc).map_err(|violations| {
        let all: Vec<String> = violations.iter().map(ToString::to_string).collect();
        all.join("; ")
    });
    Input {
        source,
        name,
        resource,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "apiVersion: sendgrid.ops.dev/v1alpha1\nkind: SendGridEnforcedTls\nmetadata: {name: a, namespace: mail}\nspec: {apiKeySecretRef: {name: k}, requireTls: true}\n";

    #[test]
    fn documents_lists_and_bad_documents_each_become_an_input() {
        let bad = ONE.replace("requireTls: true", "requireTls: maybe");
        let list = format!(
            "kind: List\nitems:\n- {}\n- kind: ConfigMap\n",
            serde_json::to_string(&serde_saphyr::from_str::<Value>(ONE).unwrap()).unwrap()
        );
        let text = format!("{ONE}---\nkind: Secret\n---\n{bad}---\n{list}");
        let mut inputs = Vec::new();
        parse("f.yaml", &text, &mut inputs);
        let got: Vec<(&str, Option<&str>, bool)> = inputs
            .iter()
            .map(|i| (i.source.as_str(), i.name.as_deref(), i.resource.is_ok()))
            .collect();
        assert_eq!(
            got,
            [
                ("f.yaml#1", Some("mail/a"), true),
                ("f.yaml#3", Some("mail/a"), false),
                ("f.yaml#4[0]", Some("mail/a"), true),
            ]
        );
        let error = inputs[1].resource.as_ref().err().unwrap();
        assert!(error.contains("spec.requireTls"), "{error}");
    }

    #[test]
    fn a_file_that_is_not_yaml_is_one_broken_input() {
        let mut inputs = Vec::new();
        parse("f.yaml", "kind: [unclosed", &mut inputs);
        assert_eq!(inputs.len(), 1);
        assert!(
            inputs[0]
                .resource
                .as_ref()
                .is_err_and(|e| e.starts_with("not YAML"))
        );
    }

    #[test]
    fn two_resources_without_a_separator_are_named_as_such() {
        let pasted = format!("{ONE}{ONE}");
        let mut inputs = Vec::new();
        parse("f.yaml", &pasted, &mut inputs);
        let error = inputs[0].resource.as_ref().err().unwrap();
        assert_eq!(
            error,
            "line 5: a second `apiVersion:` in one document: this looks like two resources in one document; separate them with a line `---`"
        );
        let twice = ONE.replace("requireTls: true", "requireTls: true, requireTls: false");
        let mut inputs = Vec::new();
        parse("f.yaml", &twice, &mut inputs);
        let error = inputs[0].resource.as_ref().err().unwrap();
        assert!(
            error.ends_with("`requireTls` is given twice in the same place; keep one"),
            "{error}"
        );
        assert!(!error.contains("Policy"), "{error}");
    }
}
