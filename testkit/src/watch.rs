//! Watches: a chunked HTTP response of newline-separated JSON events (`ADDED`, `MODIFIED`,
//! `DELETED`, `BOOKMARK`, `ERROR`), as `kube::Api::watch` and kube-runtime's watcher read them.
//!
//! - `resourceVersion` unset or `"0"`: the current objects are announced as `ADDED`, then
//!   changes follow. A specific resourceVersion replays every change after it; one older than
//!   the retained history gets a single `ERROR` event with a 410 `Expired` Status (the
//!   response itself is 200, as from a real server), which makes a watcher relist.
//! - `sendInitialEvents=true`: the current objects, then a BOOKMARK annotated
//!   `k8s.io/initial-events-end` (kube's streaming-list strategy).
//! - Bookmarks (with `allowWatchBookmarks=true`) are sent on the server's bookmark tick.
//! - Label and field selectors apply per event; an object that stops (starts) matching is
//!   sent as `DELETED` (`ADDED`).
//! - `timeoutSeconds` ends the response (default 30 minutes).
//!
//! Differences from a real API server: a watch is never late unless a test says so
//! (`TestServer::set_watch_lag`); bookmarks come on a fixed tick (see
//! `TestServer::set_bookmark_interval`), not about once a minute; the stream may be ended by
//! the test hooks `drop_watches` and `expire_watches` at any moment.

use crate::cluster::Cluster;
use crate::errors::ApiError;
use crate::kinds::Kind;
use crate::render::{self, Format};
use crate::selectors::Selector;
use crate::store::{Change, ChangeType, WatchMsg};
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

/// What a watch request asked for.
pub(crate) struct WatchSpec {
    pub kind: Kind,
    pub version: String,
    /// `None` watches all namespaces (or a cluster-scoped resource).
    pub namespace: Option<String>,
    pub selector: Selector,
    pub bookmarks: bool,
    pub timeout: Duration,
    pub format: Format,
    /// The `resourceVersion` parameter; `None` for unset or `"0"`.
    pub since: Option<u64>,
    pub send_initial_events: bool,
}

impl WatchSpec {
    fn matches(&self, object: &Value) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| object["metadata"]["namespace"].as_str() == Some(ns))
            && self.selector.matches(&self.kind.view_of(object))
    }

    fn line(&self, type_: &str, object: Value) -> Bytes {
        let mut line =
            serde_json::to_vec(&json!({ "type": type_, "object": object })).unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }

    fn event(&self, type_: ChangeType, object: &Value) -> Bytes {
        let rendered = render::object(&self.kind, &self.version, object, self.format);
        self.line(type_.as_str(), rendered)
    }

    fn bookmark(&self, rv: u64, annotations: Option<Value>) -> Bytes {
        let object = render::bookmark(&self.kind, &self.version, rv, self.format, annotations);
        self.line("BOOKMARK", object)
    }

    /// The event a committed change becomes for this watch, if any.
    fn change(&self, change: &Change) -> Option<Bytes> {
        let now = self.matches(&change.object);
        let before = change.old.as_ref().is_some_and(|o| self.matches(o));
        let type_ = match (change.type_, before, now) {
            (ChangeType::Added, _, true) => ChangeType::Added,
            (ChangeType::Deleted, _, true) => ChangeType::Deleted,
            (ChangeType::Modified, true, true) => ChangeType::Modified,
            (ChangeType::Modified, false, true) => ChangeType::Added,
            (ChangeType::Modified, true, false) => ChangeType::Deleted,
            _ => return None,
        };
        Some(self.event(type_, &change.object))
    }
}

struct Stream {
    spec: WatchSpec,
    queue: VecDeque<Bytes>,
    rx: Option<UnboundedReceiver<WatchMsg>>,
    deadline: Instant,
    /// Each change is delivered this late (a lagging watch cache; see `TestServer::set_watch_lag`).
    lag: Duration,
}

/// Opens a watch and returns the streaming response.
pub(crate) fn open(cluster: &Mutex<Cluster>, spec: WatchSpec) -> Result<Response, ApiError> {
    let mut queue = VecDeque::new();
    let mut cluster = cluster
        .lock()
        .map_err(|_| ApiError::bad_request("server state poisoned"))?;
    let announce = spec.since.is_none() || spec.send_initial_events;
    if announce {
        let ns = spec.namespace.as_deref();
        for entry in cluster.store.list(&spec.kind.storage(), ns) {
            if spec.matches(&entry.object) {
                queue.push_back(spec.event(ChangeType::Added, &entry.object));
            }
        }
        if spec.send_initial_events {
            let end = json!({ "k8s.io/initial-events-end": "true" });
            queue.push_back(spec.bookmark(cluster.store.current_rv(), Some(end)));
        }
    }
    let since = if announce { None } else { spec.since };
    let rx = match cluster.store.subscribe(&spec.kind.storage(), since) {
        Ok(sub) => {
            queue.extend(sub.replay.iter().filter_map(|c| spec.change(c)));
            Some(sub.rx)
        }
        Err(oldest) => {
            let gone = ApiError::gone(spec.since.unwrap_or_default(), oldest);
            queue.push_back(spec.line("ERROR", gone.status()));
            None
        }
    };
    let lag = cluster.watch_lag;
    drop(cluster);
    let deadline = Instant::now() + spec.timeout;
    let state = Stream {
        spec,
        queue,
        rx,
        deadline,
        lag,
    };
    let body = futures::stream::unfold(state, next_chunk);
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

async fn next_chunk(mut s: Stream) -> Option<(Result<Bytes, Infallible>, Stream)> {
    loop {
        if let Some(line) = s.queue.pop_front() {
            return Some((Ok(line), s));
        }
        let rx = s.rx.as_mut()?;
        let msg = tokio::time::timeout_at(s.deadline, rx.recv())
            .await
            .ok()??;
        let line = match msg {
            WatchMsg::Change(change) => {
                if !s.lag.is_zero() {
                    tokio::time::sleep(s.lag).await;
                }
                s.spec.change(&change)
            }
            WatchMsg::Bookmark(rv) => s.spec.bookmarks.then(|| s.spec.bookmark(rv, None)),
        };
        s.queue.extend(line);
    }
}
