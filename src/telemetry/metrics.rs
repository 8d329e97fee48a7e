//! Prometheus metrics. Labels are bounded (result category, method, status class, condition
//! reason; the namespace only when asked for): never an object name, which would make one
//! series per resource.

use super::budget::BudgetMetrics;
use super::kube_requests::KubeRequests;
use super::namespace::{NamespaceLabel, PerNamespace};
use super::process::ProcessCollector;
use super::queue::ReconcileQueue;
use super::ready::FirstReady;
use super::states::{ResourceStates, StatesCollector};
use crate::api::{Reason, SendGridEnforcedTls, SendGridEnforcedTlsStatus};
use crate::sendgrid::RequestObserver;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
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
    per_namespace: PerNamespace,
    drift_corrections: Family<NamespaceLabel, Counter>,
    first_ready: FirstReady,
    kube_requests: KubeRequests,
    pub queue: ReconcileQueue,
    pub budget: BudgetMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(PerNamespace::default())
    }
}

impl Metrics {
    /// The metrics, with a `namespace` label on the per-resource counts when `per_namespace`.
    pub fn new(per_namespace: PerNamespace) -> Metrics {
        // The process_* metrics keep their standard names; the operator's own get its prefix.
        let mut root = Registry::default();
        root.register_collector(Box::new(ProcessCollector));
        let registry = root.sub_registry_with_prefix("sendgrid_tls_operator");
        registry.register(
            "build",
            "The operator's version and the commit it was built from",
            Info::new(vec![
                ("version", env!("CARGO_PKG_VERSION")),
                ("commit", env!("OPERATOR_COMMIT")),
            ]),
        );
        let states = StatesCollector::new(per_namespace);
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
        let drift_corrections = Family::<NamespaceLabel, Counter>::default();
        registry.register(
            "drift_corrections",
            "Times SendGrid was put back to the spec after it drifted (DriftCorrected Events)",
            drift_corrections.clone(),
        );
        if !per_namespace.0 {
            // One series, there from the start, so `increase()` sees the first correction.
            let _ = drift_corrections.get_or_create(&NamespaceLabel::default());
        }
        let first_ready = FirstReady::register(registry);
        let queue = ReconcileQueue::register(registry);
        let kube_requests = KubeRequests::register(registry);
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
            per_namespace,
            drift_corrections,
            first_ready,
            queue,
            kube_requests,
            budget,
        }
    }

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

    /// Counts the drift corrections among the reasons of Events published about a resource in
    /// `namespace`.
    pub fn events_published(
        &self,
        namespace: Option<&str>,
        reasons: impl IntoIterator<Item = Reason>,
    ) {
        let corrected = reasons
            .into_iter()
            .filter(|r| *r == Reason::DriftCorrected)
            .count();
        if corrected > 0 {
            self.drift_corrections
                .get_or_create(&self.per_namespace.label(namespace))
                .inc_by(corrected as u64);
        }
    }

    /// `res`'s status is being replaced by `status` (for the time to its first Ready).
    pub fn status_written(&self, res: &SendGridEnforcedTls, status: &SendGridEnforcedTlsStatus) {
        self.first_ready.status_written(res, status);
    }

    /// The resource is gone: nothing is kept for it.
    pub fn forget(&self, meta: &ObjectMeta) {
        if let Some(uid) = &meta.uid {
            self.first_ready.forget(uid);
        }
        if let Some(name) = &meta.name {
            self.queue.forget(meta.namespace.as_deref(), name);
        }
    }

    /// The tower layer that counts the kube client's requests
    /// (`kube::client::ClientBuilder::with_layer`).
    pub fn kube_layer(&self) -> KubeRequests {
        self.kube_requests.clone()
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
    use crate::telemetry::states::{Visitor, condition};
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
            r#"sendgrid_tls_operator_build_info{{version="{}",commit="{}"}} 1"#,
            env!("CARGO_PKG_VERSION"),
            env!("OPERATOR_COMMIT")
        )));
        assert!(text.contains("\nprocess_resident_memory_bytes "), "{text}");
        assert!(text.contains("\nprocess_cpu_seconds_total "), "{text}");
        // A standby has no cache: no per-state series, so a sum over replicas counts each once.
        assert!(!text.contains("sendgrid_tls_operator_resources{"), "{text}");
    }

    /// Resources as a cache would hold them: namespace and conditions per object, `None` for a
    /// malformed one.
    struct Fixed(Vec<(&'static str, Option<Vec<Condition>>)>);

    impl Fixed {
        fn in_one_namespace(objs: Vec<Option<Vec<Condition>>>) -> Fixed {
            Fixed(objs.into_iter().map(|o| ("ns", o)).collect())
        }
    }

    impl ResourceStates for Fixed {
        fn visit(&self, visit: &mut Visitor<'_>) {
            for (namespace, obj) in &self.0 {
                visit(Some(namespace), obj.as_deref());
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
        m.observe_resources(Fixed::in_one_namespace(vec![
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

    #[test]
    fn per_namespace_series_only_when_asked_for() {
        let objs = || {
            Fixed(vec![
                (
                    "team-a",
                    pair(("True", "InSync"), ("True", "ReconcileSuccess")),
                ),
                (
                    "team-a",
                    pair(("False", "Conflict"), ("True", "ReconcileSuccess")),
                ),
                (
                    "team-b",
                    pair(("False", "Conflict"), ("True", "ReconcileSuccess")),
                ),
            ])
        };
        let drift = [Reason::Applied, Reason::DriftCorrected];
        let shared = Metrics::default();
        shared.observe_resources(objs());
        shared.events_published(Some("team-a"), drift);
        let text = shared.encode();
        assert!(!text.contains("namespace="), "{text}");
        let conflict = r#"condition="Ready",status="False",reason="Conflict""#;
        let resources = format!("sendgrid_tls_operator_resources{{{conflict}}}");
        assert_eq!(sample(&text, &resources).as_deref(), Some("2"));
        assert_eq!(
            sample(&text, "sendgrid_tls_operator_drift_corrections_total").as_deref(),
            Some("1")
        );

        let split = Metrics::new(PerNamespace(true));
        split.observe_resources(objs());
        split.events_published(Some("team-b"), drift);
        let text = split.encode();
        let get = |ns: &str, labels: &str| {
            sample(
                &text,
                &format!("sendgrid_tls_operator_resources{{namespace=\"{ns}\",{labels}}}"),
            )
        };
        assert_eq!(get("team-a", conflict).as_deref(), Some("1"), "{text}");
        assert_eq!(get("team-b", conflict).as_deref(), Some("1"));
        let in_sync = r#"condition="Ready",status="True",reason="InSync""#;
        // Every reason is there in each namespace that holds a resource, as 0 if need be.
        assert_eq!(get("team-b", in_sync).as_deref(), Some("0"));
        assert_eq!(get("team-c", in_sync), None);
        let drift = |ns: &str| {
            sample(
                &text,
                &format!("sendgrid_tls_operator_drift_corrections_total{{namespace=\"{ns}\"}}"),
            )
        };
        assert_eq!(drift("team-b").as_deref(), Some("1"));
        assert_eq!(drift("team-a"), None);
    }

    /// Every series name and label set the operator exports (values and histogram bounds left
    /// out), one per line: what the alert rules, their promtool tests and the dashboard may use.
    fn catalog() -> String {
        let mut lines = BTreeSet::new();
        for per_namespace in [false, true] {
            let m = Metrics::new(PerNamespace(per_namespace));
            m.set_leader(true);
            m.reconciled(None, Duration::from_millis(3));
            m.reconciled(Some("RateLimited"), Duration::from_millis(3));
            m.observe("GET", "2xx", Duration::from_millis(20));
            m.observe("PATCH", "429", Duration::from_millis(20));
            m.observe("GET", "ratelimited-local", Duration::ZERO);
            m.rate_limit_wait();
            m.observe_resources(Fixed::in_one_namespace(vec![Some(vec![]), None]));
            m.events_published(Some("ns"), [Reason::DriftCorrected]);
            // Reconciles that waited for their key's budget (both classes), one still waiting.
            for class in ["change", "check"] {
                m.budget.admitted(class, Duration::from_secs(1));
            }
            m.budget.queued("ns/sendgrid-api-key", "change");
            // Every verb and every class once, so dashboards may select any of them.
            let verbs = [
                "get",
                "list",
                "watch",
                "create",
                "update",
                "patch",
                "delete",
                "deletecollection",
                "other",
            ];
            for verb in verbs {
                m.kube_requests.observe(verb, "2xx", Duration::ZERO);
            }
            for class in ["409", "429", "4xx", "5xx", "other", "error"] {
                m.kube_requests.observe("get", class, Duration::ZERO);
            }
            lines.extend(m.encode().lines().filter_map(catalog_line));
        }
        let mut out = String::from(
            "# GENERATED by `UPDATE_METRICS_CATALOG=1 cargo test --lib metrics_catalog`: every series\n\
             # the operator exports (no values; le=\"*\" stands for every bucket bound; the\n\
             # namespace label only with `run --metrics-per-namespace`).\n",
        );
        for line in lines {
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// A sample line as the catalog lists it: no value, a `*` for what varies (bucket bound,
    /// version, commit, namespace, the budget's Secret).
    fn catalog_line(line: &str) -> Option<String> {
        if line.starts_with('#') || line.trim().is_empty() {
            return None;
        }
        let mut series = line.rsplit_once(' ').map_or(line, |(s, _)| s).to_string();
        for label in ["le", "version", "commit", "namespace", "key"] {
            let open = format!("{label}=\"");
            if let Some((head, tail)) = series.split_once(&open) {
                let rest = tail.split_once('"').map_or("", |(_, r)| r);
                series = format!("{head}{open}*\"{rest}");
            }
        }
        Some(series)
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
