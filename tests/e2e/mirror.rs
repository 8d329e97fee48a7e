//! The harness's view of the real control plane: the objects of the kinds scenarios read,
//! kept by watches (as an identity the audit log leaves out), so waits can check synchronously;
//! and a loopback TCP proxy in front of the API server whose connections a scenario can cut.

use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube_testkit::ResourceRef;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The kinds the mirror keeps: (group, version, kind, plural).
const MIRRORED: [(&str, &str, &str, &str); 8] = [
    (
        "sendgrid.ops.dev",
        "v1alpha1",
        "SendGridEnforcedTls",
        "sendgridenforcedtlses",
    ),
    (
        "sendgrid.ops.dev",
        "v1alpha1",
        "SendGridTarget",
        "sendgridtargets",
    ),
    ("events.k8s.io", "v1", "Event", "events"),
    ("", "v1", "Event", "events"),
    ("coordination.k8s.io", "v1", "Lease", "leases"),
    ("", "v1", "Namespace", "namespaces"),
    (
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
    ),
    ("", "v1", "Secret", "secrets"),
];

/// A TCP proxy on loopback in front of the API server, whose connections the test can cut.
pub struct Proxy {
    pub url: String,
    connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    task: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: &str) -> Proxy {
        let upstream = upstream.trim_start_matches("https://").to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let tracked = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let copy = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tracked.lock().unwrap().push(copy.abort_handle());
            }
        });
        Proxy {
            url,
            connections,
            task,
        }
    }

    /// Closes every connection through the proxy (the operator's watches among them).
    pub fn cut(&self) {
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

/// The objects of the mirrored kinds, kept by watches as the harness's identity.
pub struct Mirror {
    stores: Vec<(ResourceRef, Store<DynamicObject>)>,
    pub changed: watch::Sender<u64>,
    tasks: Vec<JoinHandle<()>>,
}

impl Mirror {
    pub async fn start(client: &kube::Client) -> Mirror {
        let changed = watch::channel(0).0;
        let mut stores = Vec::new();
        let mut tasks = Vec::new();
        for (group, version, kind, plural) in MIRRORED {
            let resource = ApiResource {
                group: group.into(),
                version: version.into(),
                api_version: if group.is_empty() {
                    version.into()
                } else {
                    format!("{group}/{version}")
                },
                kind: kind.into(),
                plural: plural.into(),
            };
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
            let writer = reflector::store::Writer::new(resource.clone());
            let reader = writer.as_reader();
            let notify = changed.clone();
            let stream = watcher(api, watcher::Config::default())
                .default_backoff()
                .reflect(writer);
            tasks.push(tokio::spawn(async move {
                let mut stream = std::pin::pin!(stream);
                while stream.next().await.is_some() {
                    notify.send_modify(|n| *n += 1);
                }
            }));
            stores.push((ResourceRef::new(group, plural), reader));
        }
        for (kind, store) in &stores {
            tokio::time::timeout(Duration::from_secs(30), store.wait_until_ready())
                .await
                .unwrap_or_else(|_| panic!("the harness's watch of {}", kind.qualified()))
                .unwrap();
        }
        Mirror {
            stores,
            changed,
            tasks,
        }
    }

    pub fn list(&self, resource: &ResourceRef, namespace: Option<&str>) -> Vec<Value> {
        let store = &self
            .stores
            .iter()
            .find(|(r, _)| r == resource)
            .unwrap_or_else(|| panic!("{} is not mirrored", resource.qualified()))
            .1;
        let mut objects: Vec<Value> = store
            .state()
            .iter()
            .filter(|o| namespace.is_none() || o.metadata.namespace.as_deref() == namespace)
            .map(|o| serde_json::to_value(&**o).unwrap())
            .collect();
        // Least recently written first: for Events (named after their time) the order the test
        // server's by-name listing gives.
        objects.sort_by_key(|o| {
            o["metadata"]["resourceVersion"]
                .as_str()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        });
        objects
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
