//! What the operator tells the outside: Prometheus metrics, logs, and the health/metrics port.

pub mod budget;
pub mod http;
pub mod logging;
pub mod metrics;
mod process;
pub mod states;

pub use metrics::Metrics;
pub use states::ResourceStates;
