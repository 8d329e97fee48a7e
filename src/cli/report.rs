//! The report of `plan` and `apply`: one entry per resource, a summary, and the three ways to
//! print it (text for people, JSON and YAML for pipelines).

use crate::api::SendGridEnforcedTlsStatus;
use serde::Serialize;
use serde_json::Value;

/// What happened to one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// SendGrid matches the spec.
    InSync,
    /// `plan`: SendGrid would change.
    Changes,
    /// `apply`: SendGrid was changed.
    Applied,
    /// Observe mode and SendGrid differs: nothing is changed.
    Drifted,
    /// The resource could not be planned or applied; see `error`.
    Failed,
}

/// One field a PATCH sets: `from` is SendGrid's value (null when it reported none).
/// How `plan` and `apply` print their report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// One line per resource (apply: the status each would get, as YAML), then a summary.
    #[default]
    Text,
    /// One JSON document: every resource's result, changes, status and error, and a summary.
    Json,
    /// The JSON report as YAML.
    Yaml,
}

#[derive(Debug, Serialize)]
pub struct Change {
    pub field: &'static str,
    pub from: Value,
    pub to: Value,
}

#[derive(Debug, Serialize)]
pub struct Problem {
    /// The controller's reason for the same trouble: the Synced reason (Unauthorized,
    /// RateLimited, SecretNotFound when no key was given, SecretKeyInvalid for a malformed one,
    /// ...), or InvalidObject for a document that fails validation.
    pub reason: String,
    pub message: String,
}

/// An Event the controller would publish.
#[derive(Debug, Serialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub reason: &'static str,
    pub message: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// `file#document`.
    pub source: String,
    /// `namespace/name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    pub result: Verdict,
    /// The Ready condition's message, or what failed.
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<Event>,
    /// `apply`: the status the controller would write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<SendGridEnforcedTlsStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub in_sync: usize,
    pub changes: usize,
    pub applied: usize,
    pub drifted: usize,
    pub failed: usize,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub command: &'static str,
    pub summary: Summary,
    pub resources: Vec<Entry>,
}

impl Report {
    pub fn new(command: &'static str, resources: Vec<Entry>) -> Report {
        let mut summary = Summary::default();
        for entry in &resources {
            *match entry.result {
                Verdict::InSync => &mut summary.in_sync,
                Verdict::Changes => &mut summary.changes,
                Verdict::Applied => &mut summary.applied,
                Verdict::Drifted => &mut summary.drifted,
                Verdict::Failed => &mut summary.failed,
            } += 1;
        }
        Report {
            command,
            summary,
            resources,
        }
    }

    /// The report in `format`; failures also go to stderr as one line each, for people
    /// watching a pipeline.
    pub fn print(&self, format: OutputFormat) -> Result<(), String> {
        for entry in &self.resources {
            if let Some(error) = &entry.error {
                eprintln!(
                    "error: {}: {}: {}",
                    label(entry),
                    error.reason,
                    error.message
                );
            }
        }
        let text = match format {
            OutputFormat::Text => self.text(),
            OutputFormat::Json => {
                serde_json::to_string_pretty(self).map_err(|e| format!("report: {e}"))? + "\n"
            }
            OutputFormat::Yaml => {
                serde_saphyr::to_string(self).map_err(|e| format!("report: {e}"))?
            }
        };
        print!("{text}");
        Ok(())
    }

    /// `plan`: one line per resource. `apply`: the status each would get, as a YAML stream whose
    /// comments say what happened. Then the summary.
    fn text(&self) -> String {
        let mut out = String::new();
        for entry in &self.resources {
            let what = match (entry.result, self.command) {
                (Verdict::Changes, _) => format!("would set {}", changes(&entry.changes)),
                (Verdict::InSync, _) => format!("in sync ({})", entry.message),
                (Verdict::Drifted, "plan") => format!(
                    "drifted; mode Observe, so nothing would change ({})",
                    entry.message
                ),
                (Verdict::Drifted, _) => {
                    format!("drifted; mode Observe, nothing changed ({})", entry.message)
                }
                (Verdict::Applied, _) => format!("applied ({})", entry.message),
                (Verdict::Failed, _) => "failed (see stderr)".to_string(),
            };
            if self.command == "plan" {
                out.push_str(&format!("{}: {what}\n", label(entry)));
                continue;
            }
            if !out.is_empty() {
                out.push_str("---\n");
            }
            out.push_str(&format!("# {}: {what}\n", label(entry)));
            for event in &entry.events {
                out.push_str(&format!(
                    "#   {} {}: {}\n",
                    event.type_, event.reason, event.message
                ));
            }
            if let Some(status) = &entry.status {
                let doc = serde_json::json!({ "status": status });
                out.push_str(&serde_saphyr::to_string(&doc).unwrap_or_default());
            }
        }
        let s = &self.summary;
        let prefix = if self.command == "plan" { "" } else { "# " };
        out.push_str(&format!(
            "{prefix}{}: {} in sync, {} {}, {} drifted, {} failed\n",
            if self.command == "plan" {
                "Plan"
            } else {
                "Apply"
            },
            s.in_sync,
            if self.command == "plan" {
                s.changes
            } else {
                s.applied
            },
            if self.command == "plan" {
                "to change"
            } else {
                "changed"
            },
            s.drifted,
            s.failed,
        ));
        out
    }
}

/// `namespace/name`, or the source when the document has no name.
fn label(entry: &Entry) -> String {
    match &entry.resource {
        Some(name) => name.clone(),
        None => entry.source.clone(),
    }
}

/// "requireTls: false -> true, minimumTlsVersion: unset -> 1.2"
fn changes(changes: &[Change]) -> String {
    let value = |v: &Value| match v {
        Value::Null => "unset".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let parts: Vec<String> = changes
        .iter()
        .map(|c| format!("{}: {} -> {}", c.field, value(&c.from), value(&c.to)))
        .collect();
    parts.join(", ")
}
