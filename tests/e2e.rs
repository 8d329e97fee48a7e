//! End-to-end scenarios: the built operator binary (`run`) and the SendGrid simulator on
//! loopback, against a Kubernetes API: the project's API test server (`kube-testkit`, serving the
//! generated CRD with its schema and CEL rules; one per scenario) or a real control plane
//! (etcd, kube-apiserver, kube-controller-manager from `scripts/control-plane.sh`; one shared by
//! the scenarios, which take turns, plus one of its own for the 410 Gone scenario). On the real
//! one the operator runs as the chart's ServiceAccount with the chart's RBAC. Each scenario acts
//! as a user would (creates and edits objects through the API, changes SendGrid "from the UI"),
//! and waits on conditions like `kubectl wait`, never on sleeps. Counts the scenarios measure
//! (SendGrid requests per resource, writes, retries) are printed with an `[e2e]` prefix:
//! `cargo test --test e2e -- --nocapture` shows them.

/// Runs each scenario `name(backend)` against both APIs, as tests `name::test_server` and
/// `name::control_plane`: the differential run.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn test_server() {
                super::$name(super::Backend::TestServer).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn control_plane() {
                super::$name(super::Backend::ControlPlane).await
            }
        }
    )*};
}

#[path = "e2e/audit.rs"]
mod audit;
#[path = "e2e/backend.rs"]
mod backend;
#[path = "e2e/chart.rs"]
mod chart;
#[path = "e2e/check.rs"]
mod check;
#[path = "e2e/cluster.rs"]
mod cluster;
#[path = "e2e/control_plane.rs"]
mod control_plane;
#[path = "e2e/env.rs"]
mod env;
#[path = "e2e/mirror.rs"]
mod mirror;
#[path = "e2e/operator.rs"]
mod operator;

#[path = "e2e/conflict.rs"]
mod conflict;
#[path = "e2e/crd_real.rs"]
mod crd_real;
#[path = "e2e/deletion.rs"]
mod deletion;
#[path = "e2e/devloop.rs"]
mod devloop;
#[path = "e2e/errors.rs"]
mod errors;
#[path = "e2e/faults.rs"]
mod faults;
#[path = "e2e/kubectl.rs"]
mod kubectl;
#[path = "e2e/leader.rs"]
mod leader;
#[path = "e2e/real.rs"]
mod real;
#[path = "e2e/robustness.rs"]
mod robustness;
#[path = "e2e/safety.rs"]
mod safety;
#[path = "e2e/safety_faults.rs"]
mod safety_faults;
#[path = "e2e/scale.rs"]
mod scale;
#[path = "e2e/scope.rs"]
mod scope;
#[path = "e2e/secrets.rs"]
mod secrets;
#[path = "e2e/sync.rs"]
mod sync;
#[path = "e2e/targets.rs"]
mod targets;
