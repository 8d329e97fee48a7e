//! Built-in types an operator touches: events.k8s.io Events through kube's `Recorder`,
//! coordination Leases (compare-and-swap, apply conflicts, kube-lease-manager), Namespaces,
//! CRDs written through the API, and kube's discovery.

use crate::common::{WAIT, Widget, server, widget};
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{CustomResourceExt, Resource};
use kube_lease_manager::LeaseManagerBuilder;
use kube_testkit::{TestServer, Verb};
use serde_json::json;

fn api_code<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> u16 {
    match result {
        Err(kube::Error::Api(status)) => status.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn event_recorder_creates_then_patches_a_series() {
    let server = server().await;
    let widgets: Api<Widget> = Api::namespaced(server.client(), "apps");
    let w = widgets
        .create(&PostParams::default(), &widget("w", 1))
        .await
        .unwrap();
    let reporter = Reporter {
        controller: "widget-controller".into(),
        instance: Some("pod-1".into()),
    };
    let recorder = Recorder::new(server.client(), reporter);
    let event = Event {
        type_: EventType::Warning,
        reason: "Drifted".into(),
        note: Some("size differs".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    recorder.publish(&event, &w.object_ref(&())).await.unwrap();
    recorder.publish(&event, &w.object_ref(&())).await.unwrap();

    let events_api: Api<K8sEvent> = Api::namespaced(server.client(), "apps");
    let stored = events_api.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].reason.as_deref(), Some("Drifted"));
    assert_eq!(stored[0].series.as_ref().map(|s| s.count), Some(2));
    assert_eq!(
        stored[0].regarding.as_ref().and_then(|r| r.name.as_deref()),
        Some("w")
    );
    assert_eq!(
        server.count(|r| r.is_for("events") && r.verb == Verb::Create),
        1
    );
    assert_eq!(
        server.count(|r| r.is_for("events") && r.verb == Verb::Patch),
        1
    );
}

#[tokio::test]
async fn leases_compare_and_swap_and_apply_conflicts() {
    let server = TestServer::start().await;
    let leases: Api<Lease> = Api::namespaced(server.client(), "ops");
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {"name": "leader"},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}
    }))
    .unwrap();
    let created = leases.create(&PostParams::default(), &lease).await.unwrap();

    // Two replicas read the same version; the first update wins, the second conflicts.
    let mut first = created.clone();
    first.spec.as_mut().unwrap().holder_identity = Some("b".into());
    let mut second = created.clone();
    second.spec.as_mut().unwrap().holder_identity = Some("c".into());
    leases
        .replace("leader", &PostParams::default(), &first)
        .await
        .unwrap();
    assert_eq!(
        api_code(
            leases
                .replace("leader", &PostParams::default(), &second)
                .await
        ),
        409
    );
    let now = leases.get("leader").await.unwrap();
    assert_eq!(now.spec.unwrap().holder_identity.as_deref(), Some("b"));

    // Server-side apply: another manager's field with a different value is a conflict.
    let apply = |holder: &str| {
        Patch::Apply(json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "spec": {"holderIdentity": holder}
        }))
    };
    leases
        .patch("leader", &PatchParams::apply("mgr-b").force(), &apply("b"))
        .await
        .unwrap();
    let conflict = leases
        .patch("leader", &PatchParams::apply("mgr-c"), &apply("c"))
        .await;
    assert_eq!(api_code(conflict), 409);
    let strategic = Patch::Strategic(json!({"spec": {"holderIdentity": null}}));
    leases
        .patch("leader", &PatchParams::apply("mgr-b"), &strategic)
        .await
        .unwrap();
    leases
        .patch("leader", &PatchParams::apply("mgr-c"), &apply("c"))
        .await
        .unwrap();
}

#[tokio::test]
async fn kube_lease_manager_takes_the_lease_after_release() {
    let server = TestServer::start().await;
    let build = |identity: &str| {
        LeaseManagerBuilder::new(server.client(), "operator")
            .with_namespace("ops")
            .with_identity(identity)
            .with_duration(5)
            .with_grace(2)
            .build()
    };
    let one = build("one").await.unwrap();
    let is_leader = tokio::time::timeout(WAIT, one.changed())
        .await
        .unwrap()
        .unwrap();
    assert!(is_leader);
    let leases: Api<Lease> = Api::namespaced(server.client(), "ops");
    let holder = |l: Lease| l.spec.and_then(|s| s.holder_identity);
    assert_eq!(
        holder(leases.get("operator").await.unwrap()).as_deref(),
        Some("one")
    );

    // While "one" holds it, another identity's apply of the holder conflicts.
    let grab = Patch::Apply(json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "spec": {"holderIdentity": "two"}
    }));
    let grabbed = leases
        .patch(
            "operator",
            &PatchParams::apply("kube-lease-manager-two"),
            &grab,
        )
        .await;
    assert_eq!(api_code(grabbed), 409);

    one.release().await.unwrap();
    let two = build("two").await.unwrap();
    let is_leader = tokio::time::timeout(WAIT, two.changed())
        .await
        .unwrap()
        .unwrap();
    assert!(is_leader);
    assert_eq!(
        holder(leases.get("operator").await.unwrap()).as_deref(),
        Some("two")
    );
}

#[tokio::test]
async fn crd_written_through_the_api_is_served_until_deleted() {
    let server = TestServer::start().await;
    let widgets: Api<Widget> = Api::namespaced(server.client(), "default");
    assert_eq!(api_code(widgets.list(&ListParams::default()).await), 404);

    let crds: Api<CustomResourceDefinition> = Api::all(server.client());
    let created = crds
        .create(&PostParams::default(), &Widget::crd())
        .await
        .unwrap();
    let conditions = created.status.unwrap().conditions.unwrap();
    assert!(
        conditions
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True")
    );
    widgets
        .create(&PostParams::default(), &widget("w", 1))
        .await
        .unwrap();
    assert_eq!(
        widgets
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );

    let discovery = kube::Discovery::new(server.client()).run().await.unwrap();
    let group = discovery
        .get("testkit.dev")
        .expect("the CRD's group is discovered");
    let (resource, caps) = group
        .recommended_kind("Widget")
        .expect("Widget is discovered");
    assert_eq!(resource.plural, "widgets");
    assert!(caps.supports_operation(kube::discovery::verbs::WATCH));

    crds.delete("widgets.testkit.dev", &Default::default())
        .await
        .unwrap();
    assert_eq!(api_code(widgets.list(&ListParams::default()).await), 404);
}

#[tokio::test]
async fn namespaces_are_cluster_scoped_and_active() {
    let server = TestServer::start().await;
    let namespaces: Api<Namespace> = Api::all(server.client());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "mail"}})).unwrap();
    let created = namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    assert_eq!(created.status.unwrap().phase.as_deref(), Some("Active"));
    assert_eq!(created.metadata.namespace, None);
    let bad: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "Not_Valid"}})).unwrap();
    assert_eq!(
        api_code(namespaces.create(&PostParams::default(), &bad).await),
        422
    );
}

#[tokio::test]
async fn shutdown_ends_watches_and_stops_serving() {
    let server = TestServer::start().await;
    let client = server.client();
    let leases: Api<Lease> = Api::namespaced(client.clone(), "ops");
    let mut watch = leases
        .watch(&Default::default(), "0")
        .await
        .unwrap()
        .boxed();
    server.shutdown().await;
    let end = tokio::time::timeout(WAIT, watch.next()).await.unwrap();
    assert!(end.is_none(), "the watch ends: {end:?}");
    assert!(leases.list(&ListParams::default()).await.is_err());
}
