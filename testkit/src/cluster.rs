//! The whole server state behind one lock: the resource types and the objects. Also what is
//! special about some built-in types: Secrets (`stringData` folded into base64 `data`, type
//! `Opaque` by default), Namespaces (phase `Active`) and CustomResourceDefinitions (writing one
//! registers its resource type, deleting one removes the type and its objects; the server
//! reports it `Established` at once).
//!
//! Differences from a real API server: namespaces need not exist for namespaced objects to be
//! created in them, and deleting a namespace deletes nothing else; built-in types are not
//! validated beyond the checks in `write`.

use crate::Validator;
use crate::fields::Owners;
use crate::kinds::{Kind, Registry, ResourceRef};
use crate::store::{Entry, ObjectKey, Store};
use base64::Engine;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) struct Cluster {
    pub registry: Registry,
    pub store: Store,
    /// How late watches opened from now on deliver each change (a watch cache behind the store).
    pub watch_lag: std::time::Duration,
}

fn crds() -> ResourceRef {
    ResourceRef::new("apiextensions.k8s.io", "customresourcedefinitions")
}

/// The current time as the API server writes timestamps (RFC 3339, seconds, `Z`).
pub(crate) fn now() -> String {
    format!("{:.0}", k8s_openapi::jiff::Timestamp::now())
}

impl Cluster {
    pub fn new() -> Cluster {
        let mut registry = Registry::builtin();
        let mut crd_kind = registry.get(&crds()).cloned().expect("built in");
        let parses: Validator = Arc::new(|obj: &Value| {
            serde_json::from_value::<CustomResourceDefinition>(obj.clone())
                .map(|_| ())
                .map_err(|e| vec![format!("spec: Invalid value: {e}")])
        });
        crd_kind.validator = Some(parses);
        registry.register(crd_kind);
        Cluster {
            registry,
            store: Store::new(),
            watch_lag: std::time::Duration::ZERO,
        }
    }

    /// The type served at `group/version/plural`, cloned so the caller can also borrow the store.
    pub fn kind(&self, group: &str, version: &str, plural: &str) -> Option<Kind> {
        self.registry.find(group, version, plural).cloned()
    }

    /// Registers a custom resource type from a CRD (with its validator) and stores the CRD
    /// object, as if it had been applied.
    pub fn register_crd(&mut self, crd: &CustomResourceDefinition, validator: Option<Validator>) {
        let mut kind = Kind::from_crd(crd);
        kind.validator = validator;
        self.registry.register(kind);
        let Ok(mut object) = serde_json::to_value(crd) else {
            return;
        };
        let name = format!("{}.{}", crd.spec.names.plural, crd.spec.group);
        let key = ObjectKey {
            resource: crds(),
            namespace: String::new(),
            name: name.clone(),
        };
        let existing = self.store.get(&key).map(|e| e.object["metadata"].clone());
        let metadata = match existing {
            Some(old) => old,
            None => json!({
                "name": name,
                "uid": self.store.new_uid(),
                "creationTimestamp": now(),
                "generation": 1,
            }),
        };
        object["metadata"] = metadata;
        object["apiVersion"] = json!("apiextensions.k8s.io/v1");
        object["kind"] = json!("CustomResourceDefinition");
        defaults(&crds(), &mut object);
        self.store.commit(
            key,
            Entry {
                object,
                owners: Owners::default(),
            },
        );
    }

    /// Keeps the registry in step with CRD objects written through the API.
    pub fn after_write(&mut self, resource: &ResourceRef, object: &Value, deleted: bool) {
        if *resource != crds() {
            return;
        }
        let Ok(crd) = serde_json::from_value::<CustomResourceDefinition>(object.clone()) else {
            return;
        };
        let kind = Kind::from_crd(&crd);
        if deleted {
            self.store.purge(&kind.resource);
            self.registry.remove(&kind.resource);
        } else {
            self.registry.register(kind);
        }
    }
}

/// What the API server fills in or normalizes on every write of a built-in type.
pub(crate) fn defaults(resource: &ResourceRef, object: &mut Value) {
    match (resource.group.as_str(), resource.plural.as_str()) {
        ("", "secrets") => {
            if let Some(Value::Object(string_data)) =
                object.as_object_mut().and_then(|o| o.remove("stringData"))
            {
                if !object["data"].is_object() {
                    object["data"] = json!({});
                }
                for (k, v) in string_data {
                    let text = v
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string());
                    object["data"][k] =
                        Value::String(base64::engine::general_purpose::STANDARD.encode(text));
                }
            }
            if object.get("type").is_none_or(Value::is_null) {
                object["type"] = json!("Opaque");
            }
        }
        ("", "namespaces") if object["status"]["phase"].is_null() => {
            object["status"] = json!({"phase": "Active"});
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            let since = object["metadata"]["creationTimestamp"].clone();
            let storage: Vec<Value> = object["spec"]["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|v| v["storage"] == json!(true))
                .map(|v| v["name"].clone())
                .collect();
            object["status"] = json!({
                "acceptedNames": object["spec"]["names"].clone(),
                "storedVersions": storage,
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                     "message": "no conflicts found", "lastTransitionTime": since},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                     "message": "the initial names have been accepted", "lastTransitionTime": since},
                ],
            });
        }
        _ => {}
    }
}
