//! `reconcile_queue_depth` and `reconcile_queue_wait_seconds`, measured from outside the queue:
//! kube-runtime's Controller keeps its scheduler to itself (no depth, no wait).
//!
//! A trigger the operator feeds the controller (a resource change that passed the trigger
//! filter, a handover after a deletion, a Secret change) is noted as it goes in; the next
//! reconcile that starts for that resource takes the note. Depth: resources with a trigger and no
//! reconcile started since; wait: from the earliest such trigger to the start (time spent behind
//! the concurrency limit, or behind the same resource's reconcile under way). Requeues the
//! controller schedules itself (resync, retry backoff, a rate-budget wait) are not triggers: they
//! wait as long as they asked to, and the rate-budget wait has metrics of its own.

use crate::api::Guarded;
use futures::{Stream, StreamExt};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// Namespace and name.
type Key = (String, String);

#[derive(Clone)]
pub struct ReconcileQueue {
    /// The earliest trigger not yet taken by a reconcile, per resource.
    pending: Arc<Mutex<HashMap<Key, Instant>>>,
    depth: Gauge,
    wait: Histogram,
}

fn key(namespace: Option<&str>, name: &str) -> Key {
    (namespace.unwrap_or_default().to_string(), name.to_string())
}

impl ReconcileQueue {
    pub fn register(registry: &mut Registry) -> ReconcileQueue {
        let depth = Gauge::default();
        registry.register(
            "reconcile_queue_depth",
            "Resources triggered (a change, a handover, a Secret change) whose reconcile has not started yet",
            depth.clone(),
        );
        // 1 ms to about 8 minutes: a startup backlog of thousands behind the concurrency limit.
        let wait = Histogram::new(exponential_buckets(0.001, 2.0, 20));
        registry.register(
            "reconcile_queue_wait_seconds",
            "Time from a resource's trigger to the start of its reconcile",
            wait.clone(),
        );
        ReconcileQueue {
            pending: Arc::default(),
            depth,
            wait,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Instant>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A reconcile of the resource was asked for.
    fn triggered(&self, namespace: Option<&str>, name: &str) {
        let mut pending = self.lock();
        pending
            .entry(key(namespace, name))
            .or_insert_with(Instant::now);
        self.depth.set(pending.len() as i64);
    }

    /// A reconcile of the resource starts.
    fn started(&self, namespace: Option<&str>, name: &str) {
        let mut pending = self.lock();
        if let Some(since) = pending.remove(&key(namespace, name)) {
            self.wait.observe(since.elapsed().as_secs_f64());
        }
        self.depth.set(pending.len() as i64);
    }

    /// The resource watch's items, each noted as a trigger.
    pub fn watched<E>(
        &self,
        triggers: impl Stream<Item = Result<Guarded, E>> + Send + 'static,
    ) -> impl Stream<Item = Result<Guarded, E>> + Send + 'static {
        let queue = self.clone();
        triggers.inspect(move |trigger| {
            if let Ok(obj) = trigger {
                queue.triggered(obj.meta().namespace.as_deref(), &obj.name_any());
            }
        })
    }

    /// Triggers by reference (a handover), each noted.
    pub fn referenced(
        &self,
        triggers: impl Stream<Item = ObjectRef<Guarded>> + Send + 'static,
    ) -> impl Stream<Item = ObjectRef<Guarded>> + Send + 'static {
        let queue = self.clone();
        triggers.inspect(move |obj| queue.triggered(obj.namespace.as_deref(), &obj.name))
    }

    /// A watch's mapper to the resources it triggers (a Secret's users), each noted.
    pub fn mapped<T>(
        &self,
        mapper: impl Fn(T) -> Vec<ObjectRef<Guarded>> + Send + Sync + 'static,
    ) -> impl Fn(T) -> Vec<ObjectRef<Guarded>> + Send + Sync + 'static {
        let queue = self.clone();
        move |from| {
            let objs = mapper(from);
            for obj in &objs {
                queue.triggered(obj.namespace.as_deref(), &obj.name);
            }
            objs
        }
    }

    /// A reconcile of `obj` starts: its trigger, if any, has waited until now.
    pub fn starts(&self, obj: &Guarded) {
        self.started(obj.meta().namespace.as_deref(), &obj.name_any());
    }

    /// The resource is gone: a trigger it left will never be taken.
    pub(super) fn forget(&self, namespace: Option<&str>, name: &str) {
        let mut pending = self.lock();
        pending.remove(&key(namespace, name));
        self.depth.set(pending.len() as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    fn read(registry: &Registry, series: &str) -> String {
        let mut text = String::new();
        encode(&mut text, registry).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn triggers_wait_until_their_reconcile_starts() {
        let mut registry = Registry::default();
        let queue = ReconcileQueue::register(&mut registry);
        queue.triggered(Some("ns"), "a");
        // A second trigger before the start is the same wait (the controller merges them).
        queue.triggered(Some("ns"), "a");
        queue.triggered(Some("ns"), "b");
        queue.triggered(Some("other"), "a");
        assert_eq!(read(&registry, "reconcile_queue_depth"), "3");
        queue.started(Some("ns"), "a");
        // A requeue's start: no trigger, no wait.
        queue.started(Some("ns"), "c");
        assert_eq!(read(&registry, "reconcile_queue_depth"), "2");
        assert_eq!(read(&registry, "reconcile_queue_wait_seconds_count"), "1");
        queue.forget(Some("ns"), "b");
        queue.started(Some("ns"), "b");
        assert_eq!(read(&registry, "reconcile_queue_depth"), "1");
        assert_eq!(read(&registry, "reconcile_queue_wait_seconds_count"), "1");
    }
}
