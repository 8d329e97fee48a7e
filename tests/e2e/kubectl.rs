//! kubectl as a person runs it against a scenario's API, and what `kubectl get sgtls` must show
//! after the basic example is applied and Ready.

use super::env::Env;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The placeholder key the examples' Secrets hold.
pub const PLACEHOLDER: &str = "SG.replace-me.with-your-key";

pub struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
    cache: PathBuf,
}

impl Kubectl {
    /// `binary` as the scenario's user (its own discovery cache in the scenario's directory).
    pub fn at(binary: PathBuf, env: &Env) -> Kubectl {
        Kubectl {
            binary,
            kubeconfig: env.user_kubeconfig(),
            cache: env.dir().join("kube-cache"),
        }
    }

    /// Runs kubectl off the async runtime; fails the test on a non-zero exit; returns stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let mut command = Command::new(&self.binary);
        command
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null());
        let out = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\n{stdout}\n{stderr}"
        );
        stdout
    }
}

/// `kubectl get sgtls -A` once `examples/basic.yaml` is Ready: the printer columns, and the
/// resource's row (MODE is unset in the example, so kubectl shows nothing there).
pub fn assert_basic_example_listed(table: &str) {
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
