//! core/v1 Events, as a view of the events.k8s.io/v1 Events: one storage, two APIs, converted
//! field by field as the API server converts them (`regarding` is `involvedObject`, `note` is
//! `message`, `deprecated*` lose the prefix, `reportingController` is `reportingComponent`). So
//! what an operator records through events.k8s.io (kube's `Recorder`) is what `kubectl describe`
//! (a core/v1 list with `involvedObject.*` field selectors) and `kubectl get events` show, with
//! the API server's Table columns for them.
//!
//! Differences from a real API server: the view is read-only (get, list, watch); core/v1 Events
//! are written through events.k8s.io/v1.

use crate::table::human_duration;
use serde_json::{Map, Value, json};

/// An events.k8s.io/v1 Event as core/v1 serves it (`apiVersion` and `kind` are set later).
pub(crate) fn to_core(event: &Value) -> Value {
    let mut core = Map::new();
    for (from, to) in [
        ("metadata", "metadata"),
        ("regarding", "involvedObject"),
        ("related", "related"),
        ("note", "message"),
        ("reason", "reason"),
        ("type", "type"),
        ("action", "action"),
        ("eventTime", "eventTime"),
        ("series", "series"),
        ("reportingController", "reportingComponent"),
        ("reportingInstance", "reportingInstance"),
        ("deprecatedSource", "source"),
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
        ("deprecatedCount", "count"),
    ] {
        if let Some(value) = event.get(from).filter(|v| !v.is_null()) {
            core.insert(to.to_string(), value.clone());
        }
    }
    // Always present in core/v1 (empty when unset), as the API server returns them.
    for field in ["source", "involvedObject"] {
        core.entry(field).or_insert_with(|| json!({}));
    }
    for field in ["firstTimestamp", "lastTimestamp"] {
        core.entry(field).or_insert(Value::Null);
    }
    Value::Object(core)
}

/// The API server's Table columns for core/v1 Events (`kubectl get events`; `-o wide` shows
/// those of priority 1). No leading Name column: Name is the last, wide one.
pub(crate) fn column_definitions() -> Vec<Value> {
    [
        ("Last Seen", 0, "The time at which the most recent occurrence of this event was recorded."),
        ("Type", 0, "Type of this event (Normal, Warning), new types could be added in the future"),
        ("Reason", 0, "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
        ("Object", 0, "The object that this event is about."),
        ("Subobject", 1, "The field of the object this event is about, if any."),
        ("Source", 1, "The component reporting this event."),
        ("Message", 0, "A human-readable description of the status of this operation."),
        ("First Seen", 1, "The time at which the event was first recorded."),
        ("Count", 1, "The number of times this event has occurred."),
        ("Name", 1, "Name must be unique within a namespace."),
    ]
    .into_iter()
    .map(|(name, priority, description)| {
        let (type_, format) = match name {
            "Count" => ("integer", ""),
            "Name" => ("string", "name"),
            _ => ("string", ""),
        };
        json!({"name": name, "type": type_, "format": format, "description": description, "priority": priority})
    })
    .collect()
}

/// A core/v1 Event's cells, as the API server's printer fills them.
pub(crate) fn cells(event: &Value) -> Vec<Value> {
    let text = |path: &str| {
        event
            .pointer(path)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let first = since(event.get("firstTimestamp"))
        .or_else(|| since(event.get("eventTime")))
        .unwrap_or_else(|| "<unknown>".to_string());
    let series = event.get("series").filter(|s| s.is_object());
    let (last, count) = match series {
        Some(series) => (
            since(series.get("lastObservedTime")).unwrap_or_else(|| "<unknown>".to_string()),
            series["count"].as_i64().unwrap_or(1),
        ),
        None => (
            since(event.get("lastTimestamp")).unwrap_or_else(|| first.clone()),
            event["count"].as_i64().filter(|c| *c > 0).unwrap_or(1),
        ),
    };
    let kind = text("/involvedObject/kind").to_lowercase();
    let name = text("/involvedObject/name");
    let object = if name.is_empty() {
        kind
    } else {
        format!("{kind}/{name}")
    };
    let or = |a: String, b: String| if a.is_empty() { b } else { a };
    let component = or(text("/source/component"), text("/reportingComponent"));
    let instance = or(text("/source/host"), text("/reportingInstance"));
    let source = if instance.is_empty() {
        component
    } else {
        format!("{component}, {instance}")
    };
    vec![
        last.into(),
        text("/type").into(),
        text("/reason").into(),
        object.into(),
        text("/involvedObject/fieldPath").into(),
        source.into(),
        text("/message").trim().into(),
        first.into(),
        count.into(),
        text("/metadata/name").into(),
    ]
}

/// How long ago a timestamp (RFC 3339, with or without fractions) was, as kubectl shows it.
fn since(time: Option<&Value>) -> Option<String> {
    let time = time?
        .as_str()?
        .parse::<k8s_openapi::jiff::Timestamp>()
        .ok()?;
    let secs = k8s_openapi::jiff::Timestamp::now()
        .duration_since(time)
        .as_secs();
    Some(human_duration(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_events_v1_event_reads_as_core_v1() {
        let event = json!({
            "metadata": {"name": "a.1", "namespace": "mail"},
            "regarding": {"kind": "SendGridEnforcedTls", "name": "a", "namespace": "mail", "uid": "u1"},
            "note": "Set requireTls=true ", "reason": "Applied", "type": "Normal",
            "action": "Reconcile", "eventTime": "2026-01-01T00:00:00.000000Z",
            "reportingController": "op", "reportingInstance": "op-1", "series": null,
        });
        let core = to_core(&event);
        assert_eq!(core["involvedObject"]["uid"], "u1");
        assert_eq!(core["message"], "Set requireTls=true ");
        assert_eq!(core["reportingComponent"], "op");
        assert_eq!(core["source"], json!({}));
        assert!(core.get("series").is_none());
        let cells = cells(&core);
        assert_eq!(cells.len(), column_definitions().len());
        assert_eq!(
            cells[1..5],
            [
                json!("Normal"),
                json!("Applied"),
                json!("sendgridenforcedtls/a"),
                json!("")
            ]
        );
        assert_eq!(cells[5], "op, op-1");
        assert_eq!(cells[6], "Set requireTls=true");
        assert_eq!(
            cells[0], cells[7],
            "last seen is first seen for a single event"
        );
        assert_eq!(cells[8], 1);
    }

    #[test]
    fn a_series_counts_and_is_last_seen_when_last_observed() {
        let core = to_core(&json!({
            "metadata": {"name": "a.2"},
            "eventTime": "2010-01-01T00:00:00.000000Z",
            "series": {"count": 4, "lastObservedTime": "2020-01-01T00:00:00.000000Z"},
        }));
        let cells = cells(&core);
        assert_eq!(cells[8], 4);
        assert_ne!(
            cells[0], cells[7],
            "last seen is the series' last observation: {cells:?}"
        );
    }
}
