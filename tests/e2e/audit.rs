//! kube-apiserver's audit log read as request records, like the test server's own request log:
//! from an offset on (the scenario's start), read when asked so that a count sees every line
//! written so far, with a barrier (`Cluster::settle`) for the lines still being written.

use kube_testkit::{RequestRecord, ResourceRef, Verb};
use serde_json::Value;
use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Mutex;

/// The audit log from an offset on, as request records (read when asked, so a count taken right
/// after a wait sees every request answered before it).
pub struct Audit {
    path: PathBuf,
    state: Mutex<AuditState>,
}

struct AuditState {
    offset: u64,
    records: Vec<RequestRecord>,
    /// Watches already recorded when their response started.
    started: HashSet<String>,
}

impl Audit {
    pub fn from_now(path: PathBuf) -> Audit {
        let offset = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        Audit {
            path,
            state: Mutex::new(AuditState {
                offset,
                records: Vec::new(),
                started: HashSet::new(),
            }),
        }
    }

    pub fn records(&self) -> Vec<RequestRecord> {
        let mut state = self.state.lock().unwrap();
        let mut file = std::fs::File::open(&self.path).unwrap();
        file.seek(SeekFrom::Start(state.offset)).unwrap();
        let mut text = String::new();
        file.read_to_string(&mut text).unwrap();
        // Only whole lines: the last may still be being written.
        let complete = text.rfind('\n').map_or(0, |i| i + 1);
        state.offset += complete as u64;
        for line in text[..complete].lines() {
            let event: Value = serde_json::from_str(line).unwrap();
            if let Some(record) = record_of(&event, &mut state.started) {
                state.records.push(record);
            }
        }
        state.records.clone()
    }

    /// The requests, without the harness's barrier markers.
    pub fn requests(&self) -> Vec<RequestRecord> {
        let mut records = self.records();
        records.retain(|r| !r.name.as_deref().is_some_and(|n| n.starts_with(BARRIER)));
        records
    }
}

/// Names of the objects the harness asks for (and never finds) to settle the audit log.
pub const BARRIER: &str = "e2e-audit-barrier-";

/// An audit event as the test server would have logged the request; a watch once, when its
/// response started (or when it ended without starting, refused).
fn record_of(event: &Value, started: &mut HashSet<String>) -> Option<RequestRecord> {
    let id = event["auditID"].as_str()?.to_string();
    let verb = event["verb"].as_str()?;
    match event["stage"].as_str()? {
        "ResponseStarted" => {
            started.insert(id);
        }
        "ResponseComplete" if !started.contains(&id) => {}
        _ => return None,
    }
    let uri = event["requestURI"].as_str()?;
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let object = &event["objectRef"];
    let text = |v: &Value| v.as_str().map(str::to_string);
    let (method, verb) = match verb {
        "get" => ("GET", Verb::Get),
        "list" => ("GET", Verb::List),
        "watch" => ("GET", Verb::Watch),
        "create" => ("POST", Verb::Create),
        "update" => ("PUT", Verb::Update),
        "patch" => ("PATCH", Verb::Patch),
        "delete" => ("DELETE", Verb::Delete),
        "deletecollection" => ("DELETE", Verb::DeleteCollection),
        _ => ("GET", Verb::Discovery),
    };
    Some(RequestRecord {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        content_type: None,
        accept: None,
        user_agent: text(&event["userAgent"]),
        verb,
        resource: text(&object["resource"])
            .map(|plural| ResourceRef::new(object["apiGroup"].as_str().unwrap_or(""), plural)),
        namespace: text(&object["namespace"]),
        name: text(&object["name"]),
        subresource: text(&object["subresource"]),
        status: event["responseStatus"]["code"].as_u64().unwrap_or(200) as u16,
    })
}
