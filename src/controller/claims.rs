//! The cache indexed by account: which resources record each target (`status.target.name`).
//! The handover on deletion, the wake-up of Conflict losers when an account's record changes,
//! and the removal of a record no resource points at any more look their account up here
//! instead of walking every cached resource: at 10,000 resources that walk was most of the
//! operator's CPU. Who holds what is in the account's `SendGridTarget` record, not here.
//!
//! It is fed the same watch events as the cache, right after the cache took them, and follows
//! the cache's rules: a relist (Init .. InitDone) is gathered aside and replaces the index at
//! InitDone. The objects themselves stay in the cache; the index holds references only.

use crate::api::Guarded;
use crate::api::SendGridEnforcedTls;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher::Event;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// The account a resource records, if any.
fn slot(res: &SendGridEnforcedTls) -> Option<Box<str>> {
    res.status
        .as_ref()
        .and_then(|s| s.target.as_ref())
        .map(|t| t.name.as_str().into())
}

type Ref = ObjectRef<Guarded>;

/// Namespace and name: what a reference compares by, in a third of an `ObjectRef`'s size (at
/// 10,000 resources, each on its own account, the index was the largest map after the cache).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Name {
    namespace: Option<Box<str>>,
    name: Box<str>,
}

impl Name {
    fn of(obj: &Guarded) -> Name {
        let meta = kube::Resource::meta(obj);
        Name {
            namespace: meta.namespace.as_deref().map(Into::into),
            name: meta.name.as_deref().unwrap_or_default().into(),
        }
    }

    fn to_ref(&self) -> Ref {
        let name = ObjectRef::new(&self.name);
        match &self.namespace {
            Some(ns) => name.within(ns),
            None => name,
        }
    }
}

#[derive(Default)]
struct Book {
    slots: HashMap<Name, Box<str>>,
    /// Most accounts have one member: a vector of exactly that size, not a hash set's four.
    members: HashMap<Box<str>, Vec<Name>>,
}

impl Book {
    fn put(&mut self, obj: &Guarded) {
        let name = Name::of(obj);
        self.remove(&name);
        if let Some(slot) = obj.0.as_ref().ok().and_then(slot) {
            let members = self.members.entry(slot.clone()).or_default();
            members.reserve_exact(1);
            members.push(name.clone());
            self.slots.insert(name, slot);
        }
    }

    fn remove(&mut self, name: &Name) {
        let Some(slot) = self.slots.remove(name) else {
            return;
        };
        if let Some(members) = self.members.get_mut(&slot) {
            members.retain(|member| member != name);
            if members.is_empty() {
                self.members.remove(&slot);
            } else {
                members.shrink_to_fit();
            }
        }
    }
}

#[derive(Default)]
struct Inner {
    live: Book,
    /// A relist under way.
    relist: Option<Book>,
}

/// The index; see the module documentation.
#[derive(Default)]
pub struct ClaimIndex(Mutex<Inner>);

impl ClaimIndex {
    /// Takes a watch event, as the cache does.
    pub fn apply(&self, event: &Event<Guarded>) {
        let mut inner = self.lock();
        match event {
            Event::Apply(obj) => inner.live.put(obj),
            Event::Delete(obj) => inner.live.remove(&Name::of(obj)),
            Event::Init => inner.relist = Some(Book::default()),
            Event::InitApply(obj) => inner.relist.get_or_insert_default().put(obj),
            Event::InitDone => {
                if let Some(book) = inner.relist.take() {
                    inner.live = book;
                }
            }
        }
    }

    /// The resources that record the account `target`.
    pub fn members(&self, target: &str) -> Vec<Ref> {
        let inner = self.lock();
        inner
            .live
            .members
            .get(target)
            .into_iter()
            .flatten()
            .map(Name::to_ref)
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{SendGridEnforcedTlsStatus, TargetAccount};
    use kube::core::DeserializeGuard;
    use kube::runtime::reflector;
    use serde_json::json;
    use std::collections::HashSet;

    /// A resource `name` on one of three accounts, with one of four statuses.
    fn resource(name: usize, place: u64, state: u64) -> Guarded {
        let mut spec = json!({"apiKeySecretRef": {"name": "key"}, "requireTls": true});
        if place > 0 {
            spec["onBehalfOf"] = json!({"subuser": format!("sub-{place}")});
        }
        let mut res: SendGridEnforcedTls = serde_json::from_value(json!({
            "apiVersion": "sendgrid.ops.dev/v1alpha1",
            "kind": "SendGridEnforcedTls",
            "metadata": {"name": format!("r{name}"), "namespace": "ns"},
            "spec": spec,
        }))
        .unwrap();
        res.status = match state {
            0 => None,
            1 => Some(SendGridEnforcedTlsStatus {
                observed_generation: Some(1),
                ..Default::default()
            }),
            _ => Some(SendGridEnforcedTlsStatus {
                observed_generation: Some(1),
                target: Some(TargetAccount {
                    name: format!("global-{place}{}", state % 2),
                    region: crate::api::Region::Global,
                    user_id: place * 10 + state % 2,
                    username: format!("sub-{place}"),
                    on_behalf_of: None,
                    secret_resource_version: None,
                }),
                ..Default::default()
            }),
        };
        DeserializeGuard(Ok(res))
    }

    /// A small deterministic generator: the same histories on every run.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }

        fn resource(&mut self) -> Guarded {
            let (name, place, state) = (self.below(12), self.below(3), self.below(4));
            resource(name as usize, place, state)
        }
    }

    /// The resources on `target`, found the slow way: a walk of the cache.
    fn scanned(store: &reflector::Store<Guarded>, target: &str) -> HashSet<String> {
        store
            .state()
            .iter()
            .filter(|g| g.0.as_ref().ok().and_then(slot).as_deref() == Some(target))
            .map(|g| ObjectRef::from_obj(g.as_ref()).name)
            .collect()
    }

    /// Random watch histories (applies, deletes, relists that add, drop and move resources)
    /// fed to the cache and the index alike: after every event, each lookup finds exactly what a
    /// walk of the cache finds.
    #[test]
    fn lookups_always_match_a_walk_of_the_cache() {
        let mut rng = Lcg(0x5eed);
        let slots: Vec<String> = (0..3)
            .flat_map(|p| [format!("global-{p}0"), format!("global-{p}1")])
            .collect();
        let (store, mut writer) = reflector::store::<Guarded>();
        let index = ClaimIndex::default();
        for _ in 0..3000 {
            let events = match rng.below(20) {
                0 => {
                    let mut relist = vec![Event::Init];
                    for _ in 0..rng.below(8) {
                        relist.push(Event::InitApply(rng.resource()));
                    }
                    relist.push(Event::InitDone);
                    relist
                }
                1..=4 => vec![Event::Delete(rng.resource())],
                _ => vec![Event::Apply(rng.resource())],
            };
            for event in events {
                writer.apply_watcher_event(&event);
                index.apply(&event);
                for slot in &slots {
                    let found: HashSet<String> =
                        index.members(slot).into_iter().map(|r| r.name).collect();
                    assert_eq!(found, scanned(&store, slot), "{slot:?}");
                }
            }
        }
    }
}
