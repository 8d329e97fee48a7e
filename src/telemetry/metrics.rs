//! Prometheus metrics. Labels are bounded (result category, method, status class): never an
//! object name, which would make one series per resource.

use super::budget::BudgetMetrics;
use crate::sendgrid::RequestObserver;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    /// "success" or the failure's reason (Unauthorized, RateLimited, ...).
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    class: String,
}

/// The operator's metrics, cheap to clone and share.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    reconciles: Family<ResultLabel, Counter>,
    reconcile_duration: Histogram,
    sendgrid_requests: Family<RequestLabels, Counter>,
    sendgrid_duration: Histogram,
    rate_limit_waits: Counter,
    leader: Gauge,
    pub budget: BudgetMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("sendgrid_tls_operator");
        let reconciles = Family::<ResultLabel, Counter>::default();
        registry.register("reconciles", "Reconciles by result", reconciles.clone());
        let reconcile_duration = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        registry.register(
            "reconcile_duration_seconds",
            "Time one reconcile took",
            reconcile_duration.clone(),
        );
        let sendgrid_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "sendgrid_requests",
            "Requests to SendGrid by method and status class (ratelimited-local: refused before sending)",
            sendgrid_requests.clone(),
        );
        let sendgrid_duration = Histogram::new(exponential_buckets(0.01, 2.0, 12));
        registry.register(
            "sendgrid_request_duration_seconds",
            "Time SendGrid took to answer",
            sendgrid_duration.clone(),
        );
        let rate_limit_waits = Counter::default();
        registry.register(
            "rate_limit_waits",
            "Reconciles put off until a SendGrid rate limit resets",
            rate_limit_waits.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 while this replica may reconcile",
            leader.clone(),
        );
        let budget = BudgetMetrics::register(&mut registry);
        Metrics {
            registry: Arc::new(registry),
            reconciles,
            reconcile_duration,
            sendgrid_requests,
            sendgrid_duration,
            rate_limit_waits,
            leader,
            budget,
        }
    }
}

impl Metrics {
    /// Counts a finished reconcile; `failure` is the failure's reason, if any.
    pub fn reconciled(&self, failure: Option<&str>, took: Duration) {
        let result = failure.unwrap_or("success").to_string();
        self.reconciles.get_or_create(&ResultLabel { result }).inc();
        self.reconcile_duration.observe(took.as_secs_f64());
    }

    pub fn rate_limit_wait(&self) {
        self.rate_limit_waits.inc();
    }

    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl RequestObserver for Metrics {
    fn observe(&self, method: &'static str, class: &'static str, elapsed: Duration) {
        let labels = RequestLabels {
            method: method.to_string(),
            class: class.to_string(),
        };
        self.sendgrid_requests.get_or_create(&labels).inc();
        if class != "ratelimited-local" {
            self.sendgrid_duration.observe(elapsed.as_secs_f64());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_bounded_labels() {
        let m = Metrics::default();
        m.reconciled(None, Duration::from_millis(3));
        m.reconciled(Some("Unauthorized"), Duration::from_millis(3));
        m.observe("PATCH", "2xx", Duration::from_millis(20));
        m.rate_limit_wait();
        let text = m.encode();
        assert!(
            text.contains(r#"sendgrid_tls_operator_reconciles_total{result="success"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"sendgrid_tls_operator_reconciles_total{result="Unauthorized"} 1"#)
        );
        assert!(text.contains(
            r#"sendgrid_tls_operator_sendgrid_requests_total{method="PATCH",class="2xx"} 1"#
        ));
        assert!(text.contains("sendgrid_tls_operator_rate_limit_waits_total 1"));
        assert!(text.contains("sendgrid_tls_operator_reconcile_duration_seconds_bucket"));
    }
}
