//! One benchmark row's world: the Kubernetes API test server (with the CRD and its validation),
//! the SendGrid simulator holding a fleet of subusers, K namespaces each with a Secret holding
//! its own API key, and N resources written straight into the server's store (each on its own
//! subuser, key `i % K`, asking for a change so that every one needs a GET and a PATCH).

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::CustomResourceExt;
use kube::api::{Api, PostParams};
use kube_testkit::{RequestRecord, ResourceRef, TestServer, Validator};
use sendgrid_tls_operator::api::validation::{resource_schema, validate_object};
use sendgrid_tls_operator::api::{MANAGER, SendGridEnforcedTls, SendGridTarget};
use sendgrid_tls_operator::simulator::{
    RequestCount, Scope, SimAccount, SimConfig, SimKey, Simulator, SimulatorHandle,
};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// The Secret every namespace holds its key in.
const SECRET: &str = "sendgrid-api-key";

pub fn sgtls() -> ResourceRef {
    ResourceRef::of::<SendGridEnforcedTls>()
}

/// Key number `k`: fake, but shaped like a SendGrid key.
fn key(k: usize) -> String {
    format!("SG.bench{k:03}aaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
}

fn namespace(k: usize) -> String {
    format!("team-{k:03}")
}

/// The subuser resource number `i` acts on: its SendGrid target.
pub fn subuser(i: usize) -> String {
    format!("bench-{i}")
}

pub struct World {
    pub server: TestServer,
    pub sim: SimulatorHandle,
    pub keys: usize,
    dir: tempfile::TempDir,
}

impl World {
    /// Starts the server and the simulator and writes `resources` resources over `keys` keys.
    /// The simulator knows one subuser more than there are resources, for [`World::newcomer`].
    pub async fn start(resources: usize, keys: usize, rate_limit: u32) -> World {
        let server = TestServer::start().await;
        let schema = resource_schema();
        let validator: Validator = Arc::new(move |object: &Value| {
            validate_object(&schema, object)
                .map_err(|violations| violations.iter().map(ToString::to_string).collect())
        });
        server.register_crd(&SendGridEnforcedTls::crd(), Some(validator));
        server.register_crd(&SendGridTarget::crd(), None);
        let fleet = [format!("bench-{{0..{resources}}}")];
        let none: &[String] = &[];
        let config = SimConfig {
            keys: (0..keys)
                .map(|k| SimKey {
                    key: key(k),
                    account: "main".into(),
                    scopes: Scope::ALL.to_vec(),
                })
                .collect(),
            accounts: vec![SimAccount::fleet("main", &fleet, none, none).expect("a valid pattern")],
            rate_limit_per_minute: rate_limit,
            ..SimConfig::default()
        };
        let sim = Simulator::start(([127, 0, 0, 1], 0).into(), config)
            .await
            .expect("starting the simulator on loopback");
        let dir = tempfile::tempdir().expect("a temporary directory");
        server
            .write_kubeconfig(dir.path().join("kubeconfig"))
            .expect("writing the kubeconfig");
        let world = World {
            server,
            sim,
            keys,
            dir,
        };
        world.write_namespaces_and_secrets().await;
        for i in 0..resources {
            world.put_resource(i);
        }
        world
    }

    pub fn kubeconfig(&self) -> std::path::PathBuf {
        self.dir.path().join("kubeconfig")
    }

    async fn write_namespaces_and_secrets(&self) {
        let client = self.server.client();
        let namespaces: Api<Namespace> = Api::all(client.clone());
        for k in 0..self.keys {
            let meta = ObjectMeta {
                name: Some(namespace(k)),
                ..ObjectMeta::default()
            };
            let ns = Namespace {
                metadata: meta,
                ..Namespace::default()
            };
            namespaces
                .create(&PostParams::default(), &ns)
                .await
                .expect("creating a namespace");
            let secret = Secret {
                metadata: ObjectMeta {
                    name: Some(SECRET.into()),
                    namespace: Some(namespace(k)),
                    ..ObjectMeta::default()
                },
                data: Some(
                    [("apiKey".to_string(), ByteString(key(k).into_bytes()))]
                        .into_iter()
                        .collect(),
                ),
                ..Secret::default()
            };
            Api::<Secret>::namespaced(client.clone(), &namespace(k))
                .create(&PostParams::default(), &secret)
                .await
                .expect("creating a Secret");
        }
    }

    /// Resource `r-<i>` on subuser `bench-<i>` with key `i % K`.
    fn put_resource(&self, i: usize) {
        self.put_resource_in(i, &namespace(i % self.keys));
    }

    /// Writes one more resource, number `i`, while the operator runs: on key 0, the key that
    /// carries the most resources.
    pub fn newcomer(&self, i: usize) {
        self.put_resource_in(i, &namespace(0));
    }

    fn put_resource_in(&self, i: usize, ns: &str) {
        let object = json!({
            "apiVersion": "sendgrid.ops.dev/v1alpha1",
            "kind": "SendGridEnforcedTls",
            "metadata": {"name": format!("r-{i}"), "namespace": ns, "generation": 1},
            "spec": {
                "apiKeySecretRef": {"name": SECRET},
                "onBehalfOf": {"subuser": subuser(i)},
                "requireTls": true,
                "requireValidCert": true,
                "minimumTlsVersion": "1.2",
            },
        });
        self.server
            .put_object(&sgtls(), object)
            .expect("writing a resource");
    }

    /// The numbers of the resources Ready now (InSync at their generation) that are not in
    /// `seen` yet; adds them to it.
    pub fn newly_ready(&self, seen: &mut HashSet<usize>) -> Vec<usize> {
        let fresh = Mutex::new(Vec::new());
        self.server.count_objects(&sgtls(), None, |o| {
            let number = o["metadata"]["name"]
                .as_str()
                .and_then(|name| name.strip_prefix("r-")?.parse::<usize>().ok());
            if let Some(i) = number.filter(|i| !seen.contains(i) && is_ready(o)) {
                fresh.lock().unwrap().push(i);
            }
            false
        });
        let fresh = fresh.into_inner().unwrap();
        seen.extend(&fresh);
        fresh
    }

    /// SendGrid requests so far, exact.
    pub fn sendgrid(&self) -> SendGridCounts {
        SendGridCounts::of(&self.sim.counts())
    }

    /// Writes the operator made so far.
    pub fn kube(&self) -> KubeCounts {
        KubeCounts::of(&self.server.requests())
    }
}

fn is_ready(object: &Value) -> bool {
    object["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| {
            c["type"] == "Ready"
                && c["status"] == "True"
                && c["observedGeneration"] == object["metadata"]["generation"]
        })
}

/// SendGrid requests, by target (one target per resource).
#[derive(Debug, Default, Clone)]
pub struct SendGridCounts {
    /// target -> (settings GETs, PATCHes), any answer.
    pub per_target: HashMap<String, (u64, u64)>,
    /// target -> identity reads (`GET /v3/user/username`).
    pub identity_per_target: HashMap<String, u64>,
    pub gets: u64,
    pub identities: u64,
    /// Scope checks (`GET /v3/scopes`): one per key at its first use.
    pub scopes: u64,
    pub patches: u64,
    pub too_many: u64,
}

impl SendGridCounts {
    fn of(counts: &[RequestCount]) -> SendGridCounts {
        let mut out = SendGridCounts::default();
        for c in counts {
            let target = c.on_behalf_of.clone().unwrap_or_default();
            if c.status == 429 {
                out.too_many += c.count;
            }
            if c.path.ends_with("/v3/scopes") {
                out.scopes += c.count;
                continue;
            }
            if c.path.ends_with("/v3/user/username") {
                *out.identity_per_target.entry(target).or_default() += c.count;
                out.identities += c.count;
                continue;
            }
            let entry = out.per_target.entry(target).or_default();
            match c.method.as_str() {
                "GET" => {
                    entry.0 += c.count;
                    out.gets += c.count;
                }
                _ => {
                    entry.1 += c.count;
                    out.patches += c.count;
                }
            }
        }
        out
    }
}

/// Writes by the operator: status writes per resource, other writes to resources (finalizers),
/// writes of the accounts' claim records, and Event writes.
#[derive(Debug, Default, Clone)]
pub struct KubeCounts {
    pub status_per_resource: HashMap<String, u64>,
    pub status: u64,
    pub other: u64,
    pub records: u64,
    pub events: u64,
    pub secret_reads: u64,
}

impl KubeCounts {
    fn of(requests: &[RequestRecord]) -> KubeCounts {
        let mut out = KubeCounts::default();
        for r in requests {
            if r.is_for("secrets") && !r.is_write() {
                out.secret_reads += 1;
            }
            if !r.is_write() {
                continue;
            }
            if r.is_for("events") {
                out.events += 1;
            } else if r.is_for("sendgridtargets") && r.status < 400 {
                out.records += 1;
            } else if r.is_for("sendgridenforcedtlses")
                && r.query_param("fieldManager").as_deref() == Some(MANAGER)
            {
                if r.is_status() {
                    let name = format!(
                        "{}/{}",
                        r.namespace.as_deref().unwrap_or_default(),
                        r.name.as_deref().unwrap_or_default()
                    );
                    *out.status_per_resource.entry(name).or_default() += 1;
                    out.status += 1;
                } else {
                    out.other += 1;
                }
            }
        }
        out
    }
}
