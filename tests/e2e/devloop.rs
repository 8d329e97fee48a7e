//! The dev loop a person runs (what `cargo run --example dev-cluster` prints), with kubectl
//! against a test server and the operator started here: install the CRD, apply the basic
//! example, wait for Ready, list with the printer columns, drift in the simulator, corrected.
//! Needs `kubectl` on PATH (or its path in `KUBECTL`): without it this test fails, saying so.

use super::env::*;
use super::kubectl::{PLACEHOLDER, apply_basic_example, kubectl_at};
use crate::support::simulator;
use kube_testkit::{Kubectl, TestServer};
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
    report(
        "dev loop (kubectl)",
        format!(
            "apply crds/ + examples/secrets/ + examples/basic.yaml, wait Ready, get sgtls -A:\n{table}drift via /_sim/settings corrected (Event DriftCorrected)"
        ),
    );
    env.assert_no_key_leaks();
}
