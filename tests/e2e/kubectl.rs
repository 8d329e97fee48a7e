//! kubectl as a person runs it against a scenario's API, and what `kubectl get sgtls` must show
//! after the basic example is applied and Ready.

use super::env::{Env, NS, Server};
use kube_testkit::Kubectl;
use std::path::PathBuf;

/// The placeholder key the examples' Secrets hold.
pub const PLACEHOLDER: &str = "SG.replace-me.with-your-key";

/// `binary` as the scenario's user (its own discovery cache in the scenario's directory).
pub fn kubectl_at(binary: PathBuf, env: &Env) -> Kubectl {
    Kubectl::new(binary, env.user_kubeconfig(), env.dir().join("kube-cache"))
}

/// kubectl as the scenario's user, of the control plane's release on the real one.
pub fn kubectl_for(env: &Env) -> Kubectl {
    let binary = match env.server {
        Server::Test(_) => Kubectl::find(),
        Server::Real(_) => super::control_plane::kubectl(),
    };
    kubectl_at(binary, env)
}

/// Applies the examples' placeholder Secrets, then `examples/basic.yaml` (`kubectl apply` with
/// `how`, e.g. `--server-side`), waits for Ready as the README says (at most `timeout`), and
/// checks what `kubectl get sgtls -A` shows; returns that table.
pub async fn apply_basic_example(kubectl: &Kubectl, how: &[&str], timeout: &str) -> String {
    // The examples hold resources only; their placeholder Secrets are a file of their own.
    for file in [
        "examples/secrets/placeholder-keys.yaml",
        "examples/basic.yaml",
    ] {
        kubectl.ok(&[&["apply"], how, &["-f", file]].concat()).await;
    }
    let waited = kubectl
        .ok(&[
            "wait",
            "--for=condition=Ready",
            "sgtls/account",
            "-n",
            NS,
            &format!("--timeout={timeout}"),
        ])
        .await;
    assert!(waited.contains("condition met"), "{waited}");
    let table = kubectl.ok(&["get", "sgtls", "-A"]).await;
    assert_basic_example_listed(&table);
    table
}

/// `kubectl get sgtls -A` once `examples/basic.yaml` is Ready: the printer columns, and the
/// resource's row (MODE is unset in the example, so kubectl shows nothing there).
fn assert_basic_example_listed(table: &str) {
    let mut lines = table.lines();
    let mut next = || -> Vec<&str> {
        lines
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect()
    };
    let header = next();
    assert_eq!(
        header,
        [
            "NAMESPACE",
            "NAME",
            "REQUIRE-TLS",
            "VALID-CERT",
            "MIN-TLS",
            "MODE",
            "READY",
            "SYNCED",
            "REASON",
            "AGE"
        ],
        "{table}"
    );
    let row = next();
    // MODE is unset in the example, so kubectl shows nothing there.
    assert_eq!(
        &row[..8],
        [
            "mail", "account", "true", "true", "1.2", "True", "True", "InSync"
        ],
        "{table}"
    );
}
