//! What only a real control plane can show: a namespace deleted with its resources and their
//! Secret in one sweep, a watch that must relist after 410 Gone (etcd compacted under it), and a
//! permission missing from the chart's ClusterRole; and paginated lists of more than 500
//! resources (on both backends: the test server pages too).

use super::cluster::{self, apply};
use super::control_plane::ControlPlane;
use super::deletion::{cleanup_spec, cleanup_world};
use super::env::*;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, PatchParams};
use kube_testkit::Verb;
use sendgrid_tls_operator::api::TlsVersion;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long deleting a namespace may take, finalizers and SendGrid calls included.
const NAMESPACE_GONE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_namespace_puts_sendgrid_back_and_ends() {
    let (env, _op) = cleanup_world(Backend::ControlPlane).await;
    env.create("restore", cleanup_spec("billing-sub", "Restore"))
        .await;
    env.create("reset", cleanup_spec("transactional-sub", "Reset"))
        .await;
    env.wait_ready("restore").await;
    env.wait_ready("reset").await;

    // The namespace controller deletes the resources and the Secret in no fixed order.
    let namespaces: Api<Namespace> = Api::all(env.client.clone());
    let started = Instant::now();
    namespaces
        .delete(NS, &DeleteParams::default())
        .await
        .unwrap();
    env.until(
        "the namespace to be gone (nothing stuck in Terminating)",
        NAMESPACE_GONE,
        |env| {
            env.server
                .get_object(&kube_testkit::ResourceRef::new("", "namespaces"), None, NS)
                .is_none()
        },
    )
    .await;
    let took = started.elapsed().as_secs_f64();
    let billing: Vec<String> = env
        .sg_for(Some("billing-sub"))
        .iter()
        .map(|r| format!("{} {} {:?}", r.method, r.status, r.body))
        .collect();
    assert_eq!(
        env.settings(Some("billing-sub")),
        tls(true, false, TlsVersion::V1_1),
        "Restore put the original settings back: {billing:?}"
    );
    assert_eq!(
        env.settings(Some("transactional-sub")),
        tls(false, false, TlsVersion::V1_1),
        "Reset put SendGrid's defaults back"
    );
    report(
        "namespace deleted",
        format!(
            "Restore + Reset + their Secret in one sweep: namespace gone in {took:.1}s, SendGrid put back for both"
        ),
    );
    env.assert_no_key_leaks();
}

const MANY: usize = 520;

async fn more_than_500_resources_are_listed_in_pages(backend: Backend) {
    let env = Env::setup(backend, Chart::Default, sim_with_subusers(MANY)).await;
    env.key_secret(KEY).await;
    for i in 0..MANY {
        env.create(
            &format!("r-{i:03}"),
            json!({"onBehalfOf": {"subuser": subuser(i)}, "mode": "Observe", "requireTls": false}),
        )
        .await;
    }
    let started = Instant::now();
    let _op = env.operator(&[]);
    env.until(
        &format!("all {MANY} Ready"),
        Duration::from_secs(180),
        |env| {
            env.server
                .list_objects(&sgtls(), Some(NS))
                .iter()
                .filter(|o| is_ready(o))
                .count()
                == MANY
        },
    )
    .await;
    let took = started.elapsed().as_secs_f64();
    // kube-runtime's watcher lists 500 at a time: the rest comes with the continue token.
    let lists: Vec<_> = env
        .server
        .requests()
        .into_iter()
        .filter(|r| r.is_for("sendgridenforcedtlses") && r.verb == Verb::List)
        .collect();
    let pages: Vec<String> = lists.iter().map(|r| r.query.clone()).collect();
    assert!(
        lists.iter().any(|r| r.query_param("continue").is_some()),
        "a second page: {pages:?}"
    );
    assert!(
        lists
            .iter()
            .any(|r| r.query_param("limit").as_deref() == Some("500")),
        "pages of 500: {pages:?}"
    );
    assert_eq!(
        env.sg(|r| r.method == "PATCH").len(),
        0,
        "Observe only reads"
    );
    report(
        "paginated list",
        format!(
            "{MANY} resources, {} list pages of at most 500, all Ready in {took:.1}s",
            lists.len()
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_relists_after_410_gone() {
    // The resources' watches served by etcd itself (no watch cache), and etcd compacted every
    // 2s: a watch resumed from an old revision gets 410 Gone.
    let plane = ControlPlane::start(
        "compaction",
        &[
            "--etcd-compaction-interval=2s",
            "--watch-cache-sizes=sendgridenforcedtlses.sendgrid.ops.dev#0",
        ],
    )
    .await;
    cluster::install_crd(&plane).await;
    let env = Env::on_plane(Arc::new(plane), sim_config()).await;
    env.key_secret(KEY).await;
    let op = env.operator(&[]);
    env.create(
        "marketing",
        json!({"onBehalfOf": {"subuser": "marketing-sub"}, "requireTls": true}),
    )
    .await;
    env.wait_ready("marketing").await;
    env.synced(&op).await;
    let lists = |env: &Env| {
        env.server
            .count(|r| r.is_for("sendgridenforcedtlses") && r.verb == Verb::List)
    };
    let lists_before = lists(&env);
    // Writes elsewhere move etcd's revision on; a compaction later the operator's last seen
    // revision is gone, which a watch from it shows.
    let seen = env.get("marketing").unwrap()["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    for i in 0..5 {
        env.secret(&format!("filler-{i}"), &[("x", "y")]).await;
    }
    let started = Instant::now();
    while !expired(&env, &seen).await {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "etcd did not compact past {seen} within 30s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    env.server.drop_watches();
    env.until("a relist after 410 Gone", WAIT, |env| {
        lists(env) > lists_before
    })
    .await;
    env.create(
        "billing",
        json!({"onBehalfOf": {"subuser": "billing-sub"}, "requireTls": true}),
    )
    .await;
    env.wait_ready("billing").await;
    let patches = |sub: &str| {
        env.sg(|r| r.method == "PATCH" && r.on_behalf_of.as_deref() == Some(sub))
            .len()
    };
    assert_eq!((patches("marketing-sub"), patches("billing-sub")), (1, 1));
    report(
        "410 Gone",
        format!(
            "connections cut after etcd compacted past the watch: {} relist(s), then a new resource converged; 1 PATCH per resource",
            lists(&env) - lists_before
        ),
    );
    env.assert_no_key_leaks();
}

/// Whether a watch of the resources from `version` is refused with 410 Gone.
async fn expired(env: &Env, version: &str) -> bool {
    use futures::StreamExt;
    use kube::api::{WatchEvent, WatchParams};
    let api = env.api();
    let mut events = api
        .watch(&WatchParams::default().timeout(1), version)
        .await
        .unwrap()
        .boxed();
    matches!(events.next().await, Some(Ok(WatchEvent::Error(e))) if e.code == 410)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_permission_is_named_at_start_and_in_status() {
    let env = Env::on(Backend::ControlPlane).await;
    env.key_secret(KEY).await;
    // The chart's ClusterRole without the rule that reads API-key Secrets.
    let mut role: Value = Chart::Default
        .rbac_objects()
        .into_iter()
        .find(|o| o["kind"] == "ClusterRole")
        .unwrap();
    let rules = role["rules"].as_array_mut().unwrap();
    rules.retain(|r| r["resources"] != json!(["secrets"]));
    apply(&env.client, &role, &PatchParams::apply("e2e").force()).await;

    let mut op = env.operator(&[]);
    env.create("account", json!({"requireTls": true})).await;
    env.until("Synced=False on the resource", WAIT, |env| {
        env.get("account")
            .and_then(|o| condition(&o, "Synced").map(|c| c["status"] == "False"))
            .unwrap_or(false)
    })
    .await;
    let object = env.get("account").unwrap();
    let message = message(&object, "Synced");
    assert!(
        message.contains("secrets") && message.contains("get"),
        "the status names what is missing: {}",
        object["status"]
    );
    let line = op.wait_log("missing permission", WAIT).await;
    let text = line.to_string();
    assert!(text.contains("secrets") && text.contains("get"), "{text}");
    assert!(
        env.sim.requests().is_empty(),
        "no SendGrid call without the key"
    );
    report(
        "missing permission",
        format!("log at start: {text}; status: {message}"),
    );
}

on_both!(more_than_500_resources_are_listed_in_pages);
