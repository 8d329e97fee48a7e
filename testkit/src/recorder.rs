//! The request log: every request the server answered, with its verb and status, so tests can
//! count reads and writes (`TestServer::requests`, `TestServer::count`).
//!
//! A watch is recorded when its response starts (status 200), not when it ends.

use crate::kinds::ResourceRef;
use crate::route::{Route, Verb};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// One answered request.
#[derive(Clone, Debug)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    /// The raw query string (without `?`).
    pub query: String,
    pub content_type: Option<String>,
    pub accept: Option<String>,
    pub user_agent: Option<String>,
    pub verb: Verb,
    /// The resource addressed, for resource paths.
    pub resource: Option<ResourceRef>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
    pub status: u16,
}

impl RequestRecord {
    /// A decoded query parameter.
    pub fn query_param(&self, key: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }

    /// Create, update, patch or delete (whatever the outcome).
    pub fn is_write(&self) -> bool {
        self.verb.is_write()
    }

    /// Answered with a 2xx status.
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Addressed to `plural` (any group).
    pub fn is_for(&self, plural: &str) -> bool {
        self.resource.as_ref().is_some_and(|r| r.plural == plural)
    }

    /// Addressed to the status subresource.
    pub fn is_status(&self) -> bool {
        self.subresource.as_deref() == Some("status")
    }
}

/// The shared log plus a change counter that waiters watch.
#[derive(Clone)]
pub(crate) struct Recorder {
    pub log: Arc<Mutex<Vec<RequestRecord>>>,
    pub changed: Arc<watch::Sender<u64>>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            log: Arc::new(Mutex::new(Vec::new())),
            changed: Arc::new(watch::channel(0).0),
        }
    }

    /// Wakes everyone waiting for a condition (after any request or test-hook change).
    pub fn notify(&self) {
        self.changed.send_modify(|n| *n += 1);
    }
}

/// Middleware: answers the request, then logs it.
pub(crate) async fn record(
    State(recorder): State<Recorder>,
    request: Request,
    next: Next,
) -> Response {
    let (content_type, accept, user_agent) = {
        let header = |name: header::HeaderName| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        (
            header(header::CONTENT_TYPE),
            header(header::ACCEPT),
            header(header::USER_AGENT),
        )
    };
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let route = Route::parse(&path);
    let watch = url::form_urlencoded::parse(query.as_bytes())
        .any(|(k, v)| k == "watch" && (v == "true" || v == "1"));
    let verb = Verb::of(&method, &route, watch);
    let response = next.run(request).await;
    let target = match route {
        Route::Resource(t) => Some(t),
        _ => None,
    };
    let record = RequestRecord {
        method: method.to_string(),
        path,
        query,
        content_type,
        accept,
        user_agent,
        verb,
        resource: target
            .as_ref()
            .map(|t| ResourceRef::new(&t.group, &t.plural)),
        namespace: target.as_ref().and_then(|t| t.namespace.clone()),
        name: target.as_ref().and_then(|t| t.name.clone()),
        subresource: target.and_then(|t| t.subresource),
        status: response.status().as_u16(),
    };
    if let Ok(mut log) = recorder.log.lock() {
        log.push(record);
    }
    recorder.notify();
    response
}
