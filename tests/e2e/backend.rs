//! The Kubernetes API a scenario runs against: the project's API test server, or the real
//! control plane (see `cluster.rs`). Both answer the questions scenarios ask the same way: the
//! request log (the test server's own, or kube-apiserver's audit log), the stored objects, waits
//! that re-check on every change. What only the test server can do (store an object without
//! validation, expire every watch at once) fails loudly on the real one.

use super::cluster::Cluster;
use kube_testkit::{RequestRecord, ResourceRef, TestServer};
use serde_json::Value;
use std::time::Duration;

/// Which API a scenario runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    TestServer,
    ControlPlane,
}

pub enum Server {
    Test(TestServer),
    Real(Box<Cluster>),
}

impl Server {
    /// The test server, for what only it can do; fails on the real control plane.
    pub fn test_server(&self) -> &TestServer {
        match self {
            Server::Test(server) => server,
            Server::Real(_) => panic!(
                "this needs the API test server (a fault the real control plane cannot make)"
            ),
        }
    }

    /// Every request answered so far (on the real control plane: since the scenario began, the
    /// harness's own watches left out).
    pub fn requests(&self) -> Vec<RequestRecord> {
        match self {
            Server::Test(server) => server.requests(),
            Server::Real(cluster) => cluster.requests(),
        }
    }

    pub fn count(&self, pred: impl Fn(&RequestRecord) -> bool) -> usize {
        self.requests().iter().filter(|r| pred(r)).count()
    }

    pub fn list_objects(&self, resource: &ResourceRef, namespace: Option<&str>) -> Vec<Value> {
        match self {
            Server::Test(server) => server.list_objects(resource, namespace),
            Server::Real(cluster) => cluster.list_objects(resource, namespace),
        }
    }

    pub fn get_object(
        &self,
        resource: &ResourceRef,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        match self {
            Server::Test(server) => server.get_object(resource, namespace, name),
            Server::Real(cluster) => cluster.get_object(resource, namespace, name),
        }
    }

    /// Stores an object without validation (test server only).
    pub fn put_object(&self, resource: &ResourceRef, object: Value) -> Result<Value, String> {
        self.test_server().put_object(resource, object)
    }

    /// Ends the open watches; clients re-watch (on the real control plane: the operator's
    /// connections are cut).
    pub fn drop_watches(&self) {
        match self {
            Server::Test(server) => server.drop_watches(),
            Server::Real(cluster) => cluster.drop_watches(),
        }
    }

    /// Ends every watch with 410 Gone (test server only; the real control plane has its own
    /// scenario with etcd compaction).
    pub fn expire_watches(&self) {
        self.test_server().expire_watches()
    }

    /// Makes the request log complete up to now (the audit log trails responses a little).
    pub async fn settle(&self) {
        if let Server::Real(cluster) = self {
            cluster.settle().await;
        }
    }

    /// Waits until `condition` holds, re-checking on every change, for at most `timeout`.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        mut condition: impl FnMut(&Server) -> bool,
    ) -> bool {
        match self {
            Server::Test(server) => server.wait_until(timeout, |_| condition(self)).await,
            Server::Real(cluster) => cluster.wait_until(timeout, |_| condition(self)).await,
        }
    }
}
