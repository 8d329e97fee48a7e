//! An in-memory Kubernetes API server for tests: kube's `Client` and kubectl talk to it over
//! plain HTTP on loopback as they would to a cluster.
//!
//! It implements what an operator uses, with the API server's semantics: discovery, get, list
//! (in pages with `limit` and `continue`), watch (replay from a resourceVersion, bookmarks, 410
//! Gone after compaction), create, update with optimistic concurrency, merge / JSON / strategic
//! (as merge) / server-side apply patches on a resource and its status subresource,
//! `metadata.generation`, finalizers and `deletionTimestamp`, metadata-only and Table responses,
//! and validation through a callback per custom resource. Built in: Namespaces, Secrets, events.k8s.io Events (also served as core/v1 Events, the
//! columns `kubectl get events` shows included), coordination
//! Leases and CustomResourceDefinitions (applying a CRD with kubectl registers it).
//!
//! Every module's doc says where it differs from a real API server. [`Kubectl`] runs kubectl
//! against it (or any kubeconfig) the way a test does.
//!
//! ```no_run
//! # async fn demo() {
//! use kube::{Api, api::PostParams};
//! use k8s_openapi::api::core::v1::Secret;
//! let server = kube_testkit::TestServer::start().await;
//! let secrets: Api<Secret> = Api::namespaced(server.client(), "default");
//! secrets.create(&PostParams::default(), &Secret::default()).await.ok();
//! assert_eq!(server.count(|r| r.is_write()), 1);
//! # }
//! ```

mod admit;
mod cluster;
mod discovery;
mod errors;
mod events;
mod fields;
mod handlers;
mod jsonpath;
mod kinds;
mod kubeconfigs;
mod kubectl;
mod openapi;
mod patch;
mod protobuf;
mod recorder;
mod refuse;
mod render;
mod route;
mod selectors;
mod server;
mod store;
mod table;
mod watch;
mod write;

pub use kinds::ResourceRef;
pub use kubeconfigs::{Published, Shared, publish as publish_kubeconfig};
pub use kubectl::Kubectl;
pub use recorder::RequestRecord;
pub use refuse::Refusal;
pub use route::Verb;
pub use server::TestServer;

/// Validates a whole object about to be stored (after the write's merge), returning the
/// messages of the failures, each naming its field (`spec.region: Unsupported value: ...`).
pub type Validator =
    std::sync::Arc<dyn Fn(&serde_json::Value) -> Result<(), Vec<String>> + Send + Sync>;
