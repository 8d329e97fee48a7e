//! Server-side printing: the `meta.k8s.io/v1` `Table` that `kubectl get` asks for, with a
//! CRD's `additionalPrinterColumns` evaluated per object (date columns as ages, like the API
//! server's CRD table convertor: `5m`, `3h12m`, `2d`).
//!
//! Differences from a real API server: built-in types other than core/v1 Events (see `events`)
//! get only `Name` and `Age` columns (a real server prints e.g. a Secret's type and data count).

use crate::events;
use crate::jsonpath::JsonPath;
use crate::kinds::{Column, Kind, View};
use serde_json::{Value, json};

/// What each row carries in `object` (the `includeObject` query parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(value: Option<&str>) -> IncludeObject {
        match value {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

fn columns(kind: &Kind, version: &str) -> Vec<Column> {
    let declared = kind
        .version(version)
        .map(|v| v.columns.clone())
        .unwrap_or_default();
    if !declared.is_empty() {
        return declared;
    }
    vec![Column {
        name: "Age".into(),
        type_: "date".into(),
        format: String::new(),
        description: "CreationTimestamp is a timestamp representing the server time when this object was created.".into(),
        priority: 0,
        json_path: ".metadata.creationTimestamp".into(),
    }]
}

/// A Table's column definitions and how to fill one row's cells.
type Printer = (Vec<Value>, Box<dyn Fn(&Value) -> Vec<Value>>);

/// The CRD's printer columns after `Name` (or `Age` alone for other types).
fn declared_printer(kind: &Kind, version: &str) -> Printer {
    let columns = columns(kind, version);
    let mut definitions = vec![json!({
        "name": "Name", "type": "string", "format": "name",
        "description": NAME_DESCRIPTION, "priority": 0
    })];
    definitions.extend(columns.iter().map(|c| {
        json!({
            "name": c.name, "type": c.type_, "format": c.format,
            "description": c.description, "priority": c.priority
        })
    }));
    let paths: Vec<Option<JsonPath>> = columns
        .iter()
        .map(|c| JsonPath::parse(&c.json_path).ok())
        .collect();
    let cells = move |obj: &Value| {
        let mut cells = vec![obj["metadata"]["name"].clone()];
        cells.extend(columns.iter().zip(&paths).map(|(col, path)| {
            let first = path.as_ref().and_then(|p| p.find(obj).into_iter().next());
            first.map_or(Value::Null, |v| cell(&col.type_, v))
        }));
        cells
    };
    (definitions, Box::new(cells))
}

/// The Table of `objects` (each a full object with `apiVersion` already set).
pub(crate) fn table(
    kind: &Kind,
    version: &str,
    objects: &[Value],
    resource_version: Option<u64>,
    include: IncludeObject,
) -> Value {
    let (definitions, cells): Printer = match kind.view {
        View::Stored => declared_printer(kind, version),
        View::CoreEvents => (events::column_definitions(), Box::new(events::cells)),
    };
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let mut row = json!({ "cells": cells(obj) });
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => row["object"] = partial_metadata(obj),
                IncludeObject::Object => row["object"] = obj.clone(),
            }
            row
        })
        .collect();
    let mut metadata = json!({});
    if let Some(rv) = resource_version {
        metadata["resourceVersion"] = Value::String(rv.to_string());
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

/// A `PartialObjectMetadata` of an object.
pub(crate) fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"].clone(),
    })
}

fn cell(type_: &str, value: &Value) -> Value {
    match (type_, value) {
        ("date", Value::String(s)) => s
            .parse::<k8s_openapi::jiff::Timestamp>()
            .map(|t| {
                let secs = k8s_openapi::jiff::Timestamp::now()
                    .duration_since(t)
                    .as_secs();
                Value::String(human_duration(secs))
            })
            .unwrap_or_else(|_| value.clone()),
        ("string", Value::String(_)) => value.clone(),
        ("string", other) => Value::String(other.to_string()),
        _ => value.clone(),
    }
}

/// Kubernetes' `duration.HumanDuration`: how `kubectl get` shows ages.
pub(crate) fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    let secs = secs.max(0);
    let (minutes, hours) = (secs / 60, secs / 3600);
    let days = hours / 24;
    let years = days / 365;
    match () {
        _ if secs < 120 => format!("{secs}s"),
        _ if minutes < 10 && secs % 60 != 0 => format!("{minutes}m{}s", secs % 60),
        _ if minutes < 180 => format!("{minutes}m"),
        _ if hours < 8 && minutes % 60 != 0 => format!("{hours}h{}m", minutes % 60),
        _ if hours < 48 => format!("{hours}h"),
        _ if hours < 192 && hours % 24 != 0 => format!("{days}d{}h", hours % 24),
        _ if hours < 24 * 365 * 2 => format!("{days}d"),
        _ if hours < 24 * 365 * 8 && days % 365 != 0 => format!("{years}y{}d", days % 365),
        _ => format!("{years}y"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_match_kubectl() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(125), "2m5s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(4 * 3600 + 60), "4h1m");
        assert_eq!(human_duration(30 * 3600), "30h");
        assert_eq!(human_duration(3 * 86400), "3d");
        assert_eq!(human_duration(3 * 86400 + 3600), "3d1h");
    }
}
