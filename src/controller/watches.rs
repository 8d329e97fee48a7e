//! Several namespaced watches into one cache.
//!
//! `--namespace a --namespace b` (the chart's `watchNamespaces`) runs one watch per namespace,
//! but the controller has one reflector. A reflector takes each watch's `Init .. InitDone` as the
//! whole truth: one namespace's (re)list would replace every other namespace's objects. So the
//! first lists of all namespaces become one `Init .. InitDone` (the cache is ready once every
//! namespace has listed), and a later relist of one namespace becomes `Apply` for what it lists
//! and `Delete` for what vanished from that namespace alone.

use crate::api::Guarded;
use futures::{Stream, StreamExt, stream};
use kube::Resource;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher::{Error, Event};
use std::collections::HashSet;

/// One stream of events a single reflector can apply, from one watch per namespace (in the
/// order of `namespaces`). A single watch passes through unchanged.
pub fn merge<S>(
    namespaces: Vec<String>,
    watches: Vec<S>,
    store: Store<Guarded>,
) -> impl Stream<Item = Result<Event<Guarded>, Error>> + Send
where
    S: Stream<Item = Result<Event<Guarded>, Error>> + Send + Unpin + 'static,
{
    let mut merger = Merger {
        initial: vec![true; watches.len()],
        listing: vec![None; watches.len()],
        started: false,
        namespaces,
        store,
    };
    let single = watches.len() == 1;
    let tagged = watches
        .into_iter()
        .enumerate()
        .map(|(i, watch)| watch.map(move |event| (i, event)));
    stream::select_all(tagged).flat_map(move |(i, event)| {
        let events = if single {
            vec![event]
        } else {
            merger.translate(i, event)
        };
        stream::iter(events)
    })
}

struct Merger {
    namespaces: Vec<String>,
    /// Namespace `i` has not finished its first list yet.
    initial: Vec<bool>,
    /// What a relist of namespace `i` has listed so far (`Some` while it runs).
    listing: Vec<Option<HashSet<ObjectRef<Guarded>>>>,
    /// The one `Init` has gone out.
    started: bool,
    store: Store<Guarded>,
}

type Step = Result<Event<Guarded>, Error>;

impl Merger {
    fn translate(&mut self, i: usize, event: Step) -> Vec<Step> {
        let event = match event {
            Ok(event) => event,
            Err(error) => return vec![Err(error)],
        };
        match event {
            Event::Init if self.initial[i] => {
                let first = !std::mem::replace(&mut self.started, true);
                if first {
                    vec![Ok(Event::Init)]
                } else {
                    Vec::new()
                }
            }
            Event::Init => {
                self.listing[i] = Some(HashSet::new());
                Vec::new()
            }
            Event::InitApply(obj) if self.initial[i] => vec![Ok(Event::InitApply(obj))],
            Event::InitApply(obj) => {
                self.listing[i]
                    .get_or_insert_default()
                    .insert(ObjectRef::from_obj(&obj));
                vec![Ok(Event::Apply(obj))]
            }
            Event::InitDone if self.initial[i] => {
                self.initial[i] = false;
                if self.initial.iter().any(|pending| *pending) {
                    Vec::new()
                } else {
                    vec![Ok(Event::InitDone)]
                }
            }
            Event::InitDone => {
                let listed = self.listing[i].take().unwrap_or_default();
                let namespace = self.namespaces.get(i).map(String::as_str);
                self.store
                    .state()
                    .into_iter()
                    .filter(|obj| obj.meta().namespace.as_deref() == namespace)
                    .filter(|obj| !listed.contains(&ObjectRef::from_obj(obj.as_ref())))
                    .map(|gone| Ok(Event::Delete(gone.as_ref().clone())))
                    .collect()
            }
            other => vec![Ok(other)],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::reflector;
    use serde_json::json;

    fn res(ns: &str, name: &str) -> Guarded {
        serde_json::from_value(json!({
            "apiVersion": "sendgrid.ops.dev/v1alpha1",
            "kind": "SendGridEnforcedTls",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"apiKeySecretRef": {"name": "k"}},
        }))
        .unwrap()
    }

    fn names(store: &Store<Guarded>) -> Vec<String> {
        let mut names: Vec<String> = store
            .state()
            .iter()
            .map(|o| ObjectRef::from_obj(o.as_ref()).to_string())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn one_namespace_relisting_never_drops_the_others() {
        let (reader, mut writer) = reflector::store::<Guarded>();
        let mut merger = Merger {
            namespaces: vec!["a".into(), "b".into()],
            initial: vec![true, true],
            listing: vec![None, None],
            started: false,
            store: reader.clone(),
        };
        let mut apply = |i: usize, event: Event<Guarded>| {
            for out in merger.translate(i, Ok(event)) {
                writer.apply_watcher_event(&out.unwrap());
            }
        };
        // The first lists, interleaved: one Init .. InitDone for both.
        apply(0, Event::Init);
        apply(1, Event::Init);
        apply(0, Event::InitApply(res("a", "x")));
        apply(1, Event::InitApply(res("b", "y")));
        apply(0, Event::InitDone);
        assert!(
            names(&reader).is_empty(),
            "not ready until every namespace listed"
        );
        apply(1, Event::InitDone);
        let (x, y, z) = (res("a", "x"), res("b", "y"), res("a", "z"));
        let name = |g: &Guarded| ObjectRef::from_obj(g).to_string();
        assert_eq!(names(&reader), [name(&x), name(&y)]);
        // Namespace a relists after a reconnect: x went away meanwhile, z came.
        apply(0, Event::Init);
        apply(0, Event::InitApply(z.clone()));
        apply(0, Event::InitDone);
        let mut expected = vec![name(&y), name(&z)];
        expected.sort();
        assert_eq!(names(&reader), expected);
    }
}
