//! Prometheus metrics. Labels are bounded (result category, method, status class, condition
//! reason): never an object name, which would make one series per resource.

use super::budget::BudgetMetrics;
use super::process::ProcessCollector;
use super::states::{ResourceStates, StatesCollector};
use crate::sendgrid::RequestObserver;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
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
    states: StatesCollector,
    pub budget: BudgetMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        // The process_* metrics keep their standard names; the operator's own get its prefix.
        let mut root = Registry::default();
        root.register_collector(Box::new(ProcessCollector));
        let registry = root.sub_registry_with_prefix("sendgrid_tls_operator");
        registry.register(
            "build",
            "The operator's version",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        let states = StatesCollector::default();
        registry.register_collector(Box::new(states.clone()));
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
        let budget = BudgetMetrics::register(registry);
        Metrics {
            registry: Arc::new(root),
            reconciles,
            reconcile_duration,
            sendgrid_requests,
            sendgrid_duration,
            rate_limit_waits,
            leader,
            states,
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

    /// Exports `sendgrid_tls_operator_resources` from `source` (the controller's cache) from now
    /// on. Only the first source counts.
    pub fn observe_resources(&self, source: impl ResourceStates) {
        self.states.attach(source);
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
    use crate::api::Condition;
    use crate::telemetry::states::condition;
    use std::collections::BTreeSet;

    /// The alert rules and the dashboard are checked against this file (scripts/verify_packaging).
    const CATALOG: &str = "tests/alerts/metrics-catalog.txt";

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
        assert!(text.contains(&format!(
            r#"sendgrid_tls_operator_build_info{{version="{}"}} 1"#,
            env!("CARGO_PKG_VERSION")
        )));
        assert!(text.contains("\nprocess_resident_memory_bytes "), "{text}");
        assert!(text.contains("\nprocess_cpu_seconds_total "), "{text}");
        // A standby has no cache: no per-state series, so a sum over replicas counts each once.
        assert!(!text.contains("sendgrid_tls_operator_resources{"), "{text}");
    }

    /// Resources as a cache would hold them: conditions per object, `None` for a malformed one.
    struct Fixed(Vec<Option<Vec<Condition>>>);

    impl ResourceStates for Fixed {
        fn visit(&self, visit: &mut dyn FnMut(Option<&[Condition]>)) {
            for obj in &self.0 {
                visit(obj.as_deref());
            }
        }
    }

    fn pair(ready: (&str, &str), synced: (&str, &str)) -> Option<Vec<Condition>> {
        Some(vec![
            condition("Ready", ready.0, ready.1),
            condition("Synced", synced.0, synced.1),
        ])
    }

    fn sample(text: &str, series: &str) -> Option<String> {
        text.lines().find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')
                .map(str::to_string)
        })
    }

    #[test]
    fn counts_resources_by_condition_reason() {
        let m = Metrics::default();
        m.observe_resources(Fixed(vec![
            pair(("True", "InSync"), ("True", "ReconcileSuccess")),
            pair(("True", "InSync"), ("False", "Paused")),
            pair(("False", "Contested"), ("True", "ReconcileSuccess")),
            Some(vec![]),
            None,
        ]));
        let text = m.encode();
        let get = |labels: &str| {
            sample(
                &text,
                &format!("sendgrid_tls_operator_resources{{{labels}}}"),
            )
        };
        let ready = |status: &str, reason: &str| {
            get(&format!(
                r#"condition="Ready",status="{status}",reason="{reason}""#
            ))
        };
        let synced = |status: &str, reason: &str| {
            get(&format!(
                r#"condition="Synced",status="{status}",reason="{reason}""#
            ))
        };
        assert_eq!(ready("True", "InSync").as_deref(), Some("2"), "{text}");
        assert_eq!(ready("False", "Contested").as_deref(), Some("1"));
        assert_eq!(ready("False", "Conflict").as_deref(), Some("0"));
        assert_eq!(ready("Unknown", "Missing").as_deref(), Some("1"));
        assert_eq!(ready("Unknown", "Malformed").as_deref(), Some("1"));
        assert_eq!(synced("False", "Paused").as_deref(), Some("1"));
        assert_eq!(synced("True", "ReconcileSuccess").as_deref(), Some("2"));
        assert_eq!(synced("False", "RateLimited").as_deref(), Some("0"));
    }

    /// Every series name and label set the operator exports (values and histogram bounds left
    /// out), one per line: what the alert rules, their promtool tests and the dashboard may use.
    fn catalog() -> String {
        let m = Metrics::default();
        m.set_leader(true);
        m.reconciled(None, Duration::from_millis(3));
        m.reconciled(Some("RateLimited"), Duration::from_millis(3));
        m.observe("GET", "2xx", Duration::from_millis(20));
        m.observe("PATCH", "429", Duration::from_millis(20));
        m.observe("GET", "ratelimited-local", Duration::ZERO);
        m.rate_limit_wait();
        m.observe_resources(Fixed(vec![Some(vec![]), None]));
        let lines: BTreeSet<String> = m
            .encode()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let series = l.rsplit_once(' ').map_or(l, |(s, _)| s);
                // Histogram bounds are not worth a line each.
                match series.split_once("le=\"") {
                    Some((head, tail)) => {
                        let rest = tail.split_once('"').map_or("", |(_, r)| r);
                        format!("{head}le=\"*\"{rest}")
                    }
                    None => series.to_string(),
                }
            })
            .collect();
        let version = format!(r#"version="{}""#, env!("CARGO_PKG_VERSION"));
        let mut out = String::from(
            "# GENERATED by `UPDATE_METRICS_CATALOG=1 cargo test --lib metrics_catalog`: every series\n\
             # the operator exports (no values; le=\"*\" stands for every bucket bound).\n",
        );
        for line in lines {
            out.push_str(&line.replace(&version, r#"version="*""#));
            out.push('\n');
        }
        out
    }

    #[test]
    fn metrics_catalog_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(CATALOG);
        let wanted = catalog();
        if std::env::var_os("UPDATE_METRICS_CATALOG").is_some() {
            std::fs::write(&path, &wanted).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            committed, wanted,
            "{CATALOG} is stale: run UPDATE_METRICS_CATALOG=1 cargo test --lib metrics_catalog"
        );
    }
}
