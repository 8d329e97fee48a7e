//! `/openapi/v3`: the index of group-versions and, per group-version, a document with the
//! resource paths and the CRDs' schemas.
//!
//! kubectl needs it: `kubectl apply` checks here that the server supports server-side field
//! validation (a PATCH operation with a `fieldValidation` query parameter, tagged with the
//! kind's `x-kubernetes-group-version-kind`) and otherwise insists on downloading a schema for
//! client-side validation; `kubectl explain` reads the schemas.
//!
//! Differences from a real API server: only PATCH operations are described; built-in types have
//! an empty object schema; `/openapi/v2` is not served; the `fieldValidation` parameter is
//! accepted but not acted on (unknown fields are neither rejected nor pruned).

use crate::kinds::{Kind, Registry};
use serde_json::{Map, Value, json};

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: where each group-version's document is.
pub(crate) fn index(registry: &Registry) -> Value {
    let mut paths = Map::new();
    for (group, versions) in registry.group_versions() {
        for version in versions {
            let path = gv_path(&group, &version);
            paths.insert(
                path.clone(),
                json!({ "serverRelativeURL": format!("/openapi/v3/{path}?hash=testkit") }),
            );
        }
    }
    json!({ "paths": paths })
}

/// The schema name the API server uses: the group reversed, then version and kind
/// (`dev.ops.sendgrid.v1alpha1.SendGridEnforcedTls`).
fn schema_name(kind: &Kind, version: &str) -> String {
    let mut parts: Vec<&str> = kind
        .resource
        .group
        .split('.')
        .filter(|p| !p.is_empty())
        .collect();
    parts.reverse();
    parts.push(version);
    parts.push(&kind.kind);
    parts.join(".")
}

/// `/openapi/v3/api/v1` or `/openapi/v3/apis/<group>/<version>`, if served.
pub(crate) fn document(registry: &Registry, path: &str) -> Option<Value> {
    let rest = path.trim_start_matches('/');
    let (group, version) = match rest.split('/').collect::<Vec<_>>().as_slice() {
        ["api", v] => (String::new(), v.to_string()),
        ["apis", g, v] => (g.to_string(), v.to_string()),
        _ => return None,
    };
    let kinds: Vec<&Kind> = registry
        .all()
        .filter(|k| k.resource.group == group && k.version(&version).is_some())
        .collect();
    if kinds.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for kind in kinds {
        let gvk = json!({ "group": group, "version": version, "kind": kind.kind });
        let item = if kind.namespaced {
            format!(
                "/{}/namespaces/{{namespace}}/{}/{{name}}",
                gv_path(&group, &version),
                kind.resource.plural
            )
        } else {
            format!(
                "/{}/{}/{{name}}",
                gv_path(&group, &version),
                kind.resource.plural
            )
        };
        paths.insert(
            item,
            json!({ "patch": {
                "x-kubernetes-group-version-kind": gvk,
                "parameters": [
                    {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
                    {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
                    {"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": true}},
                ],
                "responses": {"200": {"description": "OK"}},
            }}),
        );
        let mut schema = kind
            .version(&version)
            .and_then(|v| v.schema.clone())
            .unwrap_or_else(|| json!({ "type": "object" }));
        schema["x-kubernetes-group-version-kind"] = json!([gvk]);
        schemas.insert(schema_name(kind, &version), schema);
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": "v1.33.0" },
        "paths": paths,
        "components": { "schemas": schemas },
    }))
}
