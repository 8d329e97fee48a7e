//! One scenario's world: a Kubernetes API (a fresh API test server serving the CRD with its
//! schema and CEL rules, or a turn on the real control plane with the chart's RBAC applied), a
//! SendGrid simulator, a kubeconfig, and the operator processes started against them with the
//! chart's flags for the configuration under test. Helpers create and edit objects as a user
//! would (through the API, field manager `e2e`), wait on conditions like `kubectl wait`, and dump
//! the state on timeout.

mod inspect;

pub use super::backend::{Backend, Server};
pub use super::chart::Chart;
use super::chart::flag_name;
pub use super::check::*;
use super::cluster::{Cluster, RELEASE_NAMESPACE};
use super::operator::{Logs, Operator};
use crate::support::simulator;
pub use crate::support::{ALL_KEYS, BAD_KEY, KEY, KEY2, NS, fingerprint, object, tls};
use crate::support::{PATH, USERNAME_PATH};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::CustomResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube_testkit::{ResourceRef, TestServer, Validator, Verb};
use sendgrid_tls_operator::api::validation::{resource_schema, validate_object};
use sendgrid_tls_operator::api::{
    RECONCILE_REQUESTED_AT, SendGridEnforcedTls, SendGridTarget, TlsSettings,
};
use sendgrid_tls_operator::simulator::{LoggedRequest, SimConfig, SimulatorHandle};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tempfile::TempDir;
use tokio::time::Instant;

/// The Secret the resources name unless they say otherwise.
pub const SECRET: &str = "sendgrid-api-key";
/// The field manager of the test's own writes (the operator's is the crate's `MANAGER`).
pub const TEST_MANAGER: &str = "e2e";
/// How long a condition that should follow promptly may take (generous for a loaded machine).
pub const WAIT: Duration = Duration::from_secs(20);

pub fn sgtls() -> ResourceRef {
    ResourceRef::of::<SendGridEnforcedTls>()
}

pub fn sgtargets() -> ResourceRef {
    ResourceRef::of::<SendGridTarget>()
}

pub fn events() -> ResourceRef {
    ResourceRef::new("events.k8s.io", "events")
}

/// The simulator setup most scenarios use: account "main" with the examples' subusers, keys
/// [`KEY`] and [`KEY2`], and a rate limit no scenario reaches unless it means to.
pub fn sim_config() -> SimConfig {
    SimConfig {
        rate_limit_per_minute: 100_000,
        first_user_id: first_user_id(),
        ..SimConfig::with_keys(&[KEY, KEY2])
    }
}

/// User ids of their own for each scenario's simulator: the scenarios share one control plane,
/// where the account records (named for the user id) of one scenario must never meet another's,
/// as real accounts never share an id.
pub fn first_user_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let scenario = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    1001 + scenario * 1_000_000 + u64::from(std::process::id()) * 1_000_000_000
}

/// Account "main" with `count` subusers `sub-000`, `sub-001`, ... and key [`KEY`] (read and
/// update), rate limits out of reach: for scenarios with many resources.
pub fn sim_with_subusers(count: usize) -> SimConfig {
    use sendgrid_tls_operator::simulator::{Region, Scope, SimAccount, SimKey};
    SimConfig {
        keys: vec![SimKey {
            key: KEY.into(),
            account: "main".into(),
            scopes: Scope::ALL.to_vec(),
        }],
        accounts: vec![SimAccount {
            name: "main".into(),
            subusers: (0..count).map(|i| (subuser(i), Region::Global)).collect(),
            customer_accounts: Vec::new(),
        }],
        rate_limit_per_minute: 100_000,
        first_user_id: first_user_id(),
    }
}

/// The name of subuser `i` of [`sim_with_subusers`].
pub fn subuser(i: usize) -> String {
    format!("sub-{i:03}")
}

pub struct Env {
    pub server: Server,
    pub sim: SimulatorHandle,
    pub client: kube::Client,
    /// The chart configuration whose flags (and, on the control plane, RBAC) the operator gets.
    pub chart: Chart,
    dir: TempDir,
    /// Output of every operator started here, by label: dumped on timeout, scanned for keys.
    logs: Mutex<Vec<(String, Logs)>>,
}

impl Env {
    pub async fn start() -> Env {
        Env::with_sim(sim_config()).await
    }

    pub async fn with_sim(config: SimConfig) -> Env {
        Env::setup(Backend::TestServer, Chart::Default, config).await
    }

    /// The usual world on `backend`: chart defaults (cluster-wide), [`sim_config`].
    pub async fn on(backend: Backend) -> Env {
        Env::setup(backend, Chart::Default, sim_config()).await
    }

    /// A world on `backend` in chart configuration `chart` with simulator `config`.
    pub async fn setup(backend: Backend, chart: Chart, config: SimConfig) -> Env {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let sim = simulator(config).await;
        let mut env = match backend {
            Backend::TestServer => Env::around(Env::test_server().await, sim),
            Backend::ControlPlane => {
                let dir = tempfile::tempdir().unwrap();
                let cluster = Cluster::on_shared(chart, &[NS], dir.path()).await;
                Env::real(cluster, sim, dir)
            }
        };
        env.chart = chart;
        env
    }

    /// The usual start on `backend`: the key's Secret, the operator (the chart's flags plus
    /// `extra`), and resource `account` with `spec`, Ready. Returns the world, the operator and
    /// the Ready object.
    pub async fn account_ready(
        backend: Backend,
        extra: &[&str],
        spec: Value,
    ) -> (Env, Operator, Value) {
        let env = Env::on(backend).await;
        env.key_secret(KEY).await;
        let op = env.operator(extra);
        env.create("account", spec).await;
        let ready = env.wait_ready("account").await;
        (env, op, ready)
    }

    /// A world on a control plane of the scenario's own (started with special flags).
    pub async fn on_plane(
        plane: std::sync::Arc<super::control_plane::ControlPlane>,
        config: SimConfig,
    ) -> Env {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let sim = simulator(config).await;
        let dir = tempfile::tempdir().unwrap();
        let cluster = Cluster::on(plane, Chart::Default, &[NS], dir.path()).await;
        Env::real(cluster, sim, dir)
    }

    fn real(cluster: Cluster, sim: SimulatorHandle, dir: TempDir) -> Env {
        Env {
            client: cluster.client.clone(),
            server: Server::Real(Box::new(cluster)),
            sim,
            chart: Chart::Default,
            dir,
            logs: Mutex::new(Vec::new()),
        }
    }

    /// A test server serving the CRD with the project's own validator (schema + CEL).
    async fn test_server() -> TestServer {
        let server = TestServer::start().await;
        let schema = resource_schema();
        let validator: Validator = Arc::new(move |object: &Value| {
            validate_object(&schema, object)
                .map_err(|violations| violations.iter().map(ToString::to_string).collect())
        });
        server.register_crd(&SendGridEnforcedTls::crd(), Some(validator));
        server.register_crd(&SendGridTarget::crd(), None);
        server
    }

    /// An Env around a server the scenario set up itself (e.g. without the CRD).
    pub fn around(server: TestServer, sim: SimulatorHandle) -> Env {
        let dir = tempfile::tempdir().unwrap();
        server
            .write_kubeconfig(dir.path().join("kubeconfig"))
            .unwrap();
        let client = server.client();
        Env {
            server: Server::Test(server),
            sim,
            client,
            chart: Chart::Default,
            dir,
            logs: Mutex::new(Vec::new()),
        }
    }

    /// The operator's kubeconfig (on the control plane: the chart's ServiceAccount).
    pub fn kubeconfig(&self) -> PathBuf {
        match &self.server {
            Server::Test(_) => self.dir.path().join("kubeconfig"),
            Server::Real(cluster) => cluster.operator_kubeconfig.clone(),
        }
    }

    /// A kubeconfig for a person with kubectl (on the test server: the same as the operator's).
    pub fn user_kubeconfig(&self) -> PathBuf {
        match &self.server {
            Server::Test(_) => self.kubeconfig(),
            Server::Real(cluster) => cluster.user_kubeconfig.clone(),
        }
    }

    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The operator binary against this server and simulator, with JSON logs, fast retries
    /// (100ms doubling up to 2s) and the chart's flags; `extra` adds `run` flags (e.g.
    /// `--default-resync-interval 2s`) and overrides the chart's of the same name.
    pub fn operator(&self, extra: &[&str]) -> Operator {
        self.operator_as("operator", extra, &[])
    }

    /// [`Env::operator`] with a label (for dumps) and extra environment variables.
    pub fn operator_as(&self, label: &str, extra: &[&str], env: &[(&str, &str)]) -> Operator {
        let global = self.sim.global_url().to_string();
        let eu = self.sim.eu_url().to_string();
        self.operator_at(label, (&global, &eu), extra, env)
    }

    /// [`Env::operator_as`] against other SendGrid hosts (global, EU) than the simulator's.
    pub fn operator_at(
        &self,
        label: &str,
        (global, eu): (&str, &str),
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Operator {
        let mut args = vec![
            "--sendgrid-url",
            global,
            "--sendgrid-eu-url",
            eu,
            "--log-format",
            "json",
            "--log-level",
            "info,sendgrid_tls_operator=debug",
            "run",
            "--metrics-addr",
            "127.0.0.1:0",
        ];
        // Fast retries unless the scenario sets its own (clap refuses a flag given twice).
        if !extra.contains(&"--retry-base-delay") {
            args.extend_from_slice(&["--retry-base-delay", "100ms", "--retry-max-delay", "2s"]);
        }
        args.extend_from_slice(extra);
        let mut given: Vec<&str> = extra.iter().map(|a| flag_name(a)).collect();
        // The chart's 15s Lease, shortened: a killed leader's successor takes over in seconds.
        if !given.contains(&"--lease-duration") {
            args.push("--lease-duration=4");
            given.push("--lease-duration");
        }
        let chart = self.chart.operator_flags();
        args.extend(
            chart
                .iter()
                .filter(|f| !given.contains(&flag_name(f)))
                .map(String::as_str),
        );
        let kubeconfig = self.kubeconfig();
        // As the chart's Deployment sets it from the pod: the Lease's namespace.
        let mut vars = vec![
            ("KUBECONFIG", kubeconfig.to_str().unwrap()),
            ("POD_NAMESPACE", RELEASE_NAMESPACE),
        ];
        vars.extend_from_slice(env);
        let operator = Operator::spawn(label, &args, &vars, self.resource_watches());
        self.logs
            .lock()
            .unwrap()
            .push((label.to_string(), operator.logs()));
        operator
    }

    /// Watch requests on the resources answered so far.
    fn resource_watches(&self) -> usize {
        self.server
            .count(|r| r.is_for("sendgridenforcedtlses") && r.verb == Verb::Watch && r.succeeded())
    }

    /// Waits until `op` watches the resources (its initial list is done).
    pub async fn synced(&self, op: &Operator) {
        self.until("the operator to watch the resources", WAIT, |env| {
            env.resource_watches() > op.watches_before
        })
        .await;
    }

    /// The holder of the chart's leader-election Lease.
    pub fn lease_holder(&self) -> Option<String> {
        let (namespace, name) = self.chart.lease();
        let lease = self.server.get_object(
            &ResourceRef::new("coordination.k8s.io", "leases"),
            Some(namespace),
            &name,
        )?;
        lease["spec"]["holderIdentity"].as_str().map(str::to_string)
    }

    pub fn api(&self) -> Api<SendGridEnforcedTls> {
        Api::namespaced(self.client.clone(), NS)
    }

    fn params() -> PatchParams {
        PatchParams {
            field_manager: Some(TEST_MANAGER.into()),
            ..PatchParams::default()
        }
    }

    /// Creates (or replaces the data of) Secret `name` in [`NS`] holding `data`.
    pub async fn secret(&self, name: &str, data: &[(&str, &str)]) {
        self.secret_in(NS, name, data).await;
    }

    /// [`Env::secret`] in namespace `ns`.
    pub async fn secret_in(&self, ns: &str, name: &str, data: &[(&str, &str)]) {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), ns);
        let data: BTreeMap<String, ByteString> = data
            .iter()
            .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
            .collect();
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(ns.into()),
                ..ObjectMeta::default()
            },
            data: Some(data),
            ..Secret::default()
        };
        let post = PostParams {
            field_manager: Some(TEST_MANAGER.into()),
            ..PostParams::default()
        };
        let written = match secrets.get_opt(name).await.unwrap() {
            // Replace the whole Secret, so that keys left out go away.
            Some(old) => {
                let secret = Secret {
                    metadata: old.metadata,
                    ..secret
                };
                secrets.replace(name, &post, &secret).await.unwrap()
            }
            None => secrets.create(&post, &secret).await.unwrap(),
        };
        self.caught_up(
            &ResourceRef::new("", "secrets"),
            ns,
            name,
            written.metadata.resource_version,
        )
        .await;
    }

    /// On the control plane, waits until what the scenario reads (the harness's mirror, kept by
    /// a watch) shows a write of ours: version `written` or later, or the object gone. The test
    /// server's store is read directly, so there it holds at once.
    async fn caught_up(
        &self,
        resource: &ResourceRef,
        ns: &str,
        name: &str,
        written: Option<String>,
    ) {
        let version = |v: &str| v.parse::<u64>().unwrap_or(0);
        let wanted = written.as_deref().map_or(u64::MAX, version);
        let what = format!("our write of {}/{name} to be seen", resource.qualified());
        self.until(&what, WAIT, |env| {
            env.server
                .get_object(resource, Some(ns), name)
                .is_none_or(|o| {
                    o["metadata"]["resourceVersion"]
                        .as_str()
                        .is_some_and(|v| version(v) >= wanted)
                })
        })
        .await;
    }

    /// The Secret [`SECRET`] with `apiKey` = `key`.
    pub async fn key_secret(&self, key: &str) {
        self.secret(SECRET, &[("apiKey", key)]).await;
    }

    pub async fn delete_secret(&self, name: &str) {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), NS);
        secrets
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
        self.caught_up(&ResourceRef::new("", "secrets"), NS, name, None)
            .await;
    }

    /// Creates resource `name` in [`NS`] with this spec (`apiKeySecretRef` defaults to [`SECRET`]).
    pub async fn create(&self, name: &str, spec: Value) {
        self.create_in(NS, name, spec).await;
    }

    /// [`Env::create`] in namespace `ns`.
    pub async fn create_in(&self, ns: &str, name: &str, mut spec: Value) {
        if spec.get("apiKeySecretRef").is_none() {
            spec["apiKeySecretRef"] = json!({ "name": SECRET });
        }
        let object: SendGridEnforcedTls = serde_json::from_value(object(ns, name, spec)).unwrap();
        let params = PostParams {
            field_manager: Some(TEST_MANAGER.into()),
            ..PostParams::default()
        };
        let api: Api<SendGridEnforcedTls> = Api::namespaced(self.client.clone(), ns);
        let created = api.create(&params, &object).await.unwrap();
        self.caught_up(&sgtls(), ns, name, created.metadata.resource_version)
            .await;
    }

    /// Merge-patches the spec of `name`.
    pub async fn edit(&self, name: &str, spec: Value) {
        let edited = self
            .api()
            .patch(name, &Env::params(), &Patch::Merge(json!({ "spec": spec })))
            .await
            .unwrap();
        self.caught_up(&sgtls(), NS, name, edited.metadata.resource_version)
            .await;
    }

    pub async fn delete(&self, name: &str) {
        let deleted = self
            .api()
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
        // Marked for deletion (a finalizer holds it), or gone at once.
        let version = deleted.left().and_then(|o| o.metadata.resource_version);
        self.caught_up(&sgtls(), NS, name, version).await;
    }

    /// The stored resource (read from the server's store: adds no request to its log).
    pub fn get(&self, name: &str) -> Option<Value> {
        self.get_in(NS, name)
    }

    /// [`Env::get`] in namespace `ns`.
    pub fn get_in(&self, ns: &str, name: &str) -> Option<Value> {
        self.server.get_object(&sgtls(), Some(ns), name)
    }

    /// The claim record of an account (`global-1001`), as stored.
    pub fn record(&self, name: &str) -> Option<Value> {
        self.server.get_object(&sgtargets(), None, name)
    }

    /// The originals the record of resource `name`'s account holds, field by field
    /// (`{"requireTls": false, ...}`, only the fields the record has).
    pub fn originals(&self, name: &str) -> Value {
        let object = self.get(name).expect("the resource");
        let target = object["status"]["target"]["name"]
            .as_str()
            .expect("a target");
        let record = self.record(target).expect("the account's record");
        let fields = record["spec"]["fields"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        Value::Object(
            fields
                .into_iter()
                .map(|(field, claim)| (field, claim["original"].clone()))
                .collect(),
        )
    }

    /// The record name of the simulator's `account` (reached with `on_behalf_of`, global).
    pub fn target_name(&self, account: &str, on_behalf_of: Option<&str>) -> String {
        let user = self
            .sim
            .user(account, on_behalf_of)
            .expect("a simulated account");
        format!("global-{}", user.user_id)
    }

    /// Stores `object` (a resource, generation 1) bypassing validation, as one the CRD would
    /// refuse, written before a CRD upgrade, would be (test server only).
    pub fn put_raw(&self, mut object: Value) {
        object["metadata"]["generation"] = json!(1);
        self.server.put_object(&sgtls(), object).unwrap();
    }

    /// Creates namespace `name` (on the test server, where namespaces are not checked, too).
    pub async fn namespace(&self, name: &str) {
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        let object = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        namespaces
            .create(&PostParams::default(), &object)
            .await
            .unwrap();
    }

    /// Events about `name` (events.k8s.io), oldest first.
    pub fn events_for(&self, name: &str) -> Vec<Value> {
        self.server
            .list_objects(&events(), Some(NS))
            .into_iter()
            .filter(|e| e["regarding"]["name"] == name)
            .collect()
    }

    /// The notes of `name`'s Warning Events with this reason.
    pub fn warnings(&self, name: &str, reason: &str) -> Vec<String> {
        self.events_for(name)
            .into_iter()
            .filter(|e| e["reason"] == reason && e["type"] == "Warning")
            .map(|e| e["note"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Reasons of the Events about `name`.
    pub fn event_reasons(&self, name: &str) -> Vec<String> {
        self.events_for(name)
            .iter()
            .map(|e| e["reason"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// How many times an Event with this reason was published about `name` (kube's Recorder
    /// folds repeats into one Event with a series count).
    pub fn published(&self, name: &str, reason: &str) -> u64 {
        self.events_for(name)
            .iter()
            .filter(|e| e["reason"] == reason)
            .map(|e| e["series"]["count"].as_u64().unwrap_or(1))
            .sum()
    }

    /// Sets annotation `key` of `name` to `value` (None: removes it), as `kubectl annotate`
    /// would.
    pub async fn annotate(&self, name: &str, key: &str, value: Option<&str>) {
        let patch = json!({"metadata": {"annotations": {key: value}}});
        let annotated = self
            .api()
            .patch(name, &Env::params(), &Patch::Merge(patch))
            .await
            .unwrap();
        self.caught_up(&sgtls(), NS, name, annotated.metadata.resource_version)
            .await;
    }

    /// Asks for a reconcile with the reconcile-requested-at annotation.
    pub async fn request_reconcile(&self, name: &str, value: &str) {
        self.annotate(name, RECONCILE_REQUESTED_AT, Some(value))
            .await;
    }

    /// The simulator's requests that satisfy `pred`.
    pub fn sg(&self, pred: impl Fn(&LoggedRequest) -> bool) -> Vec<LoggedRequest> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| pred(r))
            .collect()
    }

    /// The simulator's Enforced TLS requests for one `on-behalf-of` target (None: the parent
    /// account); identity reads are [`Env::identity_reads`].
    pub fn sg_for(&self, on_behalf_of: Option<&str>) -> Vec<LoggedRequest> {
        self.sg(|r| r.on_behalf_of.as_deref() == on_behalf_of && r.path.ends_with(PATH))
    }

    /// The `GET /v3/user/username` requests for one `on-behalf-of` target.
    pub fn identity_reads(&self, on_behalf_of: Option<&str>) -> Vec<LoggedRequest> {
        self.sg(|r| r.on_behalf_of.as_deref() == on_behalf_of && r.path.ends_with(USERNAME_PATH))
    }

    /// Writes the operator made to resource `name` that landed: (status writes, other writes).
    pub fn operator_writes(&self, name: &str) -> (usize, usize) {
        let manager = sendgrid_tls_operator::api::MANAGER;
        let ours = |r: &kube_testkit::RequestRecord| {
            r.is_for("sendgridenforcedtlses")
                && r.is_write()
                && r.name.as_deref() == Some(name)
                && r.query_param("fieldManager").as_deref() == Some(manager)
                // A compare-and-swap refused as stale (409) wrote nothing.
                && r.status < 400
        };
        let status = self.server.count(|r| ours(r) && r.is_status());
        let other = self.server.count(|r| ours(r) && !r.is_status());
        (status, other)
    }

    /// Writes the operator made to accounts' records that landed.
    pub fn record_writes(&self) -> usize {
        self.server
            .count(|r| r.is_for("sendgridtargets") && r.is_write() && r.status < 400)
    }

    /// Settings of the simulator's account "main" (or its subuser / customer account).
    pub fn settings(&self, on_behalf_of: Option<&str>) -> TlsSettings {
        self.sim.settings("main", on_behalf_of).into()
    }

    /// Waits until `check` holds, re-checking on every API request and at least every 50ms (the
    /// simulator has no change feed), for at most `timeout`; on timeout fails with `what`, the
    /// resources' status, the last simulator requests and the operators' last log lines.
    pub async fn until(&self, what: &str, timeout: Duration, mut check: impl FnMut(&Env) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            let slice = Duration::from_millis(50);
            if self.server.wait_until(slice, |_| check(self)).await {
                // What the scenario counts next includes every request behind what it saw.
                self.server.settle().await;
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}\n{}",
                    self.dump()
                );
            }
        }
    }

    /// Waits (like `kubectl wait --for=condition=TYPE`) until `name` has condition `type_` with
    /// this status and reason, for its current generation; returns the object.
    pub async fn wait_condition(
        &self,
        name: &str,
        type_: &str,
        status: &str,
        reason: &str,
    ) -> Value {
        let what = format!("{name}: {type_}={status} ({reason})");
        self.until(&what, WAIT, |env| {
            env.get(name)
                .is_some_and(|o| has_condition(&o, type_, status, reason))
        })
        .await;
        self.get(name).unwrap()
    }

    /// Waits for Ready=True InSync.
    pub async fn wait_ready(&self, name: &str) -> Value {
        self.wait_condition(name, "Ready", "True", "InSync").await
    }

    pub async fn wait_gone(&self, name: &str) {
        self.until(&format!("{name} to be deleted"), WAIT, |env| {
            env.get(name).is_none()
        })
        .await;
    }
}
