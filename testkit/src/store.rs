//! Object storage: every object by resource, namespace and name, one global resourceVersion
//! counter (like etcd's revision), the history of changes that watches replay from, and the
//! open watches that live changes are fanned out to.
//!
//! Differences from a real API server: the history is kept in memory until [`Store::expire`]
//! (or a size cap) compacts it, so a watch from any retained resourceVersion resumes exactly;
//! uids are derived from a counter.

use crate::fields::Owners;
use crate::kinds::ResourceRef;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// How many changes are kept for watch replay before the oldest are compacted away.
const HISTORY_CAP: usize = 50_000;

/// Where an object lives. `namespace` is empty for cluster-scoped objects.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ObjectKey {
    pub resource: ResourceRef,
    pub namespace: String,
    pub name: String,
}

/// A stored object and the field managers that own its fields.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub object: Value,
    pub owners: Owners,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChangeType {
    Added,
    Modified,
    Deleted,
}

impl ChangeType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Added => "ADDED",
            ChangeType::Modified => "MODIFIED",
            ChangeType::Deleted => "DELETED",
        }
    }
}

/// One committed change. `old` is the previous state (for selector transitions in watches).
#[derive(Debug)]
pub(crate) struct Change {
    pub type_: ChangeType,
    pub rv: u64,
    pub resource: ResourceRef,
    pub object: Value,
    pub old: Option<Value>,
}

/// What an open watch receives, in commit order.
#[derive(Clone, Debug)]
pub(crate) enum WatchMsg {
    Change(Arc<Change>),
    /// The current resourceVersion: every change up to it has been sent before this message.
    Bookmark(u64),
}

struct Watcher {
    resource: ResourceRef,
    tx: UnboundedSender<WatchMsg>,
}

/// The in-memory "etcd".
pub(crate) struct Store {
    objects: BTreeMap<ObjectKey, Entry>,
    rv: u64,
    /// Changes with `rv > compacted`, oldest first.
    history: Vec<Arc<Change>>,
    compacted: u64,
    watchers: Vec<Watcher>,
    uids: u64,
}

/// The start of a watch: the changes to replay or the current objects to announce, then the
/// live channel.
pub(crate) struct Subscription {
    pub replay: Vec<Arc<Change>>,
    pub rx: UnboundedReceiver<WatchMsg>,
}

impl Store {
    pub fn new() -> Store {
        Store {
            objects: BTreeMap::new(),
            rv: 1,
            history: Vec::new(),
            compacted: 1,
            watchers: Vec::new(),
            uids: 0,
        }
    }

    pub fn current_rv(&self) -> u64 {
        self.rv
    }

    pub fn get(&self, key: &ObjectKey) -> Option<&Entry> {
        self.objects.get(key)
    }

    /// Objects of one resource, in one namespace or (with `None`) all of them, by key order.
    pub fn list<'a>(
        &'a self,
        resource: &'a ResourceRef,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        self.objects
            .iter()
            .filter(move |(k, _)| {
                &k.resource == resource && namespace.is_none_or(|ns| k.namespace == ns)
            })
            .map(|(_, e)| e)
    }

    /// A fresh uid (a valid UUID text, unique within this server).
    pub fn new_uid(&mut self) -> String {
        self.uids += 1;
        format!("7e57c1a5-0000-4000-8000-{:012x}", self.uids)
    }

    /// Stores `entry` under `key` with a new resourceVersion and announces it to watches.
    /// Returns the stored object.
    pub fn commit(&mut self, key: ObjectKey, mut entry: Entry) -> Value {
        self.rv += 1;
        set_rv(&mut entry.object, self.rv);
        let old = self
            .objects
            .insert(key.clone(), entry.clone())
            .map(|e| e.object);
        let type_ = if old.is_some() {
            ChangeType::Modified
        } else {
            ChangeType::Added
        };
        self.publish(type_, key.resource, entry.object.clone(), old);
        entry.object
    }

    /// Replaces the owners of a stored object without a new resourceVersion (ownership is not
    /// part of the served object).
    pub fn set_owners(&mut self, key: &ObjectKey, owners: Owners) {
        if let Some(entry) = self.objects.get_mut(key) {
            entry.owners = owners;
        }
    }

    /// Removes an object; the DELETED event carries its last state (`last`, else the stored
    /// one) with a new resourceVersion.
    pub fn remove(&mut self, key: &ObjectKey, last: Option<Value>) -> Option<Value> {
        let old = self.objects.remove(key)?.object;
        let mut object = last.unwrap_or_else(|| old.clone());
        self.rv += 1;
        set_rv(&mut object, self.rv);
        self.publish(
            ChangeType::Deleted,
            key.resource.clone(),
            object.clone(),
            Some(old),
        );
        Some(object)
    }

    /// Removes every object of a resource without events (its CRD was deleted).
    pub fn purge(&mut self, resource: &ResourceRef) {
        self.objects.retain(|k, _| &k.resource != resource);
    }

    fn publish(
        &mut self,
        type_: ChangeType,
        resource: ResourceRef,
        object: Value,
        old: Option<Value>,
    ) {
        let change = Arc::new(Change {
            type_,
            rv: self.rv,
            resource,
            object,
            old,
        });
        self.watchers.retain(|w| {
            w.resource != change.resource || w.tx.send(WatchMsg::Change(change.clone())).is_ok()
        });
        self.history.push(change);
        if self.history.len() > HISTORY_CAP {
            let drop = self.history.len() - HISTORY_CAP / 2;
            self.compacted = self.history[drop - 1].rv;
            self.history.drain(..drop);
        }
    }

    /// Opens a watch on `resource`. With `since = Some(rv)` the changes after `rv` are replayed
    /// (an error if they were compacted away); with `None` nothing is replayed (the caller
    /// announces the current objects itself).
    pub fn subscribe(
        &mut self,
        resource: &ResourceRef,
        since: Option<u64>,
    ) -> Result<Subscription, u64> {
        let replay = match since {
            Some(rv) if rv < self.compacted => return Err(self.compacted),
            Some(rv) => self
                .history
                .iter()
                .filter(|c| c.rv > rv && &c.resource == resource)
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        let (tx, rx) = unbounded_channel();
        self.watchers.push(Watcher {
            resource: resource.clone(),
            tx,
        });
        Ok(Subscription { replay, rx })
    }

    /// Sends every open watch a bookmark at the current resourceVersion.
    pub fn bookmark(&mut self) {
        let rv = self.rv;
        self.watchers
            .retain(|w| w.tx.send(WatchMsg::Bookmark(rv)).is_ok());
    }

    /// Ends every open watch (clients see the stream close and re-watch from their last
    /// resourceVersion).
    pub fn drop_watches(&mut self) {
        self.watchers.clear();
    }

    /// How many watches are open (closed ones are noticed on the next send).
    pub fn open_watches(&mut self) -> usize {
        self.watchers.retain(|w| !w.tx.is_closed());
        self.watchers.len()
    }

    /// Compacts the whole history, like etcd compaction: a watch from any resourceVersion
    /// before now gets 410 Gone. The counter moves on first so that even a watch from the
    /// latest resourceVersion a client saw is too old. Open watches are dropped.
    pub fn expire(&mut self) {
        self.rv += 1;
        self.compacted = self.rv;
        self.history.clear();
        self.drop_watches();
    }
}

fn set_rv(object: &mut Value, rv: u64) {
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    object["metadata"]["resourceVersion"] = Value::String(rv.to_string());
}
