//! What the operator tells the outside: Prometheus metrics, logs, and the health/metrics port.

pub(crate) mod budget;
mod exposition;
pub mod http;
mod kube_requests;
pub mod logging;
mod metrics;
mod namespace;
mod process;
mod queue;
mod ready;
pub(crate) mod states;

pub use metrics::Metrics;
pub use namespace::PerNamespace;
