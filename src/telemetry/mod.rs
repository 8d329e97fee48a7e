//! What the operator tells the outside: Prometheus metrics, logs, and the health/metrics port.

pub(crate) mod budget;
pub mod http;
pub mod logging;
mod metrics;
mod process;
pub(crate) mod states;

pub use metrics::Metrics;
