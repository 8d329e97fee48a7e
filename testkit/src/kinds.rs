//! The resource types the server serves: a few built-in ones (Namespaces, Secrets,
//! events.k8s.io Events and their core/v1 view, coordination Leases, CustomResourceDefinitions)
//! and custom resources registered at run time from a `CustomResourceDefinition`.
//!
//! Differences from a real API server: every served version of a CRD shares one storage and no
//! conversion happens (objects are returned with the requested `apiVersion`, content unchanged);
//! the status subresource is per resource, not per version; built-in types carry no OpenAPI
//! schema and are not validated beyond the basics in `write`.

use crate::Validator;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;
use std::collections::BTreeMap;

/// Names a resource type by API group (`""` for core) and plural, e.g. `("", "secrets")`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceRef {
    pub group: String,
    pub plural: String,
}

impl ResourceRef {
    pub fn new(group: impl Into<String>, plural: impl Into<String>) -> Self {
        ResourceRef {
            group: group.into(),
            plural: plural.into(),
        }
    }

    /// The resource of a typed kube object, e.g. `ResourceRef::of::<Secret>()`.
    pub fn of<K: kube::Resource<DynamicType = ()>>() -> Self {
        Self::new(K::group(&()), K::plural(&()))
    }

    /// `<plural>.<group>`, or the plural alone for the core group (as API errors name it).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

/// An additional printer column, as a CRD declares it.
#[derive(Clone, Debug)]
pub(crate) struct Column {
    pub name: String,
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i32,
    pub json_path: String,
}

/// One served version of a resource type.
#[derive(Clone, Debug)]
pub(crate) struct Version {
    pub name: String,
    pub columns: Vec<Column>,
    /// The CRD's `openAPIV3Schema` for this version (served by `/openapi/v3`).
    pub schema: Option<Value>,
}

/// A resource type and the semantics that depend on it.
#[derive(Clone)]
pub(crate) struct Kind {
    pub resource: ResourceRef,
    pub kind: String,
    pub singular: String,
    pub versions: Vec<Version>,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Writes to the main resource ignore `.status`; `/status` writes change only `.status`.
    pub status_subresource: bool,
    /// `metadata.generation` is kept (custom resources and CRDs).
    pub generation: bool,
    /// Defined by a CRD: no strategic merge patch, PUT needs a resourceVersion.
    pub custom: bool,
    pub validator: Option<Validator>,
    pub view: View,
}

/// Whether a resource keeps objects of its own or shows another's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum View {
    Stored,
    /// core/v1 Events: the events.k8s.io/v1 Events, converted (see `events`); read-only.
    CoreEvents,
}

impl Kind {
    pub fn api_version(&self, version: &str) -> String {
        if self.resource.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{version}", self.resource.group)
        }
    }

    /// Where this resource's objects are stored.
    pub fn storage(&self) -> ResourceRef {
        match self.view {
            View::Stored => self.resource.clone(),
            View::CoreEvents => ResourceRef::new("events.k8s.io", "events"),
        }
    }

    /// A stored object as this resource shows it (before `apiVersion` and `kind` are set).
    pub fn view_of(&self, stored: &Value) -> Value {
        match self.view {
            View::Stored => stored.clone(),
            View::CoreEvents => crate::events::to_core(stored),
        }
    }

    pub fn version(&self, name: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.name == name)
    }

    fn builtin(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Kind {
        Kind {
            resource: ResourceRef::new(group, plural),
            kind: kind.to_string(),
            singular: kind.to_lowercase(),
            versions: vec![Version {
                name: version.to_string(),
                columns: Vec::new(),
                schema: None,
            }],
            namespaced,
            short_names: Vec::new(),
            categories: Vec::new(),
            status_subresource: false,
            generation: false,
            custom: false,
            validator: None,
            view: View::Stored,
        }
    }

    /// The custom resource a CRD defines (its served versions only).
    pub fn from_crd(crd: &CustomResourceDefinition) -> Kind {
        let spec = &crd.spec;
        let served: Vec<_> = spec.versions.iter().filter(|v| v.served).collect();
        let versions = served
            .iter()
            .map(|v| Version {
                name: v.name.clone(),
                columns: v
                    .additional_printer_columns
                    .iter()
                    .flatten()
                    .map(|c| Column {
                        name: c.name.clone(),
                        type_: c.type_.clone(),
                        format: c.format.clone().unwrap_or_default(),
                        description: c.description.clone().unwrap_or_default(),
                        priority: c.priority.unwrap_or(0),
                        json_path: c.json_path.clone(),
                    })
                    .collect(),
                schema: v
                    .schema
                    .as_ref()
                    .and_then(|s| s.open_api_v3_schema.as_ref())
                    .and_then(|s| serde_json::to_value(s).ok()),
            })
            .collect();
        let status_subresource = served
            .iter()
            .any(|v| v.subresources.as_ref().is_some_and(|s| s.status.is_some()));
        Kind {
            resource: ResourceRef::new(&spec.group, &spec.names.plural),
            kind: spec.names.kind.clone(),
            singular: spec
                .names
                .singular
                .clone()
                .unwrap_or_else(|| spec.names.kind.to_lowercase()),
            versions,
            namespaced: spec.scope == "Namespaced",
            short_names: spec.names.short_names.clone().unwrap_or_default(),
            categories: spec.names.categories.clone().unwrap_or_default(),
            status_subresource,
            generation: true,
            custom: true,
            validator: None,
            view: View::Stored,
        }
    }
}

/// All resource types, by `(group, plural)`.
#[derive(Clone)]
pub(crate) struct Registry {
    kinds: BTreeMap<ResourceRef, Kind>,
}

impl Registry {
    /// The built-in types an operator and kubectl typically touch.
    pub fn builtin() -> Registry {
        let mut namespaces = Kind::builtin("", "v1", "Namespace", "namespaces", false);
        namespaces.short_names = vec!["ns".into()];
        namespaces.status_subresource = true;
        let secrets = Kind::builtin("", "v1", "Secret", "secrets", true);
        let mut events = Kind::builtin("events.k8s.io", "v1", "Event", "events", true);
        events.short_names = vec!["ev".into()];
        let mut core_events = Kind::builtin("", "v1", "Event", "events", true);
        core_events.short_names = vec!["ev".into()];
        core_events.view = View::CoreEvents;
        let leases = Kind::builtin("coordination.k8s.io", "v1", "Lease", "leases", true);
        let mut crds = Kind::builtin(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
        );
        crds.short_names = vec!["crd".into(), "crds".into()];
        crds.categories = vec!["api-extensions".into()];
        crds.status_subresource = true;
        crds.generation = true;
        let kinds = [namespaces, secrets, events, core_events, leases, crds]
            .into_iter()
            .map(|k| (k.resource.clone(), k))
            .collect();
        Registry { kinds }
    }

    /// Registers (or replaces) a custom resource type. A replacement without a validator keeps
    /// the one registered before, so re-applying a CRD with kubectl does not drop validation.
    pub fn register(&mut self, mut kind: Kind) {
        if kind.validator.is_none()
            && let Some(old) = self.kinds.get(&kind.resource)
        {
            kind.validator = old.validator.clone();
        }
        self.kinds.insert(kind.resource.clone(), kind);
    }

    pub fn remove(&mut self, resource: &ResourceRef) {
        self.kinds.remove(resource);
    }

    pub fn get(&self, resource: &ResourceRef) -> Option<&Kind> {
        self.kinds.get(resource)
    }

    /// The type served at `/api[s]/<group>/<version>/.../<plural>`.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&Kind> {
        self.kinds
            .get(&ResourceRef::new(group, plural))
            .filter(|k| k.version(version).is_some())
    }

    pub fn all(&self) -> impl Iterator<Item = &Kind> {
        self.kinds.values()
    }

    /// Every `(group, version)` served, core first, each group's versions in registration order.
    pub fn group_versions(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for kind in self.kinds.values() {
            let versions = groups.entry(kind.resource.group.clone()).or_default();
            for v in &kind.versions {
                if !versions.contains(&v.name) {
                    versions.push(v.name.clone());
                }
            }
        }
        groups.into_iter().collect()
    }
}
