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

use sgtls_test_support as support;

mod audit;
mod backend;
mod chart;
mod check;
mod cluster;
mod control_plane;
mod env;
mod mirror;
mod operator;

mod agreeing_holder;
mod conflict;
mod crd_real;
mod deletion;
mod devloop;
mod errors;
mod faults;
mod kubectl;
mod leader;
mod orphan_move;
mod pause;
mod real;
mod robustness;
mod safety;
mod safety_faults;
mod scale;
mod scope;
mod secrets;
mod soak;
mod sync;
mod targets;
