//! The soak's world on the real control plane: the chart's leader-election configuration with
//! two operator replicas as their own processes (each behind its own tap to the simulator), the
//! watches that keep the history, and the doing of each step as a user (or a node's kernel)
//! would, followed by a bounded wait until the system settles.

use super::history::{Ledger, Version, Watched, target_resource};
use super::plan::{Action, Model, SECRET, SendGridFault, Step, TARGETS};
use super::tap::{Sends, Tap};
use crate::env::*;
use crate::operator::{Logs, Operator};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::watcher;
use kube_testkit::ResourceRef;
use sendgrid_tls_operator::api::SendGridEnforcedTls;
use sendgrid_tls_operator::simulator::{Fault, SimConfig};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// Two keys of the simulator's account "main" (a rotation swaps them), random-looking so that
/// no 8-character piece of them occurs by chance in a uid, a time or a count.
pub const KEYS: [&str; 2] = [
    "SG.Soak-Key-Prime.Vq7xR2mLp9TzW4yKc8HdJn3FbG",
    "SG.Soak-Key-Second.Ht5wB8nKq2XsZ6uMe1PcLr4DyJ",
];
pub const PAUSED: &str = "sendgrid.ops.dev/paused";
/// The operators' `--cleanup-timeout`: a deletion without a key ends after this.
pub const CLEANUP_TIMEOUT: Duration = Duration::from_secs(15);
/// How long after the cleanup timeout a deletion may still take (a loaded 2-core machine).
pub const DELETION_SLACK: Duration = Duration::from_secs(45);
const LEASE_SECONDS: u64 = 4;
/// The bound on settling after a step.
const SETTLE: Duration = Duration::from_secs(75);
/// No PATCH for this long is part of settled.
const QUIET: Duration = Duration::from_secs(1);

/// A SendGrid account a resource can aim at, with the user id the simulator gave it.
#[derive(Clone, Debug)]
pub struct Account {
    pub subuser: Option<&'static str>,
    pub region: &'static str,
    pub user_id: u64,
}

impl Account {
    pub fn target_name(&self) -> String {
        format!("{}-{}", self.region, self.user_id)
    }
}

impl std::fmt::Display for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let who = self.subuser.unwrap_or("main (parent)");
        write!(f, "{} ({who})", self.target_name())
    }
}

struct Replica {
    label: String,
    op: Operator,
    pid: i32,
    _tap: Tap,
}

pub struct World {
    pub env: Env,
    pub model: Model,
    pub accounts: Vec<Account>,
    pub sends: Sends,
    pub targets: Watched,
    pub leases: Watched,
    pub ledger: Ledger,
    /// Every operator process's output (replaced ones too): (label, lines).
    pub logs: Vec<(String, Logs)>,
    /// Faults injected, by kind.
    pub faults: BTreeMap<String, u32>,
    /// Replicas that exited by themselves (a leader that lost its Lease stops), replaced.
    pub exited: u32,
    pub started: SystemTime,
    /// What was done to which process, and when ("SIGSTOP soak-op-3"), for the evidence.
    pub signals: Vec<(SystemTime, String)>,
    replicas: Vec<Replica>,
    spawned: usize,
}

fn sim_config() -> SimConfig {
    SimConfig {
        rate_limit_per_minute: 100_000,
        ..SimConfig::with_keys(&KEYS)
    }
}

impl World {
    pub async fn start() -> World {
        let env = Env::setup(Backend::ControlPlane, Chart::LeaderElection, sim_config()).await;
        remove_stale_targets(&env.client).await;
        let targets = Watched::start(
            Api::all_with(env.client.clone(), &target_resource()),
            watcher::Config::default(),
        )
        .await;
        let (lease_ns, lease) = env.chart.lease();
        let leases = Watched::start(
            Api::namespaced_with(
                env.client.clone(),
                lease_ns,
                &kube::api::ApiResource::erase::<k8s_openapi::api::coordination::v1::Lease>(&()),
            ),
            watcher::Config::default().fields(&format!("metadata.name={lease}")),
        )
        .await;
        let accounts = TARGETS
            .iter()
            .map(|(subuser, region)| Account {
                subuser: *subuser,
                region,
                user_id: env
                    .sim
                    .user("main", *subuser)
                    .expect("a simulated account")
                    .user_id,
            })
            .collect();
        let model = Model::new();
        for ns in &model.namespaces {
            env.namespace(ns.name).await;
            if let Some(key) = ns.key {
                env.secret_in(ns.name, SECRET, &[("apiKey", KEYS[key])])
                    .await;
            }
        }
        let mut world = World {
            env,
            model,
            accounts,
            sends: Sends::default(),
            targets,
            leases,
            ledger: Ledger::default(),
            logs: Vec::new(),
            faults: BTreeMap::new(),
            exited: 0,
            started: SystemTime::now(),
            signals: Vec::new(),
            replicas: Vec::new(),
            spawned: 0,
        };
        world.spawn().await;
        world.spawn().await;
        world
            .env
            .until("a replica to lead", WAIT, |env| {
                env.lease_holder()
                    .is_some_and(|h| h.starts_with("soak-op-"))
            })
            .await;
        world
    }

    pub fn account_of_subuser(&self, subuser: Option<&str>) -> Option<&Account> {
        self.accounts.iter().find(|a| a.subuser == subuser)
    }

    /// The account a spec aims at.
    pub fn account_of_spec(&self, spec: &Value) -> Option<&Account> {
        self.account_of_subuser(spec["onBehalfOf"]["subuser"].as_str())
    }

    /// What SendGrid holds for `account`, by spec field name ("1.2" for versions).
    pub fn sendgrid(&self, account: &Account) -> Value {
        serde_json::to_value(self.env.sim.settings("main", account.subuser)).unwrap()
    }

    pub fn resources(&self) -> Vec<Value> {
        self.env.server.list_objects(&sgtls(), None)
    }

    pub fn events(&self) -> Vec<Value> {
        let mut all = self.env.server.list_objects(&events(), None);
        all.extend(
            self.env
                .server
                .list_objects(&ResourceRef::new("", "events"), None),
        );
        all
    }

    pub fn target_versions(&self) -> Vec<Version> {
        self.targets.all()
    }

    /// Does `step`, then waits until the system settles; Err says what did not settle.
    pub async fn perform(&mut self, step: &Step) -> Result<(), String> {
        if let Some(fault) = &step.fault {
            self.inject(fault);
        }
        let done = self.act(&step.action).await;
        self.model.apply(&step.action);
        self.replace_exited().await;
        let settled = match done {
            Ok(()) => self.settle().await,
            Err(e) => Err(e),
        };
        self.env.sim.clear_faults();
        self.ledger.collect(&self.env.sim);
        settled
    }

    fn inject(&mut self, fault: &SendGridFault) {
        let (kind, fault) = match *fault {
            SendGridFault::Latency { ms } => ("latency", Fault::Latency(Duration::from_millis(ms))),
            SendGridFault::ServerErrors { count, status } => {
                ("5xx", Fault::ServerErrors { count, status })
            }
            SendGridFault::DropConnections { count } => {
                ("dropped connections", Fault::DropConnections { count })
            }
            SendGridFault::RateLimitBurst { count } => (
                "429 bursts",
                Fault::RateLimitBurst {
                    count,
                    reset_after: Duration::from_secs(1),
                },
            ),
        };
        *self.faults.entry(kind.into()).or_default() += 1;
        self.env.sim.inject(fault);
    }

    fn api(&self, ns: &str) -> Api<SendGridEnforcedTls> {
        Api::namespaced(self.env.client.clone(), ns)
    }

    async fn act(&mut self, action: &Action) -> Result<(), String> {
        let params = PatchParams {
            field_manager: Some(TEST_MANAGER.into()),
            ..PatchParams::default()
        };
        match action {
            Action::Create { ns, name, spec } => self.env.create_in(ns, name, spec.clone()).await,
            Action::Edit { ns, name, patch } => {
                let patch = Patch::Merge(json!({ "spec": patch }));
                let edited = self.api(ns).patch(name, &params, &patch).await.unwrap();
                self.seen(ns, name, edited.metadata.resource_version).await;
            }
            Action::Pause { ns, name, paused } => {
                let value = paused.then_some("true");
                let patch = Patch::Merge(json!({"metadata": {"annotations": {PAUSED: value}}}));
                let edited = self.api(ns).patch(name, &params, &patch).await.unwrap();
                self.seen(ns, name, edited.metadata.resource_version).await;
            }
            Action::Delete { ns, name } => {
                let deleted = self.api(ns).delete(name, &DeleteParams::default()).await;
                let version = deleted
                    .unwrap()
                    .left()
                    .and_then(|o| o.metadata.resource_version);
                self.seen(ns, name, version).await;
            }
            Action::PutKey { ns, key } => {
                self.env
                    .secret_in(ns, SECRET, &[("apiKey", KEYS[*key])])
                    .await;
            }
            Action::DeleteSecret { ns } => {
                let secrets: Api<Secret> = Api::namespaced(self.env.client.clone(), ns);
                secrets
                    .delete(SECRET, &DeleteParams::default())
                    .await
                    .unwrap();
                let secret = ResourceRef::new("", "secrets");
                self.env
                    .until("the Secret's deletion to be seen", WAIT, |env| {
                        env.server.get_object(&secret, Some(ns), SECRET).is_none()
                    })
                    .await;
            }
            Action::DeleteNamespace { ns } => {
                let namespaces: Api<Namespace> = Api::all(self.env.client.clone());
                namespaces
                    .delete(ns, &DeleteParams::background())
                    .await
                    .unwrap();
                let gone = |w: &World| {
                    w.env
                        .server
                        .get_object(&ResourceRef::new("", "namespaces"), None, ns)
                        .is_none()
                };
                if !self.wait(CLEANUP_TIMEOUT + DELETION_SLACK, gone).await {
                    let left: Vec<String> = self
                        .resources()
                        .iter()
                        .filter(|o| o["metadata"]["namespace"] == ns.as_str())
                        .map(|o| {
                            format!(
                                "{} finalizers {} annotations {} status {}",
                                id(o),
                                o["metadata"]["finalizers"],
                                o["metadata"]["annotations"],
                                o["status"]
                            )
                        })
                        .collect();
                    return Err(format!(
                        "namespace {ns} still there {:?} after its deletion; its resources: {left:?}",
                        CLEANUP_TIMEOUT + DELETION_SLACK
                    ));
                }
            }
            Action::CreateNamespace { ns } => self.env.namespace(ns).await,
            Action::KillLeader => {
                let at = self.leader();
                self.signal(at, "SIGKILL");
                self.replicas[at].op.kill();
                self.replicas.remove(at);
                *self
                    .faults
                    .entry("SIGKILL of the leader".into())
                    .or_default() += 1;
                self.spawn().await;
            }
            Action::StopLeader { during } => {
                let at = self.leader();
                let label = self.replicas[at].label.clone();
                self.signal(at, "SIGSTOP");
                self.replicas[at].op.signal("STOP");
                *self
                    .faults
                    .entry("SIGSTOP of the leader".into())
                    .or_default() += 1;
                let others: Vec<String> = self
                    .replicas
                    .iter()
                    .map(|r| r.label.clone())
                    .filter(|l| *l != label)
                    .collect();
                let taken = |w: &World| w.env.lease_holder().is_some_and(|h| others.contains(&h));
                let bound = Duration::from_secs(3 * LEASE_SECONDS + 20);
                let result = if self.wait(bound, taken).await {
                    match during {
                        Some(action) => Box::pin(self.act(action)).await,
                        None => Ok(()),
                    }
                } else {
                    Err(format!(
                        "no standby took the Lease within {bound:?} of stopping {label}"
                    ))
                };
                // The replicas' order is unchanged while it was stopped.
                self.replicas[at].op.signal("CONT");
                self.signals
                    .push((SystemTime::now(), format!("SIGCONT {label}")));
                // Waking is watched for what it does next (checked from the taps): a short
                // absence is the one thing to wait for here.
                tokio::time::sleep(Duration::from_secs(2)).await;
                return result;
            }
            Action::RestartStandby => {
                let leader = self.leader();
                let at = (0..self.replicas.len()).find(|i| *i != leader).unwrap_or(0);
                self.signal(at, "SIGTERM");
                self.replicas[at].op.terminate().await;
                self.replicas.remove(at);
                *self
                    .faults
                    .entry("restart of the standby".into())
                    .or_default() += 1;
                self.spawn().await;
            }
        }
        Ok(())
    }

    fn signal(&mut self, replica: usize, signal: &str) {
        let label = &self.replicas[replica].label;
        self.signals.push((
            SystemTime::now(),
            format!("{signal} {label} (leader {:?})", self.env.lease_holder()),
        ));
    }

    /// The operators' "SendGrid exchange" log lines within a second of `at`: which reconcile
    /// made a request.
    pub fn exchanges_near(&self, at: SystemTime) -> Vec<String> {
        let Ok(at) = k8s_openapi::jiff::Timestamp::try_from(at) else {
            return Vec::new();
        };
        let mut near = Vec::new();
        for (label, logs) in &self.logs {
            for line in logs.json() {
                let when = line["timestamp"]
                    .as_str()
                    .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok());
                let close = when.is_some_and(|t| t.duration_since(at).abs().as_secs_f64() <= 1.0);
                if line["message"] == "SendGrid exchange" && close {
                    near.push(format!("{label}: {line}"));
                }
            }
        }
        near
    }

    /// Waits until the harness's mirror shows our write of `ns/name` (version `written` or
    /// later, or the object gone).
    async fn seen(&self, ns: &str, name: &str, written: Option<String>) {
        let number = |v: &str| v.parse::<u64>().unwrap_or(0);
        let wanted = written.as_deref().map_or(u64::MAX, number);
        self.env
            .until(
                &format!("our write of {ns}/{name} to be seen"),
                WAIT,
                |env| {
                    env.get_in(ns, name).is_none_or(|o| {
                        o["metadata"]["resourceVersion"]
                            .as_str()
                            .is_some_and(|v| number(v) >= wanted)
                    })
                },
            )
            .await;
    }

    /// Waits (bounded) until `condition` holds, re-checking on every change and every 100ms.
    async fn wait(&self, timeout: Duration, condition: impl Fn(&World) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let slice = Duration::from_millis(100);
            if self.env.server.wait_until(slice, |_| condition(self)).await {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
        }
    }

    async fn settle(&self) -> Result<(), String> {
        if self.wait(SETTLE, |w| w.unsettled().is_none()).await {
            self.env.server.settle().await;
            return Ok(());
        }
        Err(format!(
            "not settled after {SETTLE:?}: {}",
            self.unsettled().unwrap_or_default()
        ))
    }

    /// What is not settled yet: a leader, every resource's conditions for its generation in a
    /// state that lasts (synced, or waiting for its Secret), no deletion in progress, no PATCH
    /// in the last second.
    fn unsettled(&self) -> Option<String> {
        let holder = self.env.lease_holder();
        if !holder
            .as_ref()
            .is_some_and(|h| self.replicas.iter().any(|r| r.label == *h))
        {
            return Some(format!("the Lease holder {holder:?} is no running replica"));
        }
        for object in self.resources() {
            let id = id(&object);
            if !object["metadata"]["deletionTimestamp"].is_null() {
                return Some(format!("{id} is being deleted"));
            }
            if is_paused(&object) {
                continue;
            }
            let synced = current_condition(&object, "Synced");
            let lasting = synced.is_some_and(|s| {
                s["status"] == "True"
                    || ["SecretNotFound", "SecretKeyNotFound"]
                        .contains(&s["reason"].as_str().unwrap_or(""))
            });
            if !lasting || current_condition(&object, "Ready").is_none() {
                return Some(format!("{id}: {}", object["status"]["conditions"]));
            }
        }
        let now = SystemTime::now();
        let recent = self
            .env
            .sim
            .requests()
            .into_iter()
            .rev()
            .find(|r| r.method == "PATCH");
        if recent.is_some_and(|r| now.duration_since(r.at).unwrap_or_default() < QUIET) {
            return Some("a PATCH less than a second ago".into());
        }
        None
    }

    /// The index of the replica holding the Lease (the first when none does).
    fn leader(&self) -> usize {
        let holder = self.env.lease_holder();
        self.replicas
            .iter()
            .position(|r| Some(&r.label) == holder.as_ref())
            .unwrap_or(0)
    }

    /// Starts a replica against its own tap, as the chart's Deployment would (leader election,
    /// the chart's flags) with a short lease, resync and cleanup timeout.
    async fn spawn(&mut self) {
        self.spawned += 1;
        let label = format!("soak-op-{}", self.spawned);
        let tap = Tap::start(self.env.sim.addr(), &label, self.sends.clone()).await;
        let eu = format!("{}/eu", tap.url);
        let cleanup = format!("{}s", CLEANUP_TIMEOUT.as_secs());
        let lease = format!("--lease-duration={LEASE_SECONDS}");
        let op = self.env.operator_at(
            &label,
            (&tap.url, &eu),
            &[
                &lease,
                "--default-resync-interval",
                "5s",
                "--cleanup-timeout",
                &cleanup,
            ],
            &[("POD_NAME", &label)],
        );
        let pid = pid_of(&label).await;
        self.logs.push((label.clone(), op.logs()));
        self.replicas.push(Replica {
            label,
            op,
            pid,
            _tap: tap,
        });
    }

    /// Replaces replicas that exited on their own (a leader that lost its Lease may exit), as
    /// the Deployment's restart would.
    async fn replace_exited(&mut self) {
        let before = self.replicas.len();
        self.replicas.retain(|r| alive(r.pid));
        for _ in self.replicas.len()..before {
            self.exited += 1;
            self.spawn().await;
        }
    }

    pub fn lease_versions(&self) -> Vec<Version> {
        self.leases.all()
    }
}

pub fn id(object: &Value) -> String {
    format!(
        "{}/{}",
        object["metadata"]["namespace"].as_str().unwrap_or(""),
        object["metadata"]["name"].as_str().unwrap_or("")
    )
}

pub fn is_paused(object: &Value) -> bool {
    object["metadata"]["annotations"][PAUSED] == "true"
}

/// Condition `type_` written for the object's current generation.
pub fn current_condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    condition(object, type_).filter(|c| c["observedGeneration"] == object["metadata"]["generation"])
}

/// Removes SendGridTargets earlier scenarios left (the cluster's reset knows only resources):
/// their originals belong to another simulator.
async fn remove_stale_targets(client: &kube::Client) {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &target_resource());
    for object in api.list(&ListParams::default()).await.unwrap() {
        let name = object.metadata.name.clone().unwrap_or_default();
        let clear = Patch::Merge(json!({"metadata": {"finalizers": null}}));
        let _ = api.patch(&name, &PatchParams::default(), &clear).await;
        let _ = api.delete(&name, &DeleteParams::default()).await;
    }
}

/// The pid of the operator process started with POD_NAME=`label` by this test binary: to
/// tell whether it still runs without waiting on it.
async fn pid_of(label: &str) -> i32 {
    let wanted = format!("POD_NAME={label}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let ours = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.to_string()))
                .and_then(|rest| rest.split(' ').nth(1).map(str::to_string))
                .is_some_and(|ppid| ppid == std::process::id().to_string());
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            if ours && environ.split(|b| *b == 0).any(|v| v == wanted.as_bytes()) {
                return pid;
            }
        }
        assert!(Instant::now() < deadline, "no process with {wanted}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether the process runs (or is stopped): not gone, not a zombie.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z')))
        .is_some_and(|zombie| !zombie)
}
