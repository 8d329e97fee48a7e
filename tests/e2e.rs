//! End-to-end scenarios: the built operator binary (`run`) against the Kubernetes API test server
//! (`kube-testkit`, serving the generated CRD with its schema and CEL rules) and the SendGrid
//! simulator, both on loopback. Each scenario starts its own server, simulator and operator, acts
//! as a user would (creates and edits objects through the API, changes SendGrid "from the UI"),
//! and waits on conditions like `kubectl wait`, never on sleeps. Counts the scenarios measure
//! (SendGrid requests per resource, writes, retries) are printed with an `[e2e]` prefix:
//! `cargo test --test e2e -- --nocapture` shows them.

#[path = "e2e/check.rs"]
mod check;
#[path = "e2e/env.rs"]
mod env;
#[path = "e2e/operator.rs"]
mod operator;

#[path = "e2e/conflict.rs"]
mod conflict;
#[path = "e2e/deletion.rs"]
mod deletion;
#[path = "e2e/devloop.rs"]
mod devloop;
#[path = "e2e/errors.rs"]
mod errors;
#[path = "e2e/faults.rs"]
mod faults;
#[path = "e2e/leader.rs"]
mod leader;
#[path = "e2e/robustness.rs"]
mod robustness;
#[path = "e2e/safety.rs"]
mod safety;
#[path = "e2e/safety_faults.rs"]
mod safety_faults;
#[path = "e2e/scale.rs"]
mod scale;
#[path = "e2e/secrets.rs"]
mod secrets;
#[path = "e2e/stub.rs"]
mod stub;
#[path = "e2e/sync.rs"]
mod sync;
#[path = "e2e/targets.rs"]
mod targets;
