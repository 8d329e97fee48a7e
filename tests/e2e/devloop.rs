//! The dev loop a person runs (what `cargo run --example dev-cluster` prints), with kubectl
//! against a test server and the operator started here: install the CRD, apply the basic
//! example, wait for Ready, list with the printer columns, drift in the simulator, corrected.
//! Needs `kubectl` on PATH (or its path in `KUBECTL`): without it this test fails, saying so.

use super::env::*;
use super::kubectl::{Kubectl, PLACEHOLDER, assert_basic_example_listed};
use kube_testkit::TestServer;
use sendgrid_tls_operator::api::TlsVersion;
use sendgrid_tls_operator::simulator::{SimConfig, Simulator};
use std::path::{Path, PathBuf};
use std::process::Command;

/// kubectl from PATH (or `KUBECTL`), as the dev loop's reader has it.
fn kubectl(env: &Env) -> Kubectl {
    let binary = std::env::var_os("KUBECTL")
        .map(PathBuf::from)
        .unwrap_or_else(|| "kubectl".into());
    let found = Command::new(&binary).args(["version", "--client"]).output();
    assert!(
        found.as_ref().is_ok_and(|o| o.status.success()),
        "the dev-loop test needs kubectl: install it on PATH or set KUBECTL ({binary:?}: {found:?})"
    );
    Kubectl::at(binary, env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_session_apply_wait_get_drift() {
    // A bare server: the CRD comes from `kubectl apply -f crds/`, as on a real cluster.
    let server = TestServer::start().await;
    let sim = Simulator::start(
        ([127, 0, 0, 1], 0).into(),
        SimConfig::with_keys(&[PLACEHOLDER]),
    )
    .await
    .unwrap();
    let env = Env::around(server, sim);
    let kubectl = kubectl(&env);
    assert!(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/basic.yaml")
            .exists()
    );

    kubectl.ok(&["apply", "-f", "crds/"]).await;
    let _op = env.operator(&["--default-resync-interval", "2s"]);
    kubectl.ok(&["create", "namespace", "mail"]).await;
    kubectl
        .ok(&["apply", "-f", "examples/secrets/placeholder-keys.yaml"])
        .await;
    kubectl.ok(&["apply", "-f", "examples/basic.yaml"]).await;
    let waited = kubectl
        .ok(&[
            "wait",
            "--for=condition=Ready",
            "sgtls/account",
            "-n",
            "mail",
            "--timeout=30s",
        ])
        .await;
    assert!(waited.contains("condition met"), "{waited}");

    let table = kubectl.ok(&["get", "sgtls", "-A"]).await;
    assert_basic_example_listed(&table);
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
