//! kubectl as a test runs it: one binary, one kubeconfig, a discovery cache of its own, and the
//! output checked. Shared by this crate's kubectl tests and its users' (the operator's e2e
//! tests run the same wrapper against a real control plane too).

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// kubectl with a kubeconfig and a private discovery cache.
pub struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
    cache: PathBuf,
}

impl Kubectl {
    /// kubectl from `KUBECTL`, else from PATH; fails the test, saying how to get one, when it
    /// does not run.
    pub fn find() -> PathBuf {
        let binary = std::env::var_os("KUBECTL")
            .map(PathBuf::from)
            .unwrap_or_else(|| "kubectl".into());
        let found = Command::new(&binary).args(["version", "--client"]).output();
        assert!(
            found.as_ref().is_ok_and(|o| o.status.success()),
            "this test needs kubectl: install it on PATH or set KUBECTL to its path ({binary:?}: {found:?})"
        );
        binary
    }

    /// `binary` with `kubeconfig`, caching discovery in `cache` (a directory of the test's).
    pub fn new(binary: PathBuf, kubeconfig: PathBuf, cache: PathBuf) -> Kubectl {
        Kubectl {
            binary,
            kubeconfig,
            cache,
        }
    }

    /// Runs kubectl off the async runtime (an in-process server keeps serving meanwhile), in
    /// the test's working directory (the package root under `cargo test`).
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new(&self.binary);
        command
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args)
            .stdin(Stdio::null());
        tokio::task::spawn_blocking(move || command.output().expect("kubectl starts"))
            .await
            .expect("the kubectl thread")
    }

    /// Runs kubectl and returns its stdout, failing the test on a non-zero exit.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\n{stdout}\n{stderr}"
        );
        stdout.into_owned()
    }
}
