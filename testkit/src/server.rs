//! [`TestServer`]: the HTTP server on loopback, how clients reach it (a `kube::Client`, a
//! kubeconfig for kubectl), and the hooks tests use to seed objects, read the request log and
//! break watches.
//!
//! Differences from a real API server: plain HTTP on loopback, no TLS, no authentication (the
//! kubeconfig carries no credentials), one process-local state that ends with the server.

use crate::Validator;
use crate::cluster::{Cluster, now};
use crate::fields::Owners;
use crate::handlers::{self, AppState};
use crate::kinds::ResourceRef;
use crate::recorder::{self, Recorder, RequestRecord};
use crate::refuse::{self, Refusal, Refusals};
use crate::store::{Entry, ObjectKey};
use axum::Router;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The default period of watch bookmarks.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(1);

/// An in-memory Kubernetes API server on `127.0.0.1`. Dropping it stops it (without waiting).
pub struct TestServer {
    addr: SocketAddr,
    state: AppState,
    recorder: Recorder,
    refusals: Refusals,
    bookmarks: watch::Sender<Duration>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server on a free loopback port.
    pub async fn start() -> TestServer {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        TestServer::bind(any)
            .await
            .expect("binding a free port on 127.0.0.1")
    }

    /// Starts a server on `addr` (e.g. a fixed port for a long-running dev setup).
    pub async fn bind(addr: SocketAddr) -> std::io::Result<TestServer> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = AppState {
            cluster: Arc::new(Mutex::new(Cluster::new())),
            address: addr.to_string(),
        };
        let recorder = Recorder::new();
        let refusals = Refusals::default();
        let app = Router::new()
            .fallback(handlers::handle)
            .with_state(state.clone())
            .layer(axum::middleware::from_fn_with_state(
                refusals.clone(),
                refuse::refuse,
            ))
            .layer(axum::middleware::from_fn_with_state(
                recorder.clone(),
                recorder::record,
            ));
        let (stop, mut stopped) = watch::channel(false);
        let mut stopped_too = stop.subscribe();
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stopped.wait_for(|s| *s).await;
        });
        let server_task = tokio::spawn(async move {
            let _ = serve.await;
        });
        let (bookmarks, mut interval) = watch::channel(BOOKMARK_INTERVAL);
        let cluster = state.cluster.clone();
        let bookmark_task = tokio::spawn(async move {
            loop {
                let period = *interval.borrow_and_update();
                tokio::select! {
                    _ = tokio::time::sleep(period) => {}
                    _ = interval.changed() => continue,
                    _ = stopped_too.wait_for(|s| *s) => return,
                }
                if let Ok(mut cluster) = cluster.lock() {
                    cluster.store.bookmark();
                }
            }
        });
        Ok(TestServer {
            addr,
            state,
            recorder,
            refusals,
            bookmarks,
            stop,
            tasks: vec![server_task, bookmark_task],
        })
    }

    /// Refuses the next requests that match `refusal` (see [`Refusal`]).
    pub fn refuse(&self, refusal: Refusal) {
        self.refusals.add(refusal);
    }

    /// Ends every refusal.
    pub fn clear_refusals(&self) {
        self.refusals.clear();
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A kube client configuration for this server (default namespace `default`).
    pub fn config(&self) -> kube::Config {
        let url = self.url().parse().expect("a loopback URL is a valid URI");
        let mut config = kube::Config::new(url);
        config.default_namespace = "default".into();
        config
    }

    /// A kube client talking to this server.
    pub fn client(&self) -> kube::Client {
        kube::Client::try_from(self.config()).expect("a plain-http kube client")
    }

    /// A kubeconfig (context `testkit`, namespace `default`, no credentials) for kubectl or
    /// `kube::Config::infer` via `KUBECONFIG`.
    pub fn kubeconfig_yaml(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: testkit\n  cluster:\n    server: {}\n\
             contexts:\n- name: testkit\n  context:\n    cluster: testkit\n    user: testkit\n    namespace: default\n\
             current-context: testkit\nusers:\n- name: testkit\n  user: {{}}\n",
            self.url()
        )
    }

    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig_yaml())
    }

    fn cluster(&self) -> MutexGuard<'_, Cluster> {
        // A panic while holding the lock is a bug in the server; keep serving the test anyway.
        self.state
            .cluster
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Serves the custom resource a CRD defines. `validator` receives each written object
    /// (e.g. the CRD's schema and CEL rules) and returns the messages of its failures, each
    /// naming its field (`spec.x: ...`); a failure makes the write a 422.
    pub fn register_crd(&self, crd: &CustomResourceDefinition, validator: Option<Validator>) {
        self.cluster().register_crd(crd, validator);
        self.recorder.notify();
    }

    /// A stored object (`namespace` `None` for cluster-scoped ones).
    pub fn get_object(
        &self,
        resource: &ResourceRef,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let key = ObjectKey {
            resource: resource.clone(),
            namespace: namespace.unwrap_or("").to_string(),
            name: name.to_string(),
        };
        self.cluster().store.get(&key).map(|e| e.object.clone())
    }

    /// Stored objects of a resource, in one namespace or all.
    pub fn list_objects(&self, resource: &ResourceRef, namespace: Option<&str>) -> Vec<Value> {
        self.cluster()
            .store
            .list(resource, namespace)
            .map(|e| e.object.clone())
            .collect()
    }

    /// How many stored objects of a resource (in one namespace or all) satisfy `pred`: like
    /// [`TestServer::list_objects`] without copying them, for polling large stores cheaply.
    pub fn count_objects(
        &self,
        resource: &ResourceRef,
        namespace: Option<&str>,
        pred: impl Fn(&Value) -> bool,
    ) -> usize {
        self.cluster()
            .store
            .list(resource, namespace)
            .filter(|e| pred(&e.object))
            .count()
    }

    /// Stores an object as is, bypassing every API rule and the validator (e.g. a malformed
    /// object written before a CRD upgrade). It gets a new resourceVersion (and a uid and
    /// creationTimestamp if it has none) and watches see it. Returns the stored object.
    pub fn put_object(&self, resource: &ResourceRef, mut object: Value) -> Result<Value, String> {
        let name = object["metadata"]["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .ok_or("put_object needs metadata.name")?
            .to_string();
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let mut cluster = self.cluster();
        if cluster.registry.get(resource).is_none() {
            return Err(format!("{} is not served", resource.qualified()));
        }
        if object["metadata"]["uid"].is_null() {
            object["metadata"]["uid"] = json!(cluster.store.new_uid());
        }
        if object["metadata"]["creationTimestamp"].is_null() {
            object["metadata"]["creationTimestamp"] = json!(now());
        }
        let key = ObjectKey {
            resource: resource.clone(),
            namespace,
            name,
        };
        let stored = cluster.store.commit(
            key,
            Entry {
                object,
                owners: Owners::default(),
            },
        );
        drop(cluster);
        self.recorder.notify();
        Ok(stored)
    }

    /// Removes an object at once, finalizers or not (watches see DELETED).
    pub fn delete_object(
        &self,
        resource: &ResourceRef,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let key = ObjectKey {
            resource: resource.clone(),
            namespace: namespace.unwrap_or("").to_string(),
            name: name.to_string(),
        };
        let gone = self.cluster().store.remove(&key, None);
        self.recorder.notify();
        gone
    }

    /// The latest resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.cluster().store.current_rv()
    }

    /// Every request answered so far, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.recorder
            .log
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }

    /// How many recorded requests satisfy `pred`.
    pub fn count(&self, pred: impl Fn(&RequestRecord) -> bool) -> usize {
        self.recorder
            .log
            .lock()
            .map(|l| l.iter().filter(|r| pred(r)).count())
            .unwrap_or(0)
    }

    pub fn clear_requests(&self) {
        if let Ok(mut log) = self.recorder.log.lock() {
            log.clear();
        }
    }

    /// Makes watches opened from now on deliver each change `lag` late, as a real API server's
    /// watch cache can be behind its store: a client's cache then misses its own last write.
    pub fn set_watch_lag(&self, lag: Duration) {
        self.cluster().watch_lag = lag;
    }

    /// Ends every open watch; clients re-watch from the last resourceVersion they saw.
    pub fn drop_watches(&self) {
        self.cluster().store.drop_watches();
        self.recorder.notify();
    }

    /// Compacts the watch history and ends every open watch: the next watch from any earlier
    /// resourceVersion gets a 410 Gone ERROR event, so watchers relist.
    pub fn expire_watches(&self) {
        self.cluster().store.expire();
        self.recorder.notify();
    }

    /// How many watches are open now.
    pub fn open_watches(&self) -> usize {
        self.cluster().store.open_watches()
    }

    /// How often open watches get a BOOKMARK (1s by default).
    pub fn set_bookmark_interval(&self, period: Duration) {
        self.bookmarks.send_replace(period);
    }

    /// Waits until `condition` holds, re-checking after every request and every test-hook
    /// change, for at most `timeout`. Returns whether it held.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        mut condition: impl FnMut(&TestServer) -> bool,
    ) -> bool {
        let mut changes = self.recorder.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            changes.borrow_and_update();
            if condition(self) {
                return true;
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => return condition(self),
            }
        }
    }

    /// Stops accepting connections, ends open watches and waits (up to 5s) for the server to stop.
    pub async fn shutdown(mut self) {
        self.stop_now();
        for task in self.tasks.drain(..) {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    fn stop_now(&self) {
        self.stop.send_replace(true);
        self.cluster().store.drop_watches();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}
