//! Shared by the loopback integration tests (`tests/it`) and the end-to-end tests (`tests/e2e`),
//! each of which includes it as its `support` module: the API keys and the check that none
//! leaks, settings and resource builders, condition lookups, the repository's files, the SendGrid
//! simulator. The parts only the loopback tests need are submodules.

pub mod client;
pub mod crd_cases;
pub mod scripted;
pub mod sim;

use sendgrid_tls_operator::api::{TlsSettings, TlsVersion};
use sendgrid_tls_operator::simulator::{SimConfig, Simulator, SimulatorHandle};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The API key every test starts with (the simulator's account "main").
pub const KEY: &str = "SG.sgtls-test-key.0123456789abcdefABCDEF";
/// A second key of the same account, for rotation.
pub const KEY2: &str = "SG.sgtls-rotated-key.fedcba9876543210XYZ";
/// A key no server knows: 401.
pub const BAD_KEY: &str = "SG.sgtls-revoked-key.00000000deadbeef";
/// Every key a test may use: none may appear anywhere but in a Secret or a key file.
pub const ALL_KEYS: [&str; 3] = [KEY, KEY2, BAD_KEY];

/// The Enforced TLS endpoint (global; the EU host adds `/eu` in front).
pub const PATH: &str = "/v3/user/settings/enforced_tls";
/// The endpoint that says whose account a key reaches.
pub const USERNAME_PATH: &str = "/v3/user/username";
/// The namespace of the test resources.
pub const NS: &str = "mail";
/// The committed CRDs, relative to the repository root.
pub const CRD_FILES: [&str; 2] = [
    "crds/sendgridenforcedtlses.sendgrid.ops.dev.yaml",
    "crds/sendgridtargets.sendgrid.ops.dev.yaml",
];

/// Fails when `text` shows any of [`ALL_KEYS`], whole or by its id (the part between the dots).
#[track_caller]
pub fn assert_no_key(text: &str) {
    for key in ALL_KEYS {
        let id = key.split('.').nth(1).expect("SG.<id>.<secret>");
        assert!(
            !text.contains(key) && !text.contains(id),
            "an API key shows: {text}"
        );
    }
}

/// The fingerprint the simulator's request log shows for `key` (`key-3f9a1c`: 6 hex digits of
/// its SHA-256); the operator shows none.
pub fn fingerprint(key: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.as_bytes());
    format!("key-{:02x}{:02x}{:02x}", digest[0], digest[1], digest[2])
}

/// All three settings, as SendGrid stores them.
pub fn tls(require_tls: bool, require_valid_cert: bool, version: TlsVersion) -> TlsSettings {
    TlsSettings {
        require_tls: Some(require_tls),
        require_valid_cert: Some(require_valid_cert),
        minimum_tls_version: Some(version),
    }
}

/// Settings with any field unset: a change set, or an answer that leaves a field out.
pub fn settings(tls: Option<bool>, cert: Option<bool>, v: Option<TlsVersion>) -> TlsSettings {
    TlsSettings {
        require_tls: tls,
        require_valid_cert: cert,
        minimum_tls_version: v,
    }
}

/// Resource `name` in namespace `ns` as JSON, with `spec` as given (valid or not).
pub fn object(ns: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "sendgrid.ops.dev/v1alpha1",
        "kind": "SendGridEnforcedTls",
        "metadata": { "name": name, "namespace": ns },
        "spec": spec,
    })
}

/// Condition `type_` of an object (`status.conditions`), if set.
pub fn condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// The YAML files (`*.yaml`, `*.yml`) in `dir` (relative to the repository root), sorted.
pub fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

/// The resource files in `examples/` (their Secrets are in `examples/secrets/`).
pub fn example_files() -> Vec<PathBuf> {
    yaml_files("examples")
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A SendGrid simulator on a free loopback port.
pub async fn simulator(config: SimConfig) -> SimulatorHandle {
    Simulator::start(([127, 0, 0, 1], 0).into(), config)
        .await
        .expect("starting the simulator on loopback")
}
