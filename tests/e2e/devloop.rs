//! The dev loop a person runs (what `cargo run --example dev-cluster` prints), with kubectl
//! against a test server and the operator started here: install the CRD, apply the basic
//! example, wait for Ready, list with the printer columns, drift in the simulator, corrected,
//! and the Events `kubectl describe` shows. Two dev clusters side by side each keep their own
//! kubeconfig. Needs `kubectl` on PATH (or its path in `KUBECTL`): without it these tests fail,
//! saying so.

use super::env::*;
use super::kubectl::{PLACEHOLDER, apply_basic_example, kubectl_at};
use crate::support::simulator;
use kube_testkit::{Kubectl, ResourceRef, Shared, TestServer, publish_kubeconfig};
use sendgrid_tls_operator::api::TlsVersion;
use sendgrid_tls_operator::simulator::SimConfig;
use std::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_session_apply_wait_get_drift() {
    // A bare server: the CRD comes from `kubectl apply -f crds/`, as on a real cluster.
    let server = TestServer::start().await;
    let sim = simulator(SimConfig::with_keys(&[PLACEHOLDER])).await;
    let env = Env::around(server, sim);
    let kubectl = kubectl_at(Kubectl::find(), &env);
    assert!(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/basic.yaml")
            .exists()
    );

    kubectl.ok(&["apply", "-f", "crds/"]).await;
    let _op = env.operator(&["--default-resync-interval", "2s"]);
    kubectl.ok(&["create", "namespace", NS]).await;
    let table = apply_basic_example(&kubectl, &[], "30s").await;
    assert_eq!(env.settings(None), tls(true, true, TlsVersion::V1_2));

    // `curl -X PUT '<sim>/_sim/settings?account=main' -d '{"requireTls":false}'`
    let url = format!("{}_sim/settings?account=main", env.sim.global_url());
    let drifted = reqwest::Client::new()
        .put(&url)
        .body(r#"{"requireTls":false}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(drifted.status(), 200);
    env.until("the drift to be corrected", WAIT, |env| {
        env.settings(None).require_tls == Some(true)
            && env
                .event_reasons("account")
                .contains(&"DriftCorrected".to_string())
    })
    .await;
    kubectl
        .ok(&[
            "wait",
            "--for=condition=Ready",
            "sgtls/account",
            "-n",
            "mail",
            "--timeout=30s",
        ])
        .await;
    let described = kubectl
        .ok(&["get", "sgtls", "account", "-n", "mail", "-o", "yaml"])
        .await;
    assert!(described.contains("reason: InSync"), "{described}");
    assert!(!described.contains(PLACEHOLDER), "{described}");
    // The operator's Events, as `kubectl describe` and `kubectl get events` show them.
    let described = kubectl
        .ok(&["describe", "sgtls", "account", "-n", "mail"])
        .await;
    let events = described
        .split_once("Events:")
        .map(|(_, e)| e)
        .unwrap_or_default();
    assert!(events.contains("DriftCorrected"), "{described}");
    assert!(events.contains("Applied"), "{described}");
    let listed = kubectl.ok(&["get", "events", "-n", "mail"]).await;
    assert!(listed.starts_with("LAST SEEN"), "{listed}");
    assert!(listed.contains("sendgridenforcedtls/account"), "{listed}");
    report(
        "dev loop (kubectl)",
        format!(
            "apply crds/ + examples/secrets/ + examples/basic.yaml, wait Ready, get sgtls -A:\n{table}drift via /_sim/settings corrected (Event DriftCorrected)"
        ),
    );
    env.assert_no_key_leaks();
}

/// A second dev cluster writes its own kubeconfig and leaves the shared name to the first while
/// that one answers; the shared name is taken over once its server is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_dev_cluster_never_takes_the_first_ones_kubeconfig() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("dev-cluster-kubeconfigs")
        .join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&dir);
    let publish = async |server: &TestServer| {
        publish_kubeconfig(
            &dir,
            &server.url(),
            server.addr().port(),
            &server.kubeconfig_yaml(),
        )
        .await
        .unwrap()
    };
    let first = TestServer::start().await;
    let second = TestServer::start().await;
    let one = publish(&first).await;
    let two = publish(&second).await;
    let shared = dir.join("kubeconfig");
    assert_eq!(
        one.own,
        dir.join(format!("kubeconfig-{}", first.addr().port()))
    );
    assert_eq!(
        two.own,
        dir.join(format!("kubeconfig-{}", second.addr().port()))
    );
    assert_eq!(one.shared, Shared::Written(shared.clone()));
    match &two.shared {
        Shared::Kept { path, server } => {
            assert_eq!(path, &shared);
            assert_eq!(
                server.trim_end_matches('/'),
                first.url().trim_end_matches('/')
            );
        }
        other => panic!("the second took the shared kubeconfig: {other:?}"),
    }

    // Each file reaches its own server, as kubectl reads it.
    let namespaces = ResourceRef::new("", "namespaces");
    let cache = dir.join("cache");
    for (file, name) in [
        (&one.own, "first"),
        (&two.own, "second"),
        (&shared, "shared"),
    ] {
        let kubectl = Kubectl::new(Kubectl::find(), file.clone(), cache.clone());
        kubectl.ok(&["create", "namespace", name]).await;
    }
    let names = |server: &TestServer| -> Vec<String> {
        let mut names: Vec<String> = server
            .list_objects(&namespaces, None)
            .iter()
            .filter_map(|n| n["metadata"]["name"].as_str().map(str::to_string))
            .filter(|n| ["first", "second", "shared"].contains(&n.as_str()))
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&first), ["first", "shared"]);
    assert_eq!(names(&second), ["second"]);

    // Once the first is gone, its name is free.
    first.shutdown().await;
    let three = publish(&second).await;
    assert_eq!(three.shared, Shared::Written(shared.clone()));
    assert_eq!(
        std::fs::read_to_string(&shared).unwrap(),
        second.kubeconfig_yaml()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
