//! Watches through `kube::Api::watch` and kube-runtime's watchers: events, bookmarks,
//! resumption from a resourceVersion, dropped and expired watches, selectors, metadata-only
//! watches of Secrets, streaming lists and malformed objects.

use crate::common::{WAIT, Widget, server, widget};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::core::{DeserializeGuard, PartialObjectMeta};
use kube::runtime::watcher::{self, Event};
use kube::{Resource, ResourceExt};
use kube_testkit::{ResourceRef, TestServer, Verb};
use serde_json::json;
use std::time::Duration;
use tokio::sync::mpsc;

/// Runs a watcher stream in the background, summarising each item as text
/// (`InitApply(a)`, `Apply(a)`, `Delete(a)`, `Error(...)`).
fn spawn_watcher<K: Resource + Send + 'static>(
    stream: impl Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static,
) -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            let line = match item {
                Ok(Event::Init) => "Init".to_string(),
                Ok(Event::InitApply(o)) => {
                    format!("InitApply({})", o.meta().name.clone().unwrap_or_default())
                }
                Ok(Event::InitDone) => "InitDone".to_string(),
                Ok(Event::Apply(o)) => {
                    format!("Apply({})", o.meta().name.clone().unwrap_or_default())
                }
                Ok(Event::Delete(o)) => {
                    format!("Delete({})", o.meta().name.clone().unwrap_or_default())
                }
                Err(e) => format!("Error({e})"),
            };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The next `n` summaries, failing after a timeout.
async fn take(rx: &mut mpsc::UnboundedReceiver<String>, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let next = tokio::time::timeout(WAIT, rx.recv()).await;
        out.push(
            next.expect("a watcher event in time")
                .expect("the watcher is running"),
        );
    }
    out
}

async fn wait_for_watches(server: &TestServer, n: usize) {
    assert!(
        server.wait_until(WAIT, |s| s.open_watches() == n).await,
        "{n} open watch(es)"
    );
}

fn lists(server: &TestServer) -> usize {
    server.count(|r| r.verb == Verb::List && r.is_for("widgets"))
}

#[tokio::test]
async fn api_watch_streams_events_and_bookmarks() {
    let server = server().await;
    server.set_bookmark_interval(Duration::from_millis(50));
    let api: Api<Widget> = Api::namespaced(server.client(), "default");
    api.create(&PostParams::default(), &widget("before", 1))
        .await
        .unwrap();
    let stream = api.watch(&WatchParams::default(), "0").await.unwrap();
    let mut stream = std::pin::pin!(stream);
    let mut next = async || {
        tokio::time::timeout(WAIT, stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
    };

    assert!(matches!(next().await, WatchEvent::Added(w) if w.name_any() == "before"));
    api.create(&PostParams::default(), &widget("a", 1))
        .await
        .unwrap();
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"size": 2}})),
    )
    .await
    .unwrap();
    api.delete("a", &Default::default()).await.unwrap();
    let mut seen = Vec::new();
    let mut bookmark = None;
    while seen.len() < 3 || bookmark.is_none() {
        match next().await {
            WatchEvent::Added(w) => seen.push(format!("ADDED {}", w.spec.size)),
            WatchEvent::Modified(w) => seen.push(format!("MODIFIED {}", w.spec.size)),
            WatchEvent::Deleted(w) => seen.push(format!("DELETED {}", w.spec.size)),
            WatchEvent::Bookmark(b) if seen.len() == 3 => {
                bookmark = Some(b.metadata.resource_version)
            }
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(seen, ["ADDED 1", "MODIFIED 2", "DELETED 2"]);
    assert_eq!(bookmark.unwrap(), server.resource_version().to_string());
}

#[tokio::test]
async fn watch_from_a_resource_version_replays_exactly_what_followed() {
    let server = server().await;
    let api: Api<Widget> = Api::namespaced(server.client(), "default");
    api.create(&PostParams::default(), &widget("a", 1))
        .await
        .unwrap();
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    api.create(&PostParams::default(), &widget("b", 1))
        .await
        .unwrap();
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"size": 3}})),
    )
    .await
    .unwrap();

    let stream = api
        .watch(&WatchParams::default().disable_bookmarks(), &rv)
        .await
        .unwrap();
    let events: Vec<String> = stream
        .take(2)
        .map(|e| match e.unwrap() {
            WatchEvent::Added(w) => format!("ADDED {}", w.name_any()),
            WatchEvent::Modified(w) => format!("MODIFIED {}", w.name_any()),
            other => format!("{other:?}"),
        })
        .collect()
        .await;
    assert_eq!(events, ["ADDED b", "MODIFIED a"]);

    server.expire_watches();
    let mut stale = api
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    match stale.next().await.unwrap().unwrap() {
        WatchEvent::Error(status) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
            assert!(
                status.message.starts_with("too old resource version"),
                "{}",
                status.message
            );
        }
        other => panic!("expected 410, got {other:?}"),
    }
    assert!(
        stale.next().await.is_none(),
        "the stream ends after the 410"
    );
}

#[tokio::test]
async fn watcher_resumes_a_dropped_watch_without_relisting() {
    let server = server().await;
    let api: Api<Widget> = Api::namespaced(server.client(), "default");
    api.create(&PostParams::default(), &widget("a", 1))
        .await
        .unwrap();
    let mut events = spawn_watcher(watcher::watcher(api.clone(), watcher::Config::default()));
    assert_eq!(
        take(&mut events, 3).await,
        ["Init", "InitApply(a)", "InitDone"]
    );
    wait_for_watches(&server, 1).await;

    server.drop_watches();
    // A change while no watch is open is replayed from the watcher's resourceVersion.
    api.create(&PostParams::default(), &widget("b", 1))
        .await
        .unwrap();
    assert_eq!(take(&mut events, 1).await, ["Apply(b)"]);
    wait_for_watches(&server, 1).await;
    api.create(&PostParams::default(), &widget("c", 1))
        .await
        .unwrap();
    assert_eq!(take(&mut events, 1).await, ["Apply(c)"]);
    assert_eq!(
        lists(&server),
        1,
        "a dropped watch is resumed, not relisted"
    );
    assert_eq!(server.count(|r| r.verb == Verb::Watch), 2);
}

#[tokio::test]
async fn watcher_relists_after_the_watch_expires() {
    let server = server().await;
    let api: Api<Widget> = Api::namespaced(server.client(), "default");
    api.create(&PostParams::default(), &widget("a", 1))
        .await
        .unwrap();
    let mut events = spawn_watcher(watcher::watcher(api.clone(), watcher::Config::default()));
    assert_eq!(
        take(&mut events, 3).await,
        ["Init", "InitApply(a)", "InitDone"]
    );
    wait_for_watches(&server, 1).await;

    server.expire_watches();
    api.create(&PostParams::default(), &widget("b", 1))
        .await
        .unwrap();
    let after = take(&mut events, 5).await;
    assert!(
        after[0].starts_with("Error(") && after[0].contains("too old resource version"),
        "{after:?}"
    );
    assert_eq!(
        after[1..],
        ["Init", "InitApply(a)", "InitApply(b)", "InitDone"]
    );
    assert_eq!(lists(&server), 2, "410 Gone makes the watcher relist once");
}

#[tokio::test]
async fn streaming_list_watcher_needs_no_list() {
    let server = server().await;
    let api: Api<Widget> = Api::namespaced(server.client(), "default");
    api.create(&PostParams::default(), &widget("a", 1))
        .await
        .unwrap();
    let config = watcher::Config::default().streaming_lists();
    let mut events = spawn_watcher(watcher::watcher(api.clone(), config));
    assert_eq!(
        take(&mut events, 3).await,
        ["Init", "InitApply(a)", "InitDone"]
    );
    api.create(&PostParams::default(), &widget("b", 1))
        .await
        .unwrap();
    assert_eq!(take(&mut events, 1).await, ["Apply(b)"]);
    assert_eq!(lists(&server), 0);
}

#[tokio::test]
async fn label_selector_watch_sees_objects_enter_and_leave() {
    let server = server().await;
    let api: Api<Widget> = Api::namespaced(server.client(), "default");
    let config = watcher::Config::default().labels("team=a");
    let mut events = spawn_watcher(watcher::watcher(api.clone(), config));
    assert_eq!(take(&mut events, 2).await, ["Init", "InitDone"]);
    api.create(&PostParams::default(), &widget("w", 1))
        .await
        .unwrap();
    let label = |v: serde_json::Value| Patch::Merge(json!({"metadata": {"labels": {"team": v}}}));
    api.patch("w", &PatchParams::default(), &label(json!("a")))
        .await
        .unwrap();
    api.patch("w", &PatchParams::default(), &label(json!("b")))
        .await
        .unwrap();
    assert_eq!(take(&mut events, 2).await, ["Apply(w)", "Delete(w)"]);
}

#[tokio::test]
async fn a_malformed_object_does_not_stop_a_guarded_watcher() {
    let server = server().await;
    let api: Api<Widget> = Api::namespaced(server.client(), "default");
    api.create(&PostParams::default(), &widget("good", 1))
        .await
        .unwrap();
    let bad = json!({
        "apiVersion": "testkit.dev/v1", "kind": "Widget",
        "metadata": {"name": "bad", "namespace": "default"},
        "spec": {"size": "not a number"}
    });
    let stored = server
        .put_object(&ResourceRef::of::<Widget>(), bad)
        .unwrap();
    assert!(stored["metadata"]["resourceVersion"].is_string());

    let guarded: Api<DeserializeGuard<Widget>> = Api::namespaced(server.client(), "default");
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(watcher::watcher(guarded, watcher::Config::default()));
        while let Some(Ok(event)) = stream.next().await {
            let summary = match event {
                Event::InitApply(DeserializeGuard(Ok(w)))
                | Event::Apply(DeserializeGuard(Ok(w))) => format!("ok {}", w.name_any()),
                Event::InitApply(DeserializeGuard(Err(e)))
                | Event::Apply(DeserializeGuard(Err(e))) => {
                    format!("invalid {}", e.metadata.name.unwrap_or_default())
                }
                _ => continue,
            };
            if tx.send(summary).is_err() {
                return;
            }
        }
    });
    let mut got = take(&mut rx, 2).await;
    got.sort();
    assert_eq!(got, ["invalid bad", "ok good"]);
    api.create(&PostParams::default(), &widget("later", 1))
        .await
        .unwrap();
    assert_eq!(take(&mut rx, 1).await, ["ok later"]);
}

#[tokio::test]
async fn metadata_watcher_of_secrets_gets_metadata_only() {
    let server = TestServer::start().await;
    let secrets: Api<Secret> = Api::namespaced(server.client(), "default");
    let secret = |name: &str| -> Secret {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "stringData": {"apiKey": "s3cr3t"}
        }))
        .unwrap()
    };
    let created = secrets
        .create(&PostParams::default(), &secret("one"))
        .await
        .unwrap();
    assert_eq!(created.type_.as_deref(), Some("Opaque"));
    let data = created.data.unwrap();
    assert_eq!(
        data["apiKey"].0, b"s3cr3t",
        "stringData is folded into data"
    );
    assert!(created.string_data.is_none());

    // kube 5's way to a metadata watch (what `metadata_watcher` now defers to).
    let metadata: Api<PartialObjectMeta<Secret>> = Api::namespaced(server.client(), "default");
    let mut events = spawn_watcher(watcher::watcher(metadata, watcher::Config::default()));
    assert_eq!(
        take(&mut events, 3).await,
        ["Init", "InitApply(one)", "InitDone"]
    );
    secrets
        .create(&PostParams::default(), &secret("two"))
        .await
        .unwrap();
    assert_eq!(take(&mut events, 1).await, ["Apply(two)"]);

    let metadata_requests = server.count(|r| {
        matches!(r.verb, Verb::List | Verb::Watch)
            && r.accept
                .as_deref()
                .is_some_and(|a| a.contains("as=PartialObjectMetadata"))
    });
    assert!(
        metadata_requests >= 2,
        "list and watch asked for metadata only"
    );

    // What goes over the wire is metadata only: no Secret data.
    let request = http::Request::get("/api/v1/namespaces/default/secrets")
        .header(
            "accept",
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
        )
        .body(Vec::new())
        .unwrap();
    let text = server.client().request_text(request).await.unwrap();
    let list: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list["kind"], "PartialObjectMetadataList");
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert!(
        !text.contains("apiKey") && !text.contains("czNjcjN0"),
        "{text}"
    );
}
