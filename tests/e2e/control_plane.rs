//! A real Kubernetes control plane on loopback: etcd, kube-apiserver and kube-controller-manager
//! built from their Go modules by `scripts/control-plane.sh` (pinned in `tools/control-plane/`).
//!
//! kube-apiserver serves HTTPS on loopback with a certificate it makes at start (`--cert-dir`),
//! authorizes with RBAC, and knows three identities: static tokens for the test (`e2e`, an
//! administrator acting as a user would), the harness's own watchers (`e2e-harness`, left out of
//! the audit log) and the controller manager; the operator gets a ServiceAccount token from the
//! TokenRequest API. kube-controller-manager runs the namespace, garbage-collector and
//! service-account-token controllers. Every request but the harness's is written to an audit log,
//! which is how the tests count the operator's API requests as they do on the test server.
//!
//! Logs of every component stay in `target/tmp/control-plane/<pid>/` after the run (the next run
//! removes them); a failed wait prints where.

use crate::support::free_port;
use base64::Engine;
use kube::config::{KubeConfigOptions, Kubeconfig};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The identity of the test's own writes (a cluster administrator, like a person with kubectl).
pub const USER_TOKEN: &str = "e2e-user-token";
/// The identity of the harness's watchers, which the audit policy leaves out.
pub const HARNESS_TOKEN: &str = "e2e-harness-token";
const CONTROLLER_MANAGER_TOKEN: &str = "e2e-controller-manager-token";

const TOKENS: &str = "\
e2e-user-token,e2e,e2e,\"system:masters\"
e2e-harness-token,e2e-harness,e2e-harness,\"system:masters\"
e2e-controller-manager-token,e2e-controller-manager,e2e-controller-manager,\"system:masters\"
";

/// Metadata of every request (no bodies: Secrets are among them), except the API server's own
/// loopback traffic, the harness's watchers and the controller manager.
const AUDIT_POLICY: &str = "\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  users: [system:apiserver, e2e-harness, e2e-controller-manager]
- level: Metadata
";

/// The directory `scripts/control-plane.sh` builds into (the same rule as the script's).
fn binaries_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SGTLS_CONTROL_PLANE_DIR") {
        return dir.into();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache")
        });
    cache
        .join("sendgrid-tls-operator/control-plane")
        .join(pinned_version())
}

fn module_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/control-plane")
}

/// The k8s.io/kubernetes version tools/control-plane/go.mod pins.
fn pinned_version() -> String {
    let go_mod =
        std::fs::read_to_string(module_dir().join("go.mod")).expect("tools/control-plane/go.mod");
    go_mod
        .lines()
        .filter_map(|l| l.trim().strip_prefix("k8s.io/kubernetes "))
        .map(str::trim)
        .find(|v| v.starts_with('v'))
        .expect("go.mod requires k8s.io/kubernetes")
        .to_string()
}

/// The binaries, or a failure saying how to get them (never a silent skip).
pub fn binaries() -> PathBuf {
    use sha2::{Digest, Sha256};
    let dir = binaries_dir();
    let mut inputs = Vec::new();
    for file in ["go.mod", "go.sum", "tools.go", "etcd/main.go"] {
        inputs.extend(std::fs::read(module_dir().join(file)).expect("tools/control-plane"));
    }
    let wanted = format!("{:x}", Sha256::digest(&inputs));
    let stamp = std::fs::read_to_string(dir.join("stamp")).unwrap_or_default();
    assert!(
        stamp.lines().next() == Some(wanted.as_str()),
        "no control plane for tools/control-plane/ in {}: run scripts/control-plane.sh (it builds \
         etcd, kube-apiserver, kube-controller-manager and kubectl {} once, then reuses them)",
        dir.display(),
        pinned_version()
    );
    dir
}

/// kubectl of the control plane's release.
pub fn kubectl() -> PathBuf {
    binaries().join("kubectl")
}

/// Spawns processes from one thread that lives as long as the test binary, so that the parent
/// death signal (which fires when the spawning *thread* ends) kills them only when the test
/// binary ends, however it ends.
fn spawn_tied(command: Command) -> std::io::Result<Child> {
    type Job = (Command, mpsc::Sender<std::io::Result<Child>>);
    static LAUNCHER: LazyLock<Mutex<mpsc::Sender<Job>>> = LazyLock::new(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::spawn(move || {
            for (mut command, reply) in rx {
                let _ = reply.send(command.spawn());
            }
        });
        Mutex::new(tx)
    });
    let (tx, rx) = mpsc::channel();
    LAUNCHER.lock().unwrap().send((command, tx)).unwrap();
    rx.recv().unwrap()
}

/// `program` run through util-linux's `setpriv`, which sets `PR_SET_PDEATHSIG` to SIGKILL and
/// then execs it (same pid): the process dies with the thread that spawned it. The crate
/// forbids `unsafe`, and with it `CommandExt::pre_exec`.
fn tied_command(program: &Path) -> Command {
    let mut command = Command::new("setpriv");
    command.args(["--pdeathsig", "KILL", "--"]).arg(program);
    command
}

/// An ECDSA P-256 key pair for signing ServiceAccount tokens: (PKCS#8 private key PEM, public
/// key PEM).
fn service_account_keys() -> (String, String) {
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    // SubjectPublicKeyInfo for id-ecPublicKey / prime256v1, followed by the uncompressed point.
    let mut spki = vec![
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];
    spki.extend_from_slice(pair.public_key().as_ref());
    (pem("PRIVATE KEY", pkcs8.as_ref()), pem("PUBLIC KEY", &spki))
}

fn pem(label: &str, der: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// A running control plane. Its processes end with the test binary.
pub struct ControlPlane {
    pub dir: PathBuf,
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    /// The serving certificate bundle kube-apiserver made (its CA included).
    pub ca_file: PathBuf,
    pub audit_log: PathBuf,
    processes: Mutex<Vec<(String, Child)>>,
}

impl ControlPlane {
    /// Starts etcd, kube-apiserver (with `extra` flags) and kube-controller-manager in a new
    /// directory under `target/tmp/control-plane/<pid>/`, and waits until the API server is ready.
    pub async fn start(label: &str, extra: &[&str]) -> ControlPlane {
        let bin = binaries();
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("control-plane");
        remove_stale_runs(&root);
        let dir = root.join(std::process::id().to_string()).join(label);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("pki")).unwrap();
        let (private, public) = service_account_keys();
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path.to_str().unwrap().to_string()
        };
        let (sa_key, sa_pub) = (write("sa.key", &private), write("sa.pub", &public));
        let tokens = write("tokens.csv", TOKENS);
        let policy = write("audit-policy.yaml", AUDIT_POLICY);
        let path = |name: &str| dir.join(name).to_str().unwrap().to_string();

        let (client_port, peer_port, port) = (free_port(), free_port(), free_port());
        let etcd_url = format!("http://127.0.0.1:{client_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let url = format!("https://127.0.0.1:{port}");
        let plane = ControlPlane {
            url: url.clone(),
            ca_file: dir.join("pki/apiserver.crt"),
            audit_log: dir.join("audit.log"),
            dir: dir.clone(),
            processes: Mutex::new(Vec::new()),
        };
        plane.spawn(
            &bin,
            "etcd",
            &[
                &format!("--data-dir={}", path("etcd")),
                &format!("--listen-client-urls={etcd_url}"),
                &format!("--advertise-client-urls={etcd_url}"),
                &format!("--listen-peer-urls={peer_url}"),
                &format!("--initial-advertise-peer-urls={peer_url}"),
                &format!("--initial-cluster=default={peer_url}"),
                // Tests need no durability; fsync would dominate on a loaded machine.
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        );
        let mut args = vec![
            format!("--etcd-servers={etcd_url}"),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            format!("--secure-port={port}"),
            format!("--cert-dir={}", path("pki")),
            format!("--token-auth-file={tokens}"),
            "--authorization-mode=RBAC".into(),
            "--service-cluster-ip-range=10.0.0.0/24".into(),
            format!("--service-account-issuer={url}"),
            format!("--service-account-key-file={sa_pub}"),
            format!("--service-account-signing-key-file={sa_key}"),
            format!("--audit-policy-file={policy}"),
            format!("--audit-log-path={}", plane.audit_log.display()),
            "--profiling=false".into(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        plane.spawn(&bin, "kube-apiserver", &args);
        plane.wait_ready().await;
        let kubeconfig = plane.write_kubeconfig(
            &dir.join("controller-manager.kubeconfig"),
            CONTROLLER_MANAGER_TOKEN,
        );
        plane.spawn(
            &bin,
            "kube-controller-manager",
            &[
                &format!("--kubeconfig={}", kubeconfig.display()),
                "--controllers=namespace,garbagecollector,serviceaccount-token",
                "--leader-elect=false",
                "--use-service-account-credentials=false",
                &format!("--service-account-private-key-file={sa_key}"),
                &format!("--root-ca-file={}", plane.ca_file.display()),
                // No serving port: nothing scrapes it here.
                "--secure-port=0",
            ],
        );
        plane
    }

    fn spawn(&self, bin: &Path, name: &str, args: &[&str]) {
        let log = std::fs::File::create(self.dir.join(format!("{name}.log"))).unwrap();
        let mut command = tied_command(&bin.join(name));
        command
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = spawn_tied(command)
            .unwrap_or_else(|e| panic!("starting {name} through setpriv (util-linux): {e}"));
        self.processes
            .lock()
            .unwrap()
            .push((name.to_string(), child));
    }

    /// Polls /readyz (bounded: a loaded 2-core machine can take a while) and fails with the log
    /// of whichever process exited.
    async fn wait_ready(&self) {
        let started = Instant::now();
        let deadline = started + Duration::from_secs(120);
        let path = self.write_kubeconfig(&self.dir.join("harness.kubeconfig"), HARNESS_TOKEN);
        loop {
            self.assert_running();
            if std::fs::metadata(&self.ca_file).is_ok() {
                let client = client_for(&path).await;
                let request = http::Request::get("/readyz").body(Vec::new()).unwrap();
                if client.request_text(request).await.is_ok_and(|t| t == "ok") {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "kube-apiserver not ready after {:?}; logs in {}",
                started.elapsed(),
                self.dir.display()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Fails with the tail of the log of a component that is no longer running.
    pub fn assert_running(&self) {
        for (name, child) in self.processes.lock().unwrap().iter_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(self.dir.join(format!("{name}.log")))
                    .unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                panic!(
                    "{name} exited ({status}); logs in {}:\n{}",
                    self.dir.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
        }
    }

    /// A kubeconfig for this server with a bearer token.
    pub fn write_kubeconfig(&self, path: &Path, token: &str) -> PathBuf {
        self.write_kubeconfig_at(path, &self.url, token)
    }

    /// A kubeconfig for `url` (this server or a proxy in front of it) with a bearer token.
    pub fn write_kubeconfig_at(&self, path: &Path, url: &str, token: &str) -> PathBuf {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: e2e\n  cluster:\n    server: {url}\n    certificate-authority: {}\nusers:\n- name: e2e\n  user:\n    token: {token}\ncontexts:\n- name: e2e\n  context: {{cluster: e2e, user: e2e}}\ncurrent-context: e2e\n",
            self.ca_file.display()
        );
        std::fs::write(path, text).unwrap();
        path.to_path_buf()
    }

    /// Stops every component (SIGKILL) and waits for them: for a control plane of one test.
    pub fn stop(&self) {
        for (_, child) in self.processes.lock().unwrap().iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A client from a kubeconfig file.
pub async fn client_for(path: &Path) -> kube::Client {
    let kubeconfig = Kubeconfig::read_from(path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// Removes the directories of earlier runs (their processes died with them).
fn remove_stale_runs(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let pid = entry.file_name().to_string_lossy().parse::<u32>().ok();
        if pid
            .is_some_and(|p| p != std::process::id() && !Path::new(&format!("/proc/{p}")).exists())
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
